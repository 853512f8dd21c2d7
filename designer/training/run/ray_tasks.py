"""The ``Ray()`` launch: each run a Ray task, on a cluster or on a Ray instance started for the runs.

Ray schedules the tasks onto the cluster's CPUs (each asks for ``cpus_per_run``) and streams
back what each yields: the task runs the same session as any other run and yields its
events as they come, then its result (a streaming generator task: no actor, no queue of
ours). Stop cancels the run's task (``ray.cancel(force=True)`` ends the worker process, so
nothing is left running; a task still waiting for a CPU is simply dropped): a stopped run
keeps nothing, which suits what Ray is for here — a sweep, whose cut-short variants are
not results. With no ``address`` a Ray instance is started on this computer for the runs and
shut down after them; a driver this process already had (``ray.init`` by the caller) is
used as it is and left running.

ray is optional (the ``cluster`` extra): without it every run ends with the pip command.
"""

from __future__ import annotations

import collections
import importlib.util
import logging
import os
import queue
import threading
from pathlib import Path

from designer.training.run.events import RunEnded
from designer.training.run.result import ended_without_training, internal_failure

log = logging.getLogger(__name__)

RAY_MISSING = "Ray is not installed here; pip install 'network-designer[cluster]' adds it"
POLL_SECONDS = 0.1


def ray_missing() -> str | None:
    """The message saying how to install Ray, or None when it is installed (nothing is imported)."""
    return RAY_MISSING if importlib.util.find_spec("ray") is None else None


def run_on_ray(launch, requests, emit, control) -> list:
    results: dict[str, object] = {}

    def end(request, result) -> None:
        results[request.run_id] = result
        emit(RunEnded(request.run_id, result))

    missing = ray_missing()
    if missing is None:
        try:
            import ray
        except ImportError as error:  # installed but broken
            missing = f"Ray cannot be loaded ({error}); pip install 'network-designer[cluster]' installs it"
    if missing is not None:
        for request in requests:
            end(request, ended_without_training(request.run_id, missing, "config"))
        return [results[request.run_id] for request in requests]

    started_here = False
    if not ray.is_initialized():
        try:
            _start(ray, launch)
            started_here = True
        except Exception as error:  # noqa: BLE001 - no cluster there, a version mismatch, no room for one here
            where = f"the Ray cluster at {launch.address}" if launch.address else "a Ray instance on this computer"
            for request in requests:
                end(request, ended_without_training(
                    request.run_id, f"could not reach {where}: {_first_line(error)}", "config"))
            return [results[request.run_id] for request in requests]
    try:
        _run_tasks(ray, launch, requests, control, emit, end)
    finally:
        if started_here:
            ray.shutdown()
    return [results[request.run_id] for request in requests]


def _start(ray, launch) -> None:
    options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    if launch.address:
        ray.init(address=launch.address, **options)
        return
    # The workers of an instance started here import this package as this process does.
    package_root = str(Path(__file__).resolve().parents[3])
    path = os.pathsep.join([package_root] + [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                             if part])
    ray.init(num_cpus=launch.local_cpus or os.cpu_count() or 1, runtime_env={"env_vars": {"PYTHONPATH": path}},
             **options)


def _run_tasks(ray, launch, requests, control, emit, end) -> None:
    from ray.exceptions import TaskCancelledError

    remote = ray.remote(_train_in_task)
    running: dict[str, object] = {}  # run id → the task's stream
    by_id = {request.run_id: request for request in requests}
    for request in requests:
        if control.stopped(request.run_id):
            end(request, ended_without_training(request.run_id, "stopped before it began", None, status="stopped"))
            continue
        running[request.run_id] = remote.options(
            num_cpus=launch.cpus_per_run, num_returns="streaming",
            name=f"network-designer {request.label or request.run_id}"[:100],
        ).remote(request, launch.cpus_per_run)
    controls: collections.deque = collections.deque()
    unwatch = control.watch(lambda kind, run_id: controls.append(run_id if kind == "stop" else None))
    cancelled: set[str] = set()
    try:
        while running:
            while controls:
                run_id = controls.popleft()
                for target in ([run_id] if run_id is not None else list(running)):
                    if target in running and target not in cancelled:
                        ray.cancel(running[target], force=True)
                        cancelled.add(target)
            streams = list(running.values())
            ready, _ = ray.wait(streams, num_returns=1, timeout=POLL_SECONDS)
            for stream in ready:
                run_id = next(key for key, value in running.items() if value is stream)
                request = by_id[run_id]
                try:
                    kind, payload = ray.get(next(stream))
                except StopIteration:
                    del running[run_id]
                    end(request, internal_failure(run_id, RuntimeError("the Ray task ended without a result")))
                    continue
                except TaskCancelledError:
                    del running[run_id]
                    end(request, _stopped(run_id, control))
                    continue
                except Exception as error:  # noqa: BLE001 - the worker or its node died, the task raised
                    del running[run_id]
                    if run_id in cancelled:
                        end(request, _stopped(run_id, control))
                    else:
                        end(request, ended_without_training(
                            run_id, f"its Ray task failed: {_first_line(error)}", "process"))
                    continue
                if kind == "event":
                    emit(payload)
                else:
                    del running[run_id]
                    end(request, payload)
    finally:
        unwatch()
        for stream in running.values():  # an error here: leave nothing running on the cluster
            ray.cancel(stream, force=True)


def _stopped(run_id: str, control):
    message = "the window closed while training" if control.aborted else \
        "stopped on request: its Ray task was cancelled"
    return ended_without_training(run_id, message, None, status="stopped")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


class _Ended:
    def __init__(self, result) -> None:
        self.result = result


def _train_in_task(request, threads: int):
    """The task: the run's session in a thread of the worker, its events yielded as they come.

    A generator cannot yield from inside the session's ``emit``, hence the thread and the
    queue between them."""
    from designer.training.session import run_session

    events: queue.Queue = queue.Queue()
    never = threading.Event()  # stopping is cancelling the task

    def work() -> None:
        try:
            result = run_session(request, events.put, stop=never, abort=never, torch_threads=threads).portable()
        except Exception as error:  # noqa: BLE001 - the caller must always hear how a run ended
            log.exception("training failed unexpectedly")
            result = internal_failure(request.run_id, error)
        events.put(_Ended(result))

    threading.Thread(target=work, daemon=True, name="network-designer-run").start()
    while True:
        event = events.get()
        if isinstance(event, _Ended):
            yield "ended", event.result
            return
        yield "event", event


__all__ = ["RAY_MISSING", "ray_missing", "run_on_ray"]
