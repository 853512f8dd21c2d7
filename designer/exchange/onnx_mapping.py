"""ONNX nodes to catalogue blocks: the converter behind onnx_import.

Each ONNX node becomes a block of the catalogue (a few pairs become one block):

    Conv (after a Pad, too) → Conv2d          Gemm, MatMul + Add → FC
    Relu, LeakyRelu, Sigmoid, Tanh, Gelu      MaxPool, AveragePool → MaxPool2d, AvgPool2d
    GlobalAveragePool / ReduceMean over H, W (then a flatten) → GAP
    BatchNormalization → BatchNorm2d          Dropout → Dropout
    Flatten, a Reshape to a vector → Flatten (or nothing, when the FC after it is the one that
    flattens: this program's exports name such a node "<fc>/…")
    Add → Add                                 Concat on channels → Concat (chained for more)

Integer (uint8) input followed by Cast, Mul and Add is read as the input normalisation of a
trained model and becomes the checkpoint's normalisation. Anything else is refused before
anything is written, naming every operator type and node that has no block.
"""

from __future__ import annotations

import math

from designer.core import Graph
from designer.core.graph import BLOCK_ID_PATTERN
from designer.exchange.errors import ExchangeError
from designer.exchange.onnx_reading import (FLOAT, Wiring, attributes, inferred_shapes, model_input, opset_of,
                                            shape_plumbing)

