"""One run, wherever it happens: get the data, train, evaluate, find the mistakes.

No Qt here. ``run_session`` turns a ``RunRequest`` into a ``RunResult`` and reports what
happens along the way as the events of ``designer.training.run.events``, through
``emit(event)``: in the training process (``designer.training.service``) ``emit`` writes
them to the pipe, in the calling thread (the command line, the window's fallback) it hands
them on directly. The same code runs in both.

Batch metrics are throttled here, at the source: the trainer may finish hundreds of batches
a second, ``emit`` hears at most ``BATCH_UPDATES_PER_SECOND`` batch events a second, each
with every point since the last.

torch is imported when a run starts, not with this module.
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from designer.training.records import EpochMetrics, RunInfo, TrainingCallback, TrainResult
from designer.training.run.events import (MAX_SKIPPED_LISTED, BatchesDone, BatchPoints, DatasetLoaded,
                                          DecodingProgress, DownloadProgress, EpochDone, RunStarted, StatusChanged)
from designer.training.run.result import RunOutcome, RunResult, ended_without_training
from designer.training.threads import ThreadChoice

BATCH_UPDATES_PER_SECOND = 20
DOWNLOAD_UPDATES_PER_SECOND = 10
#: weight of the past in the smoothed batch curves (an EMA over about 1/(1 − β) = 20 batches)
SMOOTHING = 0.95
MAX_MISCLASSIFIED = 48
PREDICTION_CHUNK = 2000


class BatchThrottle(TrainingCallback):
    """The trainer's callback: gathers batch points, hands them on at most 20 times a second.

    Runs in the training thread after every batch, so the per-batch work is a few float
    operations.
    """

    def __init__(self, emit, run_id: str, data_source: str = "") -> None:
        self._emit = emit
        self._run_id = run_id
        self._data_source = data_source
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
        self._learning_rate: list[float] = []
        self._latest = None
        self._last_batch_end = 0.0

    def on_train_start(self, info: RunInfo) -> None:
        self._last_emit = self._last_batch_end = time.perf_counter()
        self._emit(RunStarted(self._run_id, info, os.getpid(), self._data_source))

    def on_batch_end(self, metrics) -> None:
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
        self._learning_rate.append(metrics.learning_rate)
        self._last_batch_end = now
        if now - self._last_emit >= self._interval:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self._latest is None:
            return
        points = BatchPoints(tuple(self._x), tuple(self._loss), tuple(self._accuracy),
                             tuple(self._smooth_loss), tuple(self._smooth_accuracy), self._latest,
                             tuple(self._seconds), tuple(self._sizes), tuple(self._learning_rate))
        for buffer in (self._x, self._loss, self._accuracy, self._smooth_loss, self._smooth_accuracy,
                       self._seconds, self._sizes, self._learning_rate):
            buffer.clear()
        self._latest = None
        self._last_emit = now if now is not None else time.perf_counter()
        self._emit(BatchesDone(self._run_id, points))

    def on_epoch_end(self, metrics: EpochMetrics) -> None:
        self.flush()
        self._emit(EpochDone(self._run_id, metrics))

    def on_finished(self, result: TrainResult) -> None:
        self.flush()


def default_torch_threads(torch) -> int:
    """The most threads a run takes (``designer.training.threads.thread_limit``); each run takes
    as many of them as there are cores free when it starts (``choose_torch_threads``)."""
    from designer.training.threads import thread_limit

    return thread_limit(torch)


def choose_torch_threads(torch) -> ThreadChoice:
    """One thread per core free now, up to ``default_torch_threads`` (``designer.training.threads``)."""
    from designer.training.threads import policy

    return policy().choose(default_torch_threads(torch))


class _DownloadThrottle:
    """A download's or a decode's ``progress(done, total)`` as events, at most 10 a second (and the last)."""

    def __init__(self, emit, run_id: str, event_type=DownloadProgress) -> None:
        self._emit = emit
        self._run_id = run_id
        self._event_type = event_type
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self._last >= 1.0 / DOWNLOAD_UPDATES_PER_SECOND or (total and done >= total):
            self._last = now
            self._emit(self._event_type(self._run_id, done, total))


def _folder_report(emit, run_id: str):
    """``loaded(ImageFolderLoad)`` for ``dataset_for_run``: what was read and skipped, as one event."""

    def loaded(load) -> None:
        skipped = tuple(str(item) for item in load.skipped[:MAX_SKIPPED_LISTED])
        emit(DatasetLoaded(run_id, load.message(), tuple(load.dataset.class_names), skipped, len(load.skipped),
                           load.from_cache, load.decoded))

    return loaded


def run_session(request, emit, *, stop, abort, torch_threads: int | None = None, processes=None) -> RunResult:
    """Load the dataset (from this process's cache when it is there), train, evaluate, find mistakes.

    ``stop`` and ``abort`` are event-like (``is_set()``/``set()``) and set by whoever controls
    the run: ``stop`` ends training before the next batch, and the test set is still evaluated
    so the person sees how far the network got; ``abort`` (the window is closing) also skips
    the evaluation and keeps no network. Never raises for a problem a person can cause.

    ``processes``: this process's view of a data-parallel run (``distributed.Processes``, see
    ``designer.training.run.rank``); every process of it calls this, and only the first one
    (rank 0) reports and finds the mistakes. None: a run of its own.
    """
    from designer.core import ArchitectureError
    from designer.core.fileformat import parse_document
    from designer.data import FOLDER_DATASET, DatasetError, DownloadCancelled
    from designer.training.datasets import dataset_for_run, design_input_shape

    run_id, config = request.run_id, request.config
    try:
        graph = parse_document(request.design)
    except ArchitectureError as error:
        return ended_without_training(run_id, str(error), "design")
    folder = config.dataset == FOLDER_DATASET
    emit(StatusChanged(run_id, "Reading the image folder…" if folder else "Loading the dataset…"))
    shared = processes if processes is not None and processes.distributed else None
    # Several processes on one computer: the first one there downloads, the others read its copy.
    first_here = shared is None or shared.local_rank == 0
    if not first_here:
        shared.barrier()
    try:
        dataset = dataset_for_run(config, design_input_shape(graph), progress=_DownloadThrottle(emit, run_id),
                                  decoding=_DownloadThrottle(emit, run_id, DecodingProgress),
                                  loaded=_folder_report(emit, run_id), should_cancel=stop.is_set)
    except DownloadCancelled:
        what = "reading the image folder was cancelled" if folder else "download cancelled"
        return ended_without_training(run_id, f"{what}; nothing was trained", None, status="stopped")
    except DatasetError as error:
        return ended_without_training(run_id, str(error), "dataset")
    finally:
        if first_here and shared is not None:
            shared.barrier()
    if shared.any(stop.is_set()) if shared is not None else stop.is_set():
        return ended_without_training(run_id, "stopped before training began", None, status="stopped")

    emit(StatusChanged(run_id, "Starting PyTorch…"))
    import torch

    from designer.training.trainer import Trainer

    # Set in the thread that trains: OpenMP keeps the thread count per calling thread.
    threads = torch_threads or choose_torch_threads(torch).threads
    torch.set_num_threads(threads)
    origin = getattr(dataset, "origin", "")
    throttle = BatchThrottle(emit, run_id, f"{'pictures' if folder else dataset.name} from {origin}" if origin else "")
    trainer = Trainer(graph, config, [throttle], dataset=dataset, stop_event=stop,
                      abort_event=abort, test_after_stop=True, processes=shared)
    try:
        result = trainer.run()
    finally:
        from designer.training.threads import policy

        policy().mark()  # the next run measures the free cores from here
    outcome = RunOutcome(result, trainer.info, tuple(dataset.class_names))
    if trainer.module is None or trainer.normalisation is None or abort.is_set():
        return RunResult(run_id, outcome)
    if shared is not None and not shared.is_main:  # rank 0 sends the network and the mistakes
        return RunResult(run_id, outcome)
    if request.find_mistakes and result.test_accuracy is not None:
        emit(StatusChanged(run_id, "Finding misclassified test images…"))
        outcome = _with_mistakes(outcome, trainer, dataset, abort, torch)
    if not request.keep_weights:  # a sweep needs the figures only
        return RunResult(run_id, outcome)
    return RunResult(run_id, outcome, normalisation=trainer.normalisation, module=trainer.module)


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


__all__ = ["BATCH_UPDATES_PER_SECOND", "BatchThrottle", "choose_torch_threads", "default_torch_threads",
           "run_session"]
