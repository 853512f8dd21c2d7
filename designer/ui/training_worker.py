"""Runs one training run in a worker thread and reports to the GUI through signals.

The worker is a QObject moved to a QThread (DESIGN.md 8). Everything it emits is plain
data — the frozen records of designer.training, tuples of floats, numpy arrays — never
tensors. Batch metrics are throttled: the training thread may finish hundreds of batches
a second, the GUI sees at most ``BATCH_UPDATES_PER_SECOND`` updates, each carrying every
point since the last one.

torch is imported here only when a run starts, in the worker thread, so the window opens
before torch has loaded.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

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
class TrainedModel:
    """What a checkpoint needs, kept after a run: lives in the GUI thread once the worker ends."""

    graph: Graph  # the design exactly as trained (a copy)
    config: TrainConfig
    module: object  # torch.nn.Module
    normalisation: object  # designer.training.evaluation.Normalisation
    class_names: tuple[str, ...]
    result: TrainResult | None = None
    source: str = ""  # a checkpoint file it was loaded from, else ""


class _SignalCallback(TrainingCallback):
    """Runs in the training thread; keeps per-batch work to a few float operations."""

    def __init__(self, worker: "TrainingWorker") -> None:
        self._worker = worker
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
        self._latest: BatchMetrics | None = None

    def on_train_start(self, info: RunInfo) -> None:
        self._last_emit = time.perf_counter()
        self._worker.run_started.emit(info)

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
        if now - self._last_emit >= self._interval:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self._latest is None:
            return
        points = BatchPoints(tuple(self._x), tuple(self._loss), tuple(self._accuracy),
                             tuple(self._smooth_loss), tuple(self._smooth_accuracy), self._latest)
        for buffer in (self._x, self._loss, self._accuracy, self._smooth_loss, self._smooth_accuracy):
            buffer.clear()
        self._latest = None
        self._last_emit = now if now is not None else time.perf_counter()
        self._worker.batches_done.emit(points)

    def on_epoch_end(self, metrics: EpochMetrics) -> None:
        self.flush()
        self._worker.epoch_done.emit(metrics)

    def on_finished(self, result: TrainResult) -> None:
        self.flush()


class TrainingWorker(QObject):
    """One run: load the dataset (maybe downloading it), train, predict the test set.

    Lives in a worker thread; ``run`` is its only slot. ``request_stop`` and ``abort`` are
    called directly from the GUI thread (the worker's own event loop is busy in ``run``)
    and only set thread-safe flags.
    """

    status_changed = Signal(str)
    download_progress = Signal(object, object)  # bytes done, bytes total (may pass 2**31)
    run_started = Signal(object)  # RunInfo
    batches_done = Signal(object)  # BatchPoints
    epoch_done = Signal(object)  # EpochMetrics
    finished = Signal(object)  # RunOutcome; always emitted exactly once, last

    def __init__(self, graph: Graph, config: TrainConfig, *, torch_threads: int | None = None) -> None:
        super().__init__()
        self.graph = graph.copy()  # the GUI may not touch it while this runs, but never share
        self.config = config
        self.torch_threads = torch_threads  # None: default_torch_threads()
        self.trained: TrainedModel | None = None
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self._trainer = None
        self._last_download_emit = 0.0

    # ------------------------------------------------------------------ control (any thread)

    def request_stop(self) -> None:
        """Stop before the next batch; the test set is still evaluated for the results."""
        self._stop.set()
        with self._lock:
            trainer = self._trainer
        if trainer is not None:
            trainer.request_stop()

    def abort(self) -> None:
        """Stop as soon as possible and skip the evaluation (the window is closing)."""
        self._abort.set()
        self.request_stop()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # ------------------------------------------------------------------ the run (worker thread)

    @Slot()
    def run(self) -> None:
        try:
            outcome = self._run()
        except Exception as error:  # noqa: BLE001 - the GUI must always hear that the run ended
            outcome = RunOutcome(TrainResult("failed", f"training failed unexpectedly ({type(error).__name__}: "
                                                       f"{error}); this is a bug, please report it",
                                             0, None, None, None, None, 0.0, failure="internal"),
                                 None, ())
        self.finished.emit(outcome)

    def _failed(self, message: str, failure: str, status: str = "failed") -> RunOutcome:
        return RunOutcome(TrainResult(status, message, 0, None, None, None, None, 0.0,
                                      failure=failure if status == "failed" else None), None, ())

    def _on_download_progress(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self._last_download_emit >= 1.0 / DOWNLOAD_UPDATES_PER_SECOND or done >= total:
            self._last_download_emit = now
            self.download_progress.emit(done, total)

    def _run(self) -> RunOutcome:
        from designer.data import DatasetError, DownloadCancelled, load_dataset

        config = self.config
        self.status_changed.emit("Loading the dataset…")
        try:
            dataset = load_dataset(config.dataset, config.data_folder, download=config.download,
                                   progress=self._on_download_progress, should_cancel=self._stop.is_set)
        except DownloadCancelled:
            return self._failed("download cancelled; nothing was trained", "", status="stopped")
        except DatasetError as error:
            return self._failed(str(error), "dataset")
        if self._stop.is_set():
            return self._failed("stopped before training began", "", status="stopped")

        self.status_changed.emit("Starting PyTorch…")
        import torch

        from designer.training.trainer import Trainer

        # Set in this thread: OpenMP keeps the thread count per calling thread.
        torch.set_num_threads(self.torch_threads or default_torch_threads(torch))
        callback = _SignalCallback(self)
        trainer = Trainer(self.graph, config, [callback], dataset=dataset)
        with self._lock:
            self._trainer = trainer
        if self._stop.is_set():
            trainer.request_stop()
        result = trainer.run()
        info = trainer.info
        if trainer.module is None or trainer.normalisation is None or self._abort.is_set():
            return RunOutcome(result, info, tuple(dataset.class_names))

        self.trained = TrainedModel(self.graph, config, trainer.module, trainer.normalisation,
                                    tuple(dataset.class_names), result)
        if result.test_accuracy is None and result.epochs_completed > 0:
            # Stopped by the person: the weights are worth a look, so evaluate them anyway.
            self.status_changed.emit("Evaluating on the test set…")
            result = self._evaluate_after_stop(trainer, dataset, result)
            self.trained.result = result
        if result.test_accuracy is None:
            return RunOutcome(result, info, tuple(dataset.class_names))
        self.status_changed.emit("Finding misclassified test images…")
        return self._with_mistakes(result, info, trainer, dataset, torch)

    def _evaluate_after_stop(self, trainer, dataset, result: TrainResult) -> TrainResult:
        from designer.training.evaluation import evaluate

        evaluation = evaluate(trainer.module, dataset.test_images, dataset.test_labels,
                              normalisation=trainer.normalisation, num_classes=dataset.num_classes,
                              batch_size=max(500, self.config.batch_size), device=trainer.device,
                              should_stop=self._abort.is_set)
        if evaluation is None:
            return result
        message = result.message.replace("; the test set was not evaluated", "")
        return dataclasses.replace(result, test_loss=evaluation.loss, test_accuracy=evaluation.accuracy,
                                   confusion_matrix=evaluation.confusion_matrix,
                                   message=f"{message}; test accuracy {evaluation.accuracy:.2%} "
                                           f"(evaluated after stopping)")

    def _with_mistakes(self, result, info, trainer, dataset, torch) -> RunOutcome:
        """The first misclassified test images, with the predicted class and its probability."""
        module, device = trainer.module, trainer.device
        scale, shift = trainer.normalisation.scale_and_shift(device)
        images, labels = dataset.test_images, dataset.test_labels
        predicted = np.empty(labels.shape[0], dtype=np.int64)
        confidence = np.empty(labels.shape[0], dtype=np.float32)
        module.eval()
        with torch.no_grad():
            for start in range(0, images.shape[0], PREDICTION_CHUNK):
                if self._abort.is_set():
                    return RunOutcome(result, info, tuple(dataset.class_names))
                batch = torch.from_numpy(images[start:start + PREDICTION_CHUNK]).to(device)
                logits = module(torch.addcmul(shift, batch.to(torch.float32), scale))
                probabilities = torch.softmax(logits.float(), dim=1)
                best, classes = probabilities.max(dim=1)
                predicted[start:start + PREDICTION_CHUNK] = classes.cpu().numpy()
                confidence[start:start + PREDICTION_CHUNK] = best.cpu().numpy()
        wrong = np.flatnonzero(predicted != labels)[:MAX_MISCLASSIFIED]
        return RunOutcome(result, info, tuple(dataset.class_names),
                          misclassified_images=images[wrong].copy(),
                          misclassified_true=labels[wrong].copy(),
                          misclassified_predicted=predicted[wrong],
                          misclassified_confidence=confidence[wrong],
                          test_samples=int(labels.shape[0]))


def default_torch_threads(torch) -> int:
    """PyTorch's own choice, less one CPU left to the GUI thread (painting the curves).

    On a small machine the difference is large: with every CPU busy in PyTorch's thread
    pool, the GUI thread and the pool's spinning threads compete and both slow down.
    """
    cpus = os.cpu_count() or 1
    return max(1, min(torch.get_num_threads(), cpus - 1))


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


__all__ = ["BatchPoints", "RunOutcome", "TrainedModel", "TrainingWorker", "format_duration",
           "BATCH_UPDATES_PER_SECOND"]
