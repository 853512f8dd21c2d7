"""Plain records the training engine reports through callbacks.

They carry floats, ints, strings and lists only — never tensors — so a GUI callback can
forward them across threads in Qt signals unchanged, and a history can be written as
CSV/JSON without conversion.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

OPTIMIZERS = ("sgd", "adam", "adamw")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: the largest float32: the optimizers hold the learning rate and weight decay in float32 tensors
FLOAT32_MAX = 3.4028234663852886e38
MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 1 << 20
MAX_SEED = 2**63 - 1  # numpy's and torch's generators both take it
RESIZE_MODES = ("crop", "letterbox")  # designer.data.image_decode's, without importing Pillow here


@dataclass
class TrainConfig:
    dataset: str = "mnist-sample"
    data_folder: str | None = None  # a folder the user names; tried before the cache
    epochs: int = 3
    batch_size: int = 64
    optimizer: str = "adam"  # "sgd" (with momentum), "adam" or "adamw"
    learning_rate: float = 1e-3
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    validation_fraction: float = 0.1  # held out of the training set, stratified, seeded
    early_stopping_patience: int | None = None  # epochs without a better validation loss
    seed: int = 0
    device: str = "auto"  # "auto": CUDA, then Apple MPS, then CPU
    download: bool = True  # False: never touch the network, fail with DatasetError instead
    # CUDA only (CPU training is deterministic anyway): cuDNN picks deterministic kernels so
    # the same seed gives the same metrics; False lets it benchmark for the fastest ones.
    deterministic: bool = True
    #: training batches only, e.g. "shift:4,flip,crop:4" ("" or "none": off); see designer/training/augment.py
    augment: str = ""
    #: the learning rate over the run, e.g. "cosine", "step:10:0.1", "onecycle" ("" or "none": constant)
    schedule: str = ""
    #: image folders: how a picture becomes the Input's H×W ("crop": centre crop, "letterbox")
    resize: str = "crop"

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """The settings on one line, for a person (``train``'s first line, the Runs view)."""
        data = f"the image folder {self.data_folder}" if self.dataset == "folder" else self.dataset
        text = (f"{self.epochs} epoch(s) on {data}, {self.optimizer} lr {self.learning_rate:g}, "
                f"batch {self.batch_size}, seed {self.seed}")
        extras = [f"augment {self.augment}" if self.augment not in ("", "none") else "",
                  f"schedule {self.schedule}" if self.schedule not in ("", "none") else "",
                  f"{self.resize} to the Input" if self.dataset == "folder" else ""]
        return ", ".join([text] + [extra for extra in extras if extra])

    def problems(self) -> list[str]:
        """What is wrong with these settings, one sentence each, for a person ([] when nothing is).

        Checked once by the run path before anything starts (``designer.training.run``), so the
        command line and the window show the same message and no run begins with a value torch
        would refuse half-way (a learning rate of 1e39 overflows float32).
        """
        problems = []
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"the optimizer must be one of {', '.join(OPTIMIZERS)}, not {_show(self.optimizer)}")
        if not (_whole(self.epochs) and 1 <= self.epochs <= MAX_EPOCHS):
            problems.append(f"epochs must be a whole number from 1 to {MAX_EPOCHS:,}, not {_show(self.epochs)}")
        if not (_whole(self.batch_size) and 1 <= self.batch_size <= MAX_BATCH_SIZE):
            problems.append(f"the batch size must be a whole number from 1 to {MAX_BATCH_SIZE:,}, "
                            f"not {_show(self.batch_size)}")
        if not (_number(self.learning_rate) and 0 < self.learning_rate <= FLOAT32_MAX):
            problems.append(f"the learning rate must be a positive number no larger than {FLOAT32_MAX:.3g} "
                            f"(the largest float32), not {_show(self.learning_rate)}")
        if not (_number(self.weight_decay) and 0 <= self.weight_decay <= FLOAT32_MAX):
            problems.append(f"the weight decay must be a number from 0 to {FLOAT32_MAX:.3g} (the largest "
                            f"float32), not {_show(self.weight_decay)}")
        if not (_number(self.momentum) and 0 <= self.momentum < 1):
            problems.append(f"the momentum must be in [0, 1), not {_show(self.momentum)}")
        if not (_number(self.validation_fraction) and 0 <= self.validation_fraction < 1):
            problems.append(f"the validation fraction must be in [0, 1), not {_show(self.validation_fraction)}")
        patience = self.early_stopping_patience
        if patience is not None and not (_whole(patience) and 1 <= patience <= MAX_EPOCHS):
            problems.append(f"the early-stopping patience must be a whole number from 1 to {MAX_EPOCHS:,} "
                            f"(or off), not {_show(patience)}")
        if not (_whole(self.seed) and 0 <= self.seed <= MAX_SEED):
            problems.append(f"the seed must be a whole number from 0 to {MAX_SEED:,}, not {_show(self.seed)}")
        if self.device not in DEVICES and not (isinstance(self.device, str) and self.device.startswith("cuda:")):
            problems.append(f"the device must be one of {', '.join(DEVICES)}, not {_show(self.device)}")
        problems += self._spec_problems()
        return problems

    def _spec_problems(self) -> list[str]:
        from designer.training.specs import AugmentError, ScheduleError, parse_augment, parse_schedule

        problems = []
        for what, value, parse, error_type in (("augmentation", self.augment, parse_augment, AugmentError),
                                                ("schedule", self.schedule, parse_schedule, ScheduleError)):
            if not isinstance(value, str):
                problems.append(f"the {what} must be text, not {_show(value)}")
                continue
            try:
                parse(value)
            except error_type as error:
                problems.append(f"{what}: {error}")
        if self.resize not in RESIZE_MODES:
            problems.append(f"the resize mode must be one of {', '.join(RESIZE_MODES)}, not {_show(self.resize)}")
        return problems


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _show(value) -> str:
    """A value in a message: never floods it (an int of 5,000 digits, a long string)."""
    if isinstance(value, float):
        return f"{value:g}"
    if _whole(value) and abs(value) >= 10**15:
        return f"{'-' if value < 0 else ''}a number of {len(str(abs(value))) if abs(value) < 10**4000 else 'over 4,000'} digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class RunInfo:
    """Sent once when training starts."""

    device: str
    train_samples: int
    validation_samples: int
    test_samples: int
    batches_per_epoch: int
    epochs: int
    class_names: tuple[str, ...]
    #: processes training this run data-parallel (``batches_per_epoch`` is then each one's
    #: steps, and every figure reported is summed over all of them)
    processes: int = 1
    #: PyTorch's CPU threads for this run (each process's); 0 when not recorded. Results can
    #: differ in the last digits between thread counts (designer.training.threads).
    threads: int = 0