ACTIVATIONS = {"Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "LeakyRelu": "LeakyReLU", "Gelu": "GELU"}
SUPPORTED = frozenset({"Conv", "Pad", "Gemm", "MatMul", "Add", "Concat", "MaxPool", "AveragePool",
                       "GlobalAveragePool", "ReduceMean", "BatchNormalization", "Dropout", "Flatten",
                       "Reshape", "Squeeze", "Identity", "Cast", "Constant", *ACTIVATIONS})
#: torch's BatchNorm2d epsilon; another epsilon is folded into the running variance
TORCH_EPSILON = 1e-5


class _Flattened:
    """A tensor that is the flatten of a block's C×H×W output, left for the FC that reads it."""

    def __init__(self, block_id: str) -> None:
        self.block_id = block_id


class Converter:
    def __init__(self, model, name: str) -> None:
        import numpy as np

        self.np = np
        self.model = model
        self.wiring = Wiring.of(model.graph)
        self.plumbing = shape_plumbing(model.graph, self.wiring)
        self.opset = opset_of(model)
        self.graph = Graph(name)
        self.values: dict[str, object] = {}  # tensor → block id, or _Flattened
        self.shapes: dict[str, tuple] = {}  # block id → output shape
        self.weights: dict[str, dict] = {}  # block id → {parameter name: array}
        self.skipped: set[int] = set()  # ids of nodes another node's block has taken in
        self.notes: list[str] = []
        self.normalisation = None
        self._inferred = None

    # ------------------------------------------------------------------ helpers

    def fail(self, node, reason: str) -> ExchangeError:
        return ExchangeError(f"{node.op_type} node '{node.name or node.output[0]}': {reason}")

    def constant(self, node, index: int, what: str):
        if index >= len(node.input) or not node.input[index]:
            return None
        value = self.wiring.constants.get(node.input[index])
        if value is None:
            raise self.fail(node, f"its {what} is computed at run time; only constant {what}s are understood")
        return value

    def block_of(self, node, index: int = 0) -> str:
        value = self.values.get(node.input[index])
        if isinstance(value, _Flattened):
            raise self.fail(node, "it reads a flattened tensor, which only an FC can read here")
        if value is None:
            raise self.fail(node, f"its input '{node.input[index]}' does not come from the image input "
                                  f"through blocks this program has")
        return value

    def inferred(self) -> dict:
        if self._inferred is None:
            self._inferred = inferred_shapes(self.model)
        return self._inferred

    def add(self, type_id: str, params: dict, node, sources: list[str], weights: dict | None = None,
            output: str | None = None) -> str:
        from designer.core.blocks import BLOCK_TYPES, ShapeError
        from designer.core.errors import DesignerError

        name = node.name if node is not None else ""
        block_id = name if BLOCK_ID_PATTERN.fullmatch(name or "-") and name not in self.graph else None
        try:
            block = self.graph.add_block(type_id, params, (0.0, 0.0), block_id)
            for port, source in enumerate(sources):
                self.graph.connect(source, block.id, port)
        except DesignerError as error:
            raise self.fail(node, str(error)) from None
        try:
            self.shapes[block.id] = BLOCK_TYPES[type_id].output_shape(block.params, [self.shapes[s] for s in sources])
        except ShapeError as error:
            raise self.fail(node, str(error)) from None
        if weights:
            self.weights[block.id] = weights
        if node is not None:
            self.values[output or node.output[0]] = block.id
        return block.id

    def only_reader(self, tensor: str):
        readers = self.wiring.readers_of(tensor)
        if len(readers) == 1 and not self.wiring.is_output(tensor):
            return readers[0]
        return None

    # ------------------------------------------------------------------ input

    def read_input(self) -> None:
        from designer.training.evaluation import Normalisation

        source = model_input(self.model, self.wiring)
        name = source.name if BLOCK_ID_PATTERN.fullmatch(source.name) else "input"
        channels, height, width = source.shape
        input_id = self.graph.add_block("Input", {"channels": channels, "height": height, "width": width},
                                        (0.0, 0.0), name).id
        self.shapes[input_id] = source.shape
        tensor = source.name
        if source.integer:
            cast = self.only_reader(tensor)
            if cast is None or cast.op_type != "Cast" or attributes(cast).get("to") != FLOAT:
                raise ExchangeError(f"the model takes integer input '{source.name}' but does not start by "
                                    f"converting it to float32; only that is understood")
            self.skipped.add(id(cast))
            tensor = cast.output[0]
            scale, shift = self.np.ones(channels), self.np.zeros(channels)
            for kind in (("Mul", "Div"), ("Add", "Sub")):
                node = self.only_reader(tensor)
                if node is None or node.op_type not in kind:
                    continue
                operand = self._channel_constant(node, tensor, channels)
                if operand is None:
                    break
                if node.op_type == "Mul":
                    scale, shift = scale * operand, shift * operand
                elif node.op_type == "Div":
                    scale, shift = scale / operand, shift / operand
                else:
                    shift = shift + (operand if node.op_type == "Add" else -operand)
                self.skipped.add(id(node))
                tensor = node.output[0]
            if not all(value > 0 for value in scale):
                raise ExchangeError("the model scales its input pixels by a factor that is not positive; "
                                    "that cannot be a normalisation")
            std = 1.0 / (255.0 * scale)
            self.normalisation = Normalisation(tuple(float(value) for value in -shift * std),
                                               tuple(float(value) for value in std))
        self.values[tensor] = input_id

    def _channel_constant(self, node, data: str, channels: int):
        other = node.input[1] if node.input[0] == data else node.input[0]
        value = self.wiring.constants.get(other)
        if value is None or (node.op_type in ("Div", "Sub") and node.input[0] != data):
            return None
        value = self.np.asarray(value, dtype=self.np.float64)
        if value.size == 1:
            return self.np.full(channels, float(value.reshape(())))
        if value.size == channels and value.reshape(-1).shape[0] == channels and \
                (value.ndim == 1 or value.shape[-2:] == (1, 1)):
            return value.reshape(channels)
        return None

    # ------------------------------------------------------------------ nodes

    def convert(self) -> None:
        self.read_input()  # takes in the Cast, Mul and Add of a raw-pixel model
        unsupported = [node for node in self.model.graph.node if node.op_type not in SUPPORTED
                       and id(node) not in self.plumbing and id(node) not in self.skipped]
        if unsupported:
            listed = ", ".join(f"{node.op_type} (node '{node.name or node.output[0]}')" for node in unsupported[:12])
            more = f" and {len(unsupported) - 12} more" if len(unsupported) > 12 else ""
            raise ExchangeError(f"the model uses operators no block stands for: {listed}{more}; "
                                f"blocks exist for Conv, Gemm, MatMul+Add, Relu, LeakyRelu, Sigmoid, Tanh, "
                                f"Gelu, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization, "
                                f"Dropout, Flatten, Add and Concat")
        for node in self.model.graph.node:
            if id(node) in self.skipped or id(node) in self.plumbing or node.op_type == "Constant":
                continue
            if node.domain not in ("", "ai.onnx"):
                raise self.fail(node, f"it is from the operator set '{node.domain}', not standard ONNX")
            handler = getattr(self, f"on_{node.op_type.lower()}", None)
            if handler is None:
                handler = self.on_activation
            handler(node)
        outputs = [value.name for value in self.model.graph.output]
        if len(outputs) != 1:
            raise ExchangeError(f"the model has {len(outputs)} outputs; a design has one")
        if not isinstance(self.values.get(outputs[0]), str):
            raise ExchangeError(f"the model's output '{outputs[0]}' does not come from a block")

    def on_activation(self, node) -> None:
        values = attributes(node)
        params = {}
        if node.op_type == "LeakyRelu":
            slope = float(values.get("alpha", 0.01))
            if not 0.0 <= slope <= 1.0:
                raise self.fail(node, f"its slope {slope:g} is outside the LeakyReLU block's range 0..1")
            params["negative_slope"] = slope
        if node.op_type == "Gelu" and values.get("approximate", "none") != "none":
            raise self.fail(node, "the tanh approximation of GELU has no block; the GELU block is exact")
        self.add(ACTIVATIONS[node.op_type], params, node, [self.block_of(node)])

    def on_identity(self, node) -> None:
        self.values[node.output[0]] = self.values.get(node.input[0])

    def on_cast(self, node) -> None:
        if attributes(node).get("to") != FLOAT:
            raise self.fail(node, "only a cast to float32 of float32 data is understood")
        self.on_identity(node)

    def on_pad(self, node) -> None:
        reader = self.only_reader(node.output[0])
        if reader is None or reader.op_type != "Conv":
            raise self.fail(node, "padding is understood only right before a convolution")
        # The Conv that reads it takes the padding in.

    def _pad_amounts(self, node) -> list[int]:
        values = attributes(node)
        if values.get("mode", "constant") != "constant":
            raise self.fail(node, f"{values['mode']} padding has no block; only zero padding")
        pads = values.get("pads")
        if pads is None:
            pads = self.constant(node, 1, "padding")
        fill = values.get("value", 0.0)
        if len(node.input) > 2 and node.input[2]:
            fill = self.constant(node, 2, "fill value")
        if float(self.np.asarray(fill).reshape(-1)[0] if self.np.asarray(fill).size else 0.0) != 0.0:
            raise self.fail(node, "padding with a value other than zero has no block")
        if len(node.input) > 3 and node.input[3]:
            raise self.fail(node, "padding of chosen axes is not understood")
        pads = [int(value) for value in pads]
        if len(pads) != 8 or any(pads[index] for index in (0, 1, 4, 5)):
            raise self.fail(node, "only padding of height and width is understood")
        return [pads[2], pads[3], pads[6], pads[7]]

    def on_conv(self, node) -> None:
        values = attributes(node)
        weight = self.constant(node, 1, "weight")
        bias = self.constant(node, 2, "bias")
        data = node.input[0]
        pads = [int(value) for value in values.get("pads", [0, 0, 0, 0])]
        producer = self.wiring.producer.get(data)
        if producer is not None and producer.op_type == "Pad" and id(producer) not in self.skipped:
            extra = self._pad_amounts(producer)
            pads = [pad + more for pad, more in zip(pads, extra)]
            node_input = producer.input[0]
        else:
            node_input = data
        source = self.values.get(node_input)
        if not isinstance(source, str):
            raise self.fail(node, "its input does not come from a block")
        if weight is None or weight.ndim != 4:
            raise self.fail(node, "only 2-D convolutions are understood")
        out_channels, in_channels, kernel_height, kernel_width = weight.shape
        if kernel_height != kernel_width:
            raise self.fail(node, f"its kernel is {kernel_height}×{kernel_width}; blocks have square kernels")
        if int(values.get("group", 1)) != 1 or in_channels != self.shapes[source][0]:
            raise self.fail(node, "grouped (or depthwise) convolution has no block")
        if any(int(value) != 1 for value in values.get("dilations", [1, 1])):
            raise self.fail(node, "dilated convolution has no block")
        strides = [int(value) for value in values.get("strides", [1, 1])]
        if strides[0] != strides[1]:
            raise self.fail(node, f"its strides {strides} differ; blocks use one stride")
        kernel, stride = int(kernel_height), strides[0]
        auto_pad = values.get("auto_pad", "NOTSET")
        same_begin, same_end = (kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            if stride != 1 or (auto_pad == "SAME_LOWER" and kernel % 2 == 0):
                raise self.fail(node, f"auto_pad {auto_pad} with this stride or kernel has no block")
            padding = "same"
        elif len(set(pads)) == 1:
            padding = pads[0]
        elif stride == 1 and pads == [same_begin, same_begin, same_end, same_end]:
            padding = "same"
        else:
            raise self.fail(node, f"uneven padding {pads} has no block")
        params = {"out_channels": int(out_channels), "kernel_size": kernel, "stride": stride,
                  "padding": padding, "bias": bias is not None}
        tensors = {"weight": weight}
        if bias is not None:
            tensors["bias"] = bias.reshape(-1)
        self.add("Conv2d", params, node, [source], tensors)

    def _fc_source(self, node) -> tuple[str, int]:
        """The block an FC reads (the image block when the flatten was the FC's own) and its size."""
        value = self.values.get(node.input[0])
        if isinstance(value, _Flattened):
            source = value.block_id
        elif isinstance(value, str):
            source = value
            if len(self.shapes[source]) != 1:
                raise self.fail(node, "it reads an image without flattening it")
        else:
            raise self.fail(node, "its input does not come from a block")
        return source, math.prod(self.shapes[source])

    def _fc(self, node, weight, bias, output: str) -> None:
        source, in_features = self._fc_source(node)
        if weight.ndim != 2 or weight.shape[1] != in_features:
            raise self.fail(node, f"its weights are {weight.shape} but it reads {in_features} values")
        params = {"out_features": int(weight.shape[0]), "bias": bias is not None}
        tensors = {"weight": weight}
        if bias is not None:
            tensors["bias"] = self.np.broadcast_to(self.np.asarray(bias).reshape(-1), (weight.shape[0],)).copy()
        self.add("FC", params, node, [source], tensors, output=output)

    def on_gemm(self, node) -> None:
        values = attributes(node)
        if int(values.get("transA", 0)):
            raise self.fail(node, "a transposed input (transA) has no block")
        matrix = self.constant(node, 1, "weight")
        bias = self.constant(node, 2, "bias")
        if matrix is None or matrix.ndim != 2:
            raise self.fail(node, "its weight must be a constant matrix")
        weight = matrix if int(values.get("transB", 0)) else matrix.T
        alpha = float(values.get("alpha", 1.0))
        if alpha != 1.0:  # (VGG-16's first FC alone is 400 MB: no copy unless needed)
            weight = weight * alpha
        if bias is not None:
            bias = self.np.asarray(bias, dtype=self.np.float64) * float(values.get("beta", 1.0))
            if bias.size not in (1, weight.shape[0]):
                raise self.fail(node, f"its bias has {bias.size} values for {weight.shape[0]} outputs")
        self._fc(node, weight, bias, node.output[0])

    def on_matmul(self, node) -> None:
        matrix = self.constant(node, 1, "weight")
        if matrix is None or matrix.ndim != 2:
            raise self.fail(node, "only a product with a constant matrix (an FC layer) is understood")
        bias, output = None, node.output[0]
        reader = self.only_reader(node.output[0])
        if reader is not None and reader.op_type == "Add":
            other = reader.input[1] if reader.input[0] == node.output[0] else reader.input[0]
            candidate = self.wiring.constants.get(other)
            if candidate is not None and candidate.size == matrix.shape[1]:
                bias, output = candidate, reader.output[0]
                self.skipped.add(id(reader))
        self._fc(node, matrix.T, bias, output)

    def on_add(self, node) -> None:
        if any(name in self.wiring.constants for name in node.input):
            raise self.fail(node, "adding a constant has no block (only an FC's bias after a MatMul)")
        self.add("Add", {}, node, [self.block_of(node, 0), self.block_of(node, 1)])

    def on_concat(self, node) -> None:
        sources = [self.block_of(node, index) for index in range(len(node.input))]
        rank = len(self.shapes[sources[0]]) + 1
        axis = int(attributes(node).get("axis", 1))
        if axis not in (1, 1 - rank):
            raise self.fail(node, f"joining along axis {axis} has no block; Concat joins channels (axis 1)")
        if len(sources) < 2:
            raise self.fail(node, "a Concat of one input has no block")
        current = sources[0]
        for index, source in enumerate(sources[1:], start=1):
            last = index == len(sources) - 1
            current = self.add("Concat", {}, node if last else _Unnamed(node), [current, source])
        self.values[node.output[0]] = current

    def _pool_geometry(self, node, kernel_shape) -> tuple[int, int, int]:
        values = attributes(node)
        if len(kernel_shape) != 2 or kernel_shape[0] != kernel_shape[1]:
            raise self.fail(node, f"its window {kernel_shape} is not square")
        kernel = int(kernel_shape[0])
        strides = [int(value) for value in values.get("strides", [1, 1])]
        pads = [int(value) for value in values.get("pads", [0, 0, 0, 0])]
        if strides[0] != strides[1] or len(set(pads)) != 1:
            raise self.fail(node, f"uneven strides {strides} or padding {pads} have no block")
        if values.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
            raise self.fail(node, f"auto_pad {values['auto_pad']} has no block")
        if any(int(value) != 1 for value in values.get("dilations", [1, 1])):
            raise self.fail(node, "dilated pooling has no block")
        stride, padding = strides[0], pads[0]
        if int(values.get("ceil_mode", 0)):
            source = self.shapes[self.block_of(node)]
            for size in source[1:]:
                floor = (size + 2 * padding - kernel) // stride + 1
                ceil = -(-(size + 2 * padding - kernel) // stride) + 1
                if floor != ceil:
                    raise self.fail(node, "rounding the output size up (ceil_mode) has no block here")
        return kernel, stride, padding

    def on_maxpool(self, node) -> None:
        if len(node.output) > 1 and node.output[1] and self.wiring.readers_of(node.output[1]):
            raise self.fail(node, "its indices output has no block")
        kernel, stride, padding = self._pool_geometry(node, attributes(node).get("kernel_shape", []))
        self.add("MaxPool2d", {"kernel_size": kernel, "stride": 0 if stride == kernel else stride,
                               "padding": padding}, node, [self.block_of(node)])

    def on_averagepool(self, node) -> None:
        values = attributes(node)
        kernel, stride, padding = self._pool_geometry(node, values.get("kernel_shape", []))
        if padding and not int(values.get("count_include_pad", 0)):
            raise self.fail(node, "averaging that leaves the padding out (count_include_pad 0) has no block")
        self.add("AvgPool2d", {"kernel_size": kernel, "stride": 0 if stride == kernel else stride,
                               "padding": padding}, node, [self.block_of(node)])

    def _global_pool(self, node) -> None:
        """GAP when a flatten follows (taken in), else a square AvgPool to C×1×1."""
        source = self.block_of(node)
        reader = self.only_reader(node.output[0])
        if reader is not None and self._flattens(reader):
            self.skipped.add(id(reader))
            self.add("GAP", {}, node, [source], output=reader.output[0])
            return
        channels, height, width = self.shapes[source]
        if height != width:
            raise self.fail(node, f"global pooling of a {height}×{width} input without a flatten after it has "
                                  f"no block")
        self.add("AvgPool2d", {"kernel_size": height, "stride": 0, "padding": 0}, node, [source])

    def on_globalaveragepool(self, node) -> None:
        self._global_pool(node)

    def on_reducemean(self, node) -> None:
        values = attributes(node)
        axes = values.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.constant(node, 1, "axes").reshape(-1).tolist()
        if axes is None or sorted(int(axis) % 4 for axis in axes) != [2, 3]:
            raise self.fail(node, f"a mean over axes {axes} has no block; only over height and width (GAP)")
        if int(values.get("keepdims", 1)):
            self._global_pool(node)
        else:
            self.add("GAP", {}, node, [self.block_of(node)])

    def on_batchnormalization(self, node) -> None:
        values = attributes(node)
        if int(values.get("training_mode", 0)) or any(self.wiring.readers_of(name) for name in node.output[1:]):
            raise self.fail(node, "batch normalisation in training mode has no block")
        source = self.block_of(node)
        if len(self.shapes[source]) != 3:
            raise self.fail(node, "batch normalisation of a vector has no block (BatchNorm2d needs an image)")
        scale, shift, mean, variance = (self.constant(node, index, what) for index, what in
                                        ((1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")))
        epsilon = float(values.get("epsilon", 1e-5))
        if not math.isclose(epsilon, TORCH_EPSILON, rel_tol=1e-6):
            # (x - mean) / sqrt(var + eps) is the same with var + eps - 1e-5 and torch's 1e-5.
            variance = variance.astype(self.np.float64) + epsilon - TORCH_EPSILON
            self.notes.append(f"{node.name or node.output[0]}: epsilon {epsilon:g} folded into the running variance")
        self.add("BatchNorm2d", {}, node, [source],
                 {"weight": scale, "bias": shift, "running_mean": mean, "running_var": variance})

    def on_dropout(self, node) -> None:
        values = attributes(node)
        ratio = values.get("ratio", 0.5)
        if len(node.input) > 1 and node.input[1]:
            ratio = float(self.constant(node, 1, "ratio").reshape(()))
        if len(node.input) > 2 and node.input[2]:
            mode = self.constant(node, 2, "training mode")
            if bool(mode.reshape(())):
                raise self.fail(node, "dropout in training mode has no block")
        if not 0.0 <= float(ratio) <= 0.99:
            raise self.fail(node, f"a drop probability of {ratio:g} is outside 0..0.99")
        self.add("Dropout", {"p": round(float(ratio), 6)}, node, [self.block_of(node)])

    def _flattens(self, node) -> bool:
        """True when ``node`` turns N×C×H×W (or N×C×1×1) into N×(C·H·W)."""
        if node.op_type == "Flatten":
            return int(attributes(node).get("axis", 1)) == 1
        if node.op_type == "Squeeze":
            axes = attributes(node).get("axes")
            if axes is None and len(node.input) > 1 and node.input[1]:
                axes = self.wiring.constants.get(node.input[1])
                axes = None if axes is None else axes.reshape(-1).tolist()
            return axes is not None and sorted(int(axis) % 4 for axis in axes) == [2, 3]
        if node.op_type == "Reshape":
            target = self.wiring.constants.get(node.input[1]) if len(node.input) > 1 else None
            if target is not None:
                target = [int(value) for value in target.reshape(-1)]
                return len(target) == 2 and (target[1] == -1 or target[0] in (-1, 0, 1) or target[1] > 0)
            shape = self.inferred().get(node.output[0])
            return shape is not None and len(shape) == 2
        return False

    def on_flatten(self, node) -> None:
        if not self._flattens(node):
            raise self.fail(node, "only flattening everything after the batch axis has a block")
        source = self.block_of(node)
        if node.op_type == "Reshape":
            target = self.wiring.constants.get(node.input[1])
            size = math.prod(self.shapes[source])
            if target is not None and int(target.reshape(-1)[1]) not in (-1, size):
                raise self.fail(node, f"a reshape to {target.reshape(-1).tolist()} is not a flatten of "
                                      f"{size} values")
        reader = self.only_reader(node.output[0])
        own = reader is not None and reader.op_type in ("Gemm", "MatMul") and reader.name and \
            node.name.startswith(reader.name + "/")
        if own and len(self.shapes[source]) == 3:
            self.values[node.output[0]] = _Flattened(source)
        else:
            self.add("Flatten", {}, node, [source])

    on_reshape = on_flatten

    def on_squeeze(self, node) -> None:
        if not self._flattens(node):
            raise self.fail(node, "only squeezing height and width away (after a global pooling) is understood")
        self.on_flatten(node)


class _Unnamed:
    """Stands for a node when one ONNX node makes several blocks (all but the last get new ids)."""

    def __init__(self, node) -> None:
        self.name = ""
        self.op_type = node.op_type
        self.output = [f"{node.output[0]}#part"]
