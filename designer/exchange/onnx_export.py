"""A design as one ONNX file: torch.onnx's exporter (torch.export + onnxscript), then tidied.

Why this exporter (``tests/benchmarks/bench_export.py --compare-exporters``, figures in the
README, "Export and import"): both match PyTorch's outputs to 2e-7 on every template. The
dynamo-based one is three times faster on VGG-16 (3.3 s against 9.7 s), where the time is
felt, and slower on the small templates (1.2-1.9 s against 0.1-0.3 s), where it is not. The
TorchScript-based one is deprecated since PyTorch 2.9, raises 14-42 warnings per export
(TracerWarnings from the builder's ``keep`` argument among them) against one, and folds
BatchNorm into the convolution before it in eval mode.

The exporter's own optimiser is not used: it folds BatchNorm into the convolution before it,
so the file would no longer show the design's blocks (and an import would not give them
back). Instead the export is followed by constant folding and one rewrite that turns the
exporter's shape arithmetic for a flatten into a constant shape, and then by ``tidy``:

- nodes and tensors are named after the blocks they come from (``conv1``, ``fc1/Reshape``),
  weights as in model.py (``conv1.weight``);
- Dropout blocks, which vanish from an inference graph, come back as ONNX Dropout nodes
  (identities outside training), and a Flatten of a vector as a Flatten node, so the file
  shows every block of the design;
- the exporter's per-node metadata (stack traces with file paths) is dropped; the model gets
  metadata of its own: the design's name, what the input is, the normalisation, class names.

With trained weights that have a normalisation, it is baked in: the model takes uint8 pixels
(0-255) and scales them itself, so it can be fed images straight from a decoder.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from designer.core import Graph, analyze
from designer.exchange.errors import ExchangeError, require_onnx
from designer.exchange.output import staged_files, write_file

OPSET = 18
#: the first opset with a Gelu operator; below it GELU becomes five arithmetic nodes
OPSET_WITH_GELU = 20
INPUT_NAME = "images"
OUTPUT_NAME = "logits"
NORMALISE = "normalise"
#: largest difference between onnxruntime's and torch's outputs an export may have
TOLERANCE = 1e-4
_SCOPE = re.compile(r"^(?:network\.)?blocks\.([^.]+)$")


@dataclass(frozen=True)
class OnnxExport:
    path: Path
    opset: int
    raw_pixels: bool  # True: uint8 input 0-255, the normalisation is part of the model
    input_description: str
    weights: object  # Weights
    max_difference: float  # onnxruntime against torch on two random inputs, relative to outputs ≥ 1
    size: int  # bytes


@contextlib.contextmanager
def quiet():
    """Keep the exporter's progress lines, warnings and log records away from the person."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._export",
                                                    "onnxscript", "onnx_ir", "torch.fx")]
    levels = [logger.level for logger in loggers]
    captured = io.StringIO()
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(captured), \
                contextlib.redirect_stderr(captured):
            warnings.simplefilter("ignore")
            yield captured
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _raw_pixel_module(module, normalisation):
    import torch
    from torch import nn

    class RawPixels(nn.Module):
        """uint8 pixels → the normalised floats the network was trained on → the network."""

        def __init__(self) -> None:
            super().__init__()
            self.network = module
            scale, shift = normalisation.scale_and_shift()
            self.register_buffer("scale", scale)
            self.register_buffer("shift", shift)

        def forward(self, images):
            return self.network(images.to(torch.float32) * self.scale + self.shift)

    return RawPixels().eval()


def _simplify(model) -> None:
    """Constant folding and the one rewrite the tidy graph needs (public onnxscript APIs)."""
    import onnxscript.optimizer
    from onnxscript import rewriter

    onnxscript.optimizer.fold_constants(model)
    try:
        from onnxscript.rewriter.rules.common import materialize_reshape_shape_rule
    except ImportError:  # an onnxscript without the rule: the dynamic reshape stays, and is valid
        pass
    else:
        rewriter.rewrite(model, pattern_rewrite_rules=[materialize_reshape_shape_rule])
    onnxscript.optimizer.remove_unused_nodes(model)


def _block_of(node, key_to_id: dict[str, str]) -> str | None:
    for entry in node.metadata_props:
        if entry.key != "pkg.torch.onnx.name_scopes":
            continue
        try:
            scopes = ast.literal_eval(entry.value)
        except (ValueError, SyntaxError):
            return None
        for scope in scopes:
            match = _SCOPE.match(str(scope))
            if match and match.group(1) in key_to_id:
                return key_to_id[match.group(1)]
    return None


