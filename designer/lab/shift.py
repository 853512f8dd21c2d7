""""Where is the cat?": how a trained model's accuracy changes when the object moves.

Images are shifted as stored (uint8, before normalisation), by whole pixels, and what
slides in is filled with 0 — black, the MNIST background — never wrapped around. Accuracy
comes from ``designer.training.evaluation.evaluate``, the same function that gives the
trainer's test accuracy, so the probe at shift 0 *is* the plain test accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch

from designer.core import DesignerError
from designer.training.evaluation import DEFAULT_EVALUATION_BATCH, Normalisation, evaluate

AXES = ("x", "y", "both")


class ProbeError(DesignerError):
    """A probe cannot run with these arguments; the message says why."""


def _as_tensor(array) -> torch.Tensor:
    return array if isinstance(array, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(array))


def shift_images(images, dx: int = 0, dy: int = 0) -> torch.Tensor:
    """N×C×H×W images moved ``dx`` pixels right and ``dy`` down (negative: left/up), zero fill."""
    images = _as_tensor(images)
    dx, dy = int(dx), int(dy)
    height, width = images.shape[-2:]
    result = torch.zeros_like(images)
    if abs(dx) >= width or abs(dy) >= height:
        return result
    target_y = slice(max(dy, 0), height + min(dy, 0))
    source_y = slice(max(-dy, 0), height + min(-dy, 0))
    target_x = slice(max(dx, 0), width + min(dx, 0))
    source_x = slice(max(-dx, 0), width + min(-dx, 0))
    result[..., target_y, target_x] = images[..., source_y, source_x]
    return result


def _offsets(shift: int, axis: str) -> tuple[int, int]:
    if axis == "x":
        return shift, 0
    if axis == "y":
        return 0, shift
    return shift, shift  # "both": diagonal, right and down together


def shift_probe(model: torch.nn.Module, images, labels, shifts: Iterable[int] = range(-4, 5), axis: str = "x",
                batch_size: int = DEFAULT_EVALUATION_BATCH, normalisation: Normalisation | None = None,
                device=None, should_stop=None) -> list[tuple[int, float]]:
    """``[(shift, accuracy 0..1)]`` of ``model`` on the images translated by each shift.

    ``axis`` "x" moves right (positive) / left, "y" down / up, "both" diagonally by the
    same amount on each axis. ``images``: uint8 N×C×H×W as the datasets hold them (scaled
    with ``normalisation``, or /255 when None, as the trainer does) or float images already
    prepared. ``should_stop()`` is polled between batches; when it says stop the shifts
    measured so far are returned.
    """
    if axis not in AXES:
        raise ProbeError(f"axis must be one of {', '.join(AXES)}, not {axis!r}")
    images, labels = _as_tensor(images), _as_tensor(labels)
    if images.ndim != 4:
        raise ProbeError(f"images must be N×C×H×W, got shape {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ProbeError("there are no images to probe")
    was_training = model.training
    classes = _num_classes(model, images, normalisation, device)
    results = []
    try:
        for shift in shifts:
            dx, dy = _offsets(int(shift), axis)
            moved = images if dx == dy == 0 else shift_images(images, dx, dy)
            evaluation = evaluate(model, moved, labels, normalisation=normalisation, num_classes=classes,
                                  batch_size=batch_size, device=device, should_stop=should_stop)
            if evaluation is None:
                break
            results.append((int(shift), float(evaluation.accuracy)))
    finally:
        model.train(was_training)
    return results


def _model_device(model: torch.nn.Module, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    parameter = next(iter(model.parameters()), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _num_classes(model: torch.nn.Module, images: torch.Tensor, normalisation, device) -> int:
    """How many scores the model gives (the labels of a small set may not show every class)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model(_prepare_one(images[:1], normalisation).to(_model_device(model, device)))
    finally:
        model.train(was_training)
    if output.ndim != 2:
        raise ProbeError(f"the model outputs {tuple(output.shape[1:])} per image, not one score per class")
    return int(output.shape[1])


@dataclass(frozen=True)
class PositionProbeResult:
    supported: bool
    accuracy: float | None  # 0..1; None when not supported
    canvas: tuple[int, int]
    samples: int
    reason: str = ""  # why the model cannot take the larger canvas


def _prepare_one(images: torch.Tensor, normalisation: Normalisation | None) -> torch.Tensor:
    if images.is_floating_point():
        return images.to(torch.float32)
    return (normalisation or Normalisation.identity(images.shape[1])).apply(images)


