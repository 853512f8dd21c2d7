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
from dataclasses import dataclass

import torch

SCHEDULES = ("none", "step", "cosine", "onecycle", "plateau")
SYNTAX = "none, step:N[:G], cosine[:MIN], onecycle[:PEAK] or plateau[:P[:F]] (e.g. step:10:0.1)"
ONE_CYCLE_START_DIVIDER = 25.0  # torch's defaults, spelled out for the formula above
ONE_CYCLE_END_DIVIDER = 1e4
ONE_CYCLE_RISE = 0.3


class ScheduleError(ValueError):
    """A spec string that cannot be read; the message says what is expected."""


@dataclass(frozen=True)
class ScheduleSpec:
    kind: str = "none"
    step_size: int = 0  # step: epochs between drops
    gamma: float = 0.1  # step: factor at each drop
    minimum: float = 0.0  # cosine: the last learning rate
    peak: float | None = None  # onecycle: the top learning rate (None: the run's learning rate)
    patience: int = 2  # plateau
    factor: float = 0.1  # plateau

    def __str__(self) -> str:
        if self.kind == "step":
            return f"step:{self.step_size}:{self.gamma:g}"
        if self.kind == "cosine":
            return f"cosine:{self.minimum:g}" if self.minimum else "cosine"
        if self.kind == "onecycle":
            return f"onecycle:{self.peak:g}" if self.peak else "onecycle"
        if self.kind == "plateau":
            return f"plateau:{self.patience}:{self.factor:g}"
        return "none"


def _number(text: str, what: str, *, whole: bool = False) -> float:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ScheduleError(f"{what} must be {kind}, not {text!r}") from None
    if not math.isfinite(value):
        raise ScheduleError(f"{what} must be finite, not {text!r}")
    return value


def parse_schedule(text: str | None) -> ScheduleSpec:
    """``"step:10:0.1"`` → ScheduleSpec; raises ScheduleError naming what is wrong."""
    text = (text or "").strip().lower()
    if text in ("", "none", "off", "constant"):
        return ScheduleSpec()
    kind, *arguments = text.split(":")
    limits = {"step": (1, 2), "cosine": (0, 1), "onecycle": (0, 1), "plateau": (0, 2)}
    if kind not in limits:
        raise ScheduleError(f"unknown schedule {kind!r}; use {SYNTAX}")
    fewest, most = limits[kind]
    if not fewest <= len(arguments) <= most or any(not argument for argument in arguments):
        raise ScheduleError(f"{text!r} does not fit the {kind} schedule; use {SYNTAX}")
    if kind == "step":
        step_size = int(_number(arguments[0], "the step (epochs between drops)", whole=True))
        gamma = _number(arguments[1], "the step factor") if len(arguments) > 1 else 0.1
        if step_size < 1:
            raise ScheduleError(f"the step must be at least 1 epoch, not {step_size}")
        if not 0 < gamma <= 1:
            raise ScheduleError(f"the step factor must be in (0, 1], not {gamma:g}")
        return ScheduleSpec("step", step_size=step_size, gamma=gamma)
    if kind == "cosine":
        minimum = _number(arguments[0], "the cosine schedule's last learning rate") if arguments else 0.0
        if minimum < 0:
            raise ScheduleError(f"the cosine schedule's last learning rate must be ≥ 0, not {minimum:g}")
        return ScheduleSpec("cosine", minimum=minimum)
    if kind == "onecycle":
        peak = _number(arguments[0], "the one-cycle peak learning rate") if arguments else None
        if peak is not None and peak <= 0:
            raise ScheduleError(f"the one-cycle peak learning rate must be > 0, not {peak:g}")
        return ScheduleSpec("onecycle", peak=peak)
    patience = int(_number(arguments[0], "the plateau patience (epochs)", whole=True)) if arguments else 2
    factor = _number(arguments[1], "the plateau factor") if len(arguments) > 1 else 0.1
    if patience < 0:
        raise ScheduleError(f"the plateau patience must be ≥ 0 epochs, not {patience}")
    if not 0 < factor < 1:
        raise ScheduleError(f"the plateau factor must be in (0, 1), not {factor:g}")
    return ScheduleSpec("plateau", patience=patience, factor=factor)


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
