"""Normalisation, evaluation and prediction shared by the trainer, the window and experiments.

Images travel as uint8 N×C×H×W (as the datasets hold them) and become float only a batch
at a time, so a whole dataset never exists in float form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional


DEFAULT_EVALUATION_BATCH = 500


@dataclass(frozen=True)
class Normalisation:
    """Per-channel mean and standard deviation of the training images, on the 0..1 scale."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def of_images(cls, images: np.ndarray | torch.Tensor, chunk: int = 4096) -> "Normalisation":
        """Statistics of uint8 N×C×H×W images, computed in chunks (CIFAR-10 as float64 is 1.2 GB)."""
        if isinstance(images, torch.Tensor):
            images = images.cpu().numpy()
        channels = images.shape[1]
        count = images.shape[0] * images.shape[2] * images.shape[3]
        if count == 0:
            return cls((0.0,) * channels, (1.0,) * channels)
        total = np.zeros(channels)
        squares = np.zeros(channels)
        for start in range(0, images.shape[0], chunk):
            block = images[start:start + chunk].astype(np.float64) / 255.0
            total += block.sum(axis=(0, 2, 3))
            squares += np.square(block).sum(axis=(0, 2, 3))
        mean = total / count
        variance = np.maximum(squares / count - mean ** 2, 0.0)
        # A constant channel (a blank test set, a tiny fake dataset) must not divide by zero.
        std = [math.sqrt(value) if value > 1e-12 else 1.0 for value in variance]
        return cls(tuple(float(value) for value in mean), tuple(std))

    @classmethod
    def identity(cls, channels: int) -> "Normalisation":
        """Only the uint8 → 0..1 scaling."""
        return cls((0.0,) * channels, (1.0,) * channels)

    def to_dict(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict) -> "Normalisation":
        mean = tuple(float(value) for value in data["mean"])
        std = tuple(float(value) for value in data["std"])
        if len(mean) != len(std) or not mean:
            raise ValueError("mean and std must be lists of the same, non-zero length")
        return cls(mean, std)

    def scale_and_shift(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """(x/255 − mean)/std as one multiply-add: x·scale + shift, shaped 1×C×1×1."""
        mean = torch.tensor(self.mean, dtype=torch.float32)
        std = torch.tensor(self.std, dtype=torch.float32)
        scale = (1.0 / (255.0 * std)).view(1, -1, 1, 1).to(device)
        shift = (-mean / std).view(1, -1, 1, 1).to(device)
        return scale, shift

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images → normalised float32, on the images' device."""
        scale, shift = self.scale_and_shift(images.device)
        return images.to(torch.float32).mul_(scale).add_(shift)


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
