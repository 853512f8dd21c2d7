"""Graph transforms that test the FC-layer article's claims on a person's own design.

* ``fc_to_conv``: an FC layer on a C×H×W input *is* a "valid" convolution whose kernel
  covers the whole input; later FCs are 1×1 convolutions. Parameter counts stay identical
  and trained weights carry over, so outputs agree to float32 rounding.
* ``fully_convolutional_scores``: the converted network run on a larger canvas gives a
  class-score map instead of one score vector.
* ``replace_head_with_gap``: the FC head becomes GAP + one FC (or a 1×1 conv + GAP).

Choices the article leaves open, made here once:

* A converted FC keeps its block id (``fc1`` stays ``fc1``, now a Conv2d), so a state_dict
  key changes from ``blocks.fc1.1.weight`` (or ``blocks.fc1.weight``) to ``blocks.fc1.weight``.
* The catalogue's Conv2d has square kernels only. An FC that reads a C×H×W input with
  H ≠ W cannot be converted: it is left as an FC (and so are the FCs after it, which then
  read a plain vector); the report lists it under ``skipped`` with the reason. That is not
  an error: the rest of the network is still converted and still computes the same thing.
* An FC that reads a vector made by GAP stays an FC (it is already independent of the
  input size) and is listed under ``skipped``.
* Dropout and activation blocks between FCs stay where they are; they act elementwise on
  the N×1×1 tensors as they did on the N-vectors.
* The sink of a converted head outputs N×1×1; a Flatten (``flatten_out``) is appended so
  the design still outputs N classes and still trains with cross-entropy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from designer.core import DesignerError, Graph, analyze, format_shape

# torch is imported by the functions that run networks, not here: the sweep window finds a
# design's head (``find_head``) in the GUI thread, which must not load torch.

STATE_PREFIX = "blocks."  # GraphModule keeps one submodule per block in ``self.blocks``


class TransformError(DesignerError):
    """A transform cannot be applied to this design; the message says why."""


class NotFullyConvolutionalError(TransformError):
    """The network still has layers whose weights fix the input size."""


# ----------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class ConversionReport:
    params_before: int
    params_after: int
    converted: tuple[tuple[str, str], ...]  # (block id, "FC 120 on 16×5×5 → Conv 5×5, 120 (valid)")
    removed: tuple[str, ...]  # Flatten blocks made unnecessary
    added: tuple[str, ...]  # Flatten blocks added (at the sink, or where a vector is still needed)
    skipped: tuple[tuple[str, str], ...]  # (FC block id, why it stays an FC)

    @property
    def changed(self) -> bool:
        return bool(self.converted or self.removed or self.added)

    def text(self) -> str:
        lines = [f"Parameters before: {self.params_before:,}; after: {self.params_after:,}"
                 + (" (identical)" if self.params_before == self.params_after else "")]
        lines += [f"{block_id}: {what}" for block_id, what in self.converted]
        if self.removed:
            lines.append("removed: " + ", ".join(self.removed))
        if self.added:
            lines.append("added: " + ", ".join(self.added))
        lines += [f"{block_id} stays an FC: {why}" for block_id, why in self.skipped]
        if not self.converted:
            lines.append("nothing was converted: no FC reads a C×H×W tensor with a square H×W")
        return "\n".join(lines)


@dataclass(frozen=True)
class HeadReplacementReport:
    mode: str
    params_before: int
    params_after: int
    head_params_before: int
    head_params_after: int
    removed: tuple[str, ...]
    added: tuple[str, ...]

    @property
    def saving(self) -> int:
        return self.params_before - self.params_after

    @property
    def saving_percent(self) -> float:
        """Share of the whole network's parameters saved, in % (negative when it grew)."""
        return 100.0 * self.saving / self.params_before if self.params_before else 0.0

    def text(self) -> str:
        return (
            f"Parameters: {self.params_before:,} → {self.params_after:,} "
            f"(saves {self.saving:,}, {self.saving_percent:.1f}%); head: "
            f"{self.head_params_before:,} → {self.head_params_after:,}"
        )


@dataclass(frozen=True)
class HeadInfo:
    """Where a straight classifier head starts: everything after ``trunk_end`` is a vector."""

    trunk_end: str  # the last block on the way to the sink that outputs C×H×W
    trunk_shape: tuple[int, int, int]
    head: tuple[str, ...]  # block ids from the trunk to the sink, in order
    classes: int


