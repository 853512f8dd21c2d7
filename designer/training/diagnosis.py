"""Read the training and validation curves the way the article teaches.

High training accuracy with clearly lower validation accuracy (or a validation loss
that climbs while the training loss keeps falling) is overfitting: the network has
more capacity than the data supports, so shrink or regularise the FC head. Low
training accuracy is underfitting: grow it. Headless and torch-free, so the window,
the command line and the tests share one reading.

Thresholds (all on the 0..1 accuracy scale; "skill" is accuracy rescaled so that
guessing the most likely of K classes scores 0 and a perfect score 1:
``skill = (accuracy − 1/K) / (1 − 1/K)``):

* ``OVERFIT_GAP = 0.05`` — training accuracy at least 5 points above validation
  accuracy, while training skill is at least ``HIGH_TRAIN_SKILL = 0.8`` (88% on ten
  classes). A gap of 5 points is well beyond the epoch-to-epoch noise of a validation
  set of a few hundred images and the usual train/validation difference of a healthy
  run with Dropout.
* ``RISING_EPOCHS = 2`` — the validation loss rose in each of the last two epochs
  (or more), stayed above its minimum, and the training loss fell over the same
  stretch. One bad epoch is noise; two in a row while training improves is a trend.
* ``LOW_TRAIN_SKILL = 0.75`` — below this (77.5% on ten classes) training accuracy is
  called low. It is underfitting once the training loss has flattened (it fell by less
  than ``PLATEAU_IMPROVEMENT = 2%`` in the last epoch) or after
  ``PATIENT_EPOCHS = 5`` epochs; before that the run is "too early" to judge.
* Fewer than ``MIN_EPOCHS = 2`` epochs is always "too early".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from designer.core import BLOCK_TYPES, is_fully_connected
from designer.training.records import EpochMetrics, best_epoch

OVERFIT_GAP = 0.05
HIGH_TRAIN_SKILL = 0.8
RISING_EPOCHS = 2
LOW_TRAIN_SKILL = 0.75
PLATEAU_IMPROVEMENT = 0.02
PATIENT_EPOCHS = 5
MIN_EPOCHS = 2
DEFAULT_CLASSES = 10

VERDICTS = ("overfitting", "underfitting", "healthy", "too early")

SHRINK_ADVICE = (
    "Use fewer FC layers or narrower ones (fewer neurons): the FC head holds most of the parameters.",
    "Add a Dropout block before the large FC layer(s).",
    "Add weight decay (e.g. 1e-4 to 5e-4) in the training settings.",
    "Replace the FC head with global average pooling (GAP → one FC to the classes), as NiN, "
    "GoogLeNet and ResNet do: far fewer parameters and less overfitting.",
    "Stop earlier: turn on early stopping, or keep the weights of the best epoch.",
)

GROW_ADVICE = (
    "Give the network more capacity: more filters in the convolutions or another conv block "
    "(more depth), or a wider or extra FC layer (more width/depth in the head).",
    "Train for more epochs, or raise the learning rate a little if the loss falls slowly.",
    "Remove regularisation that may hold it back: lower the Dropout probability or the weight decay.",
)

HEALTHY_ADVICE = (
    "Training and validation agree. To trade accuracy for efficiency, try a smaller FC head "
    "or GAP and compare the curves.",
)

EARLY_ADVICE = ("Let it run a few more epochs; the curves need time before they say anything.",)


@dataclass(frozen=True)
class Diagnosis:
    verdict: str  # one of VERDICTS
    headline: str  # one sentence for a person, with the figures it rests on
    advice: list[str] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)  # block ids the advice is about


def _skill(accuracy: float, classes: int) -> float:
    chance = 1.0 / max(classes, 2)
    return (accuracy - chance) / (1.0 - chance)


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _validation_rising(history: Sequence[EpochMetrics]) -> tuple[bool, int]:
    """(validation loss rose for ≥ RISING_EPOCHS epochs after its minimum while training loss fell, best epoch)."""
    losses = [metrics.validation_loss for metrics in history]
    if any(loss is None for loss in losses):
        return False, 0
    best = next(index for index, metrics in enumerate(history) if metrics.epoch == best_epoch(history))
    after = len(losses) - 1 - best
    if after < RISING_EPOCHS:
        return False, history[best].epoch
    tail = losses[-(RISING_EPOCHS + 1):]
    rising = all(later > earlier for earlier, later in zip(tail, tail[1:]))
    train_tail = [metrics.train_loss for metrics in history[-(RISING_EPOCHS + 1):]]
    training_falls = train_tail[-1] < train_tail[0]
    return rising and training_falls, history[best].epoch


def _fc_blocks(graph_analysis, limit: int = 2) -> list[str]:
    """The biggest FC blocks by parameter count (where the article says the parameters are)."""
    if graph_analysis is None:
        return []
    reports = [report for report in graph_analysis.reports.values()
               if is_fully_connected(report.type_id) and report.params > 0]
    reports.sort(key=lambda report: report.params, reverse=True)
    return [report.block_id for report in reports[:limit]]


def _capacity_blocks(graph_analysis) -> list[str]:
    """Where to add capacity: the FC head, or (a GAP head) the last convolution."""
    blocks = _fc_blocks(graph_analysis)
    if blocks or graph_analysis is None:
        return blocks
    convolutions = [block_id for block_id, report in graph_analysis.reports.items()
                    if BLOCK_TYPES[report.type_id].category == "Convolution"]
    return convolutions[-1:]


def _block_hint(blocks: list[str], graph_analysis) -> str:
    if not blocks or graph_analysis is None:
        return ""
    share = sum(graph_analysis.reports[block_id].share for block_id in blocks)
    if share <= 0:
        return ""
    return f" {', '.join(blocks)} hold{'s' if len(blocks) == 1 else ''} {share:.0%} of the parameters."


def diagnose(history: Sequence[EpochMetrics], graph_analysis=None, *,
             num_classes: int = DEFAULT_CLASSES) -> Diagnosis:
    """The verdict on a run so far. ``graph_analysis`` (designer.core.Analysis) names blocks."""
    history = list(history)
    if len(history) < MIN_EPOCHS:
        done = f"{len(history)} epoch" + ("" if len(history) == 1 else "s")
        return Diagnosis("too early", f"Too early to tell: {done} so far; the diagnosis needs "
                         f"{MIN_EPOCHS}.", list(EARLY_ADVICE))

    last = history[-1]
    train_accuracy = last.train_accuracy
    train_skill = _skill(train_accuracy, num_classes)
    has_validation = last.validation_accuracy is not None and last.validation_loss is not None

    if has_validation:
        gap = train_accuracy - last.validation_accuracy
        rising, best_epoch = _validation_rising(history)
        wide_gap = gap >= OVERFIT_GAP and train_skill >= HIGH_TRAIN_SKILL
        if wide_gap or rising:
            reasons = []
            if wide_gap:
                reasons.append(f"training accuracy {_percent(train_accuracy)} is "
                               f"{gap * 100:.1f} points above validation {_percent(last.validation_accuracy)}")
            if rising:
                reasons.append(f"validation loss has risen since epoch {best_epoch} "
                               f"while training loss keeps falling")
            blocks = _fc_blocks(graph_analysis)
            headline = "Overfitting: " + " and ".join(reasons) + "." + _block_hint(blocks, graph_analysis)
            return Diagnosis("overfitting", headline, list(SHRINK_ADVICE), blocks)

    if train_skill < LOW_TRAIN_SKILL:
        previous = history[-2].train_loss
        improvement = (previous - last.train_loss) / previous if previous > 0 else 0.0
        plateau = improvement < PLATEAU_IMPROVEMENT
        if plateau or len(history) >= PATIENT_EPOCHS:
            blocks = _capacity_blocks(graph_analysis)
            why = ("the training loss has levelled off" if plateau
                   else f"after {len(history)} epochs")
            headline = (f"Underfitting: training accuracy is only {_percent(train_accuracy)} and "
                        f"{why}; the network cannot fit even the training data.")
            return Diagnosis("underfitting", headline, list(GROW_ADVICE), blocks)
        return Diagnosis("too early", f"Still learning: training accuracy {_percent(train_accuracy)} "
                         f"and the loss fell {improvement:.0%} in the last epoch.", list(EARLY_ADVICE))

    if has_validation:
        headline = (f"Healthy: training accuracy {_percent(train_accuracy)}, validation "
                    f"{_percent(last.validation_accuracy)} — close together, and validation loss is not rising.")
    else:
        headline = (f"Training accuracy {_percent(train_accuracy)}. Without a validation set "
                    f"overfitting cannot be seen; set a validation fraction.")
    return Diagnosis("healthy", headline, list(HEALTHY_ADVICE), [])


__all__ = ["Diagnosis", "VERDICTS", "diagnose", "OVERFIT_GAP", "HIGH_TRAIN_SKILL", "RISING_EPOCHS",
           "LOW_TRAIN_SKILL", "PLATEAU_IMPROVEMENT", "PATIENT_EPOCHS", "MIN_EPOCHS"]
