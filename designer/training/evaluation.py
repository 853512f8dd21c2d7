"""Normalisation, evaluation and prediction shared by the trainer, the window and experiments.

Images travel as uint8 N×C×H×W (as the datasets hold them) and become float only a batch
at a time, so a whole dataset never exists in float form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from designer.training.normalisation import Normalisation

__all__ = ["DEFAULT_EVALUATION_BATCH", "Evaluation", "Normalisation", "evaluate", "evaluate_across", "predict"]

DEFAULT_EVALUATION_BATCH = 500


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float  # 0..1
    confusion_matrix: list[list[int]]  # [true][predicted]
    samples: int


def _module_device(module: nn.Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def _as_tensor(array: np.ndarray | torch.Tensor) -> torch.Tensor:
    return array if isinstance(array, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(array))


class _BatchPreparer:
    """Turns a slice of stored images into the float batch the network reads."""

    def __init__(self, images: torch.Tensor, normalisation: Normalisation | None, device: torch.device):
        self.device = device
        self.floating = images.is_floating_point()
        if not self.floating:
            normalisation = normalisation or Normalisation.identity(images.shape[1])
            self.scale, self.shift = normalisation.scale_and_shift(device)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.to(self.device, non_blocking=True)
        if self.floating:
            return batch.to(torch.float32)
        return batch.to(torch.float32).mul_(self.scale).add_(self.shift)


def evaluate(module: nn.Module, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, *,
             normalisation: Normalisation | None = None, num_classes: int | None = None,
             batch_size: int = DEFAULT_EVALUATION_BATCH, device: torch.device | str | None = None,
             should_stop=None) -> Evaluation | None:
    """Mean cross-entropy, accuracy and confusion matrix of ``module`` on a labelled set.

    uint8 images are scaled by ``normalisation`` (or just /255 when it is None); float
    images are taken as already prepared. The module is put in eval mode and left there.
    ``should_stop()`` is polled between batches; a True makes this return None.
    """
    device = torch.device(device) if device is not None else _module_device(module)
    images, labels = _as_tensor(images), _as_tensor(labels).to(torch.int64)
    count = images.shape[0]
    classes = num_classes or (int(labels.max()) + 1 if count else 1)
    prepare = _BatchPreparer(images, normalisation, device)
    module.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    confusion = torch.zeros(classes * classes, dtype=torch.int64, device=device)
    with torch.no_grad():
        for start in range(0, count, batch_size):
            if should_stop is not None and should_stop():
                return None
            inputs = prepare(images[start:start + batch_size])
            targets = labels[start:start + batch_size].to(device, non_blocking=True)
            logits = module(inputs)
            loss_sum += functional.cross_entropy(logits, targets, reduction="sum").to(torch.float64)
            predicted = logits.argmax(dim=1)
            confusion += torch.bincount(targets * classes + predicted, minlength=classes * classes)
    matrix = confusion.view(classes, classes).cpu()
    correct = int(matrix.diagonal().sum())
    return Evaluation(
        loss=float(loss_sum) / count if count else float("nan"),
        accuracy=correct / count if count else float("nan"),
        confusion_matrix=matrix.tolist(),
        samples=count,
    )


def evaluate_across(processes, module: nn.Module, images, labels, *, num_classes: int, **options) -> Evaluation:
    """``evaluate`` shared by the processes of a data-parallel run (``distributed.Processes``):
    each evaluates its part of the set (every sample exactly once over all of them), and the
    loss, the counts and the confusion matrix are summed, so every process gets the whole
    set's figures. Not stoppable half-way: a process that stopped alone would leave the
    others waiting in the sum."""
    part = processes.part(int(images.shape[0]))
    if isinstance(images, torch.Tensor):
        part = torch.from_numpy(part).to(images.device)
    mine = evaluate(module, images[part], labels[part], num_classes=num_classes, **options)
    loss_sum = mine.loss * mine.samples if mine.samples else 0.0
    totals = processes.sum(loss_sum, mine.samples, *(count for row in mine.confusion_matrix for count in row))
    samples = int(totals[1])
    matrix = [[int(count) for count in totals[2 + row * num_classes:2 + (row + 1) * num_classes]]
              for row in range(num_classes)]
    correct = sum(matrix[index][index] for index in range(num_classes))
    return Evaluation(loss=totals[0] / samples if samples else float("nan"),
                      accuracy=correct / samples if samples else float("nan"),
                      confusion_matrix=matrix, samples=samples)


def predict(module: nn.Module, images: np.ndarray | torch.Tensor, *,
            normalisation: Normalisation | None = None, batch_size: int = DEFAULT_EVALUATION_BATCH,
            device: torch.device | str | None = None) -> np.ndarray:
    """Class probabilities (softmax of the logits), float32 N×K; ``argmax(axis=1)`` gives classes.

    Takes uint8 N×C×H×W images (normalised like in training) or one C×H×W image.
    """
    device = torch.device(device) if device is not None else _module_device(module)
    images = _as_tensor(images)
    if images.dim() == 3:
        images = images.unsqueeze(0)
    prepare = _BatchPreparer(images, normalisation, device)
    module.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            logits = module(prepare(images[start:start + batch_size]))
            outputs.append(torch.softmax(logits.float(), dim=1).cpu())
    if not outputs:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(outputs).numpy()
