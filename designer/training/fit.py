"""The one fit rule: does a design's Input and classifier fit a dataset, and how to make it fit.

The Training dock shows it (with *Adapt input to dataset*, which applies ``changes`` as one
undo step) and the trainer refuses a run that breaks it, with the same words. Plain Python:
the dock asks before torch has loaded.

The rule: the Input block must be the dataset's C×H×W, and the network must end in one
score per class. When the class count is set by one parameter — the classifier FC's
neurons, or the filters of a convolution that GAP (or a Flatten of a 1×1 map) turns into the
scores — changing that parameter is the fix offered (the catalogue says which parameter,
``BlockType.width_param``).
"""

from __future__ import annotations

from dataclasses import dataclass

from designer.core import Analysis, Graph, analyze, format_shape

#: how far back from the output to look for the block that sets the class count
_MAX_STEPS_BACK = 64


@dataclass(frozen=True)
class FitProblem:
    failure: str  # "input-shape" or "output-shape" (TrainResult.failure)
    message: str  # for a person: both shapes, and what to do


@dataclass(frozen=True)
class FitCheck:
    dataset_label: str
    problems: tuple[FitProblem, ...] = ()
    changes: tuple[tuple[str, str, int], ...] = ()  # (block id, parameter, new value)

    @property
    def fits(self) -> bool:
        return not self.problems

    @property
    def adaptable(self) -> bool:
        return bool(self.changes)

    @property
    def message(self) -> str:
        return "; ".join(problem.message for problem in self.problems)

    @property
    def failure(self) -> str | None:
        return self.problems[0].failure if self.problems else None


def check_fit(graph: Graph, input_shape, num_classes: int, label: str,
              analysis: Analysis | None = None) -> FitCheck:
    """Compare ``graph`` with a dataset of ``input_shape`` (C, H, W) images in ``num_classes`` classes."""
    analysis = analysis if analysis is not None else analyze(graph)
    wanted = tuple(int(size) for size in input_shape)
    problems: list[FitProblem] = []
    changes: list[tuple[str, str, int]] = []
    inputs = [block_id for block_id in graph.inputs() if graph.block(block_id).type.is_input]
    if not inputs:
        problems.append(FitProblem("input-shape", "the design has no Input block"))
    else:
        block = graph.block(inputs[0])
        current = block.type.output_shape(block.params, [])
        if current != wanted:
            problems.append(FitProblem(
                "input-shape", f"the Input block is {format_shape(current)} but {label} images are "
                               f"{format_shape(wanted)}; set the Input to {format_shape(wanted)} or use "
                               f"'adapt input to dataset'"))
            # The Input's parameters are its C, H and W, in that order (the catalogue's entry).
            names = [spec.name for spec in block.type.params]
            changes += [(block.id, name, value) for name, value in zip(names, wanted) if block.params[name] != value]
    output = analysis.output_shape
    if output is not None and output != (num_classes,):
        setter = _class_count_setter(graph, analysis) if len(output) == 1 else None
        if setter is not None:
            block_id, param = setter
            problems.append(FitProblem(
                "output-shape", f"the network outputs {format_shape(output)} scores but {label} has {num_classes} "
                                f"classes: {block_id} has {output[0]} outputs, it needs {num_classes}"))
            changes.append((block_id, param, num_classes))
        else:
            problems.append(FitProblem(
                "output-shape", f"the network outputs {format_shape(output)} but {label} has {num_classes} "
                                f"classes, so it must output {num_classes} class scores; end it with an FC block "
                                f"with {num_classes} outputs (or a {num_classes}-channel convolution and GAP)"))
    return FitCheck(label, tuple(problems), tuple(changes))


def check_fit_to_dataset(graph: Graph, dataset_name: str, analysis: Analysis | None = None) -> FitCheck:
    """``check_fit`` against a named dataset's catalogue entry (raises ``DatasetError`` for an unknown name)."""
    from designer.data import dataset_info

    info = dataset_info(dataset_name)
    return check_fit(graph, info.input_shape, info.num_classes, info.label, analysis)


def check_fit_to_images(graph: Graph, info, analysis: Analysis | None = None,
                        suggestion: tuple[int, int, int] | None = None) -> FitCheck:
    """``check_fit`` against an image folder (``info``: its listing's ``DatasetInfo``).

    Pictures are resized to whatever the Input block says, so the Input fits as long as it
    has 1 (grey) or 3 (RGB) channels; the classifier must have one output per class folder.
    ``suggestion``: the Input shape the folder's pictures suggest, offered when the channels
    cannot be read.
    """
    analysis = analysis if analysis is not None else analyze(graph)
    inputs = [block_id for block_id in graph.inputs() if graph.block(block_id).type.is_input]
    shape = None
    if inputs:
        block = graph.block(inputs[0])
        shape = tuple(block.type.output_shape(block.params, []))
    check = check_fit(graph, shape if shape and len(shape) == 3 else (1, 1, 1), info.num_classes, info.label,
                      analysis)
    if shape is None or len(shape) != 3 or shape[0] in (1, 3):
        return check
    block = graph.block(inputs[0])
    channels = suggestion[0] if suggestion else 3
    problem = FitProblem("input-shape", f"the Input block has {shape[0]} channels but pictures are read as grey "
                                        f"(1 channel) or RGB (3); set the Input's channels to {channels}")
    change = (block.id, block.type.params[0].name, channels)
    return FitCheck(check.dataset_label, (problem,) + check.problems, (change,) + check.changes)


def _class_count_setter(graph: Graph, analysis: Analysis) -> tuple[str, str] | None:
    """(block id, parameter) whose value is the network's output size, walking back from the sink
    through blocks that keep the count (activations, Dropout, GAP, a Flatten of a 1×1 map)."""
    size = analysis.output_shape[0]
    current = analysis.sinks[0]
    for _ in range(_MAX_STEPS_BACK):
        block = graph.block(current)
        param = block.type.width_param
        if param is not None:
            return (current, param) if block.params[param] == size else None
        sources = graph.predecessors(current)
        if len(sources) != 1 or analysis.reports[sources[0]].output_shape is None:
            return None
        if analysis.reports[sources[0]].output_shape[0] != size:
            return None
        current = sources[0]
    return None


__all__ = ["FitCheck", "FitProblem", "check_fit", "check_fit_to_dataset", "check_fit_to_images"]
