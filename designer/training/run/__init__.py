"""The run path: one way to train, whoever asks and wherever it runs.

    request = RunRequest.of(graph, config)              # what: a design, settings, what to send back
    result = run(request, emit=print, control=RunControl())   # emit hears every event

``RunRequest.launch`` says where (``Local()``: the training process on this computer, or
the calling thread; ``Processes(n)``: data-parallel on N processes through torchrun;
``Ray()``: Ray tasks on a cluster); the command line, the Training dock (through
``designer.ui.training_run``) and the FC lab (``designer.lab``) all call ``run``/``run_all``.
Events are the frozen dataclasses of ``events``; results are ``RunResult``. Importing this
package loads neither torch nor Qt.
"""

from designer.training.run.control import RunControl
from designer.training.run.events import (BatchesDone, BatchPoints, DatasetLoaded, DecodingProgress, DownloadProgress,
                                          EpochDone, RunEnded, RunEvent, RunStarted, StatusChanged)
from designer.training.run.path import refusal, run, run_all
from designer.training.run.request import Launch, Local, Processes, Ray, RunRequest, new_run_id
from designer.training.run.result import (RunOutcome, RunResult, TrainedModel, ended_without_training,
                                          trained_model)

__all__ = ["BatchPoints", "BatchesDone", "DatasetLoaded", "DecodingProgress", "DownloadProgress", "EpochDone", "Launch", "Local", "Processes", "Ray",
           "RunControl", "RunEnded", "RunEvent", "RunOutcome", "RunRequest", "RunResult", "RunStarted",
           "StatusChanged", "TrainedModel", "ended_without_training", "new_run_id", "refusal", "run", "run_all",
           "trained_model"]
