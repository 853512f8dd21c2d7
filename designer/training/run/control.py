"""``RunControl``: how the caller of ``run_all`` stops runs, from any thread.

``stop(run_id)`` ends one run before its next batch (its test set is still evaluated, so
the person sees how far it got); ``stop()`` does that to every run of the call, and the
runs still queued end without training. ``abort()`` is for a window that is closing: every
run ends as soon as it can, skips the evaluation and keeps no network.

A launch learns of stops through ``watch`` (the training process gets them as shared
flags it reads before every batch); a run in this process polls ``flag(run_id)``.
"""

from __future__ import annotations

import threading


class RunControl:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped: set[str] = set()
        self._stop_all = False
        self._aborted = False
        self._watchers: list = []

    # ------------------------------------------------------------------ the caller's side

    def stop(self, run_id: str | None = None) -> None:
        with self._lock:
            if run_id is None:
                self._stop_all = True
            else:
                self._stopped.add(run_id)
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher("stop", run_id)

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher("abort", None)

    # ------------------------------------------------------------------ the launch's side

    def stopped(self, run_id: str) -> bool:
        return self._aborted or self._stop_all or run_id in self._stopped

    @property
    def aborted(self) -> bool:
        return self._aborted

    @property
    def stopping_all(self) -> bool:
        return self._stop_all or self._aborted

    def flag(self, run_id: str) -> "RunFlag":
        """An event-like view (``is_set``/``set``) of one run's stop, for the trainer to poll."""
        return RunFlag(self, run_id)

    def abort_flag(self) -> "AbortFlag":
        return AbortFlag(self)

    def watch(self, watcher) -> callable:
        """Call ``watcher(kind, run_id)`` ("stop" or "abort") for every stop and abort from now on,
        after replaying what happened already; returns the function that ends the watch."""
        with self._lock:
            self._watchers.append(watcher)
            replay = [("stop", run_id) for run_id in sorted(self._stopped)]
            if self._stop_all:
                replay.append(("stop", None))
            if self._aborted:
                replay.append(("abort", None))
        for kind, run_id in replay:
            watcher(kind, run_id)

        def unwatch() -> None:
            with self._lock:
                if watcher in self._watchers:
                    self._watchers.remove(watcher)

        return unwatch


class RunFlag:
    def __init__(self, control: RunControl, run_id: str) -> None:
        self._control = control
        self._run_id = run_id

    def is_set(self) -> bool:
        return self._control.stopped(self._run_id)

    def set(self) -> None:
        self._control.stop(self._run_id)


class AbortFlag:
    def __init__(self, control: RunControl) -> None:
        self._control = control

    def is_set(self) -> bool:
        return self._control.aborted

    def set(self) -> None:
        self._control.abort()


__all__ = ["AbortFlag", "RunControl", "RunFlag"]
