"""Data augmentation on whole batches: random shifts, horizontal flips, random crops with padding.

Spec strings, as ``--augment`` takes them: a comma-separated list of

- ``shift:K``  move each image by a random whole number of pixels in −K…K, independently
  along x and y; the pixels that come in are black (0) — what the FC lab's
  "Where is the cat?" probe does to test images, so a network can learn to shrug it off;
- ``flip``     mirror half of the images left to right (not for digits or text);
- ``crop:P`` / ``crop:P:reflect``  pad each side by P pixels (black, or the image mirrored
  at its border) and cut a random window of the original size: the usual CIFAR recipe.
  With black padding this is the same distribution as ``shift:P``; ``reflect`` fills
  the border with image content instead.

e.g. ``"shift:4,flip"`` or ``"crop:4:reflect,flip"``; ``""`` or ``"none"`` is no
augmentation. Operations apply in a fixed order whatever the spec's order: flip, crop,
shift.

All of it is integer index arithmetic on the whole N×C×H×W batch — one gather, no
per-image Python loop, no interpolation — on uint8 or float tensors, on any device;
dtype and shape are kept and labels are never touched. Apply it to the stored uint8
images before normalisation, so the black fill is real black.

An ``Augmenter`` is an ``nn.Module`` with Dropout's contract: it changes batches in
training mode and returns them untouched (the same tensor) in eval mode, so data seen
through ``module.eval()`` — validation, test, predictions — is never augmented. Its
random numbers come from its own ``torch.Generator`` seeded at construction: the same
seed gives the same batches, whatever else draws random numbers.
"""

from __future__ import annotations

import torch
from torch import nn

from designer.training.specs import (AUGMENT_SYNTAX as SYNTAX, MAX_PIXELS, PADDING_MODES,
                                     AugmentError, AugmentSpec, parse_augment)


def _offsets(count: int, limit: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(-limit, limit + 1, (count,), generator=generator)


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Mirror positions outside 0…size−1 at the border without repeating it (numpy's "reflect")."""
    if size == 1:
        return torch.zeros_like(index)
    period = 2 * (size - 1)
    folded = torch.remainder(index, period)
    return torch.where(folded >= size, period - folded, folded)


class Augmenter(nn.Module):
    """Augments N×C×H×W batches in training mode; identity in eval mode (see the module docstring)."""

    def __init__(self, spec: AugmentSpec | str, seed: int = 0) -> None:
        super().__init__()
        self.spec = parse_augment(spec) if isinstance(spec, str) else spec
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)

    def extra_repr(self) -> str:
        return f"{self.spec}, seed={self.seed}"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if not self.training or not self.spec.active:
            return images
        return self.apply_to(images)

    def apply_to(self, images: torch.Tensor) -> torch.Tensor:
        """Augment regardless of the mode (for previews); a new tensor of the same shape and dtype."""
        if images.dim() != 4:
            raise ValueError(f"augmentation takes N×C×H×W batches, not a tensor of shape {tuple(images.shape)}")
        count, _, height, width = images.shape
        spec = self.spec
        if spec.crop and spec.crop_padding == "reflect" and spec.crop >= min(height, width):
            raise ValueError(f"crop:{spec.crop}:reflect needs images larger than {spec.crop} pixels, "
                             f"not {height}×{width}; lower the padding or use zero padding")
        if count == 0 or not spec.active:
            return images.clone()
        # Random numbers are drawn on the CPU from our own generator, in a fixed order, so a
        # seed gives the same batches on every device; only the small index tensors move.
        flips = (torch.rand(count, generator=self.generator) < 0.5) if spec.flip else None
        rows = torch.arange(height).expand(count, height)
        columns = torch.arange(width).expand(count, width)
        valid_rows = torch.ones(count, height, dtype=torch.bool)
        valid_columns = torch.ones(count, width, dtype=torch.bool)
        # Each step maps an output position to the position it reads in the previous stage,
        # outermost (last applied) first: shift, then crop, then flip.
        if spec.shift:
            shift_y = _offsets(count, spec.shift, self.generator)
            shift_x = _offsets(count, spec.shift, self.generator)
            rows, columns = rows - shift_y[:, None], columns - shift_x[:, None]
            valid_rows &= (rows >= 0) & (rows < height)
            valid_columns &= (columns >= 0) & (columns < width)
            rows, columns = rows.clamp(0, height - 1), columns.clamp(0, width - 1)
        if spec.crop:
            # A window of the padded image at offset o ∈ [0, 2P] reads original position x + o − P.
            crop_y = _offsets(count, spec.crop, self.generator)
            crop_x = _offsets(count, spec.crop, self.generator)
            rows, columns = rows + crop_y[:, None], columns + crop_x[:, None]
            if spec.crop_padding == "reflect":
                rows, columns = _reflect(rows, height), _reflect(columns, width)
            else:
                valid_rows &= (rows >= 0) & (rows < height)
                valid_columns &= (columns >= 0) & (columns < width)
                rows, columns = rows.clamp(0, height - 1), columns.clamp(0, width - 1)
        if flips is not None:
            columns = torch.where(flips[:, None], width - 1 - columns, columns)
        device = images.device
        rows, columns = rows.to(device), columns.to(device)
        batch = torch.arange(count, device=device)[:, None, None]
        # Advanced indices around a slice: the result is N×H×W×C; move channels back.
        gathered = images[batch, :, rows[:, :, None], columns[:, None, :]].permute(0, 3, 1, 2)
        valid = (valid_rows[:, :, None] & valid_columns[:, None, :]).to(device)[:, None]
        return torch.where(valid, gathered, torch.zeros((), dtype=images.dtype, device=device)).contiguous()


def build_augmenter(text: str | None, seed: int) -> Augmenter | None:
    """An Augmenter for a spec string, or None for no augmentation (raises AugmentError)."""
    spec = parse_augment(text)
    return Augmenter(spec, seed) if spec.active else None


__all__ = ["AugmentError", "AugmentSpec", "Augmenter", "MAX_PIXELS", "PADDING_MODES", "SYNTAX", "build_augmenter",
           "parse_augment"]
