"""Training in a process of its own: the window's interpreter never runs the trainer.

Why a process and not only a thread: PyTorch releases Python's global lock inside its
operators, but a small network spends much of each batch in Python (the optimizer, the
module calls), so a trainer in a thread and a window painting its curves take turns on one
lock — measured with tests/benchmarks/bench_ui_training.py (--thread), training in a thread
runs at 0.89–0.91 of its headless speed with the window open, in this process at 1.00–1.01.
In a process of its own the trainer has an interpreter to itself and the window has the other. It also
means a crash in native code, or the system killing the trainer for memory, ends the run
with a message instead of taking the window and the unsaved design with it.

The process is started with multiprocessing's "spawn" method (forking a process that runs
Qt's threads is unsafe), imports torch once and then serves runs one after another: one
idle process is kept for the next run (``acquire``/``release``), so only the first run of
a session waits for it to start. A run is one request, ``(design document, TrainConfig,
torch threads)``; the process answers with ``(kind, args)`` messages mirroring
``designer.training.session.Reporter`` and ends with ``("finished", (outcome, weights,
normalisation))``, the weights as numpy arrays. Stop and abort are multiprocessing events
the trainer polls before every batch.

No Qt here; the window's ``TrainingWorker`` relays the messages as signals.
"""

from __future__ import annotations

import atexit
import gc
import logging
import multiprocessing
import signal
import threading
import time

from designer.core import Graph, to_document
from designer.core.fileformat import parse_document
from designer.training.records import TrainConfig
from designer.training.session import Reporter, internal_failure, run_session

log = logging.getLogger(__name__)

_CONTEXT = multiprocessing.get_context("spawn")
#: how long an aborted run (the window is closing) may take to wind down before it is killed
ABORT_GRACE_SECONDS = 3.0
POLL_SECONDS = 0.1


class TrainingProcessDied(Exception):
    """The training process ended without finishing its run; the message says how, for a person."""


class _PipeReporter(Reporter):
    """Sends the reports to the window; when the window has gone, stops the run instead."""

    def __init__(self, connection, stop, abort) -> None:
        self._connection = connection
        self._stop = stop
        self._abort = abort

    def _send(self, kind: str, *arguments) -> None:
        try:
            self._connection.send((kind, arguments))
        except (OSError, ValueError):
            self._abort.set()  # nobody is listening any more: end quietly, keep nothing
            self._stop.set()

    def status(self, text: str) -> None:
        self._send("status", text)

    def download(self, done: int, total: int) -> None:
        self._send("download", done, total)

    def run_started(self, info) -> None:
        self._send("run_started", info)

    def batches(self, points) -> None:
        self._send("batches", points)

    def epoch(self, metrics) -> None:
        self._send("epoch", metrics)


def _serve(connection, stop, abort) -> None:
    """The training process's main loop: one run per request until told to end (None) or orphaned."""
    # Ctrl+C in the terminal reaches the whole process group; the window decides what happens.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch  # noqa: F401 - every run needs it; load it while the window sends the first request

    # Modules, classes and functions live as long as the process: keep them out of the
    # collector's full passes (each one walks every tracked object).
    gc.freeze()
    datasets: dict[tuple[str, str | None], object] = {}  # the last dataset used, kept for the next run
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return  # the window's process has gone
        if request is None:
            return
        document, config, torch_threads = request
        try:
            key = (config.dataset, config.data_folder)
            result = run_session(parse_document(document), config, _PipeReporter(connection, stop, abort), stop=stop,
                                 abort=abort, torch_threads=torch_threads, dataset=datasets.get(key))
            if result.dataset is not None:
                datasets = {key: result.dataset}
            weights = None
            if result.module is not None:
                weights = {name: tensor.detach().cpu().numpy()
                           for name, tensor in result.module.state_dict().items()}
            message = ("finished", (result.outcome, weights, result.normalisation))
        except Exception as error:  # noqa: BLE001 - the window must always hear how a run ended
            log.exception("training failed unexpectedly")
            message = ("finished", (internal_failure(error), None, None))
        try:
            connection.send(message)
        except (OSError, ValueError):
            return


