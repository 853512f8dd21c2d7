"""What a run tells whoever waits for it: frozen dataclasses, the same objects end to end.

The trainer's callbacks become these events where the run happens (``session.py``); they
cross the pipe from the training process unchanged (``service.py``) and reach the window's
Qt signals unchanged (``designer.ui.training_run``): ``BatchesDone`` is ``batches_done`` is
``_on_run_batches_done``. Every event names its run (``run_id``), since one training process
serves a queue of runs (a sweep's variants, the side-by-side pair). They carry plain data —
numbers, strings, tuples, the records of ``designer.training.records``, numpy arrays — never
tensors, so they pickle cheaply and mean the same in every process.
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.training.records import BatchMetrics, EpochMetrics, RunInfo


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
    #: the learning rate each batch was trained with (a one-cycle schedule changes it every batch)
    learning_rate: tuple[float, ...] = ()

    def samples_per_second(self) -> float:
        seconds = sum(self.seconds)
        return sum(self.sizes) / seconds if seconds > 0 else 0.0


@dataclass(frozen=True)
class RunEvent:
    run_id: str


@dataclass(frozen=True)
class StatusChanged(RunEvent):
    """What the run is doing before and after training ("Loading the dataset…")."""

    text: str


@dataclass(frozen=True)
class DownloadProgress(RunEvent):
    done: int  # bytes; may pass 2**31
    total: int


@dataclass(frozen=True)
class DecodingProgress(RunEvent):
    """An image folder being read: images decoded so far of ``total`` (0 while the folder is
    still being listed, when ``done`` counts directory entries)."""

    done: int
    total: int


@dataclass(frozen=True)
class DatasetLoaded(RunEvent):
    """What was read for an image folder, before training starts: for the person (``message``
    says the classes, the counts, the cache, what was skipped) and for code (the rest)."""

    message: str
    class_names: tuple[str, ...]
    #: the unreadable files left out, "name (why)" each, at most ``MAX_SKIPPED_LISTED`` of them
    skipped: tuple[str, ...]
    skipped_count: int
    from_cache: bool  # the decoded images came from the cache: nothing was decoded
    decoded: int  # images decoded by this run (0 when read from the cache)


#: skipped files named in a ``DatasetLoaded`` event (the count says how many there were)
MAX_SKIPPED_LISTED = 200


@dataclass(frozen=True)
class RunStarted(RunEvent):
    """Training begins (the data is loaded, the network built)."""

    info: RunInfo
    process_id: int  # the process that trains: the training process, or this one (rank 0 of several)
    data_source: str = ""  # which data, from where: "mnist-sample from the built-in sample (…)"
    #: a data-parallel run's processes, in rank order (on every computer taking part)
    process_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class BatchesDone(RunEvent):
    """Batch metrics, throttled at the source to ``BATCH_UPDATES_PER_SECOND``."""

    points: BatchPoints


@dataclass(frozen=True)
class EpochDone(RunEvent):
    metrics: EpochMetrics


@dataclass(frozen=True)
class RunEnded(RunEvent):
    """Always the last event of a run, exactly once, however it ended.

    One event for every ending: ``result.status`` says "finished", "stopped" or "failed"
    (with ``result.outcome.result.failure`` saying why), as ``TrainResult`` does.
    """

    result: object  # designer.training.run.result.RunResult


__all__ = ["BatchPoints", "BatchesDone", "DatasetLoaded", "DecodingProgress", "DownloadProgress", "EpochDone",
           "MAX_SKIPPED_LISTED", "RunEnded", "RunEvent", "RunStarted", "StatusChanged"]
