"""Learning-rate schedules from ``torch.optim.lr_scheduler``, built from a short spec string.

Syntax (``--schedule``; LR is the run's learning rate, E its number of epochs):

==========================  ==============================================  ============
spec                        learning rate                                    steps
==========================  ==============================================  ============
``none`` (or empty)         LR throughout                                    —
``step:N`` ``step:N:G``     LR · G^⌊epoch/N⌋; G defaults to 0.1               each epoch
``cosine`` ``cosine:MIN``   MIN + (LR − MIN)(1 + cos(π·epoch/E))/2; MIN = 0  each epoch
``onecycle``                rises from LR/25 to LR over the first 30% of      each batch
``onecycle:PEAK``           the batches, then falls to LR/25/10⁴ (both
                            halves cosine); PEAK replaces LR as the top;
                            momentum is left as set
``plateau`` ``plateau:P``   × F once the loss has not fallen below its best  each epoch,
``plateau:P:F``             (by more than 0.01%) for more than P epochs;     on the loss
                            validation loss, else training loss;
                            P = 2, F = 0.1 by default
==========================  ==============================================  ============

"epoch" counts finished epochs: epoch 0 is the first. A ``Schedule`` wraps the torch
scheduler and knows when it steps: call ``after_batch()`` after every optimizer step and
``after_epoch(loss)`` after every epoch; the one that does not apply does nothing. Record
the learning rate of an epoch (``learning_rate``) before calling ``after_epoch``.
"""

from __future__ import annotations

import math

import torch

from designer.training.specs import (SCHEDULE_SYNTAX as SYNTAX, SCHEDULES, ScheduleError,
                                     ScheduleSpec, parse_schedule)

ONE_CYCLE_START_DIVIDER = 25.0  # torch's defaults, spelled out for the formula above
ONE_CYCLE_END_DIVIDER = 1e4
ONE_CYCLE_RISE = 0.3


class Schedule:
    """A torch scheduler plus when it steps: ``stepping`` is "batch", "epoch" or "loss"."""

    def __init__(self, spec: ScheduleSpec, optimizer: torch.optim.Optimizer, *, epochs: int,
                 batches_per_epoch: int) -> None:
        if spec.kind not in SCHEDULES or spec.kind == "none":
            raise ScheduleError(f"no scheduler for {spec.kind!r}")
        if epochs < 1 or batches_per_epoch < 1:
            raise ValueError("a schedule needs at least one epoch of at least one batch")
        self.spec = spec
        self.optimizer = optimizer
        lr_scheduler = torch.optim.lr_scheduler
        if spec.kind == "step":
            self.stepping = "epoch"
            self.scheduler = lr_scheduler.StepLR(optimizer, step_size=spec.step_size, gamma=spec.gamma)
        elif spec.kind == "cosine":
            self.stepping = "epoch"
            self.scheduler = lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=spec.minimum)
        elif spec.kind == "onecycle":
            self.stepping = "batch"
            peak = spec.peak or max(group["lr"] for group in optimizer.param_groups)
            self.total_steps = epochs * batches_per_epoch
            self.scheduler = lr_scheduler.OneCycleLR(
                optimizer, max_lr=peak, total_steps=self.total_steps, pct_start=ONE_CYCLE_RISE,
                div_factor=ONE_CYCLE_START_DIVIDER, final_div_factor=ONE_CYCLE_END_DIVIDER,
                # The momentum (SGD) or β₁ (Adam) the person set stays as set.
                cycle_momentum=False)
            self._steps = 0
        else:
            self.stepping = "loss"
            self.scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=spec.factor,
                                                            patience=spec.patience)

    @property
    def learning_rate(self) -> float:
        """The rate the optimizer uses now (of its first parameter group)."""
        return float(self.optimizer.param_groups[0]["lr"])

    def after_batch(self) -> None:
        if self.stepping == "batch" and self._steps < self.total_steps - 1:
            # OneCycleLR refuses a step past its end; a run folded a batch away or stopped early.
            self.scheduler.step()
            self._steps += 1

    def after_epoch(self, loss: float | None = None) -> None:
        """``loss``: the epoch's validation loss (or training loss without validation); used by plateau only."""
        if self.stepping == "epoch":
            self.scheduler.step()
        elif self.stepping == "loss":
            if loss is None or not math.isfinite(loss):
                return  # a missing or broken loss says nothing about a plateau
            self.scheduler.step(loss)


def build_schedule(spec: ScheduleSpec | str | None, optimizer: torch.optim.Optimizer, *, epochs: int,
                   batches_per_epoch: int) -> Schedule | None:
    """A Schedule, or None for a constant learning rate; raises ScheduleError for a bad spec."""
    spec = parse_schedule(spec) if spec is None or isinstance(spec, str) else spec
    if spec.kind == "none":
        return None
    return Schedule(spec, optimizer, epochs=epochs, batches_per_epoch=batches_per_epoch)


__all__ = ["SCHEDULES", "SYNTAX", "Schedule", "ScheduleError", "ScheduleSpec", "build_schedule", "parse_schedule"]
