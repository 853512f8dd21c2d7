"""Depth × width sweep of a design's FC head: the article's accuracy/efficiency trade-off.

``head_variants`` rewrites the head of one design; ``sweep_requests`` turns the variants
into run requests and ``run_sweep`` trains them on the run path (``designer.training.run``),
all variants as one queue, wherever their launch says; ``sweep_run`` makes each result a
row of the table. ``pareto_front`` marks the variants no other beats on both accuracy and cost.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from designer.core import ACTIVATION_TYPES, VECTOR_TYPES, DesignerError, Graph, analyze
from designer.core.atomic import write_text_atomically
from designer.lab.transforms import find_head
from designer.training.records import TrainConfig

#: Head blocks that turn the trunk's C×H×W into the feature vector; a sweep keeps them.
FEATURE_TYPES = VECTOR_TYPES


class SweepError(DesignerError):
    """A sweep's settings are not usable; the message says which one."""


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep. Depth 0 means the classifier alone (widths do not apply to it)."""

    depths: tuple[int, ...] = (1, 2, 3)
    widths: tuple[int, ...] = (32, 128, 512)
    activation: str = "ReLU"
    epochs: int = 3
    dropout: float = 0.0  # > 0 adds a Dropout after each hidden activation

    def __post_init__(self) -> None:
        object.__setattr__(self, "depths", tuple(int(depth) for depth in self.depths))
        object.__setattr__(self, "widths", tuple(int(width) for width in self.widths))
        if not self.depths or any(depth < 0 or depth > 16 for depth in self.depths):
            raise SweepError("depths must be 0…16 hidden FC layers, at least one value")
        if not self.widths or any(width < 1 for width in self.widths):
            raise SweepError("widths must be at least 1 neuron, at least one value")
        if self.activation not in ACTIVATION_TYPES:
            raise SweepError(f"activation must be one of {', '.join(sorted(ACTIVATION_TYPES))}, "
                             f"not {self.activation!r}")
        if self.epochs < 1:
            raise SweepError("epochs must be at least 1")
        if not 0.0 <= self.dropout < 1.0:
            raise SweepError("dropout must be in 0 … 0.99")

    def variants(self, graph: Graph) -> list[tuple[str, Graph]]:
        return head_variants(graph, self.depths, self.widths, self.activation, self.dropout)


def variant_label(depth: int, width: int, activation: str) -> str:
    return "classifier only" if depth == 0 else f"{depth}×{width} {activation}"


def head_variants(graph: Graph, depths: Iterable[int], widths: Iterable[int], activation: str = "ReLU",
                  dropout: float = 0.0) -> list[tuple[str, Graph]]:
    """``[(label, graph)]``: the design with its FC head rewritten, depth-major order.

    Everything from the trunk's last C×H×W tensor to the sink is replaced, except a
    leading Flatten or GAP (the feature vector the head reads), by ``depth`` × [FC(width) →
    activation (→ Dropout)] → FC(classes). Depth 0 gives one variant (the classifier alone)
    whatever the widths. ``graph`` is untouched; each variant is a new graph.
    """
    if activation not in ACTIVATION_TYPES:
        raise SweepError(f"activation must be one of {', '.join(sorted(ACTIVATION_TYPES))}, not {activation!r}")
    widths = [int(width) for width in widths]
    info = find_head(graph)
    kept = []
    for block_id in info.head:
        if graph.block(block_id).type_id in FEATURE_TYPES and not kept:
            kept.append(block_id)
        else:
            break
    replaced = [block_id for block_id in info.head if block_id not in kept]
    attach = kept[-1] if kept else info.trunk_end
    x, y = graph.block(attach).position
    step = 90.0
    result: list[tuple[str, Graph]] = []
    seen_depth_zero = False
    for depth in depths:
        depth = int(depth)
        for width in widths:
            if depth == 0:
                if seen_depth_zero:
                    continue
                seen_depth_zero = True
            label = variant_label(depth, width, activation)
            variant = graph.copy()
            variant.name = f"{graph.name} — FC {label}"
            for block_id in replaced:
                variant.remove_block(block_id)
            previous = attach
            layers: list[tuple[str, dict]] = []
            for _ in range(depth):
                layers.append(("FC", {"out_features": width}))
                layers.append((activation, {}))
                if dropout > 0:
                    layers.append(("Dropout", {"p": float(dropout)}))
            layers.append(("FC", {"out_features": info.classes}))
            for index, (type_id, params) in enumerate(layers, start=1):
                block = variant.add_block(type_id, params, (x, y + step * index))
                variant.connect(previous, block.id)
                previous = block.id
            result.append((label, variant))
    return result


@dataclass(frozen=True)
class SweepRun:
    label: str
    parameters: int
    macs: int
    accuracy: float | None  # final validation accuracy 0..1; None when training failed
    seconds: float | None  # training time
    error: str = ""
    graph: Graph | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.accuracy is not None and math.isfinite(self.accuracy)


def final_validation_accuracy(result) -> float:
    """What a sweep ranks by: the last epoch's validation accuracy (test accuracy without a validation set)."""
    for metrics in reversed(result.history):
        if metrics.validation_accuracy is not None:
            return float(metrics.validation_accuracy)
    if result.test_accuracy is not None:
        return float(result.test_accuracy)
    raise ValueError(result.message or "training gave no accuracy")


def sweep_requests(graph: Graph, spec: SweepSpec, config: TrainConfig, launch=None) -> list:
    """One ``RunRequest`` per variant, trained with ``config`` for ``spec.epochs`` epochs; only
    the figures come back (no weights, no mistakes)."""
    from designer.training.run import Local, RunRequest

    config = dataclasses.replace(config, epochs=spec.epochs)
    return [RunRequest.of(variant, config, label=label, keep_weights=False, find_mistakes=False,
                          launch=launch if launch is not None else Local())
            for label, variant in spec.variants(graph)]


