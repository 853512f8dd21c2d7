"""Background work for the FC lab: one worker QObject moved to its own QThread per task.

The same pattern as the training dock's ``TrainingWorker`` (DESIGN.md 8), made generic: a
task is a plain function ``work(context) -> value`` that runs in the worker thread, calls
``context.report(data)`` with plain Python data (never tensors) to show progress, and
polls ``context.cancelled()``. The GUI thread hears about it through queued signals and
touches widgets only in its own slots. Reports are throttled so a fast loop cannot flood
the event loop.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThread, Qt, Signal, Slot

#: at most this many progress reports reach the GUI per second (the last one always does)
REPORTS_PER_SECOND = 20
SHUTDOWN_WAIT_MS = 10_000


class TaskCancelled(Exception):
    """Raised by ``TaskContext.check`` when the person pressed Cancel."""


@dataclass(frozen=True, eq=False)
class TaskOutcome:
    """How a task ended: ``value`` when it finished, ``error`` (a message) when it failed."""

    value: object = None
    error: str = ""
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.error and not self.cancelled


class TaskContext:
    """What a running task may use; lives in the worker thread, called from it."""

    def __init__(self, worker: "TaskWorker") -> None:
        self._worker = worker
        self._last = 0.0
        self.stop_hooks: list = []  # callables run (from the GUI thread) on cancel, e.g. Trainer.request_stop

    def cancelled(self) -> bool:
        return self._worker.cancel_event.is_set()

    def check(self) -> None:
        if self.cancelled():
            raise TaskCancelled()

    def report(self, data, force: bool = False) -> None:
        """Send ``data`` to the GUI; dropped when the last report was under 1/20 s ago."""
        now = time.perf_counter()
        if force or now - self._last >= 1.0 / REPORTS_PER_SECOND:
            self._last = now
            self._worker.progress.emit(data)

    def on_cancel(self, hook) -> None:
        """Call ``hook()`` when the person cancels (at once if they already did)."""
        with self._worker.lock:
            self.stop_hooks.append(hook)
        if self.cancelled():
            hook()


class TaskWorker(QObject):
    progress = Signal(object)
    finished = Signal(object)  # TaskOutcome, emitted exactly once, last

    def __init__(self, work) -> None:
        super().__init__()
        self.work = work
        self.cancel_event = threading.Event()
        self.lock = threading.Lock()
        self.context = TaskContext(self)

    def cancel(self) -> None:
        """Thread-safe: sets a flag and runs the task's stop hooks (e.g. a Trainer's request_stop)."""
        self.cancel_event.set()
        with self.lock:
            hooks = list(self.context.stop_hooks)
        for hook in hooks:
            hook()

    @Slot()
    def run(self) -> None:
        try:
            value = self.work(self.context)
            outcome = TaskOutcome(value, cancelled=self.cancel_event.is_set())
        except TaskCancelled:
            outcome = TaskOutcome(cancelled=True)
        except Exception as error:  # noqa: BLE001 - the GUI must always hear how a task ended
            traceback.print_exc()
            outcome = TaskOutcome(error=str(error) or type(error).__name__, cancelled=self.cancel_event.is_set())
        self.finished.emit(outcome)


class TaskRunner(QObject):
    """Runs one task at a time for a dialog; ``progress``/``finished`` arrive in the GUI thread."""

    progress = Signal(object)
    finished = Signal(object)  # TaskOutcome
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, name: str = "lab task") -> None:
        super().__init__(parent)
        self.name = name
        self.thread: QThread | None = None
        self.worker: TaskWorker | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None

    def start(self, work) -> bool:
        """Run ``work(context)`` in a new worker thread; False when a task is still running."""
        if self.running:
            return False
        worker = TaskWorker(work)
        thread = QThread(self)
        thread.setObjectName(self.name)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        worker.progress.connect(self._on_worker_progress)
        worker.finished.connect(self._on_worker_finished)
        thread.finished.connect(self._on_thread_finished)
        self.worker, self.thread = worker, thread
        self.running_changed.emit(True)
        thread.start()
        return True

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Cancel and join (the window is closing). True when nothing runs any more."""
        thread = self.thread
        if thread is None:
            return True
        self.cancel()
        finished = thread.wait(timeout_ms)
        if finished:
            self._release()
        return finished

    def _release(self) -> None:
        thread, worker = self.thread, self.worker
        self.thread = self.worker = None
        if thread is not None:
            thread.deleteLater()
        if worker is not None:
            worker.deleteLater()
        self.running_changed.emit(False)

    @Slot(object)
    def _on_worker_progress(self, data) -> None:
        if self.sender() is self.worker:
            self.progress.emit(data)

    @Slot(object)
    def _on_worker_finished(self, outcome: TaskOutcome) -> None:
        if self.sender() is self.worker:
            self._pending_outcome = outcome

    @Slot()
    def _on_thread_finished(self) -> None:
        if self.sender() is not self.thread:
            return
        outcome = getattr(self, "_pending_outcome", None) or TaskOutcome(error="the task ended without a result")
        self._pending_outcome = None
        self._release()
        # Announced after the thread has ended, so a slot may start the next task at once.
        self.finished.emit(outcome)
