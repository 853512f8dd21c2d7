"""The one entry point of every training run: the command line, the Training dock and the FC lab.

``run_all(requests, emit, control)`` checks each request before anything starts — the
settings (``TrainConfig.problems``), the design file, the dataset's name (an image folder: that
it can be listed, and its classes), whether the design fits the dataset (``designer.training.fit``) — then hands the rest to their launch and
returns one ``RunResult`` per request, in order. ``run`` is the same for one request.
Every request ends with one ``RunEnded`` event, refused ones included, so a listener
needs no second way to hear about an ending.
"""

from __future__ import annotations

from designer.training.run.control import RunControl
from designer.training.run.events import RunEnded
from designer.training.run.result import ended_without_training


def refusal(request):
    """A ``RunResult`` saying why ``request`` cannot run, or None when it may. No torch."""
    from designer.core import ArchitectureError
    from designer.core.fileformat import parse_document
    from designer.data import DatasetError
    from designer.training.datasets import describe_dataset, design_input_shape
    from designer.training.fit import check_fit

    problems = request.config.problems()
    launch_problems = getattr(request.launch, "problems", None)
    if launch_problems is not None:
        problems = problems + launch_problems()
    if problems:
        return ended_without_training(request.run_id, "; ".join(problems), "config")
    try:
        graph = parse_document(request.design)
    except ArchitectureError as error:
        return ended_without_training(request.run_id, str(error), "design")
    try:
        # An image folder is listed (not decoded) here: its classes must fit the design too.
        info = describe_dataset(request.config, design_input_shape(graph))
    except DatasetError as error:
        return ended_without_training(request.run_id, str(error), "dataset")
    # Refuse a misfit before a possibly long download, and before a process is started.
    check = check_fit(graph, info.input_shape, info.num_classes, info.label)
    if not check.fits:
        return ended_without_training(request.run_id, check.message, check.failure)
    return None


def run_all(requests, emit=None, control: RunControl | None = None) -> list:
    requests = list(requests)
    emit = emit if emit is not None else _ignore
    control = control if control is not None else RunControl()
    if len({request.run_id for request in requests}) != len(requests):
        raise ValueError("two requests share a run id")
    results = {}
    launches: list[tuple[object, list]] = []  # in the order they first appear; launches need not hash
    for request in requests:
        refused = refusal(request)
        if refused is not None:
            results[request.run_id] = refused
            emit(RunEnded(request.run_id, refused))
            continue
        group = next((group for launch, group in launches if launch == request.launch), None)
        if group is None:
            launches.append((request.launch, group := []))
        group.append(request)
    for launch, group in launches:
        for result in launch.run_all(group, emit, control):
            results[result.run_id] = result
    return [results[request.run_id] for request in requests]


def run(request, emit=None, control: RunControl | None = None):
    return run_all([request], emit, control)[0]


def _ignore(event) -> None:
    pass


__all__ = ["refusal", "run", "run_all"]