def identifier_graph(graph: Graph) -> tuple[Graph, dict[str, str]]:
    """A copy whose block ids are plain Python identifiers, and {its id: the design's id}.

    torch.export writes Python code that names every submodule: a block called ``class`` or
    ``conv-1`` would not parse. The exported file gets the design's ids back in ``tidy``.
    """
    import keyword

    from designer.nn.builder import BlockModules

    renamed: dict[str, str] = {}
    taken = set(graph.blocks)
    for index, block_id in enumerate(graph.topological_order()):
        safe = block_id
        if not block_id.isidentifier() or keyword.iskeyword(block_id) or BlockModules.key_of(block_id) != block_id:
            safe, number = f"block{index}", index
            while safe in taken:
                number += 1
                safe = f"block{number}"
            taken.add(safe)
        renamed[block_id] = safe
    copy = Graph(graph.name)
    for block in graph:
        copy.add_block(block.type_id, dict(block.params), block.position, renamed[block.id])
    for edge in graph.edges:
        copy.connect(renamed[edge.source], renamed[edge.target], edge.port)
    return copy, {safe: original for original, safe in renamed.items()}


def _module_for(graph: Graph, module, original_of: dict[str, str]):
    """The identifier graph's module holding ``module``'s weights (``module`` itself when no id
    had to change: building VGG-16 again would cost a second)."""
    from designer.nn import build_module
    from designer.nn.builder import BlockModules

    if all(safe == original for safe, original in original_of.items()):
        return module

    safe_module = build_module(graph)
    state = module.state_dict()
    moved = {}
    for safe, original in original_of.items():
        old, new = f"blocks.{BlockModules.key_of(original)}.", f"blocks.{BlockModules.key_of(safe)}."
        for key, value in state.items():
            if key.startswith(old):
                moved[new + key[len(old):]] = value
    safe_module.load_state_dict(moved, strict=True)
    return safe_module.eval()


def tidy(proto, graph: Graph, original_of: dict[str, str] | None = None) -> None:
    """Name nodes, tensors and weights after the design's blocks; put Dropout blocks back.

    ``original_of`` maps the ids of the graph that was exported (see ``identifier_graph``) to the
    design's; without it they are the same.
    """
    from designer.exchange.pytorch_code import attribute_names
    from designer.nn.builder import BlockModules

    original_of = original_of or {block_id: block_id for block_id in graph.blocks}
    key_to_id = {BlockModules.key_of(safe): original for safe, original in original_of.items()}
    names = attribute_names(graph)
    nodes = list(proto.graph.node)
    owners = [_block_of(node, key_to_id) for node in nodes]
    protected = {INPUT_NAME, OUTPUT_NAME}
    renamed: dict[str, str] = {}
    used_node_names: set[str] = set()
    used_tensors: set[str] = set(protected)

    def unique(name: str, taken: set[str]) -> str:
        candidate, number = name, 2
        while candidate in taken:
            candidate, number = f"{name}_{number}", number + 1
        taken.add(candidate)
        return candidate

    for initializer in proto.graph.initializer:
        name = initializer.name
        parts = name.split(".")
        if len(parts) >= 3 and parts[0] == "blocks" and parts[1] in key_to_id:
            new = f"{names[key_to_id[parts[1]]]}.{parts[-1]}"
        elif name in ("scale", "shift"):
            new = f"{NORMALISE}.{name}"
        else:
            continue
        renamed[name] = unique(new, used_tensors)

    last_of_group: dict[str | None, int] = {}
    for index, owner in enumerate(owners):
        last_of_group[owner] = index
    block_output: dict[str, str] = {}
    for index, (node, owner) in enumerate(zip(nodes, owners)):
        group = owner if owner is not None else NORMALISE
        main = last_of_group[owner] == index
        node.name = unique(group if main else f"{group}/{node.op_type}", used_node_names)
        for position, output in enumerate(node.output):
            if output in protected or not output:
                continue
            wanted = (owner if main and owner is not None and position == 0
                      else f"{node.name}:{position}" if position else node.name)
            renamed[output] = unique(wanted, used_tensors)
        if main and owner is not None:
            block_output[owner] = renamed.get(node.output[0], node.output[0])
        del node.metadata_props[:]
        node.doc_string = ""
    for initializer in proto.graph.initializer:
        if initializer.name not in renamed:
            consumer = next((node.name for node in nodes if initializer.name in node.input), "constant")
            renamed[initializer.name] = unique(f"{consumer}/constant", used_tensors)

    def rename(name: str) -> str:
        return renamed.get(name, name)

    for node in nodes:
        node.input[:] = [rename(name) for name in node.input]
        node.output[:] = [rename(name) for name in node.output]
    for initializer in proto.graph.initializer:
        initializer.name = rename(initializer.name)
    for info in proto.graph.value_info:
        info.name = rename(info.name)
    for value in list(proto.graph.input) + list(proto.graph.output):
        del value.metadata_props[:]
    for info in proto.graph.value_info:
        del info.metadata_props[:]

    _drop_zero_biases(proto, graph, owners)
    network_input = INPUT_NAME
    normalise_nodes = [node for node, owner in zip(nodes, owners) if owner is None]
    if normalise_nodes:
        network_input = normalise_nodes[-1].output[0]
    _put_back_vanished(proto, graph, owners, block_output, network_input, used_tensors)
    del proto.metadata_props[:]
    proto.graph.name = graph.name
    proto.graph.doc_string = ""


