"""The block catalogue: one declarative record per block type, keyed by a stable string id.

The palette, the inspector, the analysis, the file reader, the torch builder, the graph
transforms and the training dock's checks are all driven from ``BLOCK_TYPES``: each entry
says what the block is (label, category, the names people search for), how it is drawn
and named (summary text, id prefix) and what it does to a tensor (shape, counts, stride,
whether it is fully connected or acts on each value alone). Adding a block type means
adding one ``BlockType`` here and its torch constructor in ``designer.nn.builder``
(``tests/nn/test_catalogue.py`` fails when either is missing).

Shapes are tuples of ints: ``(C, H, W)`` for an image-like tensor, ``(N,)`` for a vector;
the batch dimension is never part of a shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from designer.core.errors import ParameterError, UnknownBlockTypeError, excerpt

Shape = tuple[int, ...]

SAME = "same"  # the one non-integer value a padding parameter accepts


class ShapeError(Exception):
    """Raised by a block type's shape function; the analysis turns it into a block error."""


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a block type.

    kind is "int", "float", "bool", "choice" or "padding" (an int >= 0 or "same").
    """

    name: str
    kind: str
    default: Any
    label: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""

    @property
    def display_label(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def validate(self, value: Any, where: str = "") -> Any:
        """Return ``value`` normalised to this spec's type, or raise ``ParameterError``."""
        prefix = f"{where}: " if where else ""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ParameterError(f"{prefix}'{self.name}' must be true or false, not {_show(value)}")
        if self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise ParameterError(
                f"{prefix}'{self.name}' must be one of {', '.join(self.choices)}, not {_show(value)}"
            )
        if self.kind == "padding" and value == SAME:
            return SAME
        if self.kind in ("int", "padding"):
            # bool is an int subclass in Python; a checkbox value is never a valid size.
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                extra = " or \"same\"" if self.kind == "padding" else ""
                raise ParameterError(f"{prefix}'{self.name}' must be a whole number{extra}, not {_show(value)}")
            if isinstance(value, float):
                if not math.isfinite(value) or not value.is_integer():
                    raise ParameterError(f"{prefix}'{self.name}' must be a whole number, not {_show(value)}")
                value = int(value)
        elif self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParameterError(f"{prefix}'{self.name}' must be a number, not {_show(value)}")
            try:
                value = float(value)
            except OverflowError:  # an int too large for a float (a file may hold one)
                value = math.inf
            if not math.isfinite(value):
                raise ParameterError(f"{prefix}'{self.name}' must be a finite number, not {value!r}")
        else:  # pragma: no cover - a programming error in the catalogue
            raise ValueError(f"unknown parameter kind {self.kind!r}")
        if self.minimum is not None and value < self.minimum:
            raise ParameterError(f"{prefix}'{self.name}' must be at least {self.minimum:g}, not {_show(value)}")
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(f"{prefix}'{self.name}' must be at most {self.maximum:g}, not {_show(value)}")
        return value


