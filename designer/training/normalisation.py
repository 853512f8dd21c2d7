"""How a network's inputs are scaled: the training images' per-channel mean and standard deviation.

Plain data (numpy; torch only inside the methods that make tensors), so a run's result can
carry it to the window — unpickled there — without loading torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Normalisation:
    """Per-channel mean and standard deviation of the training images, on the 0..1 scale."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def of_images(cls, images, chunk: int = 4096) -> "Normalisation":
        """Statistics of uint8 N×C×H×W images, computed in chunks (CIFAR-10 as float64 is 1.2 GB)."""
        if not isinstance(images, np.ndarray):  # a torch tensor
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

    def scale_and_shift(self, device="cpu"):
        """(x/255 − mean)/std as one multiply-add: x·scale + shift, shaped 1×C×1×1 (torch tensors)."""
        import torch

        mean = torch.tensor(self.mean, dtype=torch.float32)
        std = torch.tensor(self.std, dtype=torch.float32)
        scale = (1.0 / (255.0 * std)).view(1, -1, 1, 1).to(device)
        shift = (-mean / std).view(1, -1, 1, 1).to(device)
        return scale, shift

    def apply(self, images):
        """uint8 images (a torch tensor) → normalised float32, on the images' device."""
        import torch

        scale, shift = self.scale_and_shift(images.device)
        return images.to(torch.float32).mul_(scale).add_(shift)


__all__ = ["Normalisation"]
