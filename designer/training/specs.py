"""The spec strings of ``--augment`` and ``--schedule``, read without torch.

The run path checks a run's settings before torch has loaded (``TrainConfig.problems``), so
the parsers live here; ``augment.py`` and ``schedules.py`` build the torch objects from
the specs (and re-export these names).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PADDING_MODES = ("zero", "reflect")
MAX_PIXELS = 64  # a shift or padding this large leaves nothing of a 28×28 or 32×32 image


class AugmentError(ValueError):
    """A spec string that cannot be read; the message says what is expected."""


@dataclass(frozen=True)
class AugmentSpec:
    shift: int = 0  # ±pixels, black fill
    flip: bool = False  # horizontal, with probability 1/2
    crop: int = 0  # padding in pixels on each side
    crop_padding: str = "zero"  # "zero" or "reflect"

    @property
    def active(self) -> bool:
        return bool(self.shift or self.flip or self.crop)

    def __str__(self) -> str:
        parts = []
        if self.shift:
            parts.append(f"shift:{self.shift}")
        if self.flip:
            parts.append("flip")
        if self.crop:
            parts.append(f"crop:{self.crop}" + (":reflect" if self.crop_padding == "reflect" else ""))
        return ",".join(parts) or "none"


AUGMENT_SYNTAX = "shift:K, flip, crop:P or crop:P:reflect, separated by commas (e.g. shift:4,flip)"


def _pixels(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise AugmentError(f"{what} needs a whole number of pixels, not {text!r}") from None
    if not 1 <= value <= MAX_PIXELS:
        raise AugmentError(f"{what} must be 1 to {MAX_PIXELS} pixels, not {value}")
    return value


def parse_augment(text: str | None) -> AugmentSpec:
    """``"shift:4,flip,crop:4"`` → AugmentSpec; raises AugmentError naming the bad part."""
    text = (text or "").strip()
    if text.lower() in ("", "none", "off"):
        return AugmentSpec()
    values: dict = {}
    for raw in text.split(","):
        part = raw.strip().lower()
        name, _, argument = part.partition(":")
        if not part:
            raise AugmentError(f"empty entry in augmentation {text!r}; use {AUGMENT_SYNTAX}")
        if name in values or (name == "crop" and "crop_padding" in values):
            raise AugmentError(f"{name!r} is given twice in augmentation {text!r}")
        if name == "shift":
            if not argument or ":" in argument:
                raise AugmentError(f"write shift as shift:K (K = largest shift in pixels), not {part!r}")
            values["shift"] = _pixels(argument, "shift")
        elif name == "flip":
            if argument:
                raise AugmentError(f"flip takes no value, not {part!r}")
            values["flip"] = True
        elif name == "crop":
            pixels, _, padding = argument.partition(":")
            if not pixels:
                raise AugmentError(f"write crop as crop:P or crop:P:reflect (P = padding in pixels), not {part!r}")
            values["crop"] = _pixels(pixels, "crop padding")
            padding = padding or "zero"
            if padding not in PADDING_MODES:
                raise AugmentError(f"crop padding is zero or reflect, not {padding!r}")
            values["crop_padding"] = padding
        else:
            raise AugmentError(f"unknown augmentation {name!r}; use {AUGMENT_SYNTAX}")
    return AugmentSpec(**values)


SCHEDULES = ("none", "step", "cosine", "onecycle", "plateau")
SCHEDULE_SYNTAX = "none, step:N[:G], cosine[:MIN], onecycle[:PEAK] or plateau[:P[:F]] (e.g. step:10:0.1)"


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


def _schedule_number(text: str, what: str, *, whole: bool = False) -> float:
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
        raise ScheduleError(f"unknown schedule {kind!r}; use {SCHEDULE_SYNTAX}")
    fewest, most = limits[kind]
    if not fewest <= len(arguments) <= most or any(not argument for argument in arguments):
        raise ScheduleError(f"{text!r} does not fit the {kind} schedule; use {SCHEDULE_SYNTAX}")
    if kind == "step":
        step_size = int(_schedule_number(arguments[0], "the step (epochs between drops)", whole=True))
        gamma = _schedule_number(arguments[1], "the step factor") if len(arguments) > 1 else 0.1
        if step_size < 1:
            raise ScheduleError(f"the step must be at least 1 epoch, not {step_size}")
        if not 0 < gamma <= 1:
            raise ScheduleError(f"the step factor must be in (0, 1], not {gamma:g}")
        return ScheduleSpec("step", step_size=step_size, gamma=gamma)
    if kind == "cosine":
        minimum = _schedule_number(arguments[0], "the cosine schedule's last learning rate") if arguments else 0.0
        if minimum < 0:
            raise ScheduleError(f"the cosine schedule's last learning rate must be ≥ 0, not {minimum:g}")
        return ScheduleSpec("cosine", minimum=minimum)
    if kind == "onecycle":
        peak = _schedule_number(arguments[0], "the one-cycle peak learning rate") if arguments else None
        if peak is not None and peak <= 0:
            raise ScheduleError(f"the one-cycle peak learning rate must be > 0, not {peak:g}")
        return ScheduleSpec("onecycle", peak=peak)
    patience = int(_schedule_number(arguments[0], "the plateau patience (epochs)", whole=True)) if arguments else 2
    factor = _schedule_number(arguments[1], "the plateau factor") if len(arguments) > 1 else 0.1
    if patience < 0:
        raise ScheduleError(f"the plateau patience must be ≥ 0 epochs, not {patience}")
    if not 0 < factor < 1:
        raise ScheduleError(f"the plateau factor must be in (0, 1), not {factor:g}")
    return ScheduleSpec("plateau", patience=patience, factor=factor)
