"""The training engine: plain torch, reports through callbacks, knows no Qt.

A Trainer runs once. ``run()`` returns a TrainResult for every problem a person can cause
(a design that cannot be built, a dataset that is missing, a shape that does not fit, a
loss that blows up, no memory left) and delivers the same result to ``on_finished``;
``request_stop()`` may be called from any thread and is honoured before the next batch.

Everything outside this package trains through the run path (``designer.training.run``),
which builds the Trainer where the run happens; nothing else constructs one.

Data-parallel runs (``processes``: one of the processes torchrun started, seen through
``designer.training.distributed``, the module every PyTorch export carries too) take the
same steps: each process trains on its share of the single run's seeded order, in
DistributedDataParallel, and everything that decides what happens next — the batch's loss
and accuracy, a stop request, the validation and test figures — is summed over all
processes first, so every process takes the same branch at the same step.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from designer.core import Graph
from designer.data import FOLDER_DATASET, Dataset, DatasetError, DownloadCancelled, dataset_info, load_dataset
from designer.data.splits import stratified_split  # one split rule for validation and image folders
from designer.nn import BuildError, build_module
from designer.training.evaluation import (DEFAULT_EVALUATION_BATCH, Evaluation, Normalisation, evaluate,
                                          evaluate_across)
from designer.training.fit import check_fit
from designer.training.records import (
    DEVICES,
    BatchMetrics,
    EpochMetrics,
    RunInfo,
    TrainConfig,
    TrainingCallback,
    TrainResult,
    best_epoch,
)

log = logging.getLogger(__name__)


class _Failure(Exception):
    """A problem the person can fix; becomes a "failed" TrainResult, never escapes run()."""

    def __init__(self, failure: str, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message


class _StopRequested(Exception):
    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where


def resolve_device(name: str) -> torch.device:
    """"auto" → CUDA, then Apple MPS, then CPU; a named device must exist here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise _Failure("device", f"unknown device {name!r}; choose one of {', '.join(DEVICES)}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise _Failure("device", "CUDA was asked for but PyTorch sees no CUDA GPU on this computer; "
                                     "choose the device 'auto' or 'cpu'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise _Failure("device", f"there is no {name}: this computer has "
                                     f"{torch.cuda.device_count()} CUDA GPU(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise _Failure("device", "Apple MPS was asked for but is not available here; "
                                 "choose the device 'auto' or 'cpu'")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise _Failure("device", f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    return device


def check_config(config: TrainConfig) -> None:
    problems = config.problems()
    if problems:
        raise _Failure("config", "; ".join(problems))


def _dataset_label(name: str) -> str:
    try:
        return dataset_info(name).label
    except DatasetError:
        return name


def check_shapes(graph: Graph, dataset_shape, num_classes: int, label: str) -> None:
    """Refuse a network whose Input or output does not fit the dataset (``designer.training.fit``)."""
    check = check_fit(graph, dataset_shape, num_classes, label)
    if not check.fits:
        raise _Failure(check.failure, check.message)


def _out_of_memory(error: BaseException) -> bool:
    if isinstance(error, (MemoryError, torch.OutOfMemoryError)):
        return True
    return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)


def _make_optimizer(config: TrainConfig, module: nn.Module) -> torch.optim.Optimizer:
    parameters = [parameter for parameter in module.parameters() if parameter.requires_grad]
    if not parameters:
        raise _Failure("design", "the network has no trainable parameters; add a Conv2d or FC block")
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=config.learning_rate, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    return torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)


def _augmenter(config: TrainConfig, shape, rank: int):
    """The run's augmentation (None when off), seeded from the run's seed and the process's rank:
    each process of a data-parallel run draws its own shifts and flips, reproducibly."""
    from designer.training.augment import AugmentError, build_augmenter

    try:
        augmenter = build_augmenter(config.augment, int(np.random.SeedSequence([config.seed, rank, 0xA6]).generate_state(
            1, np.uint64)[0] >> 1))
    except AugmentError as error:
        raise _Failure("config", f"augmentation: {error}") from None
    spec = augmenter.spec if augmenter is not None else None
    if spec is not None and spec.crop and spec.crop_padding == "reflect" and spec.crop >= min(shape[2], shape[3]):
        raise _Failure("config", f"crop:{spec.crop}:reflect needs images larger than {spec.crop} pixels, not "
                                 f"{shape[2]}×{shape[3]}; lower the padding or use crop:{spec.crop} (black padding)")
    return augmenter


