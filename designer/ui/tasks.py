"""Background work for the window: the one task runner (DESIGN.md 8).

A task is a plain function ``work(context) -> value`` run in a worker QObject moved to a
QThread of its own: training (``designer.ui.training_run`` hands it a queue of run
requests), the FC lab's probes and conversions. It calls ``context.report(data)`` with
plain data (never tensors) — the run path's events, or a probe's points — and checks
``context.cancelled()`` between steps. The GUI thread hears of both through queued
signals and touches widgets only in its own slots; sources throttle what they report
(training: 20 batch updates a second at most).

Cancel stops a task between steps (a run: before its next batch); abort is for a window
that is closing (a run also skips its test evaluation and keeps nothing). ``shutdown``
aborts and joins: the window never goes while a thread it started still runs.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThread, Qt, Signal, Slot

from designer.lab.common import Cancelled as TaskCancelled

#: how long closing the window waits for a task to wind down before giving up on it
SHUTDOWN_WAIT_MS = 10_000


@dataclass(frozen=True, eq=False)
class TaskOutcome:
    """How a task ended: ``value`` when it returned, ``error`` (a message) when it failed."""

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

    def cancelled(self) -> bool:
        return self._worker.cancel_event.is_set()

    def check(self) -> None:
        if self.cancelled():
            raise TaskCancelled()

    def report(self, data) -> None:
        """Send ``data`` to the GUI thread (the runner's ``progress`` signal)."""
        self._worker.progress.emit(data)

    def on_cancel(self, hook) -> None:
        """Call ``hook()`` when the task is cancelled (at once if it was already)."""
        self._worker.add_hook("cancel", hook)

    def on_abort(self, hook) -> None:
        """Call ``hook()`` when the window closes mid-task (at once if it already did)."""
        self._worker.add_hook("abort", hook)


class TaskWorker(QObject):
    progress = Signal(object)
    finished = Signal(object)  # TaskOutcome, emitted exactly once, last

    def __init__(self, work) -> None:
        super().__init__()
        self.work = work
        self.cancel_event = threading.Event()
        self.abort_event = threading.Event()
        self._lock = threading.Lock()
        self._hooks: dict[str, list] = {"cancel": [], "abort": []}
        self.context = TaskContext(self)

    def add_hook(self, kind: str, hook) -> None:
        with self._lock:
            self._hooks[kind].append(hook)
        if (self.cancel_event if kind == "cancel" else self.abort_event).is_set():
            hook()

    def _run_hooks(self, kind: str) -> None:
        with self._lock:
            hooks = list(self._hooks[kind])
        for hook in hooks:
            hook()

    def cancel(self) -> None:
        """Thread-safe: sets the flag and runs the task's cancel hooks (e.g. stop its runs)."""
        self.cancel_event.set()
        self._run_hooks("cancel")

    def abort(self) -> None:
        self.abort_event.set()
        self.cancel()
        self._run_hooks("abort")

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
    """Runs one task at a time for its owner; ``progress``/``finished`` arrive in the GUI thread."""

    progress = Signal(object)
    finished = Signal(object)  # TaskOutcome, after the worker thread has ended
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, name: str = "task") -> None:
        super().__init__(parent)
        self.name = name
        self.thread: QThread | None = None
        self.worker: TaskWorker | None = None
        self._pending_outcome: TaskOutcome | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None

    @property
    def cancel_requested(self) -> bool:
        return self.worker is not None and self.worker.cancel_event.is_set()

    def start(self, work) -> bool:
        """Run ``work(context)`` in a new worker thread; False when a task is still running."""
        if self.running:
            return False
        worker = TaskWorker(work)
        thread = QThread(self)
        thread.setObjectName(self.name)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # quit() is thread-safe; a direct connection ends the thread's loop without a GUI round trip.
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        worker.progress.connect(self._on_worker_progress)
        worker.finished.connect(self._on_worker_finished)
        thread.finished.connect(self._on_thread_finished)
        self.worker, self.thread = worker, thread
        self._pending_outcome = None
        self.running_changed.emit(True)
        thread.start()
        return True

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def wait(self, timeout_ms: int) -> bool:
        """Block until the worker thread has ended (True), or ``timeout_ms`` passed."""
        thread = self.thread
        return thread is None or thread.wait(timeout_ms)

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Abort and join (the window is closing). True when nothing runs any more."""
        thread = self.thread
        if thread is None:
            return True
        if self.worker is not None:
            self.worker.abort()
        thread.quit()
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
            return  # shutdown() released it already
        outcome = self._pending_outcome or TaskOutcome(error="the task ended without a result")
        self._pending_outcome = None
        self._release()
        # Announced after the thread has ended, so a slot may start the next task at once.
        self.finished.emit(outcome)


__all__ = ["SHUTDOWN_WAIT_MS", "TaskCancelled", "TaskContext", "TaskOutcome", "TaskRunner", "TaskWorker"]
