"""Analytic shapes, parameter counts, MACs and activation sizes — no forward pass.

The analysis is total: a block whose own settings or inputs are wrong gets an ``error``;
blocks downstream of it get ``blocked_by`` (their shape is unknown but nothing is wrong
with them), and every other block is still analysed. Counts equal what ``designer.nn``'s
torch module holds (tests check that on random graphs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from designer.core.blocks import BLOCK_TYPES, FC_TYPES, Shape, ShapeError, format_shape
from designer.core.gc_pause import collection_paused
from designer.core.graph import Graph


@dataclass(frozen=True)
class BlockReport:
    block_id: str
    type_id: str
    output_shape: Shape | None
    weights: int = 0
    biases: int = 0
    macs: int = 0
    error: str | None = None
    blocked_by: str | None = None  # the invalid block upstream that hides this block's shape
    share: float = 0.0  # fraction of the whole network's parameters, 0..1

    @property
    def params(self) -> int:
        return self.weights + self.biases

    @property
    def activations(self) -> int:
        """Values this block outputs per sample (its activation memory, in numbers)."""
        return math.prod(self.output_shape) if self.output_shape is not None else 0

    @property
    def ok(self) -> bool:
        return self.error is None and self.blocked_by is None


@dataclass(frozen=True)
class Analysis:
    reports: dict[str, BlockReport]  # in topological order
    total_params: int
    total_macs: int
    total_activations: int
    fc_params: int
    problems: tuple[str, ...]  # graph-level problems that block building/training
    sinks: tuple[str, ...] = ()  # blocks nothing reads from; a buildable design has one

    @property
    def fc_share(self) -> float:
        return self.fc_params / self.total_params if self.total_params else 0.0

    @property
    def errors(self) -> dict[str, str]:
        return {block_id: report.error for block_id, report in self.reports.items() if report.error}

    @property
    def valid(self) -> bool:
        """True when the design can be built: no block error and no graph-level problem."""
        return not self.problems and not any(report.error or report.blocked_by for report in self.reports.values())

    @property
    def output_shape(self) -> Shape | None:
        """The shape of the single sink, when there is exactly one and it is valid."""
        if self.problems:
            return None
        if len(self.sinks) != 1:
            return None
        return self.reports[self.sinks[0]].output_shape

    def headline(self) -> str:
        """One sentence about the FC share, the figure the whole program is built around."""
        return (
            f"FC layers hold {self.fc_share:.1%} of all parameters "
            f"({format_count(self.fc_params)} of {format_count(self.total_params)})"
        )


def _report(block_id, type_id, output_shape, weights, biases, macs, error, blocked_by, share) -> BlockReport:
    """A ``BlockReport`` without the frozen dataclass ``__init__``.

    That ``__init__`` sets each of the nine fields through ``object.__setattr__``; on a
    1,000-block graph building the reports that way was most of the analysis time, and the
    analysis runs on every keystroke in the parameter panel. The result is an ordinary
    BlockReport (equality, repr, immutability unchanged).
    """
    report = object.__new__(BlockReport)
    report.__dict__.update(
        block_id=block_id, type_id=type_id, output_shape=output_shape, weights=weights, biases=biases,
        macs=macs, error=error, blocked_by=blocked_by, share=share,
    )
    return report


def analyze(graph: Graph) -> Analysis:
    with collection_paused():  # see gc_pause.py: halves the time on 100,000 blocks
        return _analyze(graph)


def _analyze(graph: Graph) -> Analysis:
    order = graph.topological_order()
    blocks = graph.blocks
    # Sources of each block, by port (edges are few per block; sort only where there are two).
    incoming: dict[str, list] = {}
    for edge in graph.edges:
        incoming.setdefault(edge.target, []).append(edge)
    sources: dict[str, list[str]] = {}
    for target, edges in incoming.items():
        if len(edges) > 1:
            edges.sort(key=lambda edge: edge.port)
        sources[target] = [edge.source for edge in edges]
    first_input = next((block_id for block_id in order if blocks[block_id].type_id == "Input"), None)

    # block id → (type id, shape, weights, biases, macs, error, blocked_by); reports are made once
    # the total is known, so each is built a single time.
    raw: dict[str, tuple] = {}
    shapes: dict[str, Shape | None] = {}
    blockers: dict[str, str] = {}  # block id → the invalid block that hides its shape
    no_sources: list[str] = []
    for block_id in order:
        block = blocks[block_id]
        type_id = block.type_id
        kind = BLOCK_TYPES[type_id]
        inputs = sources.get(block_id, no_sources)
        shape = None
        if kind.inputs == 0 and block_id != first_input:
            raw[block_id] = (type_id, None, 0, 0, 0, "a design has one Input; remove this one", None)
        elif len(inputs) < kind.inputs:
            needed = "an input" if kind.inputs == 1 else f"{kind.inputs} inputs"
            raw[block_id] = (type_id, None, 0, 0, 0, f"not connected: needs {needed}", None)
            blockers[block_id] = block_id
        else:
            input_shapes = [shapes[source] for source in inputs]
            if None in input_shapes:
                blocked = blockers[inputs[input_shapes.index(None)]]
                raw[block_id] = (type_id, None, 0, 0, 0, None, blocked)
                blockers[block_id] = blocked
            else:
                try:
                    shape = kind.output_shape(block.params, input_shapes)
                except ShapeError as error:
                    raw[block_id] = (type_id, None, 0, 0, 0, str(error), None)
                    blockers[block_id] = block_id
                else:
                    weights, biases = kind.parameter_count(block.params, input_shapes, shape)
                    macs = kind.macs(block.params, input_shapes, shape)
                    raw[block_id] = (type_id, shape, weights, biases, macs, None, None)
        shapes[block_id] = shape
        if kind.inputs == 0 and shape is None and block_id not in blockers:
            blockers[block_id] = block_id

    total_params = 0
    fc_params = 0
    total_macs = 0
    total_activations = 0
    for type_id, shape, weights, biases, macs, _, _ in raw.values():
        total_params += weights + biases
        if type_id in FC_TYPES:
            fc_params += weights + biases
        total_macs += macs
        if shape is not None:
            total_activations += math.prod(shape)
    reports = {}
    for block_id, (type_id, shape, weights, biases, macs, error, blocked_by) in raw.items():
        params = weights + biases
        share = params / total_params if params and total_params else 0.0
        reports[block_id] = _report(block_id, type_id, shape, weights, biases, macs, error, blocked_by, share)

    problems = []
    if first_input is None:
        problems.append("the design has no Input block; drag one from the palette")
    sinks = graph.sinks()
    if len(sinks) > 1:
        problems.append(
            f"the design has {len(sinks)} outputs ({', '.join(sinks)}); wire them so only one block is left unread"
        )
    return Analysis(
        reports,
        total_params,
        total_macs,
        total_activations,
        fc_params,
        tuple(problems),
        tuple(sinks),
    )


def format_count(value: int | float) -> str:
    """Compact human figure: 61,706 → 61.7k, 138,357,544 → 138.4M."""
    value = float(value)
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


__all__ = ["Analysis", "BlockReport", "analyze", "format_count", "format_shape"]