@dataclass(frozen=True)
class BatchMetrics:
    epoch: int  # 1-based
    batch: int  # 1-based within the epoch
    batches: int  # batches per epoch
    step: int  # global batch counter, 1-based
    loss: float
    accuracy: float  # 0..1, on this batch
    samples_per_second: float
    size: int = 0  # images in this batch (the last of an epoch may be smaller)
    learning_rate: float = 0.0  # what this batch's step used


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int  # 1-based
    train_loss: float
    train_accuracy: float
    validation_loss: float | None  # None when validation_fraction is 0
    validation_accuracy: float | None
    seconds: float
    learning_rate: float


@dataclass(frozen=True)
class TrainResult:
    status: str  # "finished", "stopped" (stop requested or early stopping), "failed"
    message: str  # for a person: why it stopped, or what went wrong and what to do
    epochs_completed: int
    best_epoch: int | None  # by validation loss (training loss when there is no validation set)
    test_loss: float | None
    test_accuracy: float | None
    confusion_matrix: list[list[int]] | None  # [true][predicted]
    seconds: float
    history: list[EpochMetrics] = field(default_factory=list)
    # What went wrong, for code that reacts differently (the CLI's exit status, the window
    # pointing at the Input block); None unless status is "failed". One of FAILURES.
    failure: str | None = None


def best_epoch(history: Sequence[EpochMetrics]) -> int | None:
    """The one best-epoch rule: lowest validation loss (the training loss when there is no
    validation set), the earliest of equals. The trainer keeps (with early stopping) and
    marks this epoch; the curves draw it; the diagnosis reads from it."""
    if not history:
        return None
    if history[-1].validation_loss is not None:
        return min(history, key=lambda metrics: metrics.validation_loss).epoch
    return min(history, key=lambda metrics: metrics.train_loss).epoch


#: TrainResult.failure values. The first five are the person's to fix before training.
FAILURES = ("config", "design", "dataset", "input-shape", "output-shape",
            "device", "non-finite-loss", "out-of-memory", "internal",
            "process")  # the training process ended without a word (killed, crashed)


class TrainingCallback:
    """Override what you need. Called in the training thread; keep the work small."""

    def on_train_start(self, info: RunInfo) -> None: ...

    def on_batch_end(self, metrics: BatchMetrics) -> None: ...

    def on_epoch_end(self, metrics: EpochMetrics) -> None: ...

    def on_finished(self, result: TrainResult) -> None: ...
