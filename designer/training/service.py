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
Qt's threads is unsafe), imports torch once and then serves queues of runs one after
another: one idle process is kept for the next queue (``acquire``/``release``), so only the
first run of a session waits for it to start. A queue is a list of ``RunRequest`` (the
dock's one run, the side-by-side pair, a sweep's variants); the process trains them in
order and sends every event of ``designer.training.run.events`` back as it is, each run
ending with its ``RunEnded`` (weights as numpy arrays). Each run has its own stop flag in
shared memory, which the trainer reads before every batch; one more flag aborts the queue.

This is the ``Local()`` launch's engine (``designer.training.run.local``); no Qt here.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
import multiprocessing
import signal
import threading
import time

from designer.training.run.events import RunEnded, RunEvent
from designer.training.run.result import internal_failure

log = logging.getLogger(__name__)

_CONTEXT = multiprocessing.get_context("spawn")
#: how long an aborted run (the window is closing) may take to wind down before it is killed
ABORT_GRACE_SECONDS = 3.0
POLL_SECONDS = 0.1
#: runs one queue may hold; the launch sends longer lists in parts
MAX_QUEUE = 256
_ABORT = MAX_QUEUE  # the flag after the runs' own


class TrainingProcessDied(Exception):
    """The training process ended without finishing its runs; the message says how, for a person."""

    def __init__(self, message: str, run_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id  # the run it was training (or about to), if any


class _Flag:
    """One byte of the shared flags, as the event-like object the trainer polls."""

    def __init__(self, flags, index: int) -> None:
        self._flags = flags
        self._index = index

    def is_set(self) -> bool:
        return bool(self._flags[self._index]) or bool(self._flags[_ABORT])

    def set(self) -> None:
        self._flags[self._index] = 1


class _PipeEmitter:
    """Sends the events to the window; when the window has gone, aborts the queue instead."""

    def __init__(self, connection, flags) -> None:
        self._connection = connection
        self._flags = flags

    def __call__(self, event: RunEvent) -> None:
        try:
            self._connection.send(event)
        except (OSError, ValueError):
            self._flags[_ABORT] = 1  # nobody is listening any more: end quietly, keep nothing


def _serve(connection, flags) -> None:
    """The training process's main loop: one queue per message until told to end (None) or orphaned."""
    # Ctrl+C in the terminal reaches the whole process group; the window decides what happens.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from designer.training.threads import policy

    policy().mark()  # the first run measures the free cores over PyTorch's loading
    importlib.import_module("torch")  # every run needs it; load it while the window sends the first queue

    from designer.training.run.result import ended_without_training
    from designer.training.session import run_session

    # Modules, classes and functions live as long as the process: keep them out of the
    # collector's full passes (each one walks every tracked object).
    gc.freeze()
    emit = _PipeEmitter(connection, flags)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return  # the window's process has gone
        if message is None:
            return
        requests, torch_threads = message
        for index, request in enumerate(requests):
            stop = _Flag(flags, index)
            if stop.is_set():
                result = ended_without_training(request.run_id, "stopped before it began", None, status="stopped")
            else:
                try:
                    result = run_session(request, emit, stop=stop, abort=_Flag(flags, _ABORT),
                                         torch_threads=torch_threads).portable()
                except Exception as error:  # noqa: BLE001 - the window must always hear how a run ended
                    log.exception("training failed unexpectedly")
                    result = internal_failure(request.run_id, error)
            emit(RunEnded(request.run_id, result))


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
    """One child process that trains; one queue of runs at a time (``start_runs`` then ``events``)."""

    def __init__(self) -> None:
        from designer.training.threads import prepare_openmp

        prepare_openmp()  # the process inherits it: its idle OpenMP threads sleep instead of spinning
        self._flags = _CONTEXT.Array("b", MAX_QUEUE + 1, lock=False)
        self._connection, child_end = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(target=_serve, args=(child_end, self._flags),
                                         name="network-designer-training", daemon=True)
        self._process.start()
        child_end.close()
        self._slots: dict[str, int] = {}  # run id → its stop flag, for the queue in progress
        self._pending: list[str] = []  # run ids not yet ended, in order
        self._closed = False

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return not self._closed and self._process.is_alive()

    @property
    def reusable(self) -> bool:
        """Alive and between queues (a queue abandoned half-way leaves it unusable)."""
        return self.alive and not self._pending

    # ------------------------------------------------------------------ control (any thread)

    def stop_run(self, run_id: str | None = None) -> None:
        """Stop one run of the queue (before its next batch, or before it begins), or all of them."""
        slots = self._slots.values() if run_id is None else [self._slots.get(run_id)]
        for slot in slots:
            if slot is not None:
                self._flags[slot] = 1

    def abort(self) -> None:
        self._flags[_ABORT] = 1

    @property
    def aborting(self) -> bool:
        return bool(self._flags[_ABORT])

    # ------------------------------------------------------------------ a queue (one thread)

    def start_runs(self, requests, torch_threads: int | None = None, stopped=None) -> None:
        """Send a queue; ``stopped(run_id)`` says which runs were stopped before it was sent."""
        if self._pending:
            raise RuntimeError("this training process is already running a queue")
        if not 0 < len(requests) <= MAX_QUEUE:
            raise ValueError(f"a queue holds 1 to {MAX_QUEUE} runs, not {len(requests)}")
        for index in range(MAX_QUEUE + 1):
            self._flags[index] = 0
        self._slots = {request.run_id: index for index, request in enumerate(requests)}
        self._pending = [request.run_id for request in requests]
        for request in requests:
            if stopped is not None and stopped(request.run_id):
                self._flags[self._slots[request.run_id]] = 1
        try:
            self._connection.send((list(requests), torch_threads))
        except (OSError, ValueError) as error:
            raise TrainingProcessDied(f"the training process {_exit_description(self._exit_code())}",
                                      self._pending[0]) from error

    def events(self):
        """The queue's events as they come, up to and including the last run's ``RunEnded``.

        Raises ``TrainingProcessDied`` (naming the run it was on) when the process ends before
        that; it is killed after ``ABORT_GRACE_SECONDS`` when an abort is not honoured in time.
        """
        aborted_at = None
        while self._pending:
            try:
                event = self._connection.recv() if self._connection.poll(POLL_SECONDS) else None
            except (EOFError, OSError):
                raise self._died() from None
            if event is not None:
                if isinstance(event, RunEnded) and event.run_id in self._pending:
                    self._pending.remove(event.run_id)
                yield event
                continue
            if not self._process.is_alive():
                raise self._died()
            if self.aborting:
                aborted_at = aborted_at or time.monotonic()
                if time.monotonic() - aborted_at > ABORT_GRACE_SECONDS:
                    log.warning("the training process did not stop within %.0f s; killing it", ABORT_GRACE_SECONDS)
                    self.kill()
                    raise TrainingProcessDied("the training process did not stop in time and was ended",
                                              self._pending[0])

    def _died(self) -> TrainingProcessDied:
        return TrainingProcessDied(f"the training process {_exit_description(self._exit_code())}",
                                   self._pending[0] if self._pending else None)

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
    """A training process ready for a queue: the idle one if there is one, else a new one."""
    with _idle_lock:
        while _idle:
            process = _idle.pop()
            if process.reusable:
                return process
            process.shutdown(0.5)
    return TrainingProcess()


def has_idle_process() -> bool:
    """Whether a kept training process is waiting (the next queue starts without loading PyTorch)."""
    with _idle_lock:
        return any(process.reusable for process in _idle)


def release(process: TrainingProcess) -> None:
    """Give a process back after its queue: kept for the next one if it is healthy and none is kept yet."""
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

__all__ = ["ABORT_GRACE_SECONDS", "MAX_QUEUE", "TrainingProcess", "TrainingProcessDied", "acquire",
           "has_idle_process", "release", "shutdown_idle"]
