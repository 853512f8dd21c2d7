"""The comparison "Where is the cat?" invites: the FC head, the FC head trained with shift
augmentation, and the GAP head, probed against the same shifts.

An FC head learns where things were in the training images; the probe shows its accuracy
falling as the test images move. Two cures are on offer: show it moved images while it
trains (``TrainConfig.augment = "shift:K"``, ``designer.training.augment``) or replace the
head with global average pooling (``designer.lab.transforms.replace_head_with_gap``). This
module builds the three runs as one queue on the run path, probes them like any other
trained model (``designer.lab.shift.probe_models``) and says in a sentence what came out.

The augmented variant is the very same design as the FC head, trained with the same
settings except ``augment``: whatever the person's settings already augment is replaced by
``shift:K`` for that variant only, and the other two train without augmentation, so the
one difference between the first two curves is the shifted training images.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from designer.core import DesignerError, Graph
from designer.training.records import TrainConfig
from designer.training.specs import MAX_PIXELS

FC_LABEL = "FC head"
AUGMENTED_LABEL = "FC head + shift augmentation"
GAP_LABEL = "GAP head"
ROLES = ("fc", "augmented", "gap")
#: the augmentation's default reach: the shift the verdict reads by default, and a third of
#: a 28×28 digit's margin on each side (LeNet-5 style inputs keep their strokes on the image)
DEFAULT_AUGMENT_SHIFT = 4


class ComparisonSetupError(DesignerError):
    """The comparison cannot be set up for this design or these settings; the message says why."""


@dataclass(frozen=True)
class Variant:
    role: str  # "fc", "augmented" or "gap"
    label: str  # what the legend and the table call it
    graph: Graph
    config: TrainConfig


def augmented_label(shift: int) -> str:
    return f"{AUGMENTED_LABEL} (±{int(shift)} px)"


def augment_spec(shift: int) -> str:
    return f"shift:{int(shift)}"


def comparison_variants(graph: Graph, config: TrainConfig, augment_shift: int = DEFAULT_AUGMENT_SHIFT,
                        gap_mode: str = "gap_fc") -> list[Variant]:
    """The three variants in training order: FC head, FC head + ``shift:augment_shift``, GAP head.

    ``graph`` must have an FC layer (the head that is compared); its GAP variant is the
    lab's own swap. Raises ``ComparisonSetupError`` with a one-line reason otherwise.
    """
    from designer.lab.models import has_fc_layers
    from designer.lab.transforms import replace_head_with_gap

    shift = int(augment_shift)
    if not 1 <= shift <= MAX_PIXELS:
        raise ComparisonSetupError(f"the augmentation shift must be 1…{MAX_PIXELS} pixels, not {augment_spec(shift)}")
    if not has_fc_layers(graph):
        raise ComparisonSetupError("the design has no FC layer: the comparison needs an FC head to augment and "
                                   "to replace with GAP (open LeNet-5 or mnist-cnn, say)")
    try:
        gap_graph, _report = replace_head_with_gap(graph, gap_mode)
    except DesignerError as error:
        raise ComparisonSetupError(f"cannot make the GAP variant: {error}") from None
    plain = dataclasses.replace(config, augment="")
    name = graph.name or "design"
    return [Variant("fc", f"{FC_LABEL} ({name})", graph.copy(), plain),
            Variant("augmented", augmented_label(shift), graph.copy(), dataclasses.replace(config,
                                                                                        augment=augment_spec(shift))),
            Variant("gap", f"{GAP_LABEL} ({gap_mode})", gap_graph, plain)]


def comparison_requests(variants: list[Variant], launch=None) -> list:
    """One run request per variant, each with its own settings, for one queue on the run path."""
    from designer.training.run import Local, RunRequest

    return [RunRequest.of(variant.graph, variant.config, label=variant.label, find_mistakes=False,
                          launch=launch if launch is not None else Local())
            for variant in variants]


def augment_shift_of(variants: list[Variant]) -> int:
    """The K of the augmented variant's ``shift:K``."""
    from designer.training.specs import parse_augment

    augmented = next(variant for variant in variants if variant.role == "augmented")
    return int(parse_augment(augmented.config.augment).shift)


def verdict_shift(augment_shift: int, max_shift: int) -> int:
    """The shift the verdict reads: the augmentation's reach, or the probe's largest when that is smaller."""
    return max(1, min(int(augment_shift), int(max_shift)))