def _show(value: Any) -> str:
    """A value for an error message; never fails and never floods the message.

    ``format(10**400, "g")`` raises OverflowError and ``str(10**5000)`` raises ValueError,
    and a file can hold such numbers, so ints are shown by magnitude past 15 digits.
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        return f"{'-' if value < 0 else ''}a number of about {abs(value).bit_length() * 0.30103:.0f} digits"
    if isinstance(value, float):
        return f"{value:g}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


ShapeFunction = Callable[[dict, list], Shape]
CountFunction = Callable[[dict, list, Shape], tuple[int, int]]
MacFunction = Callable[[dict, list, Shape], int]
StrideFunction = Callable[[dict], int]
SummaryFunction = Callable[[dict], str]


def _no_parameters(params: dict, inputs: list, output: Shape) -> tuple[int, int]:
    return 0, 0


def _no_macs(params: dict, inputs: list, output: Shape) -> int:
    return 0


def _no_stride(params: dict) -> int:
    return 1


@dataclass(frozen=True)
class BlockType:
    id: str
    label: str
    category: str
    params: tuple[ParamSpec, ...]
    inputs: int  # number of input ports (0 for Input)
    output_shape: ShapeFunction
    parameter_count: CountFunction = _no_parameters
    macs: MacFunction = _no_macs
    description: str = ""
    #: other names people know the block by (PyTorch, Keras, MATLAB), for the palette's filter
    aliases: tuple[str, ...] = ()
    #: start of the ids of new blocks ("conv" → conv1, conv2); the type id in lower case when empty
    id_prefix: str = ""
    #: the text the block shows on the canvas, from its parameters; the label when None
    summary: SummaryFunction | None = None
    #: "fully connected" in the article's sense: every output sees every input
    fully_connected: bool = False
    #: acts on each value on its own (activations, Dropout): any tensor shape passes through
    elementwise: bool = False
    #: turns a C×H×W tensor into a feature vector, with no weights (Flatten, GAP)
    makes_vector: bool = False
    #: the parameter that sets how many values come out (FC's neurons, Conv's filters):
    #: what to change so the network outputs one score per class
    width_param: str | None = None
    #: input pixels between neighbouring outputs (1 for blocks that keep the size)
    stride: StrideFunction = _no_stride
    spec_by_name: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec_by_name", {spec.name: spec for spec in self.params})
        if not self.id_prefix:
            object.__setattr__(self, "id_prefix", self.id.lower())

    @property
    def is_input(self) -> bool:
        """The design's Input: the one block type that reads no other block."""
        return self.inputs == 0

    @property
    def is_activation(self) -> bool:
        return self.category == _ACTIVATION

    def summary_text(self, params: dict) -> str:
        return self.summary(params) if self.summary is not None else self.label

    def default_params(self) -> dict:
        return {spec.name: spec.default for spec in self.params}

    def normalise_params(self, params: dict | None, where: str = "") -> dict:
        """Defaults filled in, every value validated; unknown names are an error."""
        result = self.default_params()
        for name, value in (params or {}).items():
            spec = self.spec_by_name.get(name)
            if spec is None:
                known = ", ".join(self.spec_by_name) or "none"
                raise ParameterError(
                    f"{where + ': ' if where else ''}{self.id} has no parameter {excerpt(name)} (known: {known})"
                )
            result[name] = spec.validate(value, where)
        return result


# --------------------------------------------------------------------------- shapes


def _image(inputs: list, what: str) -> Shape:
    shape = inputs[0]
    if len(shape) != 3:
        raise ShapeError(f"{what} needs a C×H×W input, got {format_shape(shape)}; remove the Flatten/FC before it")
    return shape


