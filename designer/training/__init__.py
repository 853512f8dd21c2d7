"""Headless training: plain torch with callback hooks, no Qt."""

from designer.training.records import (
    BatchMetrics,
    EpochMetrics,
    RunInfo,
    TrainConfig,
    TrainingCallback,
    TrainResult,
)

__all__ = ["BatchMetrics", "EpochMetrics", "RunInfo", "TrainConfig", "TrainingCallback", "TrainResult"]