def random_position_probe(model: torch.nn.Module, images, labels, canvas: tuple[int, int], seed: int = 0,
                          batch_size: int = DEFAULT_EVALUATION_BATCH,
                          normalisation: Normalisation | None = None, device=None,
                          should_stop=None) -> PositionProbeResult:
    """Accuracy with each image pasted at a random place on a larger, zero (black) canvas.

    Only models that accept the larger input and still give one score per class can be
    probed (convolutions with a GAP head, for instance). An FC head's weights fix the input
    size, and a fully convolutional network without GAP outputs a map: for those this
    returns ``supported=False`` with the reason instead of raising. Positions are drawn
    uniformly (whole pixels, image fully on the canvas) from a generator seeded by ``seed``.
    """
    images, labels = _as_tensor(images), _as_tensor(labels)
    canvas_height, canvas_width = (int(size) for size in canvas)
    count, channels, height, width = images.shape
    if canvas_height < height or canvas_width < width:
        raise ProbeError(f"the canvas {canvas_height}×{canvas_width} is smaller than the images ({height}×{width})")
    if count == 0:
        raise ProbeError("there are no images to probe")

    model_device = _model_device(model, device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            plain = model(_prepare_one(images[:1], normalisation).to(model_device))
            large = torch.zeros((1, channels, canvas_height, canvas_width), dtype=images.dtype)
            large[:, :, :height, :width] = images[:1]
            try:
                wide = model(_prepare_one(large, normalisation).to(model_device))
            except RuntimeError as error:  # e.g. "mat1 and mat2 shapes cannot be multiplied"
                first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
                return PositionProbeResult(False, None, (canvas_height, canvas_width), 0, (
                    f"this model only takes {height}×{width} images: a layer's weights fix the input size "
                    f"(an FC head does). Replace the head with GAP to probe random positions. ({first_line})"))
    finally:
        model.train(was_training)
    if wide.shape != plain.shape:
        return PositionProbeResult(False, None, (canvas_height, canvas_width), 0, (
            f"on a {canvas_height}×{canvas_width} canvas this model outputs {tuple(wide.shape[1:])} instead of "
            f"{tuple(plain.shape[1:])}: it makes a score map, not one score per class. Add GAP at the end."))

    generator = torch.Generator().manual_seed(int(seed))
    tops = torch.randint(0, canvas_height - height + 1, (count,), generator=generator)
    lefts = torch.randint(0, canvas_width - width + 1, (count,), generator=generator)
    correct = 0.0
    chunk = max(1, int(batch_size))
    for start in range(0, count, chunk):
        part = images[start:start + chunk]
        pasted = torch.zeros((part.shape[0], channels, canvas_height, canvas_width), dtype=images.dtype)
        for index in range(part.shape[0]):
            top, left = int(tops[start + index]), int(lefts[start + index])
            pasted[index, :, top:top + height, left:left + width] = part[index]
        evaluation = evaluate(model, pasted, labels[start:start + chunk], normalisation=normalisation,
                              num_classes=int(plain.shape[1]), batch_size=chunk, device=device, should_stop=should_stop)
        if evaluation is None:
            model.train(was_training)
            return PositionProbeResult(False, None, (canvas_height, canvas_width), 0, "stopped")
        correct += evaluation.accuracy * evaluation.samples
    model.train(was_training)
    return PositionProbeResult(True, correct / count, (canvas_height, canvas_width), count)


def probe_models(models, max_shift: int, axis: str, samples: int, canvas_extra: int, *, report=None,
                 should_stop=None) -> list[dict]:
    """Shift-probe every ``TrainedModel`` (−max_shift…+max_shift) and try it at random places on a
    canvas ``canvas_extra`` pixels larger, on its first ``samples`` test images.

    ``report(("point", index, label, points so far, fraction done))`` after every shift and
    ``report(("model", index, result, fraction done))`` after every model; ``should_stop()`` is
    checked between shifts (``designer.lab.common.Cancelled``).
    """
    from designer.lab.common import check
    from designer.training.datasets import dataset_for_model

    report = report if report is not None else (lambda data: None)
    results = []
    shifts = list(range(-max_shift, max_shift + 1))
    total = len(models) * (len(shifts) + 1)
    done = 0
    for index, model in enumerate(models):
        dataset = dataset_for_model(model)
        images, labels = dataset.test_images[:samples], dataset.test_labels[:samples]
        points = []
        for shift in shifts:
            check(should_stop)
            measured = shift_probe(model.module, images, labels, [shift], axis=axis,
                                   normalisation=model.normalisation, should_stop=should_stop)
            check(should_stop)
            points.extend(measured)
            done += 1
            report(("point", index, model.label, list(points), done / total))
        height, width = images.shape[2:]
        canvas = (height + canvas_extra, width + canvas_extra)
        position = random_position_probe(model.module, images, labels, canvas, normalisation=model.normalisation,
                                         should_stop=should_stop)
        check(should_stop)
        done += 1
        results.append({"label": model.label, "points": points, "position": position, "samples": len(labels),
                        "dataset": model.config.dataset})
        report(("model", index, results[-1], done / total))
    return results
