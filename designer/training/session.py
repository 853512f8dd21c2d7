"""One training run as the window does it: get the data, train, evaluate, find the mistakes.

No Qt here. What happens along the way goes to a ``Reporter`` — the window's worker turns
each call into a Qt signal, the training process (``designer.training.service``) into a
message through a pipe — so the same code runs in a thread of the window's process or in
a process of its own. Everything reported is plain data: the frozen records of
``designer.training.records``, tuples of floats, numpy arrays; never tensors.

Batch metrics are throttled here, at the source: the trainer may finish hundreds of batches
a second, the reporter hears at most ``BATCH_UPDATES_PER_SECOND`` times a second, each time
with every point since the last.

torch is imported when a run starts, not with this module.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass

import numpy as np

from designer.core import Graph
from designer.training.records import (BatchMetrics, EpochMetrics, RunInfo, TrainConfig,
                                       TrainingCallback, TrainResult)

BATCH_UPDATES_PER_SECOND = 20
DOWNLOAD_UPDATES_PER_SECOND = 10
#: weight of the past in the smoothed batch curves (an EMA over about 1/(1 − β) = 20 batches)
SMOOTHING = 0.95
MAX_MISCLASSIFIED = 48
PREDICTION_CHUNK = 2000


@dataclass(frozen=True)
class BatchPoints:
    """Every batch since the last update: x in epochs (0.5 = half-way through epoch 1)."""

    x: tuple[float, ...]
    loss: tuple[float, ...]
    accuracy: tuple[float, ...]
    smoothed_loss: tuple[float, ...]
    smoothed_accuracy: tuple[float, ...]
    latest: BatchMetrics
    #: wall time of each batch, from the end of the one before (the first batch of an epoch
    #: includes the validation before it), and its images: throughput over any span
    seconds: tuple[float, ...] = ()
    sizes: tuple[int, ...] = ()

    def samples_per_second(self) -> float:
        seconds = sum(self.seconds)
        return sum(self.sizes) / seconds if seconds > 0 else 0.0


@dataclass(frozen=True, eq=False)
class RunOutcome:
    """How a run ended, with what the results view shows. Numpy arrays, no tensors."""

    result: TrainResult
    info: RunInfo | None
    class_names: tuple[str, ...]
    misclassified_images: np.ndarray | None = None  # uint8 N×C×H×W
    misclassified_true: np.ndarray | None = None  # int64 N
    misclassified_predicted: np.ndarray | None = None  # int64 N
    misclassified_confidence: np.ndarray | None = None  # float32 N, probability of the predicted class
    test_samples: int = 0


@dataclass(eq=False)
class SessionResult:
    """What ``run_session`` leaves: the outcome, and the trained network unless none was made."""

    outcome: RunOutcome
    module: object | None = None  # torch.nn.Module; None when nothing was trained or the run was aborted
    normalisation: object | None = None  # designer.training.evaluation.Normalisation
    dataset: object | None = None  # the designer.data.Dataset it used, once loaded


class Reporter:
    """Where a run reports to; every method is called in the thread that runs the session."""

    def status(self, text: str) -> None: ...

    def download(self, done: int, total: int) -> None: ...

    def run_started(self, info: RunInfo) -> None: ...

    def batches(self, points: BatchPoints) -> None: ...

    def epoch(self, metrics: EpochMetrics) -> None: ...


class BatchThrottle(TrainingCallback):
    """The trainer's callback: gathers batch points, hands them on at most 20 times a second.

    Runs in the training thread after every batch, so the per-batch work is a few float
    operations.
    """

    def __init__(self, reporter: Reporter) -> None:
        self._reporter = reporter
        self._interval = 1.0 / BATCH_UPDATES_PER_SECOND
        self._last_emit = 0.0
        self._smoothed_loss = 0.0
        self._smoothed_accuracy = 0.0
        self._count = 0
        self._x: list[float] = []
        self._loss: list[float] = []
        self._accuracy: list[float] = []
        self._smooth_loss: list[float] = []
        self._smooth_accuracy: list[float] = []
        self._seconds: list[float] = []
        self._sizes: list[int] = []
        self._latest: BatchMetrics | None = None
        self._last_batch_end = 0.0

    def on_train_start(self, info: RunInfo) -> None:
        self._last_emit = self._last_batch_end = time.perf_counter()
        self._reporter.run_started(info)

    def on_batch_end(self, metrics: BatchMetrics) -> None:
        self._count += 1
        self._smoothed_loss = SMOOTHING * self._smoothed_loss + (1 - SMOOTHING) * metrics.loss
        self._smoothed_accuracy = SMOOTHING * self._smoothed_accuracy + (1 - SMOOTHING) * metrics.accuracy
        correction = 1.0 - SMOOTHING ** self._count  # the EMA starts at 0; undo that bias
        self._x.append(metrics.epoch - 1 + metrics.batch / metrics.batches)
        self._loss.append(metrics.loss)
        self._accuracy.append(metrics.accuracy)
        self._smooth_loss.append(self._smoothed_loss / correction)
        self._smooth_accuracy.append(self._smoothed_accuracy / correction)
        self._latest = metrics
        now = time.perf_counter()
        self._seconds.append(now - self._last_batch_end)
        self._sizes.append(metrics.size)
        self._last_batch_end = now
        if now - self._last_emit >= self._interval:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self._latest is None:
            return
        points = BatchPoints(tuple(self._x), tuple(self._loss), tuple(self._accuracy),
                             tuple(self._smooth_loss), tuple(self._smooth_accuracy), self._latest,
                             tuple(self._seconds), tuple(self._sizes))
        for buffer in (self._x, self._loss, self._accuracy, self._smooth_loss, self._smooth_accuracy,
                       self._seconds, self._sizes):
            buffer.clear()
        self._latest = None
        self._last_emit = now if now is not None else time.perf_counter()
        self._reporter.batches(points)

    def on_epoch_end(self, metrics: EpochMetrics) -> None:
        self.flush()
        self._reporter.epoch(metrics)

    def on_finished(self, result: TrainResult) -> None:
        self.flush()


def default_torch_threads(torch) -> int:
    """PyTorch's own choice, less one CPU left to the window (painting the curves).

    On a small machine the difference is large: with every CPU busy in PyTorch's thread
    pool, the GUI thread and the pool's spinning threads compete and both slow down.
    """
    cpus = os.cpu_count() or 1
    return max(1, min(torch.get_num_threads(), cpus - 1))


def failed_outcome(message: str, failure: str | None, status: str = "failed") -> RunOutcome:
    return RunOutcome(TrainResult(status, message, 0, None, None, None, None, 0.0,
                                  failure=failure if status == "failed" else None), None, ())


def internal_failure(error: BaseException) -> RunOutcome:
    return failed_outcome(f"training failed unexpectedly ({type(error).__name__}: {error}); "
                          f"this is a bug, please report it", "internal")


class _DownloadThrottle:
    def __init__(self, reporter: Reporter) -> None:
        self._reporter = reporter
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self._last >= 1.0 / DOWNLOAD_UPDATES_PER_SECOND or done >= total:
            self._last = now
            self._reporter.download(done, total)


def run_session(graph: Graph, config: TrainConfig, reporter: Reporter, *, stop, abort,
                torch_threads: int | None = None, dataset=None) -> SessionResult:
    """Load ``config.dataset`` (or use ``dataset``), train, evaluate the test set, find mistakes.

    ``stop`` and ``abort`` are events (``set()``/``is_set()``; threading or multiprocessing)
    set by whoever controls the run: ``stop`` ends training before the next batch, and the
    test set is still evaluated so the person sees how far the network got; ``abort`` (the
    window is closing) also skips the evaluation and keeps no network.
    """
    from designer.data import DatasetError, DownloadCancelled, load_dataset

    if dataset is None:
        reporter.status("Loading the dataset…")
        try:
            dataset = load_dataset(config.dataset, config.data_folder, download=config.download,
                                   progress=_DownloadThrottle(reporter), should_cancel=stop.is_set)
        except DownloadCancelled:
            return SessionResult(failed_outcome("download cancelled; nothing was trained", None, status="stopped"))
        except DatasetError as error:
            return SessionResult(failed_outcome(str(error), "dataset"))
    if stop.is_set():
        return SessionResult(failed_outcome("stopped before training began", None, status="stopped"),
                             dataset=dataset)

    reporter.status("Starting PyTorch…")
    import torch

    from designer.training.trainer import Trainer

    # Set in the thread that trains: OpenMP keeps the thread count per calling thread.
    torch.set_num_threads(torch_threads or default_torch_threads(torch))
    trainer = Trainer(graph, config, [BatchThrottle(reporter)], dataset=dataset, stop_event=stop)
    result = trainer.run()
    info, class_names = trainer.info, tuple(dataset.class_names)
    if trainer.module is None or trainer.normalisation is None or abort.is_set():
        return SessionResult(RunOutcome(result, info, class_names), dataset=dataset)

    if result.test_accuracy is None and result.epochs_completed > 0:
        # Stopped by the person: the weights are worth a look, so evaluate them anyway.
        reporter.status("Evaluating on the test set…")
        result = _evaluate_after_stop(trainer, dataset, result, config, abort)
    outcome = RunOutcome(result, info, class_names)
    if result.test_accuracy is not None:
        reporter.status("Finding misclassified test images…")
        outcome = _with_mistakes(outcome, trainer, dataset, abort, torch)
    return SessionResult(outcome, trainer.module, trainer.normalisation, dataset)


def _evaluate_after_stop(trainer, dataset, result: TrainResult, config: TrainConfig, abort) -> TrainResult:
    from designer.training.evaluation import evaluate

    evaluation = evaluate(trainer.module, dataset.test_images, dataset.test_labels,
                          normalisation=trainer.normalisation, num_classes=dataset.num_classes,
                          batch_size=max(500, config.batch_size), device=trainer.device,
                          should_stop=abort.is_set)
    if evaluation is None:
        return result
    message = result.message.replace("; the test set was not evaluated", "")
    return dataclasses.replace(result, test_loss=evaluation.loss, test_accuracy=evaluation.accuracy,
                               confusion_matrix=evaluation.confusion_matrix,
                               message=f"{message}; test accuracy {evaluation.accuracy:.2%} "
                                       f"(evaluated after stopping)")


def _with_mistakes(outcome: RunOutcome, trainer, dataset, abort, torch) -> RunOutcome:
    """The first misclassified test images, with the predicted class and its probability."""
    module, device = trainer.module, trainer.device
    scale, shift = trainer.normalisation.scale_and_shift(device)
    images, labels = dataset.test_images, dataset.test_labels
    predicted = np.empty(labels.shape[0], dtype=np.int64)
    confidence = np.empty(labels.shape[0], dtype=np.float32)
    module.eval()
    with torch.no_grad():
        for start in range(0, images.shape[0], PREDICTION_CHUNK):
            if abort.is_set():
                return outcome
            batch = torch.from_numpy(images[start:start + PREDICTION_CHUNK]).to(device)
            logits = module(torch.addcmul(shift, batch.to(torch.float32), scale))
            probabilities = torch.softmax(logits.float(), dim=1)
            best, classes = probabilities.max(dim=1)
            predicted[start:start + PREDICTION_CHUNK] = classes.cpu().numpy()
            confidence[start:start + PREDICTION_CHUNK] = best.cpu().numpy()
    wrong = np.flatnonzero(predicted != labels)[:MAX_MISCLASSIFIED]
    return dataclasses.replace(outcome, misclassified_images=images[wrong].copy(),
                               misclassified_true=labels[wrong].copy(),
                               misclassified_predicted=predicted[wrong],
                               misclassified_confidence=confidence[wrong],
                               test_samples=int(labels.shape[0]))


__all__ = ["BATCH_UPDATES_PER_SECOND", "BatchPoints", "BatchThrottle", "Reporter", "RunOutcome",
           "SessionResult", "default_torch_threads", "failed_outcome", "internal_failure", "run_session"]