@dataclass(frozen=True)
class Robustness:
    label: str
    centred: float  # accuracy at shift 0, 0..1
    shifted: float  # mean accuracy at −s and +s, 0..1

    @property
    def kept(self) -> float:
        """Share of the centred accuracy left at ±s (0 when the centred accuracy is 0)."""
        return self.shifted / self.centred if self.centred > 0 else 0.0


def robustness(points, shift: int, label: str = "") -> Robustness | None:
    """Accuracy at 0 and the mean at ±``shift`` from a probe's ``[(shift, accuracy)]``; None when a point is missing."""
    measured = dict(points)
    if 0 not in measured or shift not in measured or -shift not in measured:
        return None
    return Robustness(label, measured[0], (measured[shift] + measured[-shift]) / 2)


def verdict(results: dict[str, list], shift: int) -> str:
    """One short paragraph comparing the three at ±``shift`` pixels.

    ``results``: role ("fc", "augmented", "gap") → the probe's ``[(shift, accuracy)]``.
    Plain text; the figures are the measured ones, and the ranking says which way they came
    out — a short run can make augmentation or GAP lose, and then the text says so.
    """
    found = {role: robustness(results.get(role, ()), shift) for role in ROLES}
    if any(value is None for value in found.values()):
        return f"Not every model was probed at 0 and ±{shift} px; no verdict."
    fc, augmented, gap = found["fc"], found["augmented"], found["gap"]
    lines = [f"At ±{shift} px the FC head keeps {fc.shifted:.1%} accuracy ({fc.kept:.0%} of its {fc.centred:.1%} "
             f"on centred images); trained with shift augmentation it keeps {augmented.shifted:.1%} "
             f"({augmented.kept:.0%} of {augmented.centred:.1%}); the GAP head keeps {gap.shifted:.1%} "
             f"({gap.kept:.0%} of {gap.centred:.1%})."]
    gain = augmented.shifted - fc.shifted
    if gain > 0.005:
        lines.append(f"Augmentation gains the FC head {100 * gain:.1f} points at ±{shift} px")
    elif gain < -0.005:
        lines.append(f"Here augmentation cost the FC head {100 * -gain:.1f} points at ±{shift} px "
                     "(train longer: moved images are harder to learn)")
    else:
        lines.append(f"Augmentation changes the FC head's accuracy at ±{shift} px by less than half a point")
    names = {"fc": "the plain FC head", "augmented": "the augmented FC head", "gap": "the GAP head"}
    best = max(ROLES, key=lambda role: found[role].shifted)
    lines[-1] += f"; the most accurate on moved images is {names[best]}."
    return " ".join(lines)


def train_and_probe(variants: list[Variant], *, max_shift: int = 6, axis: str = "x", samples: int = 1000,
                    canvas_extra: int = 12, launch=None, requests=None, emit=None, control=None, report=None,
                    should_stop=None) -> dict:
    """The whole comparison: train the ``comparison_variants`` as one queue on the run path,
    probe them, judge at ±``verdict_shift``.

    ``requests``: the variants' run requests when the caller made them (to know the run ids),
    else made here for ``launch``. ``emit`` hears the runs' events, ``control``
    (``RunControl``) stops them; ``report`` and ``should_stop`` are ``probe_models``'s.
    Returns ``{"variants", "models", "probes", "shift", "verdict"}``, the probes in variant
    order. Raises ``designer.lab.compare.ComparisonFailed`` when a run fails and
    ``designer.lab.Cancelled`` when stopped before the end.
    """
    from designer.lab.common import Cancelled, check
    from designer.lab.compare import trained_side_by_side
    from designer.lab.shift import probe_models
    from designer.training.run import run_all

    requests = requests if requests is not None else comparison_requests(variants, launch)
    results = run_all(requests, emit, control)
    check(should_stop)
    if control is not None and control.stopping_all:
        raise Cancelled()
    models = trained_side_by_side(requests, results)
    if len(models) != len(variants):
        raise Cancelled()  # stopped before every variant had trained: nothing to compare
    probes = probe_models(models, max_shift, axis, samples, canvas_extra, report=report, should_stop=should_stop)
    by_role = {variant.role: probe["points"] for variant, probe in zip(variants, probes)}
    shift = verdict_shift(augment_shift_of(variants), max_shift)
    return {"variants": variants, "models": models, "probes": probes, "shift": shift,
            "verdict": verdict(by_role, shift)}


__all__ = ["AUGMENTED_LABEL", "ComparisonSetupError", "DEFAULT_AUGMENT_SHIFT", "FC_LABEL", "GAP_LABEL", "Robustness",
           "Variant", "augment_spec", "augmented_label", "comparison_requests", "comparison_variants", "robustness",
           "train_and_probe", "verdict", "verdict_shift"]