def _exit_description(exit_code: int | None) -> str:
    if exit_code is None:
        return "stopped answering"
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        if -exit_code == getattr(signal, "SIGKILL", 9):
            return f"was killed ({name}; the system does this when memory runs out)"
        return f"crashed ({name})"
    return f"exited with status {exit_code}"


class TrainingProcess:
    """One child process that trains; ``run`` one design at a time."""

    def __init__(self) -> None:
        self._stop = _CONTEXT.Event()
        self._abort = _CONTEXT.Event()
        self._connection, child_end = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(target=_serve, args=(child_end, self._stop, self._abort),
                                         name="network-designer-training", daemon=True)
        self._process.start()
        child_end.close()
        self._in_run = False
        self._closed = False

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return not self._closed and self._process.is_alive()

    @property
    def reusable(self) -> bool:
        """Alive and between runs (a run abandoned half-way leaves it unusable)."""
        return self.alive and not self._in_run

    # ------------------------------------------------------------------ control (any thread)

    def request_stop(self) -> None:
        self._stop.set()

    def abort(self) -> None:
        self._abort.set()
        self._stop.set()

    # ------------------------------------------------------------------ a run (one thread)

    def start_run(self, graph: Graph, config: TrainConfig, torch_threads: int | None = None) -> None:
        if self._in_run:
            raise RuntimeError("this training process is already running a design")
        self._stop.clear()
        self._abort.clear()
        self._in_run = True
        try:
            self._connection.send((to_document(graph), config, torch_threads))
        except (OSError, ValueError) as error:
            raise TrainingProcessDied(f"the training process {_exit_description(self._exit_code())}") from error

    def messages(self):
        """The run's messages, ``(kind, args)``, up to and including ``("finished", …)``.

        Raises ``TrainingProcessDied`` when the process ends without finishing (it is
        killed after ``ABORT_GRACE_SECONDS`` when an abort is not honoured in time).
        """
        aborted_at = None
        while True:
            try:
                ready = self._connection.poll(POLL_SECONDS)
                message = self._connection.recv() if ready else None
            except (EOFError, OSError):
                raise TrainingProcessDied(f"the training process {_exit_description(self._exit_code())}") from None
            if message is not None:
                finished = message[0] == "finished"
                if finished:
                    self._in_run = False
                yield message
                if finished:
                    return
                continue
            if not self._process.is_alive():
                raise TrainingProcessDied(f"the training process {_exit_description(self._exit_code())}")
            if self._abort.is_set():
                aborted_at = aborted_at or time.monotonic()
                if time.monotonic() - aborted_at > ABORT_GRACE_SECONDS:
                    log.warning("the training process did not stop within %.0f s; killing it", ABORT_GRACE_SECONDS)
                    self.kill()
                    raise TrainingProcessDied("the training process did not stop in time and was ended")

    def _exit_code(self) -> int | None:
        self._process.join(1.0)
        return self._process.exitcode

    # ------------------------------------------------------------------ ending

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join(2.0)

    def shutdown(self, timeout: float = 2.0) -> None:
        """Ask the process to end, then make sure it has."""
        if self._closed:
            return
        self._closed = True
        try:
            self._connection.send(None)
        except (OSError, ValueError):
            pass
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(1.0)
        if self._process.is_alive():
            self.kill()
        self._connection.close()


_idle: list[TrainingProcess] = []
_idle_lock = threading.Lock()


def acquire() -> TrainingProcess:
    """A training process ready for a run: the idle one if there is one, else a new one."""
    with _idle_lock:
        while _idle:
            process = _idle.pop()
            if process.reusable:
                return process
            process.shutdown(0.5)
    return TrainingProcess()


def release(process: TrainingProcess) -> None:
    """Give a process back after its run: kept for the next run if it is healthy and none is kept yet."""
    with _idle_lock:
        if process.reusable and not _idle:
            _idle.append(process)
            return
    process.shutdown()


def shutdown_idle(timeout: float = 2.0) -> None:
    """End the kept process (the application is quitting, or a test wants a fresh one)."""
    with _idle_lock:
        processes = list(_idle)
        _idle.clear()
    for process in processes:
        process.shutdown(timeout)


atexit.register(shutdown_idle)

__all__ = ["ABORT_GRACE_SECONDS", "TrainingProcess", "TrainingProcessDied", "acquire", "release",
           "shutdown_idle"]
