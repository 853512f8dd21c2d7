"""A design as a standalone PyTorch folder a person reads, runs and trains without this program.

The folder holds:

- ``model.py``, generated here: one ``nn.Module`` class named after the design, one attribute
  per block (named by its id), a ``forward()`` that follows the wires, output shapes and
  parameter counts as comments;
- ``train.py``, ``data.py`` and ``README.md`` from ``templates/`` (train.py with the
  settings of the run the weights came from written into its SETTINGS block);
- ``distributed.py``, a verbatim copy of ``designer/training/distributed.py``, the one
  data-parallel implementation of the program;
- ``weights.pt`` (a state_dict for model.py) and ``weights.json`` (the normalisation the
  weights expect, the class names) when there are trained weights.

Generated code imports only torch (and the templates numpy); the same design and weights
give the same bytes, since nothing depends on the time or the machine.
"""

from __future__ import annotations

import keyword
import re
import string
import textwrap
from dataclasses import dataclass
from pathlib import Path

from designer.core import SAME, Graph, analyze
from designer.exchange.errors import ExchangeError
from designer.exchange.output import staged_folder, write_file

TEMPLATES = Path(__file__).resolve().parent / "templates"
DISTRIBUTED_SOURCE = Path(__file__).resolve().parents[1] / "training" / "distributed.py"
LINE_LENGTH = 79
#: blocks that are expressions in forward() instead of attributes (they hold no state)
INLINE_TYPES = frozenset({"Input", "GAP", "Add", "Concat"})
#: names a block attribute must not take: nn.Module's own attributes and forward()'s names
_MODULE_ATTRIBUTES = None


def _module_attributes() -> frozenset[str]:
    global _MODULE_ATTRIBUTES
    if _MODULE_ATTRIBUTES is None:
        from torch import nn

        _MODULE_ATTRIBUTES = frozenset(dir(nn.Module())) | {"input_shape"}
    return _MODULE_ATTRIBUTES


def class_name(design_name: str) -> str:
    """A Python class name from a design's name: "LeNet-5" → LeNet5, "VGG-16" → VGG16."""
    words = re.findall(r"[A-Za-z0-9]+", design_name.replace("×", "x"))
    name = "".join(word[0].upper() + word[1:] for word in words)
    if not name:
        return "Network"
    if name[0].isdigit():
        name = "Net" + name
    return name + "Net" if keyword.iskeyword(name) else name


def attribute_names(graph: Graph) -> dict[str, str]:
    """Block id → the Python name of its attribute (and of its saved value in forward()).

    Usually the id itself; '-' becomes '_', and a keyword or a name nn.Module already has
    (``train``, ``forward``) gets a trailing '_'. Clashes between the results get a number.
    """
    reserved = _module_attributes() | {"x", "self", "torch", "nn", "Model"}
    names: dict[str, str] = {}
    taken: set[str] = set()
    for block_id in graph.topological_order():
        name = block_id.replace("-", "_")
        if keyword.iskeyword(name) or name in reserved or name.startswith("__"):
            name += "_"
        base, number = name, 2
        while name in taken:
            name, number = f"{base}_{number}", number + 1
        taken.add(name)
        names[block_id] = name
    return names


def _shape(shape) -> str:
    return "x".join(str(size) for size in shape)


def _float(value: float) -> str:
    return repr(float(value))


def _constructor(block, input_shape) -> tuple[str, list[str]]:
    """The nn class and arguments of a block that becomes an attribute."""
    params = block.params
    kind = block.type_id
    if kind == "Conv2d":
        arguments = [str(input_shape[0]), str(params["out_channels"]), f"kernel_size={params['kernel_size']}"]
        if params["stride"] != 1:
            arguments.append(f"stride={params['stride']}")
        if params["padding"] == SAME:
            arguments.append('padding="same"')
        elif params["padding"] != 0:
            arguments.append(f"padding={params['padding']}")
        if not params["bias"]:
            arguments.append("bias=False")
        return "nn.Conv2d", arguments
    if kind in ("MaxPool2d", "AvgPool2d"):
        kernel = params["kernel_size"]
        arguments = [str(kernel)]
        stride = params["stride"] or kernel
        if stride != kernel:
            arguments.append(f"stride={stride}")
        if params["padding"]:
            arguments.append(f"padding={params['padding']}")
        return f"nn.{kind}", arguments
    if kind == "FC":
        in_features = 1
        for size in input_shape:
            in_features *= size
        return "nn.Linear", [str(in_features), str(params["out_features"])] + ([] if params["bias"] else ["bias=False"])
    if kind == "BatchNorm2d":
        return "nn.BatchNorm2d", [str(input_shape[0])]
    if kind == "Dropout":
        return "nn.Dropout", [_float(params["p"])]
    if kind == "LeakyReLU":
        return "nn.LeakyReLU", [_float(params["negative_slope"])]
    if kind in ("ReLU", "Sigmoid", "Tanh", "GELU", "Flatten"):
        return f"nn.{kind}", []
    raise ExchangeError(f"block type {kind} has no PyTorch export")  # pragma: no cover - catalogue grew


