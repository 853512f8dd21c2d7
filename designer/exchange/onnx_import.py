"""An ONNX model as a design with its weights, checked against onnxruntime.

``import_onnx`` reads and converts (see onnx_mapping for which node becomes which block), lays
the design out, loads the weights into the design's module and runs both the ONNX model
(onnxruntime) and the module on the same two inputs: an import that does not reproduce the
model's outputs is refused. ``write_import`` writes the design and the checkpoint together.
Nothing is written when anything is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from designer.core import Graph, analyze
from designer.exchange.errors import ExchangeError, require_onnx
from designer.exchange.onnx_mapping import Converter
from designer.exchange.onnx_reading import load_model

#: the largest output difference from onnxruntime an import may have, relative to the outputs' size
TOLERANCE = 1e-3


@dataclass(frozen=True)
class OnnxImport:
    graph: Graph
    module: object  # designer.nn.GraphModule with the model's weights, eval mode
    normalisation: object  # Normalisation or None (the model takes floats)
    class_names: tuple[str, ...]
    nodes: int
    max_difference: float | None  # against onnxruntime; None when it could not run
    notes: tuple[str, ...]


def _load_weights(converter: Converter):
    import torch

    from designer.nn import BuildError, build_module

    try:
        module = build_module(converter.graph)
    except BuildError as error:
        raise ExchangeError(f"the imported network is not a valid design: {error}") from None
    with torch.no_grad():
        for block_id, tensors in converter.weights.items():
            layer = module.blocks[block_id]
            if converter.graph.block(block_id).type_id == "FC" and hasattr(layer, "__getitem__"):
                layer = layer[1]
            for name, array in tensors.items():
                target = getattr(layer, name)
                value = torch.from_numpy(converter.np.array(array, dtype=converter.np.float32))
                if tuple(target.shape) != tuple(value.shape):
                    raise ExchangeError(f"{block_id}: the model's {name} is {tuple(value.shape)} but the block "
                                        f"needs {tuple(target.shape)}")
                target.copy_(value)
    return module.eval()


def _compare_with_onnxruntime(path: Path, model, module, normalisation, integer_input: bool, shape) -> float | None:
    try:
        import numpy as np
        import onnxruntime
        import torch
    except ImportError:
        return None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - a model onnxruntime cannot run is still imported
        return None
    generator = np.random.default_rng(0)
    name = session.get_inputs()[0].name
    if integer_input:
        raw = generator.integers(0, 256, size=(2, *shape)).astype(np.uint8)
        fed = raw
        images = torch.from_numpy(raw).to(torch.float32)
        if normalisation is not None:
            scale, shift = normalisation.scale_and_shift()
            images = images * scale + shift
    else:
        fed = generator.standard_normal((2, *shape)).astype(np.float32)
        images = torch.from_numpy(fed)
    try:
        expected = session.run(None, {name: fed})[0]
    except Exception:  # noqa: BLE001 - e.g. a model exported for batch 1 only
        return None
    with torch.no_grad():
        actual = module(images).numpy()
    if actual.shape != expected.shape:
        raise ExchangeError(f"the imported network outputs {actual.shape[1:]} where the model outputs "
                            f"{expected.shape[1:]}")
    return float(np.max(np.abs(actual - expected))) / max(1.0, float(np.max(np.abs(expected))))


def import_onnx(path: str | Path, name: str | None = None) -> OnnxImport:
    """Read and convert an ONNX file (nothing is written); ExchangeError when it cannot be."""
    require_onnx("ONNX import", packages=("onnx",))
    from designer.core.layout import auto_layout

    path = Path(path)
    model = load_model(path)
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    design_name = name or metadata.get("design") or model.graph.name or path.stem
    converter = Converter(model, design_name)
    converter.convert()
    graph = converter.graph
    analysis = analyze(graph)
    if not analysis.valid:
        from designer.nn.builder import describe_problems

        raise ExchangeError(f"the imported network is not a valid design: {describe_problems(analysis)}")
    for block_id, position in auto_layout(graph).items():
        graph.move_block(block_id, position)
    module = _load_weights(converter)
    try:
        class_names = tuple(str(item) for item in json.loads(metadata.get("class_names", "[]")))
    except (ValueError, TypeError):
        class_names = ()
    input_shape = analysis.reports[graph.inputs()[0]].output_shape
    integer_input = converter.normalisation is not None
    difference = _compare_with_onnxruntime(path, model, module, converter.normalisation, integer_input,
                                           input_shape)
    if difference is not None and not difference <= TOLERANCE:
        raise ExchangeError(f"the imported network does not reproduce the model: its outputs differ from "
                            f"onnxruntime's by {difference:.3g} (relative); nothing was written")
    return OnnxImport(graph, module, converter.normalisation, class_names, len(model.graph.node), difference,
                      tuple(converter.notes))


def write_import(result: OnnxImport, design_path: str | Path, weights_path: str | Path | None = None,
                 force: bool = False) -> None:
    """Write the design (and the weights as a checkpoint) together, or neither."""
    from designer.core.fileformat import dumps
    from designer.exchange.output import staged_files, write_file
    from designer.training.checkpoint import CheckpointError, save_checkpoint

    targets = [Path(design_path)] + ([Path(weights_path)] if weights_path else [])
    with staged_files(targets, force) as temporaries:
        write_file(temporaries[targets[0]], dumps(result.graph))
        if weights_path:
            try:
                save_checkpoint(temporaries[targets[1]], result.graph, result.module,
                                normalisation=result.normalisation, class_names=result.class_names)
            except CheckpointError as error:
                raise ExchangeError(str(error)) from None
