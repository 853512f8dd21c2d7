"""A queue of training runs as the window sees it: the run path's events as Qt signals.

``TrainingRun`` hands ``RunRequest``s to ``designer.training.run.run_all`` in a task of the
one task runner (``designer.ui.tasks``) and relays every event, unchanged, as the signal of
the same name: ``BatchesDone`` arrives as ``batches_done(event)``, which the dock handles in
``_on_run_batches_done``. The Training dock has one; the FC lab's windows that train (the
side-by-side comparison, the sweep) have one each, sharing their window's runner. Where the
runs happen is the requests' launch — by default the training process, so the window's
interpreter trains nothing. After the queue, the trained networks are rebuilt in the worker
thread (torch is loaded there, not in the GUI thread) and ``finished`` carries them.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from designer.training.run import (BatchesDone, DatasetLoaded, DecodingProgress, DownloadProgress, EpochDone,
                                   RunControl, RunEnded, RunStarted, StatusChanged)
from designer.ui.tasks import SHUTDOWN_WAIT_MS, TaskOutcome, TaskRunner


@dataclass(frozen=True, eq=False)
class FinishedRun:
    request: object  # RunRequest
    result: object  # RunResult
    model: object | None  # TrainedModel, when the run kept its weights and trained
    saved_to: str = ""  # the run's folder (``runs/<name>-<time>``), when it was saved
    save_error: str = ""  # why it could not be saved, for a person


#: what a run reports while it gets its data, before it trains
DATA_EVENTS = (StatusChanged, DownloadProgress, DecodingProgress, DatasetLoaded)


class TrainingRun(QObject):
    status_changed = Signal(object)  # StatusChanged
    download_progress = Signal(object)  # DownloadProgress
    decoding_progress = Signal(object)  # DecodingProgress
    dataset_loaded = Signal(object)  # DatasetLoaded
    run_started = Signal(object)  # RunStarted
    batches_done = Signal(object)  # BatchesDone
    epoch_done = Signal(object)  # EpochDone
    run_ended = Signal(object)  # RunEnded, once per request
    #: the queue is over and the worker thread has ended: a TaskOutcome whose value is
    #: [FinishedRun] in request order (also when stopped); exactly once per start()
    finished = Signal(object)

    def __init__(self, runner: TaskRunner | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner if runner is not None else TaskRunner(self, "training")
        self.control: RunControl | None = None
        self.requests: list = []
        self.process_id: int | None = None  # where the current run trains, once it has started
        self._active = False
        self._relay = {StatusChanged: self.status_changed, DownloadProgress: self.download_progress,
                       DecodingProgress: self.decoding_progress, DatasetLoaded: self.dataset_loaded,
                       RunStarted: self.run_started, BatchesDone: self.batches_done, EpochDone: self.epoch_done,
                       RunEnded: self.run_ended}
        self.runner.progress.connect(self._on_runner_progress)
        self.runner.finished.connect(self._on_runner_finished)

    @property
    def running(self) -> bool:
        return self._active

    @property
    def stop_requested(self) -> bool:
        return self.control is not None and self.control.stopping_all

    def start(self, requests, save_runs_in=None) -> bool:
        """Start the queue; False when this window's runner is busy.

        ``save_runs_in``: a runs folder; every run that trained is saved in a folder of its own
        there (``designer.training.run_folder``), in the worker thread, before ``finished``.
        """
        if self.runner.running:
            return False
        requests = list(requests)
        control = RunControl()
        self.control, self.requests, self.process_id = control, requests, None
        needs_torch = any(request.keep_weights for request in requests)

        def work(context):
            from designer.training.run import run_all, trained_model

            context.on_cancel(control.stop)
            context.on_abort(control.abort)
            loaded = [not needs_torch]

            def emit(event) -> None:
                if not loaded[0] and not isinstance(event, DATA_EVENTS):
                    # The trained networks are rebuilt here afterwards; load torch now, while the
                    # training process trains (a no-op after the first run). Not while it reads
                    # the data: the import holds this thread for seconds, and an image folder's
                    # decoding progress, and its Cancel, would reach the window only after it.
                    _load_torch()
                    loaded[0] = True
                context.report(event)

            results = run_all(requests, emit, control)
            finished = [FinishedRun(request, result, None if control.aborted else trained_model(request, result))
                        for request, result in zip(requests, results)]
            if save_runs_in is not None and not control.aborted:
                finished = [_saved(run, save_runs_in) for run in finished]
            return finished

        self._active = True
        if not self.runner.start(work):
            self._active = False
            return False
        return True

    def stop(self, run_id: str | None = None) -> None:
        """Stop one run (or all) before its next batch; the test set is still evaluated."""
        if self._active and self.control is not None:
            if run_id is None:
                self.runner.cancel()  # the task's cancel hook stops every run
            else:
                self.control.stop(run_id)

    def wait(self, timeout_ms: int) -> bool:
        return self.runner.wait(timeout_ms)

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Abort and join (the window is closing). True when nothing runs any more."""
        if not self._active:
            return True
        finished = self.runner.shutdown(timeout_ms)
        if finished:
            self._active = False
        return finished

    @Slot(object)
    def _on_runner_progress(self, event) -> None:
        if not self._active:
            return
        if isinstance(event, RunStarted):
            self.process_id = event.process_id
        signal = self._relay.get(type(event))
        if signal is not None:
            signal.emit(event)

    @Slot(object)
    def _on_runner_finished(self, outcome: TaskOutcome) -> None:
        if not self._active:
            return  # another task of a shared runner, or released by shutdown()
        self._active = False
        self.finished.emit(outcome)


def _saved(finished: FinishedRun, root) -> FinishedRun:
    """The run written to a new folder under ``root``; runs that never trained are not saved."""
    import dataclasses

    from designer.core.fileformat import parse_document
    from designer.training.checkpoint import CheckpointError
    from designer.training.run_folder import new_run_folder, save_run

    result = finished.result.result
    if not result.history:
        return finished
    graph = parse_document(finished.request.design)
    model = finished.model
    folder = new_run_folder(root, finished.request.label or graph.name or "run")
    try:
        save_run(folder, graph, finished.request.config, result, finished.result.outcome.info,
                 module=model.module if model else None, normalisation=model.normalisation if model else None,
                 class_names=model.class_names if model else finished.result.outcome.class_names)
    except (OSError, CheckpointError) as error:
        return dataclasses.replace(finished, save_error=f"the run was not saved in {folder}: "
                                                        f"{getattr(error, 'strerror', None) or error}")
    return dataclasses.replace(finished, saved_to=str(folder))


_torch_settled = False


def _load_torch() -> None:
    """Import torch, then keep its objects out of the garbage collector's passes (ui/memory.py)."""
    global _torch_settled
    if not _torch_settled:
        from designer.ui.memory import import_long_lived

        import_long_lived("torch")
        _torch_settled = True


def starts_training_process(launch) -> bool:
    """Whether a run on ``launch`` must first start the training process (about 4 s: PyTorch loads)."""
    from designer.training.run import Local

    if not (isinstance(launch, Local) and launch.own_process):
        return False
    from designer.training import service

    return not service.has_idle_process()


__all__ = ["FinishedRun", "TrainingRun", "starts_training_process"]
