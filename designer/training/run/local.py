"""The ``Local()`` launch: runs on this computer, in the training process or in the calling thread."""

from __future__ import annotations

import logging

from designer.training.run.events import RunEnded
from designer.training.run.result import ended_without_training, internal_failure

log = logging.getLogger(__name__)


def run_locally(requests, emit, control, *, own_process: bool, torch_threads: int | None) -> list:
    if own_process:
        return _in_training_process(requests, emit, control, torch_threads)
    return [_here(request, emit, control, torch_threads) for request in requests]


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


def _in_training_process(requests, emit, control, torch_threads) -> list:
    """The queue in the kept training process; a process that dies ends its current run with a
    message and the rest go on in a new one; where no process can start, runs happen here."""
    from designer.training import service

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
            process = service.acquire()
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
            service.release(process)
        pending = [request for request in pending if request.run_id not in results]
    return [results[request.run_id] for request in requests]


__all__ = ["run_locally"]
