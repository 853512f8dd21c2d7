"""Plain records the training engine reports through callbacks.

They carry floats, ints, strings and lists only — never tensors — so a GUI callback can
forward them across threads in Qt signals unchanged, and a history can be written as
CSV/JSON without conversion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


OPTIMIZERS = ("sgd", "adam", "adamw")
DEVICES = ("auto", "cpu", "cuda", "mps")


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

    def to_dict(self) -> dict:
        return asdict(self)


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