def _schedule(config: TrainConfig, optimizer: torch.optim.Optimizer, batches: int):
    from designer.training.schedules import ScheduleError, build_schedule

    try:
        return build_schedule(config.schedule, optimizer, epochs=config.epochs, batches_per_epoch=batches)
    except ScheduleError as error:
        raise _Failure("config", f"schedule: {error}") from None


@contextlib.contextmanager
def _reproducible(device: torch.device, seed: int, deterministic: bool):
    """Seed torch for this run only; the caller's random state and cuDNN flags come back after."""
    devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    saved = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        if device.type == "cuda":
            torch.backends.cudnn.deterministic = deterministic
            torch.backends.cudnn.benchmark = not deterministic
        try:
            yield
        finally:
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


@dataclass
class _Pending:
    """A batch whose loss has been queued on the device but not yet read back."""

    epoch: int
    batch: int
    loss: torch.Tensor
    correct: torch.Tensor
    size: int
    learning_rate: float


class Trainer:
    """Train the network a graph describes; see the module docstring.

    After ``run()``: ``module`` is the trained network (best weights restored when early
    stopping is on), ``normalisation`` the mean/std its inputs expect, ``dataset`` the data,
    ``device`` where it ran, ``result`` the TrainResult.
    """

    def __init__(self, graph: Graph, config: TrainConfig, callbacks=(), dataset: Dataset | None = None, *,
                 download_progress=None, stop_event=None, abort_event=None, test_after_stop: bool = False,
                 processes=None) -> None:
        """``dataset``: data already in memory; otherwise ``config.dataset`` is loaded (from
        ``config.data_folder``, the cache, or a download reported to ``download_progress(done, total)``).
        ``stop_event``: an object with ``set()`` and ``is_set()`` shared with whoever may stop the
        run (a ``multiprocessing.Event`` when that is another process); a private
        ``threading.Event`` by default. ``test_after_stop``: after a stop request, still evaluate
        the test set (the person wants to see how far the network got) unless ``abort_event``
        is set (the window is closing), which also ends that evaluation. ``processes``: a
        ``distributed.Processes`` of several processes to train data-parallel with (None, or one
        process: a single run).
        """
        self.graph = graph
        self.download_progress = download_progress
        self.config = config
        self.callbacks: tuple[TrainingCallback, ...] = tuple(callbacks)
        self.dataset = dataset
        self.module: nn.Module | None = None
        self.normalisation: Normalisation | None = None
        self.device: torch.device | None = None
        self.info: RunInfo | None = None
        self.result: TrainResult | None = None
        self.error: BaseException | None = None  # the exception behind an "internal" failure
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._abort = abort_event if abort_event is not None else threading.Event()
        self.test_after_stop = test_after_stop
        self.processes = processes if processes is not None and processes.distributed else None
        self._started = False
        self._history: list[EpochMetrics] = []
        self._best_epoch: int | None = None
        self._best_loss = math.inf
        self._best_state: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------------ control

    def request_stop(self) -> None:
        """Thread-safe; training stops before its next batch (or download chunk)."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # ------------------------------------------------------------------ running

    def run(self) -> TrainResult:
        if self._started:
            raise RuntimeError("a Trainer runs once; make a new one to train again")
        self._started = True
        started = time.perf_counter()
        try:
            result = self._run(started)
        except _Failure as failure:
            result = self._result("failed", failure.message, started, failure=failure.failure)
        except DownloadCancelled:
            result = self._result("stopped", "stopped on request while getting the dataset", started)
        except _StopRequested as stop:
            completed = len(self._history)
            restored = self._restore_best(mid_epoch=True)
            test = self._evaluate_after_stop() if completed else None
            tail = (f"test accuracy {test.accuracy:.2%} (evaluated after stopping)" if test is not None
                    else "the test set was not evaluated")
            result = self._result(
                "stopped", f"stopped on request at {stop.where}; {completed} epoch{'s' if completed != 1 else ''} "
                           f"completed{restored}; {tail}", started, test=test)
        except Exception as error:  # noqa: BLE001 - the window must always hear how a run ended
            if _out_of_memory(error):
                result = self._result(
                    "failed", f"ran out of memory on {self.device or 'the device'}: lower the batch size "
                              f"(now {self.config.batch_size}) or make the network smaller",
                    started, failure="out-of-memory")
            else:
                log.exception("training failed unexpectedly")
                self.error = error
                result = self._result("failed", f"training failed unexpectedly ({type(error).__name__}: "
                                                f"{error}); this is a bug, please report it", started,
                                      failure="internal")
        self.result = result
        for callback in self.callbacks:
            callback.on_finished(result)
        return result

    def _result(self, status: str, message: str, started: float, *, failure: str | None = None,
                test: Evaluation | None = None) -> TrainResult:
        return TrainResult(
            status=status, message=message, epochs_completed=len(self._history),
            best_epoch=self._best_epoch,
            test_loss=test.loss if test else None, test_accuracy=test.accuracy if test else None,
            confusion_matrix=test.confusion_matrix if test else None,
            seconds=time.perf_counter() - started, history=list(self._history), failure=failure)

    def _run(self, started: float) -> TrainResult:
        config = self.config
        check_config(config)
        self.device = device = self.processes.device if self.processes else resolve_device(config.device)
        with _reproducible(device, config.seed, config.deterministic):
            try:
                module = build_module(self.graph)
            except BuildError as error:
                raise _Failure("design", str(error)) from None
            if self.dataset is None:
                self.dataset = self._load_dataset(config)
            dataset = self.dataset
            check_shapes(self.graph, dataset.input_shape, dataset.num_classes, _dataset_label(dataset.name))
            return self._train(module, dataset, device, started)

    def _load_dataset(self, config: TrainConfig) -> Dataset:
        if config.dataset == FOLDER_DATASET:  # the same reader as the run path's (pictures at the Input's size)
            from designer.training.datasets import dataset_for_run, design_input_shape

            try:
                return dataset_for_run(config, design_input_shape(self.graph), decoding=self.download_progress,
                                       should_cancel=self._stop.is_set)
            except DownloadCancelled:
                raise
            except DatasetError as error:
                raise _Failure("dataset", str(error)) from None
        # Refuse a misfit before a possibly long download.
        try:
            info = dataset_info(config.dataset)
        except DatasetError as error:
            raise _Failure("dataset", str(error)) from None
        check_shapes(self.graph, info.input_shape, info.num_classes, info.label)
        try:
            return load_dataset(config.dataset, config.data_folder, download=config.download,
                                progress=self.download_progress, should_cancel=self._stop.is_set)
        except DownloadCancelled:
            raise
        except DatasetError as error:
            raise _Failure("dataset", str(error)) from None

    def _train(self, module: nn.Module, dataset: Dataset, device: torch.device, started: float) -> TrainResult:
        config = self.config
        train_index, validation_index = stratified_split(dataset.train_labels, config.validation_fraction,
                                                         config.seed)
        if train_index.shape[0] == 0:
            raise _Failure("config", "the validation fraction leaves no training images; lower it")
        train_images_array = dataset.train_images[train_index]
        self.normalisation = normalisation = Normalisation.of_images(train_images_array)
        train_images = torch.from_numpy(train_images_array).to(device)
        train_labels = torch.from_numpy(dataset.train_labels[train_index]).to(device)
        validation_images = torch.from_numpy(dataset.train_images[validation_index]).to(device)
        validation_labels = torch.from_numpy(dataset.train_labels[validation_index]).to(device)
        self.module = module = module.to(device)
        shared = self.processes
        # The forward pass goes through DDP (which averages the gradients); the plain module is
        # what is evaluated, kept and sent back.
        network = shared.wrap(module) if shared else module
        if shared:
            # Dropout draws its masks from torch's generator: another stream in each process.
            torch.manual_seed(config.seed + shared.rank)
        optimizer = _make_optimizer(config, module)

        count = train_images.shape[0]
        # A DistributedSampler gives every process ceil(count / N) samples (padding with the first).
        share = math.ceil(count / shared.world_size) if shared else count
        batch_size = min(config.batch_size, share)
        batches = math.ceil(share / batch_size)
        if batches > 1 and share % batch_size == 1:
            # A last batch of one sample breaks BatchNorm in training mode; fold it away.
            batches -= 1
        evaluation_batch = max(DEFAULT_EVALUATION_BATCH, batch_size)
        augmenter = _augmenter(config, train_images.shape, shared.rank if shared else 0)
        schedule = _schedule(config, optimizer, batches)
        self.info = RunInfo(device=str(device), train_samples=count,
                            validation_samples=int(validation_index.shape[0]),
                            test_samples=int(dataset.test_images.shape[0]), batches_per_epoch=batches,
                            epochs=config.epochs, class_names=tuple(dataset.class_names),
                            processes=shared.world_size if shared else 1, threads=torch.get_num_threads())
        for callback in self.callbacks:
            callback.on_train_start(self.info)

        scale, shift = normalisation.scale_and_shift(device)
        permutation_generator = torch.Generator().manual_seed(config.seed)
        # On an accelerator, read a batch's loss back only after the next batch is queued,
        # so the device never idles waiting for Python; on the CPU there is nothing to overlap.
        # Several processes agree on every batch's figures before the next: nothing to overlap.
        overlap = device.type != "cpu" and not shared
        patience = config.early_stopping_patience
        self._best_loss = math.inf
        self._best_state = None
        epochs_without_improvement = 0
        step = 0
        stop_reason = ""
        callbacks = self.callbacks
        agreed_stop = False  # several processes: a stop request one of them heard, summed over all

        for epoch in range(1, config.epochs + 1):
            module.train()
            epoch_started = time.perf_counter()
            order = torch.randperm(count, generator=permutation_generator)
            if shared:
                order = shared.deal(order)  # this process's share, in the single run's order
                agreed_stop = shared.any(self._stop.is_set())  # heard during the validation
            order = order.to(device)
            loss_sum = 0.0
            correct_sum = 0
            seen = 0
            pending: _Pending | None = None
            last_time = epoch_started

            def finish(done: _Pending) -> None:
                nonlocal loss_sum, correct_sum, seen, step, last_time, agreed_stop
                loss_value, correct, size = done.loss.item(), done.correct.item(), done.size
                if shared:
                    # One all-reduce per step: the whole batch's figures, and whether any process
                    # was asked to stop (so all of them stop before the same batch).
                    loss_total, correct, size, stops = shared.sum(loss_value * size, correct, size,
                                                                  float(self._stop.is_set()))
                    loss_value, correct, size = loss_total / size, int(correct), int(size)
                    agreed_stop = stops > 0
                if not math.isfinite(loss_value):
                    raise _Failure("non-finite-loss", self._non_finite_message(loss_value, done.epoch, done.batch))
                loss_sum += loss_value * size
                correct_sum += correct
                seen += size
                step += 1
                now = time.perf_counter()
                elapsed = now - last_time
                last_time = now
                if callbacks:
                    metrics = BatchMetrics(epoch=done.epoch, batch=done.batch, batches=batches, step=step,
                                           loss=loss_value, accuracy=correct / size,
                                           samples_per_second=size / elapsed if elapsed > 0 else 0.0,
                                           size=size, learning_rate=done.learning_rate)
                    for callback in callbacks:
                        callback.on_batch_end(metrics)

            for batch in range(batches):
                if agreed_stop if shared else self._stop.is_set():
                    if pending is not None:
                        finish(pending)
                    raise _StopRequested(f"epoch {epoch}, batch {batch + 1} of {batches}")
                end = share if batch == batches - 1 else (batch + 1) * batch_size
                indices = order[batch * batch_size:end]
                batch_images = train_images.index_select(0, indices)
                if augmenter is not None:  # training batches only: evaluation reads the stored images
                    batch_images = augmenter.apply_to(batch_images)
                inputs = torch.addcmul(shift, batch_images.to(torch.float32), scale)
                targets = train_labels.index_select(0, indices)
                logits = network(inputs)
                loss = functional.cross_entropy(logits, targets)
                correct = (logits.detach().argmax(dim=1) == targets).sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                rate = optimizer.param_groups[0]["lr"]
                if schedule is not None:
                    schedule.after_batch()
                current = _Pending(epoch, batch + 1, loss.detach(), correct, end - batch * batch_size, float(rate))
                if overlap:
                    if pending is not None:
                        finish(pending)
                    pending = current
                else:
                    finish(current)
            if pending is not None:
                finish(pending)

            train_loss = loss_sum / seen
            train_accuracy = correct_sum / seen
            validation = None
            if validation_index.shape[0]:
                validation = self._evaluate(validation_images, validation_labels, evaluation_batch,
                                            self._stop.is_set)
                if validation is None:
                    raise _StopRequested(f"the validation of epoch {epoch}")
                if not math.isfinite(validation.loss):
                    raise _Failure("non-finite-loss",
                                   f"the validation loss became {validation.loss} after epoch {epoch}: lower the "
                                   f"learning rate (now {config.learning_rate:g}) or add BatchNorm")
            metrics = EpochMetrics(
                epoch=epoch, train_loss=train_loss, train_accuracy=train_accuracy,
                validation_loss=validation.loss if validation else None,
                validation_accuracy=validation.accuracy if validation else None,
                seconds=time.perf_counter() - epoch_started,
                learning_rate=float(rate))  # the rate of the epoch's last step
            self._history.append(metrics)
            monitored = validation.loss if validation else train_loss
            if best_epoch(self._history) == epoch:
                self._best_loss = monitored
                self._best_epoch = epoch
                epochs_without_improvement = 0
                if patience is not None:
                    self._best_state = {key: value.detach().clone() for key, value in module.state_dict().items()}
            else:
                epochs_without_improvement += 1
            if schedule is not None:
                schedule.after_epoch(monitored)
            for callback in callbacks:
                callback.on_epoch_end(metrics)
            if patience is not None and epochs_without_improvement >= patience and epoch < config.epochs:
                stop_reason = (f"stopped early after epoch {epoch}: the "
                               f"{'validation' if validation else 'training'} loss has not improved "
                               f"for {patience} epoch{'s' if patience != 1 else ''}")
                break
        return self._conclude(module, dataset, device, evaluation_batch, stop_reason, started)

    def _non_finite_message(self, value: float, epoch: int, batch: int) -> str:
        what = "NaN" if math.isnan(value) else "infinite"
        return (f"the loss became {what} at epoch {epoch}, batch {batch}: lower the learning rate "
                f"(now {self.config.learning_rate:g}) or add BatchNorm")

    def _restore_best(self, *, mid_epoch: bool = False) -> str:
        """With early stopping on, the model ends with the weights of its best epoch."""
        if self._best_state is None or self.module is None or self._best_epoch is None:
            return ""
        state, self._best_state = self._best_state, None
        if self._best_epoch == len(self._history) and not mid_epoch:
            return ""  # the weights in the model are the best ones already
        self.module.load_state_dict(state)
        which = "validation" if self._history[-1].validation_loss is not None else "training"
        return f"; restored the weights of epoch {self._best_epoch} (lowest {which} loss {self._best_loss:.4f})"

    def _conclude(self, module, dataset, device, evaluation_batch, stop_reason, started) -> TrainResult:
        restored = self._restore_best()
        test = self._evaluate(dataset.test_images, dataset.test_labels, evaluation_batch, self._stop.is_set)
        if test is None:
            return self._result("stopped", f"stopped on request while evaluating the test set; "
                                           f"{len(self._history)} epochs completed{restored}", started)
        summary = f"test accuracy {test.accuracy:.2%}" if test.samples else "no test images"
        if stop_reason:
            return self._result("stopped", f"{stop_reason}{restored}; {summary}", started, test=test)
        epochs = len(self._history)
        return self._result("finished", f"finished {epochs} epoch{'s' if epochs != 1 else ''}{restored}; "
                                        f"{summary}", started, test=test)

    def _evaluate(self, images, labels, batch_size: int, should_stop) -> Evaluation | None:
        """The trained module on a labelled set; with several processes, each evaluates its part
        and the figures are summed (none stops half-way alone: the others would wait for it)."""
        options = dict(normalisation=self.normalisation, num_classes=self.dataset.num_classes,
                       batch_size=batch_size, device=self.device)
        if self.processes:
            return evaluate_across(self.processes, self.module, images, labels, **options)
        return evaluate(self.module, images, labels, should_stop=should_stop, **options)

    def _evaluate_after_stop(self) -> Evaluation | None:
        if not self.test_after_stop or self.module is None or self.dataset is None:
            return None
        aborted = self.processes.any(self._abort.is_set()) if self.processes else self._abort.is_set()
        if aborted:
            return None
        return self._evaluate(self.dataset.test_images, self.dataset.test_labels,
                              max(DEFAULT_EVALUATION_BATCH, self.config.batch_size), self._abort.is_set)

    def evaluate_test(self) -> Evaluation:
        """Test-set loss, accuracy and confusion matrix of the model as it is now.

        For after a stop request, when run() returned without evaluating the test set.
        """
        if self.module is None or self.dataset is None or self.normalisation is None:
            raise RuntimeError("nothing has been trained yet")
        return evaluate(self.module, self.dataset.test_images, self.dataset.test_labels,
                        normalisation=self.normalisation, num_classes=self.dataset.num_classes,
                        batch_size=max(DEFAULT_EVALUATION_BATCH, self.config.batch_size), device=self.device)