def sweep_run(request, result, graph: Graph | None = None) -> SweepRun:
    """A variant's row: its counts, and its final validation accuracy and training time (or its error).
    ``graph``: the variant's graph when the caller kept it (else read back from the request)."""
    if graph is None:
        from designer.core.fileformat import parse_document

        graph = parse_document(request.design)
    analysis = analyze(graph)
    train_result = result.result
    accuracy, error = None, ""
    if train_result.status == "failed":
        error = train_result.message
    else:
        try:
            accuracy = final_validation_accuracy(train_result)
        except ValueError as problem:
            error = str(problem)
    return SweepRun(request.label, analysis.total_params, analysis.total_macs, accuracy, train_result.seconds,
                    error, graph)


def run_sweep(graph: Graph, spec: SweepSpec, config: TrainConfig, *, emit=None, control=None,
              launch=None) -> list[SweepRun]:
    """Train every variant of ``graph``'s head (one queue on the run path) and return their rows.

    A variant that fails is kept with its error (one diverging variant must not end the
    sweep); a variant stopped through ``control`` (the person cancelled) is not a result
    and is left out, so a cancelled sweep returns the variants that finished.
    """
    from designer.training.run import RunControl, run_all

    control = control if control is not None else RunControl()
    requests = sweep_requests(graph, spec, config, launch)
    results = run_all(requests, emit, control)
    return [sweep_run(request, result) for request, result in zip(requests, results)
            if not cut_short(request, result, control)]


def cut_short(request, result, control) -> bool:
    """Stopped by the person before or while it trained (early stopping is a result, this is not)."""
    return result.status == "stopped" and control.stopped(request.run_id)


def pareto_front(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The ``(cost, accuracy)`` points no other point beats: lower-or-equal cost and
    higher-or-equal accuracy, strictly better in one. Sorted by cost; exact duplicates of
    a front point are all kept; points with a NaN are ignored.
    """
    candidates = [(cost, accuracy) for cost, accuracy in points
                  if not (math.isnan(float(cost)) or math.isnan(float(accuracy)))]
    front = []
    for point in candidates:
        cost, accuracy = point
        dominated = any(
            other_cost <= cost and other_accuracy >= accuracy and (other_cost < cost or other_accuracy > accuracy)
            for other_cost, other_accuracy in candidates
        )
        if not dominated:
            front.append(point)
    return sorted(front, key=lambda point: (point[0], -point[1]))


def _cost(run: SweepRun, cost: str) -> float:
    if cost == "parameters":
        return float(run.parameters)
    if cost == "seconds":
        return float(run.seconds if run.seconds is not None else math.nan)
    raise SweepError(f"cost must be 'parameters' or 'seconds', not {cost!r}")


def pareto_runs(runs: Iterable[SweepRun], cost: str = "parameters") -> list[SweepRun]:
    """The runs on the Pareto front of accuracy against ``cost`` ("parameters" or "seconds")."""
    usable = [run for run in runs if run.ok]
    front = set(pareto_front((_cost(run, cost), run.accuracy) for run in usable))
    chosen = [run for run in usable if (_cost(run, cost), run.accuracy) in front]
    return sorted(chosen, key=lambda run: (_cost(run, cost), -run.accuracy))


CSV_COLUMNS = ("label", "parameters", "macs", "validation_accuracy", "train_seconds",
               "pareto_parameters", "pareto_seconds", "error")


def runs_to_csv(runs: Sequence[SweepRun], path: str | Path) -> None:
    """Write the runs as CSV (atomically: the old file or the new one, never half)."""
    on_params = {id(run) for run in pareto_runs(runs, "parameters")}
    on_time = {id(run) for run in pareto_runs(runs, "seconds")}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for run in runs:
        writer.writerow([
            run.label, run.parameters, run.macs,
            "" if run.accuracy is None else f"{run.accuracy:.6f}",
            "" if run.seconds is None else f"{run.seconds:.3f}",
            int(id(run) in on_params), int(id(run) in on_time), run.error,
        ])
    write_text_atomically(Path(path), buffer.getvalue())


SWEEP_FORMAT = "network-designer/sweep"
SWEEP_VERSION = 1


def sweep_record(runs: Sequence[SweepRun], **about) -> dict:
    """The runs as plain data, with the Pareto fronts and whatever ``about`` says (the design,
    the settings, where it ran): what ``runs_to_json`` writes."""
    on_params = {id(run) for run in pareto_runs(runs, "parameters")}
    on_time = {id(run) for run in pareto_runs(runs, "seconds")}
    rows = [{"label": run.label, "parameters": run.parameters, "macs": run.macs,
             "validation_accuracy": run.accuracy if run.ok else None,
             "train_seconds": run.seconds, "pareto_parameters": id(run) in on_params,
             "pareto_seconds": id(run) in on_time, "error": run.error} for run in runs]
    return {"format": SWEEP_FORMAT, "version": SWEEP_VERSION, **about, "runs": rows,
            "pareto_parameters": [run.label for run in pareto_runs(runs, "parameters")],
            "pareto_seconds": [run.label for run in pareto_runs(runs, "seconds")]}


def runs_to_json(runs: Sequence[SweepRun], path: str | Path, **about) -> None:
    """Write ``sweep_record`` as JSON (atomically)."""
    write_text_atomically(Path(path), json.dumps(sweep_record(runs, **about), indent=2) + "\n")