def _drop_zero_biases(proto, graph: Graph, owners: list) -> None:
    """The exporter gives a bias-free convolution a bias of zeros; the design has none."""
    for node, owner in zip(proto.graph.node, owners):
        if owner is None or node.op_type not in ("Conv", "Gemm") or len(node.input) < 3:
            continue
        if graph.block(owner).params.get("bias", True) is False:
            del node.input[2]
    used = {name for node in proto.graph.node for name in node.input}
    kept = [initializer for initializer in proto.graph.initializer if initializer.name in used]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(kept)


def _put_back_vanished(proto, graph: Graph, owners: list, block_output: dict, network_input: str,
                       used_tensors: set) -> None:
    """Dropout blocks (inference drops them) and a Flatten of a vector (a no-op) leave no node in
    the exported graph; put them back as ONNX Dropout and Flatten nodes, identities both."""
    import numpy as np
    from onnx import helper, numpy_helper

    order = graph.topological_order()
    for block_id in order:
        if graph.block(block_id).type_id == "Input":
            block_output.setdefault(block_id, network_input)
    vanished = {block_id for block_id in order if block_id not in block_output
                and graph.block(block_id).type_id in ("Dropout", "Flatten")}
    for block_id in order:
        if block_id not in vanished:
            continue
        block = graph.block(block_id)
        source = graph.predecessors(block_id)[0]
        tensor = block_output.get(source)
        if tensor is None:
            continue  # the exporter's metadata did not say where the source is; leave it out
        readers = _readers_through(graph, block_id, vanished)
        is_sink = not graph.successors(block_id)
        output = OUTPUT_NAME if is_sink else _fresh(block_id, used_tensors)
        if is_sink and tensor == OUTPUT_NAME:
            # The source produced the graph output; it now feeds this block instead.
            inner = _fresh(source, used_tensors)
            for node in proto.graph.node:
                node.output[:] = [inner if name == OUTPUT_NAME else name for name in node.output]
            tensor = inner
            block_output[source] = inner
        for node, owner in zip(proto.graph.node, owners):
            if owner in readers:
                node.input[:] = [output if name == tensor else name for name in node.input]
        if block.type_id == "Dropout":
            ratio = f"{block_id}.ratio"
            proto.graph.initializer.append(numpy_helper.from_array(np.array(block.params["p"], dtype=np.float32),
                                                                   ratio))
            node = helper.make_node("Dropout", [tensor, ratio], [output], name=block_id)
        else:
            node = helper.make_node("Flatten", [tensor], [output], name=block_id, axis=1)
        position = next((index + 1 for index, existing in enumerate(proto.graph.node) if tensor in existing.output),
                        0)
        proto.graph.node.insert(position, node)
        owners.insert(position, block_id)
        block_output[block_id] = output


def _readers_through(graph: Graph, block_id: str, vanished: set) -> set[str]:
    """The blocks that read ``block_id``'s output, looking through other vanished blocks."""
    readers, stack = set(), list(graph.successors(block_id))
    while stack:
        reader = stack.pop()
        if reader in vanished:
            stack.extend(graph.successors(reader))
        else:
            readers.add(reader)
    return readers


def _fresh(name: str, taken: set) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    taken.add(candidate)
    return candidate