@dataclass(frozen=True, eq=False)
class ScoreMap:
    """Class scores at every position a fully convolutional network slides over."""

    scores: np.ndarray  # B × classes × H' × W', float32 logits
    graph: Graph  # the network as run: Input resized, final Flatten/GAP removed
    input_shape: tuple[int, int, int]
    stride: int = 1  # input pixels between neighbouring scores (LeNet-5: 4)

    @property
    def predictions(self) -> np.ndarray:
        """B × H' × W': the best class at each position."""
        return self.scores.argmax(axis=1)


# ----------------------------------------------------------------------------- FC → conv


def _require_valid(graph: Graph):
    analysis = analyze(graph)
    if not analysis.valid:
        from designer.nn.builder import describe_problems

        raise TransformError(describe_problems(analysis))
    return analysis


def _unique_id(wanted: str, *taken) -> str:
    candidate, number = wanted, 2
    while any(candidate in collection for collection in taken):
        candidate, number = f"{wanted}{number}", number + 1
    return candidate


def fc_to_conv(graph: Graph, state_dict: dict | None = None):
    """Return ``(new_graph, new_state_dict or None, ConversionReport)``; ``graph`` is untouched.

    ``state_dict`` is a ``GraphModule.state_dict()`` (keys ``blocks.<id>...``; keys without
    the ``blocks.`` prefix are accepted too and kept without it). The new state dict loads
    strictly into ``build_module(new_graph)``.
    """
    analysis = _require_valid(graph)
    shapes = {block_id: report.output_shape for block_id, report in analysis.reports.items()}
    order = graph.topological_order()

    # new_shape: the tensor's shape in the converted graph. "pending" tensors are ones whose
    # original was a vector but which are now C×H×W (a Flatten was dropped) or N×1×1 (a
    # converted FC): flattening them in torch order gives back the original vector exactly.
    new_shape: dict[str, tuple] = {}
    pending: set[str] = set()
    converted: dict[str, tuple] = {}  # FC id → the C×H×W its conv reads
    needs_vector_edges: set[tuple[str, str, int]] = set()
    removed_flattens: set[str] = set()
    skipped: list[tuple[str, str]] = []

    for block_id in order:
        block = graph.block(block_id)
        edges = graph.input_edges(block_id)
        in_shapes = [new_shape[edge.source] for edge in edges]
        any_pending = any(edge.source in pending for edge in edges)
        kind = block.type_id
        entry = block.type
        if kind == "Flatten" and len(in_shapes[0]) == 3:
            removed_flattens.add(block_id)
            new_shape[block_id] = in_shapes[0]
            pending.add(block_id)
        elif entry.elementwise:  # acts on each value alone: an unflattened tensor passes through
            new_shape[block_id] = in_shapes[0]
            if any_pending:
                pending.add(block_id)
        elif entry.fully_connected:
            source_shape = in_shapes[0]
            if len(source_shape) == 3 and source_shape[1] == source_shape[2]:
                converted[block_id] = source_shape
                new_shape[block_id] = (block.params["out_features"], 1, 1)
                pending.add(block_id)
            else:
                if len(source_shape) == 3:
                    skipped.append((block_id, (
                        f"it reads {format_shape(source_shape)}, which is not square, and the Conv "
                        "block has square kernels only; it and the FCs after it stay FCs")))
                elif edges and graph.block(edges[0].source).type.makes_vector:
                    skipped.append((block_id, f"it reads the vector {graph.block(edges[0].source).type.label} "
                                              f"makes, which no longer depends on where things are in the image"))
                else:
                    skipped.append((block_id, f"it reads a plain vector of {format_shape(source_shape)}"))
                for edge in edges:
                    if edge.source in pending:
                        needs_vector_edges.add((edge.source, edge.target, edge.port))
                new_shape[block_id] = shapes[block_id]
        elif kind in ("Add", "Concat") and any_pending and all(edge.source in pending for edge in edges) \
                and in_shapes[0][1:] == in_shapes[1][1:] and (kind == "Concat" or in_shapes[0] == in_shapes[1]):
            # Channel-wise join of unflattened tensors flattens to the join of the vectors.
            first, second = in_shapes
            new_shape[block_id] = first if kind == "Add" else (first[0] + second[0],) + tuple(first[1:])
            pending.add(block_id)
        else:
            for edge in edges:
                if edge.source in pending:
                    needs_vector_edges.add((edge.source, edge.target, edge.port))
            new_shape[block_id] = shapes[block_id]

    sink = analysis.sinks[0]
    sink_needs_flatten = sink in pending

    # A dropped Flatten whose every reader needs the vector anyway is simply kept.
    for flatten_id in sorted(removed_flattens):
        readers = graph.output_edges(flatten_id)
        if flatten_id != sink and readers and all(
            (edge.source, edge.target, edge.port) in needs_vector_edges for edge in readers
        ):
            removed_flattens.discard(flatten_id)
            pending.discard(flatten_id)
            for edge in readers:
                needs_vector_edges.discard((edge.source, edge.target, edge.port))
        elif flatten_id == sink:
            removed_flattens.discard(flatten_id)
            pending.discard(flatten_id)
            sink_needs_flatten = False

    # ---- build the new graph: same blocks in the same order, converted or dropped
    new_graph = Graph(graph.name if graph.name.endswith("(fully convolutional)")
                      else f"{graph.name} (fully convolutional)")
    descriptions = []
    for block in graph:
        if block.id in removed_flattens:
            continue
        if block.id in converted:
            channels, height, width = converted[block.id]
            params = {"out_channels": block.params["out_features"], "kernel_size": height,
                      "stride": 1, "padding": 0, "bias": block.params["bias"]}
            new_graph.add_block("Conv2d", params, block.position, block.id)
            kernel = "1×1" if height == 1 else f"{height}×{width} (valid)"
            descriptions.append((block.id, f"FC {block.params['out_features']} on "
                                           f"{format_shape(converted[block.id])} → Conv {kernel}, "
                                           f"{block.params['out_features']} filters"))
        else:
            new_graph.add_block(block.type_id, dict(block.params), block.position, block.id)

    def resolve(source: str) -> str:
        while source in removed_flattens:
            source = graph.predecessors(source)[0]
        return source

    added: list[str] = []
    vector_of: dict[str, str] = {}  # pending block → Flatten added after it

    def flatten_after(source: str, wanted: str) -> str:
        if source not in vector_of:
            x, y = graph.block(source).position
            flatten_id = _unique_id(wanted, graph.blocks, new_graph.blocks)
            new_graph.add_block("Flatten", {}, (x, y + 50.0), flatten_id)
            new_graph.connect(source, flatten_id)
            vector_of[source] = flatten_id
            added.append(flatten_id)
        return vector_of[source]

    for edge in graph.edges:
        if edge.target in removed_flattens:
            continue
        source = edge.source
        if (source, edge.target, edge.port) in needs_vector_edges:
            source = flatten_after(resolve(source), f"{resolve(source)}_flatten")
        else:
            source = resolve(source)
        new_graph.connect(source, edge.target, edge.port if graph.block(edge.target).type.inputs > 1 else None)
    if sink_needs_flatten:
        flatten_after(resolve(sink), "flatten_out")

    after = analyze(new_graph)
    if not after.valid:  # pragma: no cover - would be a bug in the rules above
        from designer.nn.builder import describe_problems

        raise TransformError("the converted design is not valid: " + describe_problems(after))
    report = ConversionReport(
        analysis.total_params, after.total_params, tuple(descriptions),
        tuple(sorted(removed_flattens, key=order.index)), tuple(added), tuple(skipped),
    )
    new_state = None
    if state_dict is not None:
        new_state = _convert_state(state_dict, graph, shapes, converted)
    return new_graph, new_state, report