def _window_output(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _conv_shape(params: dict, inputs: list) -> Shape:
    channels, height, width = _image(inputs, "Conv2d")
    kernel, stride, padding = params["kernel_size"], params["stride"], params["padding"]
    if padding == SAME:
        if stride != 1:
            raise ShapeError("padding \"same\" needs stride 1; use a number for a strided convolution")
        return (params["out_channels"], height, width)
    out_height = _window_output(height, kernel, stride, padding)
    out_width = _window_output(width, kernel, stride, padding)
    if out_height < 1 or out_width < 1:
        raise ShapeError(
            f"kernel {kernel}×{kernel} does not fit the {height}×{width} input "
            f"(padding {padding}); use a smaller kernel or more padding"
        )
    return (params["out_channels"], out_height, out_width)


def _conv_parameters(params: dict, inputs: list, output: Shape) -> tuple[int, int]:
    in_channels = inputs[0][0]
    weights = params["out_channels"] * in_channels * params["kernel_size"] ** 2
    return weights, params["out_channels"] if params["bias"] else 0


def _conv_macs(params: dict, inputs: list, output: Shape) -> int:
    in_channels = inputs[0][0]
    return output[0] * output[1] * output[2] * in_channels * params["kernel_size"] ** 2


def _pool_shape(name: str) -> ShapeFunction:
    def shape(params: dict, inputs: list) -> Shape:
        channels, height, width = _image(inputs, name)
        kernel, padding = params["kernel_size"], params["padding"]
        stride = params["stride"] or kernel
        if padding * 2 > kernel:
            raise ShapeError(f"padding {padding} is more than half the kernel {kernel}; torch refuses it")
        out_height = _window_output(height, kernel, stride, padding)
        out_width = _window_output(width, kernel, stride, padding)
        if out_height < 1 or out_width < 1:
            raise ShapeError(f"window {kernel}×{kernel} does not fit the {height}×{width} input")
        return (channels, out_height, out_width)

    return shape


def _same_shape(params: dict, inputs: list) -> Shape:
    return inputs[0]


def _batchnorm_shape(params: dict, inputs: list) -> Shape:
    return _image(inputs, "BatchNorm2d")


def _batchnorm_parameters(params: dict, inputs: list, output: Shape) -> tuple[int, int]:
    # gamma counts as weights, beta as biases; running mean/var are buffers, not parameters.
    return inputs[0][0], inputs[0][0]


def _flatten_shape(params: dict, inputs: list) -> Shape:
    return (math.prod(inputs[0]),)


def _fc_shape(params: dict, inputs: list) -> Shape:
    return (params["out_features"],)


def _fc_parameters(params: dict, inputs: list, output: Shape) -> tuple[int, int]:
    in_features = math.prod(inputs[0])
    return in_features * params["out_features"], params["out_features"] if params["bias"] else 0


def _fc_macs(params: dict, inputs: list, output: Shape) -> int:
    return math.prod(inputs[0]) * params["out_features"]


def _gap_shape(params: dict, inputs: list) -> Shape:
    channels, _, _ = _image(inputs, "GAP")
    return (channels,)


def _add_shape(params: dict, inputs: list) -> Shape:
    first, second = inputs
    if first != second:
        raise ShapeError(f"Add needs equal shapes, got {format_shape(first)} and {format_shape(second)}")
    return first


def _concat_shape(params: dict, inputs: list) -> Shape:
    first, second = inputs
    if len(first) != len(second):
        raise ShapeError(f"Concat needs two images or two vectors, got {format_shape(first)} and {format_shape(second)}")
    if first[1:] != second[1:]:
        raise ShapeError(
            f"Concat joins along channels, so sizes must match: {format_shape(first)} and {format_shape(second)}"
        )
    return (first[0] + second[0],) + tuple(first[1:])


def _input_shape(params: dict, inputs: list) -> Shape:
    return (params["channels"], params["height"], params["width"])


def _window_stride(params: dict) -> int:
    return params["stride"] or params["kernel_size"]  # a pool's stride 0 means "the kernel size"


def _conv_summary(params: dict) -> str:
    kernel = params["kernel_size"]
    text = f"Conv {kernel}×{kernel}, {params['out_channels']}"
    return text + (f" /{params['stride']}" if params["stride"] != 1 else "")


def _pool_summary(label: str) -> SummaryFunction:
    def summary(params: dict) -> str:
        kernel, stride = params["kernel_size"], params["stride"]
        text = f"{label} {kernel}×{kernel}"
        return text + (f" /{stride}" if stride not in (0, kernel) else "")  # 0: the stride is the kernel size

    return summary


def format_shape(shape: Shape | None) -> str:
    if shape is None:
        return "?"
    return "×".join(str(size) for size in shape)


# --------------------------------------------------------------------------- catalogue

_SIZE = 65536  # generous upper bound on any one dimension; keeps counts finite and files sane


def _int(name: str, default: int, minimum: int, maximum: int, label: str = "", help: str = "") -> ParamSpec:
    return ParamSpec(name, "int", default, label=label, minimum=minimum, maximum=maximum, help=help)


_ACTIVATION = "Activation"

_CATALOGUE = (
    BlockType(
        "Input", "Input", "Input",
        (
            _int("channels", 1, 1, 4096),
            _int("height", 28, 1, _SIZE),
            _int("width", 28, 1, _SIZE),
        ),
        inputs=0, output_shape=_input_shape,
        description="The image the network sees: channels × height × width.",
        aliases=("input layer", "image", "InputLayer", "imageInputLayer", "placeholder"),
        summary=lambda params: f"Input {params['channels']}×{params['height']}×{params['width']}",
    ),
    BlockType(
        "Conv2d", "Conv", "Convolution",
        (
            _int("out_channels", 16, 1, _SIZE, "Filters"),
            _int("kernel_size", 3, 1, 1024, "Kernel"),
            _int("stride", 1, 1, 1024),
            ParamSpec("padding", "padding", 0, minimum=0, maximum=1024,
                      help="Pixels added on each side, or \"same\" to keep the size (stride 1)."),
            ParamSpec("bias", "bool", True),
        ),
        inputs=1, output_shape=_conv_shape, parameter_count=_conv_parameters, macs=_conv_macs,
        description="2-D convolution: out_channels filters of kernel×kernel×in_channels.",
        aliases=("convolution", "nn.Conv2d", "Conv2D", "convolution2dLayer", "filters"),
        id_prefix="conv", summary=_conv_summary, width_param="out_channels",
        stride=lambda params: params["stride"],
    ),
    BlockType("ReLU", "ReLU", _ACTIVATION, (), 1, _same_shape, description="max(0, x)",
              aliases=("rectifier", "rectified linear unit", "nn.ReLU", "reluLayer"), elementwise=True),
    BlockType(
        "LeakyReLU", "LeakyReLU", _ACTIVATION,
        (ParamSpec("negative_slope", "float", 0.01, minimum=0.0, maximum=1.0),),
        1, _same_shape, description="x for x > 0, slope·x otherwise",
        aliases=("leaky rectifier", "nn.LeakyReLU", "leakyReluLayer"), elementwise=True,
        summary=lambda params: f"LeakyReLU {params['negative_slope']:g}",
    ),
    BlockType("Sigmoid", "Sigmoid", _ACTIVATION, (), 1, _same_shape, description="1 / (1 + e^-x)",
              aliases=("logistic", "nn.Sigmoid", "sigmoidLayer"), elementwise=True),
    BlockType("Tanh", "Tanh", _ACTIVATION, (), 1, _same_shape, description="tanh(x)",
              aliases=("hyperbolic tangent", "nn.Tanh", "tanhLayer"), elementwise=True),
    BlockType("GELU", "GELU", _ACTIVATION, (), 1, _same_shape, description="x·Φ(x)",
              aliases=("gaussian error linear unit", "nn.GELU", "geluLayer"), elementwise=True),
    BlockType(
        "MaxPool2d", "MaxPool", "Pooling",
        (
            _int("kernel_size", 2, 1, 1024, "Kernel"),
            _int("stride", 0, 0, 1024, help="0 means the kernel size"),
            _int("padding", 0, 0, 512),
        ),
        1, _pool_shape("MaxPool2d"), description="Keeps the largest value in each window.",
        aliases=("max pooling", "nn.MaxPool2d", "MaxPooling2D", "maxPooling2dLayer", "subsampling"),
        id_prefix="maxpool", summary=_pool_summary("MaxPool"), stride=_window_stride,
    ),
    BlockType(
        "AvgPool2d", "AvgPool", "Pooling",
        (
            _int("kernel_size", 2, 1, 1024, "Kernel"),
            _int("stride", 0, 0, 1024, help="0 means the kernel size"),
            _int("padding", 0, 0, 512),
        ),
        1, _pool_shape("AvgPool2d"), description="Averages each window.",
        aliases=("average pooling", "mean pooling", "nn.AvgPool2d", "AveragePooling2D", "averagePooling2dLayer"),
        id_prefix="avgpool", summary=_pool_summary("AvgPool"), stride=_window_stride,
    ),
    BlockType(
        "GAP", "GAP", "Pooling", (), 1, _gap_shape,
        description="Global average pooling: one number per channel (C×H×W → C).",
        aliases=("global average pooling", "nn.AdaptiveAvgPool2d", "AdaptiveAvgPool2d",
                 "GlobalAveragePooling2D", "globalAveragePooling2dLayer"),
        makes_vector=True,
    ),
    BlockType(
        "BatchNorm2d", "BatchNorm", "Normalisation & regularisation", (), 1, _batchnorm_shape,
        parameter_count=_batchnorm_parameters,
        description="Normalises each channel over the batch; learns a scale and a shift.",
        aliases=("batch normalization", "batch normalisation", "nn.BatchNorm2d", "BatchNormalization",
                 "batchNormalizationLayer"),
        id_prefix="bn",
    ),
    BlockType(
        "Dropout", "Dropout", "Normalisation & regularisation",
        (ParamSpec("p", "float", 0.5, label="Drop probability", minimum=0.0, maximum=0.99),),
        1, _same_shape, description="Zeroes a random fraction p of values while training.",
        aliases=("nn.Dropout", "dropoutLayer"), elementwise=True,
        summary=lambda params: f"Dropout {params['p']:g}",
    ),
    BlockType("Flatten", "Flatten", "Fully connected", (), 1, _flatten_shape,
              description="C×H×W → C·H·W", aliases=("nn.Flatten", "reshape", "flattenLayer"), makes_vector=True),
    BlockType(
        "FC", "FC", "Fully connected",
        (_int("out_features", 10, 1, 1 << 20, "Neurons"), ParamSpec("bias", "bool", True)),
        1, _fc_shape, parameter_count=_fc_parameters, macs=_fc_macs,
        description="Fully connected: every output sees every input (flattens C×H×W itself).",
        aliases=("linear", "dense", "fully connected", "fullyConnected", "nn.Linear", "Dense",
                 "fullyConnectedLayer", "inner product", "InnerProduct", "perceptron", "MLP"),
        summary=lambda params: f"FC {params['out_features']}",
        fully_connected=True, width_param="out_features",
    ),
    BlockType("Add", "Add", "Merge", (), 2, _add_shape, description="Element-wise sum of two equal shapes.",
              aliases=("sum", "residual", "skip connection", "additionLayer")),
    BlockType("Concat", "Concat", "Merge", (), 2, _concat_shape,
              description="Joins two tensors along channels.",
              aliases=("concatenate", "torch.cat", "Concatenate", "concatenationLayer", "depthConcatenationLayer")),
)

BLOCK_TYPES: dict[str, BlockType] = {block_type.id: block_type for block_type in _CATALOGUE}

CATEGORIES: tuple[str, ...] = (
    "Input",
    "Convolution",
    "Activation",
    "Pooling",
    "Fully connected",
    "Normalisation & regularisation",
    "Merge",
)

def _ids(wanted: Callable[[BlockType], bool]) -> frozenset[str]:
    return frozenset(entry.id for entry in _CATALOGUE if wanted(entry))


#: what each kind of code asks of the catalogue, as sets of type ids
FC_TYPES = _ids(lambda entry: entry.fully_connected)
ACTIVATION_TYPES = _ids(lambda entry: entry.is_activation)
ELEMENTWISE_TYPES = _ids(lambda entry: entry.elementwise)
VECTOR_TYPES = _ids(lambda entry: entry.makes_vector)


def is_fully_connected(type_id: str) -> bool:
    """The one way to ask whether a block is fully connected (FC) in the article's sense."""
    entry = BLOCK_TYPES.get(type_id)
    return entry is not None and entry.fully_connected


def types_in_category(category: str) -> tuple[str, ...]:
    """Type ids of one palette category, in catalogue order."""
    return tuple(entry.id for entry in _CATALOGUE if entry.category == category)


def block_type(type_id: str) -> BlockType:
    try:
        return BLOCK_TYPES[type_id]
    except KeyError:
        raise UnknownBlockTypeError(
            f"unknown block type {excerpt(type_id)} (known: {', '.join(BLOCK_TYPES)})"
        ) from None


def summary_label(type_id: str, params: dict) -> str:
    """The short text a block shows on the canvas, e.g. ``Conv 3×3, 64`` or ``FC 4096``."""
    return BLOCK_TYPES[type_id].summary_text(params)
