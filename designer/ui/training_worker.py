"""Runs one training run for the window and reports to the GUI through signals.

The worker is a QObject moved to a QThread (DESIGN.md 8); its ``run`` slot does one of two
things, chosen by ``isolation``:

* ``"process"`` (the window's default): the run happens in a training process of its own
  (``designer.training.service``); the worker thread sends the design, relays the
  process's messages as signals, and afterwards rebuilds the trained network from the
  weights it sent. The window's interpreter never runs the trainer, so the two never wait
  for each other's global lock, and a crash of the trainer cannot take the window down.
* ``"thread"``: the run happens in the worker thread itself (``run_session``), as it did
  before the training process existed; kept for comparison (the benchmark measures both)
  and for environments that cannot start processes.

Everything the signals carry is plain data — the frozen records of designer.training,
tuples of floats, numpy arrays — never tensors, and batch metrics arrive throttled
(``BATCH_UPDATES_PER_SECOND``).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from designer.core import Graph
from designer.training.records import TrainConfig, TrainResult
from designer.training.session import (BATCH_UPDATES_PER_SECOND, BatchPoints, Reporter, RunOutcome,
                                       default_torch_threads, failed_outcome, internal_failure,
                                       run_session)

log = logging.getLogger(__name__)

ISOLATIONS = ("process", "thread")
DEFAULT_ISOLATION = "process"


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


class _SignalReporter(Reporter):
    """The session's reports, as the worker's signals (emitted in the worker thread)."""

    def __init__(self, worker: "TrainingWorker") -> None:
        self._worker = worker

    def status(self, text: str) -> None:
        self._worker.status_changed.emit(text)

    def download(self, done: int, total: int) -> None:
        self._worker.download_progress.emit(done, total)

    def run_started(self, info) -> None:
        self._worker.run_started.emit(info)

    def batches(self, points: BatchPoints) -> None:
        self._worker.batches_done.emit(points)

    def epoch(self, metrics) -> None:
        self._worker.epoch_done.emit(metrics)


class TrainingWorker(QObject):
    """One run: load the dataset (maybe downloading it), train, predict the test set.

    Lives in a worker thread; ``run`` is its only slot. ``request_stop`` and ``abort`` are
    called directly from the GUI thread (the worker's own event loop is busy in ``run``)
    and only set thread-safe (and, for the training process, process-shared) flags.
    """

    status_changed = Signal(str)
    download_progress = Signal(object, object)  # bytes done, bytes total (may pass 2**31)
    run_started = Signal(object)  # RunInfo
    batches_done = Signal(object)  # BatchPoints
    epoch_done = Signal(object)  # EpochMetrics
    finished = Signal(object)  # RunOutcome; always emitted exactly once, last

    def __init__(self, graph: Graph, config: TrainConfig, *, torch_threads: int | None = None,
                 isolation: str = DEFAULT_ISOLATION) -> None:
        super().__init__()
        if isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {ISOLATIONS}, not {isolation!r}")
        self.graph = graph.copy()  # the GUI may not touch it while this runs, but never share
        self.config = config
        self.torch_threads = torch_threads  # None: default_torch_threads()
        self.isolation = isolation
        self.trained: TrainedModel | None = None
        self.process_id: int | None = None  # the training process's, while one runs this
        self._reporter = _SignalReporter(self)
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self._process = None

    # ------------------------------------------------------------------ control (any thread)

    def request_stop(self) -> None:
        """Stop before the next batch; the test set is still evaluated for the results."""
        self._stop.set()
        with self._lock:
            if self._process is not None:
                self._process.request_stop()

    def abort(self) -> None:
        """Stop as soon as possible and skip the evaluation (the window is closing)."""
        self._abort.set()
        self._stop.set()
        with self._lock:
            if self._process is not None:
                self._process.abort()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    # ------------------------------------------------------------------ the run (worker thread)

    @Slot()
    def run(self) -> None:
        try:
            outcome = self._run_in_process() if self.isolation == "process" else self._run_in_thread()
        except Exception as error:  # noqa: BLE001 - the GUI must always hear that the run ended
            outcome = internal_failure(error)
        self.finished.emit(outcome)

    def _run_in_thread(self) -> RunOutcome:
        _load_torch()
        session = run_session(self.graph, self.config, self._reporter, stop=self._stop, abort=self._abort,
                              torch_threads=self.torch_threads)
        if session.module is not None:
            self.trained = TrainedModel(self.graph, self.config, session.module, session.normalisation,
                                        session.outcome.class_names, session.outcome.result)
        return session.outcome

    def _run_in_process(self) -> RunOutcome:
        from designer.training import service

        self.status_changed.emit("Starting the training process…")
        try:
            process = service.acquire()
        except Exception as error:  # noqa: BLE001 - e.g. no way to start processes here
            log.warning("could not start a training process (%s); training in the window's process", error)
            self.isolation = "thread"
            return self._run_in_thread()
        with self._lock:
            self._process = process
            self.process_id = process.pid
            if self._abort.is_set():
                process.abort()
            elif self._stop.is_set():
                process.request_stop()
        relay = {"status": self.status_changed, "download": self.download_progress,
                 "run_started": self.run_started, "batches": self.batches_done, "epoch": self.epoch_done}
        finished = None
        try:
            process.start_run(self.graph, self.config, self.torch_threads)
            # The window needs torch for the trained network; load it while the training
            # process starts up, on the other CPU (a no-op after the first run).
            _load_torch()
            for kind, arguments in process.messages():
                if kind == "finished":
                    finished = arguments
                else:
                    relay[kind].emit(*arguments)
        except service.TrainingProcessDied as death:
            if self._abort.is_set():
                return failed_outcome("the window closed while training", None, status="stopped")
            return failed_outcome(f"{death} while training this design. The design is untouched; if memory "
                                  f"ran out, lower the batch size (now {self.config.batch_size}) or make the "
                                  f"network smaller, then start again", "process")
        finally:
            with self._lock:
                self._process = None
            service.release(process)
        outcome, weights, normalisation = finished
        if weights is not None and not self._abort.is_set():
            self.trained = TrainedModel(self.graph, self.config, _module_with(self.graph, weights), normalisation,
                                        outcome.class_names, outcome.result)
        return outcome


_torch_settled = False


def _load_torch() -> None:
    """Import torch, then keep its objects out of the garbage collector's passes (ui/memory.py)."""
    global _torch_settled
    if not _torch_settled:
        from designer.ui.memory import import_long_lived

        import_long_lived("torch")
        _torch_settled = True


def _module_with(graph: Graph, weights: dict) -> object:
    """The design built as a torch module (on the CPU) holding the weights the process trained."""
    import torch

    from designer.nn.builder import build_module

    module = build_module(graph)
    module.load_state_dict({name: torch.from_numpy(array) for name, array in weights.items()})
    module.eval()
    return module


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


__all__ = ["BATCH_UPDATES_PER_SECOND", "BatchPoints", "DEFAULT_ISOLATION", "ISOLATIONS", "RunOutcome",
           "TrainedModel", "TrainingWorker", "default_torch_threads", "format_duration"]
