"""The weights an export carries: trained ones (a checkpoint, the window's last run) or none.

Trained weights must belong to the design being exported: the same blocks, settings and
wires, and tensors that load into the design's module without a gap. Anything else is refused
with a message naming the first difference, because a network that runs with weights trained
for another design gives confident nonsense.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from designer.core import Graph
from designer.exchange.errors import ExchangeError

#: seed of the random initial weights of an export without trained weights (same design, same bytes)
INITIAL_WEIGHTS_SEED = 0


@dataclass(frozen=True)
class Weights:
    module: object  # designer.nn.GraphModule, on the CPU, in eval mode
    trained: bool
    source: str = ""  # for a person: "checkpoint lenet5.pt", "the last training run"
    normalisation: object = None  # designer.training.evaluation.Normalisation, or None
    class_names: tuple[str, ...] = ()
    config: object = None  # designer.training.records.TrainConfig, or None
    test_accuracy: float | None = None

    def describe(self) -> str:
        if not self.trained:
            return "no trained weights: the network starts from random initial weights"
        details = []
        if self.config is not None:
            details.append(f"trained on {self.config.dataset}")
        if self.test_accuracy is not None:
            details.append(f"test accuracy {self.test_accuracy:.2%}")
        return f"trained weights from {self.source}" + (f" ({', '.join(details)})" if details else "")


def _build(graph: Graph):
    from designer.nn import BuildError, build_module

    try:
        return build_module(graph)
    except BuildError as error:
        raise ExchangeError(str(error)) from None


def untrained(graph: Graph) -> Weights:
    """The design's module with seeded random initial weights."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(INITIAL_WEIGHTS_SEED)
        module = _build(graph)
    return Weights(module.eval(), trained=False)


def difference(design: Graph, other: Graph) -> str | None:
    """The first way ``other`` is not the same network as ``design`` (names and positions aside)."""
    design_ids, other_ids = list(design.blocks), list(other.blocks)
    missing = [block_id for block_id in design_ids if block_id not in other.blocks]
    if missing:
        return f"it has no block '{missing[0]}'"
    extra = [block_id for block_id in other_ids if block_id not in design.blocks]
    if extra:
        return f"it has a block '{extra[0]}' the design lacks"
    for block_id in design_ids:
        mine, theirs = design.block(block_id), other.block(block_id)
        if mine.type_id != theirs.type_id:
            return f"'{block_id}' is {theirs.type_id} there but {mine.type_id} in the design"
        for name, value in mine.params.items():
            if theirs.params.get(name) != value:
                return f"'{block_id}' has {name} = {theirs.params.get(name)!r} there but {value!r} in the design"
    mine_edges = {(edge.source, edge.target, edge.port) for edge in design.edges}
    their_edges = {(edge.source, edge.target, edge.port) for edge in other.edges}
    for source, target, _ in sorted(mine_edges - their_edges):
        return f"the wire {source} → {target} is not there"
    for source, target, _ in sorted(their_edges - mine_edges):
        return f"it has a wire {source} → {target} the design lacks"
    return None


def fitted(graph: Graph, trained_graph: Graph, module, *, source: str, normalisation=None,
           class_names=(), config=None, result=None) -> Weights:
    """Trained weights checked against the design; ExchangeError when they do not fit."""
    problem = difference(graph, trained_graph)
    if problem is not None:
        raise ExchangeError(f"the weights in {source} do not fit the design: {problem}")
    target = _build(graph)
    try:
        target.load_state_dict(module.state_dict(), strict=True)
    except RuntimeError as error:
        detail = " ".join(str(error).split())[:300]
        raise ExchangeError(f"the weights in {source} do not fit the design ({detail})") from None
    accuracy = getattr(result, "test_accuracy", None) if result is not None else None
    return Weights(target.eval(), trained=True, source=source, normalisation=normalisation,
                   class_names=tuple(class_names), config=config, test_accuracy=accuracy)


def from_checkpoint(graph: Graph, path: str | Path) -> Weights:
    from designer.training.checkpoint import CheckpointError, load_checkpoint

    path = Path(path)
    try:
        trained_graph, module, metadata = load_checkpoint(path)
    except CheckpointError as error:
        raise ExchangeError(str(error)) from None
    return fitted(graph, trained_graph, module, source=f"checkpoint {path.name}",
                  normalisation=metadata.normalisation, class_names=metadata.class_names,
                  config=metadata.config, result=metadata.result)