def _convert_state(state_dict: dict, graph: Graph, shapes: dict, converted: dict) -> dict:
    result = {}
    for key, value in state_dict.items():
        prefix = STATE_PREFIX if key.startswith(STATE_PREFIX) else ""
        rest = key[len(prefix):]
        key_id, _, name = rest.partition(".")
        # GraphModule stores ids that clash with attribute names as "block:<id>".
        block_id = key_id[len("block:"):] if key_id.startswith("block:") else key_id
        if block_id not in converted:
            result[key] = value
            continue
        source_shape = shapes[graph.predecessors(block_id)[0]]
        # An FC on a C×H×W input is Sequential(Flatten, Linear): its tensors sit under ".1.".
        if len(source_shape) == 3:
            if not name.startswith("1."):
                raise TransformError(f"unexpected state_dict key '{key}' for FC block '{block_id}'")
            name = name[2:]
        if name == "weight":
            out_features = value.shape[0]
            value = value.reshape(out_features, *converted[block_id])
        elif name != "bias":
            raise TransformError(f"unexpected state_dict key '{key}' for FC block '{block_id}'")
        result[f"{prefix}{key_id}.{name}"] = value.clone()
    return result


def compare_outputs(module_a, module_b, images) -> float:
    """Largest |difference| between two torch modules' outputs on the same images (eval mode)."""
    import torch

    images = torch.as_tensor(images)
    modes = (module_a.training, module_b.training)
    module_a.eval()
    module_b.eval()
    try:
        with torch.no_grad():
            first = module_a(images).reshape(images.shape[0], -1)
            second = module_b(images).reshape(images.shape[0], -1)
    finally:
        module_a.train(modes[0])
        module_b.train(modes[1])
    if first.shape != second.shape:
        raise TransformError(f"the outputs differ in shape: {tuple(first.shape)} and {tuple(second.shape)}")
    return float((first.double() - second.double()).abs().max()) if first.numel() else 0.0


