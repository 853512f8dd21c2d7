"""Headless training: plain torch with callback hooks, no Qt.

The records are plain Python and import at once; everything that needs torch (the
trainer, evaluation, history, checkpoints) loads on first use, so the window can import
this package before torch has loaded.
"""

from importlib import import_module

from designer.training.records import (
    DEVICES,
    FAILURES,
    OPTIMIZERS,
    BatchMetrics,
    EpochMetrics,
    RunInfo,
    TrainConfig,
    TrainingCallback,
    TrainResult,
)

_LAZY = {
    "Trainer": "designer.training.trainer",
    "resolve_device": "designer.training.trainer",
    "stratified_split": "designer.training.trainer",
    "Evaluation": "designer.training.evaluation",
    "Normalisation": "designer.training.normalisation",
    "evaluate": "designer.training.evaluation",
    "predict": "designer.training.evaluation",
    "HistoryError": "designer.training.history",
    "save_history_csv": "designer.training.history",
    "save_history_json": "designer.training.history",
    "load_history_json": "designer.training.history",
    "CheckpointError": "designer.training.checkpoint",
    "CheckpointMetadata": "designer.training.checkpoint",
    "save_checkpoint": "designer.training.checkpoint",
    "load_checkpoint": "designer.training.checkpoint",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'designer.training' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = ["BatchMetrics", "DEVICES", "EpochMetrics", "FAILURES", "OPTIMIZERS", "RunInfo", "TrainConfig",
           "TrainingCallback", "TrainResult", *_LAZY]
