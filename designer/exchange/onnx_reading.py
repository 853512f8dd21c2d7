"""Reading an ONNX file for the importer: the model, its constants, its wiring, its input.

Everything that can go wrong with the file itself (not ONNX, damaged, a loop, several inputs)
becomes an ExchangeError with one line saying what; the mapping to blocks is in onnx_import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from designer.exchange.errors import ExchangeError

#: ops that only compute a shape (for a Reshape); they need no block
SHAPE_OPS = frozenset({"Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Slice", "Constant",
                       "Identity", "Mul", "Div", "Add", "Sub", "ConstantOfShape", "Size", "Reshape",
                       "ReduceProd"})
INTEGER_TYPES = frozenset({2, 3, 4, 5, 6, 7, 12, 13})  # onnx.TensorProto uint8 … uint64
FLOAT = 1  # onnx.TensorProto.FLOAT


def load_model(path: str | Path):
    """The ModelProto in ``path``, checked; ExchangeError for anything that is not a model."""
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        raise ExchangeError(f"cannot read {path}: no such file")
    try:
        model = onnx.load(str(path))
    except DecodeError:
        raise ExchangeError(f"{path.name} is not an ONNX model, or it is truncated or damaged "
                            f"(it cannot be decoded)") from None
    except OSError as error:
        raise ExchangeError(f"cannot read {path}: {error.strerror or error}") from None
    except Exception as error:  # noqa: BLE001 - protobuf and external data raise many types
        raise ExchangeError(f"{path.name} cannot be read as an ONNX model "
                            f"({' '.join(str(error).split())[:200]})") from None
    if not model.graph.node or not model.graph.output:
        raise ExchangeError(f"{path.name} holds no ONNX graph (it is empty, or not an ONNX model)")
    try:
        # From the file: the checker reads it itself, quicker than serialising the model again.
        onnx.checker.check_model(str(path))
    except Exception as error:  # noqa: BLE001 - ValidationError and friends
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ExchangeError(f"{path.name} is not a valid ONNX model ({first[:200]})") from None
    return model


def opset_of(model) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return entry.version
    return 0


def attributes(node) -> dict:
    from onnx import helper

    values = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        values[attribute.name] = value.decode("utf-8") if isinstance(value, bytes) else value
    return values


@dataclass
class Wiring:
    """The graph's tensors: constants, who produces and who reads each one."""

    constants: dict  # name → numpy array (initializers and Constant nodes)
    producer: dict  # tensor → node
    readers: dict  # tensor → [node, ...]
    outputs: list  # graph output names

    @classmethod
    def of(cls, graph) -> "Wiring":
        from onnx import numpy_helper

        constants = {}
        for initializer in graph.initializer:
            constants[initializer.name] = numpy_helper.to_array(initializer)
        producer, readers = {}, {}
        for node in graph.node:
            if node.op_type == "Constant" and node.output:
                values = attributes(node)
                if "value" in values:
                    constants[node.output[0]] = numpy_helper.to_array(values["value"])
                else:
                    for key in ("value_float", "value_int", "value_floats", "value_ints"):
                        if key in values:
                            import numpy as np

                            constants[node.output[0]] = np.array(values[key])
            for output in node.output:
                producer[output] = node
            for name in node.input:
                if name:
                    readers.setdefault(name, []).append(node)
        return cls(constants, producer, readers, [value.name for value in graph.output])

    def readers_of(self, tensor: str) -> list:
        return self.readers.get(tensor, [])

    def is_output(self, tensor: str) -> bool:
        return tensor in self.outputs


def shape_plumbing(graph, wiring: Wiring) -> set[int]:
    """ids of the nodes whose outputs only feed the shape input of a Reshape (directly or not).

    Exporters compute a flatten's target shape from the input's shape at run time
    (Shape → Gather → Concat → Reshape); those nodes need no block.
    """
    shape_tensors = {node.input[1] for node in graph.node if node.op_type == "Reshape" and len(node.input) > 1}
    plumbing: set[int] = set()
    changed = True
    while changed:
        changed = False
        for node in graph.node:
            if id(node) in plumbing or node.op_type not in SHAPE_OPS or not node.output:
                continue
            used = [reader for output in node.output for reader in wiring.readers_of(output)]
            feeds_shapes = all(output in shape_tensors or not wiring.readers_of(output) for output in node.output)
            if used and feeds_shapes and not any(wiring.is_output(output) for output in node.output):
                plumbing.add(id(node))
                if node.op_type not in ("Shape", "Size"):  # those read data, only its shape is used
                    shape_tensors.update(name for name in node.input if name)
                changed = True
    return plumbing


def inferred_shapes(model) -> dict:
    """tensor → its shape (ints, or None for a dimension the inference left open)."""
    try:
        from onnx import shape_inference

        inferred = shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # noqa: BLE001 - inference is a help here, not a requirement
        return {}
    shapes = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        tensor_type = value.type.tensor_type
        if not tensor_type.HasField("shape"):
            continue
        shapes[value.name] = tuple(dim.dim_value if dim.HasField("dim_value") else None
                                   for dim in tensor_type.shape.dim)
    return shapes


@dataclass(frozen=True)
class ModelInput:
    name: str
    shape: tuple[int, int, int]  # C, H, W
    integer: bool  # raw pixels (uint8 and friends), to be cast to float inside the model


def model_input(model, wiring: Wiring) -> ModelInput:
    inputs = [value for value in model.graph.input if value.name not in wiring.constants]
    if len(inputs) != 1:
        raise ExchangeError(f"the model has {len(inputs)} inputs ({', '.join(value.name for value in inputs)}); "
                            f"a design has one image input")
    value = inputs[0]
    tensor_type = value.type.tensor_type
    dims = [dim.dim_value if dim.HasField("dim_value") else None for dim in tensor_type.shape.dim]
    if len(dims) != 4 or any(size is None or size < 1 for size in dims[1:]):
        shown = "×".join("?" if size is None else str(size) for size in dims) or "of unknown shape"
        raise ExchangeError(f"the model's input '{value.name}' is {shown}; a design takes images of "
                            f"N×C×H×W with C, H and W fixed")
    if tensor_type.elem_type not in INTEGER_TYPES and tensor_type.elem_type != FLOAT:
        raise ExchangeError(f"the model's input '{value.name}' has element type {tensor_type.elem_type}; "
                            f"only float32 or integer pixels are understood")
    return ModelInput(value.name, (dims[1], dims[2], dims[3]), tensor_type.elem_type in INTEGER_TYPES)