# ----------------------------------------------------------------------------- score maps


def fully_convolutional_scores(converted_graph: Graph, state_dict: dict, images) -> ScoreMap:
    """Run a fully convolutional design on larger images; return the class-score map.

    ``images`` is a float B×C×H×W tensor (or array), already scaled as the network was
    trained, at least as large as the design's Input. The Input is resized to H×W and the
    trailing Flatten (added by ``fc_to_conv``) or GAP (``replace_head_with_gap`` with
    ``conv1x1_gap``) is dropped, so the sink outputs classes × H' × W'.

    Which designs allow it: any whose every layer is a convolution, pooling, BatchNorm,
    activation, Dropout or Add/Concat — e.g. LeNet-5 or the small CNNs after ``fc_to_conv``
    (LeNet-5 on a 28×(28·k) canvas gives 10×1×(7k−6) scores, one every 4 pixels), or a
    ``conv1x1_gap`` head. A design with an FC left on a C×H×W tensor (its weights fix the
    size) or an FC after GAP (GAP has already averaged position away) cannot; it raises
    ``NotFullyConvolutionalError`` saying which block is in the way.
    """
    import torch

    images = torch.as_tensor(images)
    if images.ndim == 3:
        images = images.unsqueeze(0)
    if images.ndim != 4:
        raise TransformError(f"images must be B×C×H×W, got shape {tuple(images.shape)}")
    if not torch.is_floating_point(images):
        raise TransformError("images must be floating point, scaled as for training (e.g. uint8 / 255)")
    _require_valid(converted_graph)
    graph = converted_graph.copy()
    input_id = graph.inputs()[0]
    channels = graph.block(input_id).params["channels"]
    if images.shape[1] != channels:
        raise TransformError(f"the design's Input has {channels} channel(s), the images have {images.shape[1]}")
    graph.set_param(input_id, "height", int(images.shape[2]))
    graph.set_param(input_id, "width", int(images.shape[3]))
    sink = graph.sinks()[0]
    if graph.block(sink).type.makes_vector:
        graph.remove_block(sink)
    for block in list(graph):
        if block.type.fully_connected:
            source = graph.predecessors(block.id)[0]
            raise NotFullyConvolutionalError(
                f"'{block.id}' is still an FC block (after '{source}'); its weights fix the input size, "
                "so the design cannot slide over a larger image. Convert the FC head to convolutions first "
                "(FC → conv), or use a 1×1 conv + GAP head")
    analysis = analyze(graph)
    if not analysis.valid:
        from designer.nn.builder import describe_problems

        raise TransformError(f"on a {images.shape[2]}×{images.shape[3]} canvas: " + describe_problems(analysis))
    if analysis.output_shape is None or len(analysis.output_shape) != 3:
        raise NotFullyConvolutionalError(
            f"the design ends in {format_shape(analysis.output_shape)}, not a classes×H×W map")
    from designer.nn.builder import build_module

    module = build_module(graph)
    module.load_state_dict(state_dict, strict=True)
    module.eval()
    with torch.no_grad():
        scores = module(images.float())
    return ScoreMap(scores.numpy().astype(np.float32), graph, tuple(int(size) for size in images.shape[1:]),
                    _total_stride(graph))


def _total_stride(graph: Graph) -> int:
    """Product of the strides on the way to the sink (the largest, where branches differ)."""
    strides: dict[str, int] = {}
    for block_id in graph.topological_order():
        block = graph.block(block_id)
        inherited = max((strides[source] for source in graph.predecessors(block_id)), default=1)
        strides[block_id] = inherited * block.type.stride(block.params)
    return strides[graph.sinks()[0]]


