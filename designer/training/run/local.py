"""The ``Local()`` launch: runs on this computer, in the training process (or K of them side by
side) or in the calling thread."""

from __future__ import annotations

import collections
import logging
import os
import threading

from designer.training.run.events import RunEnded
from designer.training.run.result import ended_without_training, internal_failure

log = logging.getLogger(__name__)


def run_locally(requests, emit, control, *, own_process: bool, torch_threads: int | None,
                parallel: int = 1) -> list:
    if own_process and parallel > 1 and len(requests) > 1:
        return _side_by_side(requests, emit, control, torch_threads, parallel)
    if own_process:
        return _in_training_process(requests, emit, control, torch_threads)
    return [_here(request, emit, control, torch_threads) for request in requests]


def _side_by_side(requests, emit, control, torch_threads, parallel: int) -> list:
    """K training processes, each taking the next request when it is done (a sweep's variants).

    One thread here per process, each feeding its process one run at a time through the same
    code as the single queue; the events of all of them reach ``emit`` one at a time.
    """
    if torch_threads is None:  # the CPUs shared among the processes
        torch_threads = max(1, (os.cpu_count() or 1) // parallel)
    waiting = collections.deque(requests)
    take_lock, emit_lock = threading.Lock(), threading.Lock()
    results: dict[str, object] = {}

    def emit_one(event) -> None:
        with emit_lock:
            emit(event)

    def take():
        with take_lock:
            return waiting.popleft() if waiting else None

    def feed() -> None:
        own = _OwnProcess()
        try:
            while (request := take()) is not None:
                for result in _in_training_process([request], emit_one, control, torch_threads, own):
                    results[result.run_id] = result
        finally:
            own.close()

    threads = [threading.Thread(target=feed, name=f"network-designer-runs-{index}", daemon=True)
               for index in range(min(parallel, len(requests)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[request.run_id] for request in requests]


def _here(request, emit, control, torch_threads):
    """One run in the calling thread."""
    from designer.training.session import run_session

    if control.stopped(request.run_id):
        result = ended_without_training(request.run_id, "stopped before it began", None, status="stopped")
    else:
        try:
            result = run_session(request, emit, stop=control.flag(request.run_id), abort=control.abort_flag(),
                                 torch_threads=torch_threads)
        except Exception as error:  # noqa: BLE001 - the caller must always hear how a run ended
            log.exception("training failed unexpectedly")
            result = internal_failure(request.run_id, error)
    emit(RunEnded(request.run_id, result))
    return result


def _forward(process):
    def forward(kind: str, run_id: str | None) -> None:
        if kind == "abort":
            process.abort()
        else:
            process.stop_run(run_id)

    return forward


class _OwnProcess:
    """The training process one of several side-by-side threads keeps for all its runs."""

    def __init__(self) -> None:
        self.process = None

    def acquire(self):
        from designer.training import service

        if self.process is None or not self.process.reusable:
            if self.process is not None:
                self.process.shutdown(0.5)
            self.process = service.acquire()  # the kept idle one for the first thread, else a new one
        return self.process

    def release(self, process) -> None:
        pass  # kept for this thread's next run

    def close(self) -> None:
        from designer.training import service

        if self.process is not None:
            service.release(self.process)  # kept for the next runs if none is kept yet
            self.process = None


def _in_training_process(requests, emit, control, torch_threads, source=None) -> list:
    """The queue in the kept training process; a process that dies ends its current run with a
    message and the rest go on in a new one; where no process can start, runs happen here.
    ``source``: where processes come from and go back to (``acquire``/``release``; the
    service's kept process by default)."""
    from designer.training import service

    source = source if source is not None else service

    results: dict[str, object] = {}

    def end(request, message: str, failure: str | None, status: str = "failed") -> None:
        result = ended_without_training(request.run_id, message, failure, status)
        results[request.run_id] = result
        emit(RunEnded(request.run_id, result))

    pending = list(requests)
    while pending:
        if control.aborted:
            for request in pending:
                end(request, "the window closed before this run began", None, status="stopped")
            break
        try:
            process = source.acquire()
        except Exception as error:  # noqa: BLE001 - e.g. no way to start processes here
            log.warning("could not start a training process (%s); training in this process", error)
            for request in pending:
                results[request.run_id] = _here(request, emit, control, torch_threads)
            break
        queue = pending[:service.MAX_QUEUE]
        unwatch = None
        try:
            process.start_runs(queue, torch_threads, stopped=control.stopped)
            unwatch = control.watch(_forward(process))
            for event in process.events():
                if isinstance(event, RunEnded):
                    results[event.run_id] = event.result
                emit(event)
        except service.TrainingProcessDied as death:
            current = next((request for request in queue if request.run_id == death.run_id), None)
            if current is not None:
                if control.aborted:
                    end(current, "the window closed while training", None, status="stopped")
                else:
                    end(current, f"{death} while training this design. The design is untouched; if memory ran "
                                 f"out, lower the batch size (now {current.config.batch_size}) or make the "
                                 f"network smaller, then start again", "process")
        finally:
            if unwatch is not None:
                unwatch()
            source.release(process)
        pending = [request for request in pending if request.run_id not in results]
    return [results[request.run_id] for request in requests]


__all__ = ["run_locally"]