def describe_input(shape, normalisation, raw: bool) -> str:
    size = "×".join(str(value) for value in shape)
    if raw:
        mean = ", ".join(f"{value:.4f}" for value in normalisation.mean)
        std = ", ".join(f"{value:.4f}" for value in normalisation.std)
        return (f"uint8 N×{size}, raw pixel values 0-255; the model scales them to 0..1 and normalises "
                f"them itself (mean {mean}, std {std})")
    return f"float32 N×{size}, already normalised as the network expects"


def export_onnx(graph: Graph, output: str | Path, weights=None, force: bool = False) -> OnnxExport:
    """Write the design (with ``weights``, else seeded random ones) as one ONNX file."""
    from designer.exchange.output import check_output, check_writable

    output = Path(output)
    check_output(output, force, "file")  # refuse before a long export
    check_writable(output)
    require_onnx("ONNX export")
    import onnx
    import onnx_ir
    import torch

    from designer.exchange.weights import untrained

    analysis = analyze(graph)
    if weights is None:
        weights = untrained(graph)
    exported_graph, original_of = identifier_graph(graph)
    module = _module_for(exported_graph, weights.module.eval(), original_of)
    normalisation = weights.normalisation
    raw = bool(weights.trained and normalisation is not None)
    exported = _raw_pixel_module(module, normalisation) if raw else module
    input_shape = analysis.reports[graph.inputs()[0]].output_shape
    opset = OPSET_WITH_GELU if any(block.type_id == "GELU" for block in graph) else OPSET
    generator = torch.Generator().manual_seed(0)
    if raw:
        example = torch.randint(0, 256, (2, *input_shape), dtype=torch.uint8, generator=generator)
    else:
        example = torch.randn((2, *input_shape), generator=generator)

    with quiet() as captured:
        try:
            program = torch.onnx.export(
                exported, (example,), dynamo=True, optimize=False, verbose=False, opset_version=opset,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: torch.export.Dim("batch")},), report=False)
            model = program.model
            _simplify(model)
            proto = onnx_ir.serde.serialize_model(model)
            tidy(proto, graph, original_of)
        except Exception as error:  # noqa: BLE001 - the exporter raises many types; say it in one line
            detail = " ".join(str(error).split())[:300] or type(error).__name__
            log = " ".join(captured.getvalue().split())[-200:]
            raise ExchangeError(f"the ONNX export failed ({detail}){'; ' + log if log else ''}") from None

    input_text = describe_input(input_shape, normalisation, raw)
    metadata = {
        "design": graph.name,
        "input": input_text,
        "output": "class scores (logits), one per class" if len(analysis.output_shape) == 1
                  else "a tensor of " + "×".join(map(str, analysis.output_shape)),
        "weights": weights.describe(),
        "exported_by": "Network Designer",
    }
    if raw:
        metadata["normalisation"] = json.dumps({"mean": list(normalisation.mean), "std": list(normalisation.std),
                                                "applied_inside": True})
    if weights.class_names:
        metadata["class_names"] = json.dumps(list(weights.class_names), ensure_ascii=False)
    onnx.helper.set_model_props(proto, metadata)
    proto.doc_string = f"{graph.name}, exported from Network Designer. Input: {input_text}."

    data = proto.SerializeToString()
    try:
        if len(data) < 2**31 - 1:  # larger models cannot be checked in one message; onnxruntime still runs them
            onnx.checker.check_model(data)
    except Exception as error:  # noqa: BLE001 - ValidationError; a bug of this program, said in one line
        raise ExchangeError(f"the exported model is not valid ONNX ({' '.join(str(error).split())[:200]}); "
                            f"the file was not written") from None
    difference = _check_with_onnxruntime(data, exported, example)
    if not difference <= TOLERANCE:
        raise ExchangeError(f"onnxruntime's outputs differ from PyTorch's by {difference:.3g} "
                            f"(more than {TOLERANCE:g}); the file was not written")
    with staged_files([output], force) as temporaries:
        write_file(temporaries[output], data)
    return OnnxExport(output, opset, raw, input_text, weights, difference, len(data))


def _check_with_onnxruntime(data: bytes, module, example) -> float:
    import numpy as np
    import onnxruntime
    import torch

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are not the person's business
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = module(example).numpy()
    actual = session.run(None, {INPUT_NAME: example.numpy()})[0]
    if not expected.size:
        return 0.0
    # Relative to the outputs' size: float32 rounding grows with the values (an untrained VGG-16
    # gives logits in the hundreds).
    return float(np.max(np.abs(actual - expected))) / max(1.0, float(np.max(np.abs(expected))))