def tile_images(images, columns: int | None = None, spacing: int = 0, fill: float = 0.0):
    """Lay B×C×H×W images side by side (``columns`` per row, all of them by default).

    Returns a 1×C×H_total×W_total tensor of the images' dtype; gaps are ``fill``.
    With ``spacing`` 0 and one row, image j occupies columns j·W … j·W+W−1, so a network
    whose score map has stride s reads image j at output column j·W/s.
    """
    import torch

    images = torch.as_tensor(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise TransformError(f"images must be a non-empty B×C×H×W batch, got shape {tuple(images.shape)}")
    count, channels, height, width = images.shape
    columns = count if columns is None else max(1, min(int(columns), count))
    rows = math.ceil(count / columns)
    canvas = torch.full(
        (1, channels, rows * height + (rows - 1) * spacing, columns * width + (columns - 1) * spacing),
        fill, dtype=images.dtype,
    )
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = row * (height + spacing), column * (width + spacing)
        canvas[0, :, top:top + height, left:left + width] = images[index]
    return canvas


# ----------------------------------------------------------------------------- heads


def find_head(graph: Graph) -> HeadInfo:
    """Locate the straight chain of vector-valued blocks that ends at the sink."""
    analysis = _require_valid(graph)
    sink = analysis.sinks[0]
    output = analysis.output_shape
    if output is None or len(output) != 1:
        raise TransformError(f"the design ends in {format_shape(output)}, not one score per class")
    head: list[str] = []
    current = sink
    while True:
        shape = analysis.reports[current].output_shape
        if len(shape) == 3:
            break
        block = graph.block(current)
        if block.type.inputs != 1:
            raise TransformError(
                f"the head is not a straight chain: '{current}' ({block.type.label}) joins two inputs")
        if len(graph.successors(current)) > 1:
            raise TransformError(f"the head is not a straight chain: '{current}' feeds several blocks")
        head.append(current)
        current = graph.predecessors(current)[0]
    head.reverse()
    if not head:  # pragma: no cover - a 1-D output always has a vector block
        raise TransformError("the design has no head")
    return HeadInfo(current, analysis.reports[current].output_shape, tuple(head), output[0])


def _head_positions(graph: Graph, info: HeadInfo, count: int) -> list[tuple[float, float]]:
    positions = [graph.block(block_id).position for block_id in info.head]
    x, y = graph.block(info.trunk_end).position
    step = 90.0
    if len(positions) >= 2:
        step = positions[-1][1] - positions[-2][1] or step
    while len(positions) < count:
        last = positions[-1] if positions else (x, y)
        positions.append((last[0], last[1] + step))
    return positions[:count]


def replace_head_with_gap(graph: Graph, mode: str = "gap_fc"):
    """Return ``(new_graph, HeadReplacementReport)``; ``graph`` is untouched.

    ``mode`` "gap_fc": trunk → GAP → FC(classes). "conv1x1_gap": trunk → Conv 1×1(classes) →
    GAP (the NiN / all-convolutional way; drop the GAP to get a class map). The head is
    everything from the last C×H×W tensor to the sink (Flatten, FCs, activations,
    Dropout, or an existing GAP). Counts come from ``designer.core.analyze``, which equals
    torch's ``sum(p.numel())`` of the built module.
    """
    if mode not in ("gap_fc", "conv1x1_gap"):
        raise TransformError(f"mode must be 'gap_fc' or 'conv1x1_gap', not {mode!r}")
    info = find_head(graph)
    before = analyze(graph)
    new_graph = graph.copy()
    new_graph.name = f"{graph.name} (GAP head)" if "(GAP head)" not in graph.name else graph.name
    positions = _head_positions(graph, info, 2)
    for block_id in info.head:
        new_graph.remove_block(block_id)
    if mode == "gap_fc":
        first = new_graph.add_block("GAP", {}, positions[0], _unique_id("gap", new_graph.blocks))
        second = new_graph.add_block("FC", {"out_features": info.classes}, positions[1],
                                     _unique_id("fc_out", new_graph.blocks))
    else:
        first = new_graph.add_block("Conv2d", {"out_channels": info.classes, "kernel_size": 1},
                                    positions[0], _unique_id("conv_classes", new_graph.blocks))
        second = new_graph.add_block("GAP", {}, positions[1], _unique_id("gap", new_graph.blocks))
    new_graph.connect(info.trunk_end, first.id)
    new_graph.connect(first.id, second.id)
    after = analyze(new_graph)
    head_before = sum(before.reports[block_id].params for block_id in info.head)
    head_after = after.reports[first.id].params + after.reports[second.id].params
    report = HeadReplacementReport(mode, before.total_params, after.total_params, head_before, head_after,
                                   info.head, (first.id, second.id))
    return new_graph, report
