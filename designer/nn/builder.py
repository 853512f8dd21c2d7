"""Build a ``torch.nn.Module`` from a graph.

One submodule per block, stored under the block's id, so a state_dict's keys read like the
design (``conv1.weight``, ``fc1.1.bias``) and weights can be carried between a graph and its
transforms by block id.
"""

from __future__ import annotations

import torch
from torch import nn

from designer.core import SAME, Graph, analyze
from designer.core.errors import DesignerError


class BuildError(DesignerError):
    """The design cannot be turned into a network yet (an invalid block or graph problem)."""


def _conv(params: dict, in_shapes: list) -> nn.Module:
    padding = "same" if params["padding"] == SAME else params["padding"]
    return nn.Conv2d(
        in_shapes[0][0], params["out_channels"], params["kernel_size"],
        stride=params["stride"], padding=padding, bias=params["bias"],
    )


def _pool(module_class):
    def make(params: dict, in_shapes: list) -> nn.Module:
        return module_class(params["kernel_size"], stride=params["stride"] or params["kernel_size"],
                            padding=params["padding"])

    return make


def _fc(params: dict, in_shapes: list) -> nn.Module:
    linear = nn.Linear(_numel(in_shapes[0]), params["out_features"], bias=params["bias"])
    if len(in_shapes[0]) == 1:
        return linear
    # As in the article, an FC block on a C×H×W input flattens it itself.
    return nn.Sequential(nn.Flatten(), linear)


def _numel(shape) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


class Add(nn.Module):
    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return first + second


class Concat(nn.Module):
    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return torch.cat((first, second), dim=1)


class GlobalAveragePool(nn.Module):
    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.mean(dim=(2, 3))


class Identity(nn.Module):
    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor


#: type id → constructor(params, input shapes). Adding a block type adds one line here.
CONSTRUCTORS = {
    "Input": lambda params, shapes: Identity(),
    "Conv2d": _conv,
    "ReLU": lambda params, shapes: nn.ReLU(),
    "LeakyReLU": lambda params, shapes: nn.LeakyReLU(params["negative_slope"]),
    "Sigmoid": lambda params, shapes: nn.Sigmoid(),
    "Tanh": lambda params, shapes: nn.Tanh(),
    "GELU": lambda params, shapes: nn.GELU(),
    "MaxPool2d": _pool(nn.MaxPool2d),
    "AvgPool2d": _pool(nn.AvgPool2d),
    "GAP": lambda params, shapes: GlobalAveragePool(),
    "BatchNorm2d": lambda params, shapes: nn.BatchNorm2d(shapes[0][0]),
    "Dropout": lambda params, shapes: nn.Dropout(params["p"]),
    "Flatten": lambda params, shapes: nn.Flatten(),
    "FC": _fc,
    "Add": lambda params, shapes: Add(),
    "Concat": lambda params, shapes: Concat(),
}


class BlockModules(nn.ModuleDict):
    """The blocks' modules, looked up by block id.

    A block id is any name the person typed, e.g. ``train``, ``eval``, ``keys`` or
    ``_modules``; stored as is, such a name would clash with an attribute of the module
    (``add_module`` refuses it, or worse, shadows ``_modules``). Those ids are stored under
    ``block:<id>`` (a ':' never occurs in a block id, so no two ids share a key); every other
    id is its own key, so state_dict keys read like the design (``blocks.conv1.weight``).
    """

    _PROBE_ATTRIBUTES = frozenset(dir(nn.ModuleDict()))

    @classmethod
    def key_of(cls, block_id: str) -> str:
        if block_id.startswith("_") or block_id in cls._PROBE_ATTRIBUTES:
            return f"block:{block_id}"
        return block_id

    def __getitem__(self, block_id: str) -> nn.Module:
        return super().__getitem__(self.key_of(block_id))

    def __setitem__(self, block_id: str, module: nn.Module) -> None:
        super().__setitem__(self.key_of(block_id), module)

    def __delitem__(self, block_id: str) -> None:
        super().__delitem__(self.key_of(block_id))

    def __contains__(self, block_id: str) -> bool:
        return super().__contains__(self.key_of(block_id))


class GraphModule(nn.Module):
    """Runs the blocks in topological order; each block reads its inputs by port."""

    def __init__(self, graph: Graph) -> None:
        super().__init__()
        analysis = analyze(graph)
        if not analysis.valid:
            raise BuildError(describe_problems(analysis))
        self.order = graph.topological_order()
        self.input_id = graph.inputs()[0]
        self.output_id = analysis.sinks[0]
        self.input_shape = analysis.reports[self.input_id].output_shape
        self.output_shape = analysis.output_shape
        self.sources = {block_id: graph.predecessors(block_id) for block_id in self.order}
        self.blocks = BlockModules()
        for block_id in self.order:
            block = graph.block(block_id)
            in_shapes = [analysis.reports[source].output_shape for source in self.sources[block_id]]
            self.blocks[block_id] = CONSTRUCTORS[block.type_id](block.params, in_shapes)
        # Tensors no other block reads again can be dropped early; matters for deep chains.
        self._last_use: dict[str, int] = {}
        for position, block_id in enumerate(self.order):
            for source in self.sources[block_id]:
                self._last_use[source] = position

    def forward(self, images: torch.Tensor, keep: bool = False):
        """Return the sink's output; with ``keep=True`` return every block's output by id."""
        values: dict[str, torch.Tensor] = {}
        for position, block_id in enumerate(self.order):
            if block_id == self.input_id:
                result = images
            else:
                result = self.blocks[block_id](*(values[source] for source in self.sources[block_id]))
            values[block_id] = result
            if not keep:
                for source in set(self.sources[block_id]):
                    if self._last_use.get(source) == position:
                        del values[source]
        return values if keep else values[self.output_id]


def describe_problems(analysis) -> str:
    lines = list(analysis.problems)
    for block_id, report in analysis.reports.items():
        if report.error:
            lines.append(f"{block_id}: {report.error}")
    return "the design cannot be built yet: " + "; ".join(lines) if lines else "the design cannot be built"


def build_module(graph: Graph) -> GraphModule:
    return GraphModule(graph)