def _call_lines(indent: int, opening: str, arguments: list[str], closing: str = ")",
                comment: str = "") -> list[str]:
    """``opening`` + arguments + ``closing`` in lines of at most LINE_LENGTH characters.

    The arguments move to continuation lines when one line is too long; a first line that
    cannot be shortened (a block id of 60 characters) is marked for the style checker.
    """
    pad = " " * indent
    single = pad + opening + ", ".join(arguments) + closing
    if comment and len(single) + 2 + len(comment) <= LINE_LENGTH:
        return [f"{single}  {comment}"]
    lines = [f"{pad}{comment}"] if comment else []
    if len(single) <= LINE_LENGTH:
        return lines + [single]
    first = pad + opening
    inner = " " * (indent + 4)
    body: list[str] = []
    current = ""
    for index, argument in enumerate(arguments):
        piece = argument + ("," if index < len(arguments) - 1 else closing)
        if current and len(inner + current + " " + piece) > LINE_LENGTH:
            body.append(inner + current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    body.append(inner + current)
    if len(first) > LINE_LENGTH:
        first += "  # noqa: E501"
    return lines + [first] + body


def _comment_lines(indent: int, text: str) -> list[str]:
    pad = " " * indent + "# "
    return textwrap.wrap(text, LINE_LENGTH, initial_indent=pad, subsequent_indent=pad,
                         break_long_words=True)


def _docstring_lines(indent: int, text: str) -> list[str]:
    pad = " " * indent
    if len(pad) + len(text) + 6 <= LINE_LENGTH:
        return [f'{pad}"""{text}"""']
    wrapped = textwrap.wrap(text, LINE_LENGTH - indent - 3)
    return [f'{pad}"""{wrapped[0]}'] + [pad + line for line in wrapped[1:]] + [f'{pad}"""']


def _docstring_text(text: str) -> str:
    """Free text made safe inside a triple-quoted docstring."""
    text = "".join(character if character.isprintable() or character == "\n" else " " for character in text)
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


@dataclass(frozen=True)
class _Plan:
    """Where forward() keeps each block's output: in ``x`` or in a named variable."""

    variable: dict[str, str]

    @classmethod
    def of(cls, graph: Graph, order: list[str], names: dict[str, str]) -> "_Plan":
        variable: dict[str, str] = {}
        for position, block_id in enumerate(order):
            consumers = [edge.target for edge in graph.output_edges(block_id)]
            following = order[position + 1] if position + 1 < len(order) else None
            if not consumers or (len(consumers) == 1 and consumers[0] == following):
                variable[block_id] = "x"
            else:
                variable[block_id] = names[block_id]
        return cls(variable)


def model_source(graph: Graph) -> str:
    """The text of model.py for a valid design."""
    analysis = analyze(graph)
    if not analysis.valid:
        from designer.nn.builder import describe_problems

        raise ExchangeError(describe_problems(analysis))
    order = graph.topological_order()
    names = attribute_names(graph)
    reports = analysis.reports
    input_id = graph.inputs()[0]
    input_shape = reports[input_id].output_shape
    output_shape = analysis.output_shape
    name = class_name(graph.name)
    sources = {block_id: graph.predecessors(block_id) for block_id in order}

    header = textwrap.wrap(f"{_docstring_text(graph.name)} as a PyTorch module, exported from Network "
                           f"Designer.", LINE_LENGTH - 3) + [""]
    if graph.description.strip():
        for paragraph in _docstring_text(graph.description.strip()).split("\n"):
            header += textwrap.wrap(paragraph, LINE_LENGTH, break_long_words=False) or [""]
        header.append("")
    fc_text = (f", {analysis.fc_params:,} of them ({analysis.fc_share:.1%}) in FC layers"
               if analysis.fc_params else "")
    output_text = (f"{output_shape[0]} class scores (logits)" if len(output_shape) == 1
                   else f"a tensor of {_shape(output_shape)}")
    header += textwrap.wrap(
        f"Input: images of {_shape(input_shape)} (channels x height x width), normalised as "
        f"train.py does. Output: {output_text}. {analysis.total_params:,} parameters{fc_text}; "
        f"{analysis.total_macs:,} multiply-accumulates per image.", LINE_LENGTH)
    lines = ['"""' + header[0]] + header[1:] + ['"""', "", "import torch", "from torch import nn", "", ""]
    lines += [f"class {name}(nn.Module):"]
    lines += _docstring_lines(4, f"{_docstring_text(graph.name)}: one attribute per block of the design.")
    lines.append("")
    lines += [f"    input_shape = ({', '.join(str(size) for size in input_shape)})", ""]
    lines += ["    def __init__(self):", "        super().__init__()"]
    for block_id in order:
        block = graph.block(block_id)
        if block.type_id in INLINE_TYPES:
            continue
        report = reports[block_id]
        in_shape = reports[sources[block_id][0]].output_shape
        description = f"-> {_shape(report.output_shape)}"
        if report.params:
            description += f", {report.params:,} parameters"
            if block.type_id == "FC":
                description += " (FC)"
        if names[block_id] != block_id:
            description = f"block '{block_id}' {description}"
        lines += _comment_lines(8, description)
        callee, arguments = _constructor(block, in_shape)
        lines += _call_lines(8, f"self.{names[block_id]} = {callee}(", arguments)

    plan = _Plan.of(graph, order, names)
    lines += ["", "    def forward(self, x):"]
    for block_id in order:
        block = graph.block(block_id)
        target = plan.variable[block_id]
        shape = _shape(reports[block_id].output_shape)
        inputs = [plan.variable[source] for source in sources[block_id]]
        if block.type_id == "Input":
            if target != "x":
                lines.append(f"        {target} = x")
            continue
        if block.type_id == "GAP":
            lines += _call_lines(8, f"{target} = {inputs[0]}.mean(", ["dim=(2, 3)"],
                                 comment=f"# {block_id}: global average pooling -> {shape}")
        elif block.type_id == "Add":
            lines += _call_lines(8, f"{target} = ", [f"{inputs[0]} + {inputs[1]}"], closing="",
                                 comment=f"# {block_id} -> {shape}")
        elif block.type_id == "Concat":
            lines += _call_lines(8, f"{target} = torch.cat(", [f"({inputs[0]}", f"{inputs[1]})", "dim=1"],
                                 comment=f"# {block_id} -> {shape}")
        elif block.type_id == "FC" and len(reports[sources[block_id][0]].output_shape) > 1:
            lines += _call_lines(8, f"{target} = self.{names[block_id]}(", [f"torch.flatten({inputs[0]}, 1)"],
                                 comment=f"# -> {shape}")
        else:
            lines += _call_lines(8, f"{target} = self.{names[block_id]}(", inputs, comment=f"# -> {shape}")
    lines += ["        return x", "", ""]
    lines += ["# The name train.py imports.", f"Model = {name}", "", ""]
    lines += [
        'if __name__ == "__main__":',
        "    model = Model().eval()",
        "    count = sum(parameter.numel() for parameter in model.parameters())",
        "    with torch.no_grad():",
        "        output = model(torch.zeros(1, *Model.input_shape))",
        '    print(f"{Model.__name__}: {count:,} parameters, "',
        '          f"output {tuple(output.shape[1:])} for an input of "',
        '          f"{Model.input_shape}")',
    ]
    return "\n".join(lines) + "\n"


def export_state_dict(graph: Graph, module) -> dict:
    """The module's tensors under model.py's names (``fc1.weight``, not ``blocks.fc1.1.weight``)."""
    names = attribute_names(graph)
    state = {}
    for block_id in graph.topological_order():
        block = graph.block(block_id)
        if block.type_id in INLINE_TYPES:
            continue
        layer = module.blocks[block_id]
        if block.type_id == "FC" and hasattr(layer, "__getitem__"):
            layer = layer[1]  # the builder's Sequential(Flatten, Linear); model.py flattens in forward()
        for key, value in layer.state_dict().items():
            state[f"{names[block_id]}.{key}"] = value.detach().cpu().clone()
    return state


def _settings_literal(settings: dict) -> str:
    lines = ["SETTINGS = {"]
    for key, value in settings.items():
        text = f"    {key!r}: {value!r},"
        if len(text) > LINE_LENGTH and isinstance(value, (list, tuple)):
            lines.append(f"    {key!r}: [")
            lines += [f"        {item!r}," for item in value]
            lines.append("    ],")
        else:
            lines.append(text)
    lines.append("}")
    return "\n".join(lines)


def train_settings(graph: Graph, weights=None) -> dict:
    """SETTINGS of train.py: the run the weights came from, else the program's defaults."""
    from designer.training.records import TrainConfig

    config = getattr(weights, "config", None) or TrainConfig()
    class_names = list(getattr(weights, "class_names", ()) or ())
    if not class_names:
        output = analyze(graph).output_shape
        class_names = [str(index) for index in range(output[0])] if output and len(output) == 1 else []
    return {
        "dataset": config.dataset,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "optimizer": config.optimizer,
        "learning_rate": config.learning_rate,
        "momentum": config.momentum,
        "weight_decay": config.weight_decay,
        "validation_fraction": config.validation_fraction,
        "seed": config.seed,
        "class_names": class_names,
    }


def train_source(settings: dict) -> str:
    template = (TEMPLATES / "train.py").read_text(encoding="utf-8")
    pattern = re.compile(r"(# BEGIN SETTINGS[^\n]*\n).*?(\n# END SETTINGS)", re.DOTALL)
    if not pattern.search(template):  # pragma: no cover - the template is part of the program
        raise ExchangeError("templates/train.py has lost its SETTINGS markers")
    return pattern.sub(lambda match: match.group(1) + _settings_literal(settings) + match.group(2), template)


def readme_source(graph: Graph, settings: dict, weights=None) -> str:
    analysis = analyze(graph)
    trained = weights is not None and weights.trained
    template = string.Template((TEMPLATES / "README.md").read_text(encoding="utf-8"))
    return template.substitute(
        name=graph.name,
        class_name=class_name(graph.name),
        input_shape=_shape(analysis.reports[graph.inputs()[0]].output_shape),
        input_shape_args=", ".join(str(size) for size in analysis.reports[graph.inputs()[0]].output_shape),
        parameters=f"{analysis.total_params:,}",
        dataset=settings["dataset"],
        epochs=settings["epochs"],
        weights=(f"`weights.pt` holds the {weights.describe()}; `weights.json` the normalisation "
                 f"they expect and the class names." if trained else
                 "This export has no trained weights: `Model()` starts from random weights."),
    )


@dataclass(frozen=True)
class PytorchExport:
    folder: Path
    files: tuple[str, ...]
    class_name: str
    weights: object  # Weights or None


def export_pytorch(graph: Graph, output: str | Path, weights=None, force: bool = False) -> PytorchExport:
    """Write the folder (see the module docstring) as a whole, or raise ExchangeError."""
    output = Path(output)
    model_text = model_source(graph)
    settings = train_settings(graph, weights)
    files = {
        "model.py": model_text,
        "train.py": train_source(settings),
        "data.py": (TEMPLATES / "data.py").read_bytes(),
        "distributed.py": DISTRIBUTED_SOURCE.read_bytes(),
        "README.md": readme_source(graph, settings, weights),
    }
    trained = weights is not None and weights.trained
    if trained:
        import io
        import json

        import torch

        buffer = io.BytesIO()
        torch.save(export_state_dict(graph, weights.module), buffer)
        files["weights.pt"] = buffer.getvalue()
        normalisation = weights.normalisation
        record = {
            "mean": list(normalisation.mean) if normalisation is not None else None,
            "std": list(normalisation.std) if normalisation is not None else None,
            "class_names": settings["class_names"],
            "input": "uint8 pixels / 255, then (x - mean) / std per channel",
            "source": weights.describe(),
        }
        files["weights.json"] = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    with staged_folder(output, force) as staging:
        for filename, content in files.items():
            write_file(staging / filename, content)
    return PytorchExport(output, tuple(files), class_name(graph.name), weights)
