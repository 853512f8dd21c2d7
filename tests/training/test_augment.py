"""Augmentation: whole batches, seeded, only in training mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from designer.training.augment import AugmentError, Augmenter, AugmentSpec, build_augmenter, parse_augment
from designer.training.evaluation import Normalisation, evaluate, predict


def batch(count=16, channels=3, height=12, width=10, seed=0, dtype=torch.uint8) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(1, 256, (count, channels, height, width), generator=generator, dtype=torch.int64)
    return images.to(dtype)


def shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Reference: move a C×H×W image by (dy, dx), black coming in."""
    _, height, width = image.shape
    out = np.zeros_like(image)
    out[:, max(0, dy):height + min(0, dy), max(0, dx):width + min(0, dx)] = \
        image[:, max(0, -dy):height - max(0, dy), max(0, -dx):width - max(0, dx)]
    return out


def reflect_cropped(image: np.ndarray, padding: int, dy: int, dx: int) -> np.ndarray:
    _, height, width = image.shape
    padded = np.pad(image, ((0, 0), (padding, padding), (padding, padding)), mode="reflect")
    return padded[:, padding + dy:padding + dy + height, padding + dx:padding + dx + width]


def matching_offsets(original: np.ndarray, result: np.ndarray, limit: int, make) -> list[tuple[int, int]]:
    return [(dy, dx) for dy in range(-limit, limit + 1) for dx in range(-limit, limit + 1)
            if np.array_equal(make(original, dy, dx), result)]


@pytest.mark.parametrize("text, expected", [
    ("shift:4,flip,crop:4", AugmentSpec(shift=4, flip=True, crop=4)),
    (" Flip , SHIFT:2 ", AugmentSpec(shift=2, flip=True)),
    ("crop:3:reflect", AugmentSpec(crop=3, crop_padding="reflect")),
    ("", AugmentSpec()), ("none", AugmentSpec()), (None, AugmentSpec()),
])
def test_specs_are_parsed(text, expected):
    assert parse_augment(text) == expected
    assert parse_augment(str(expected)) == expected  # printed specs read back


@pytest.mark.parametrize("text, message", [
    ("rotate:10", "unknown augmentation 'rotate'; use shift:K, flip"),
    ("shift", "write shift as shift:K"),
    ("shift:x", "shift needs a whole number of pixels, not 'x'"),
    ("shift:0", "shift must be 1 to 64 pixels, not 0"),
    ("shift:2.5", "whole number"),
    ("flip:1", "flip takes no value"),
    ("crop:4:wrap", "crop padding is zero or reflect, not 'wrap'"),
    ("shift:2,shift:3", "'shift' is given twice"),
    ("flip,,shift:2", "empty entry"),
])
def test_bad_specs_are_refused_with_a_message_naming_the_part(text, message):
    with pytest.raises(AugmentError, match=message):
        parse_augment(text)
    assert issubclass(AugmentError, ValueError)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("spec", ["shift:3", "flip", "crop:2", "crop:3:reflect", "shift:2,flip,crop:2:reflect"])
def test_batches_change_but_keep_shape_dtype_and_their_order(spec, dtype):
    images = batch(dtype=dtype)
    augmented = Augmenter(spec, seed=1)(images)
    assert augmented.shape == images.shape and augmented.dtype == dtype
    assert not torch.equal(augmented, images)
    assert torch.equal(images, batch(dtype=dtype)), "the input batch was modified in place"
    # Each output is a transform of the input at the same position, so labels still fit:
    # with only shifts and flips every pixel value of output i exists in input i.
    for index in range(images.shape[0]):
        values = set(augmented[index].flatten().tolist()) - {0}
        assert values <= set(images[index].flatten().tolist())


def test_shift_moves_each_image_by_at_most_k_pixels_with_black_coming_in():
    images = batch(count=40)
    augmented = Augmenter("shift:3", seed=2)(images).numpy()
    offsets = [matching_offsets(images[i].numpy(), augmented[i], 3, shifted) for i in range(40)]
    assert all(len(found) == 1 for found in offsets)
    used = {found[0] for found in offsets}
    assert len(used) > 15
    assert {dy for dy, _ in used} == set(range(-3, 4)) and {dx for _, dx in used} == set(range(-3, 4))


def test_zero_padded_crop_is_a_shift_and_reflect_crop_mirrors_the_border():
    images = batch(count=30)
    zero = Augmenter("crop:2", seed=3)(images).numpy()
    assert all(matching_offsets(images[i].numpy(), zero[i], 2, shifted) for i in range(30))
    reflect = Augmenter("crop:2:reflect", seed=3)(images).numpy()
    for index in range(30):
        found = matching_offsets(images[index].numpy(), reflect[index], 2,
                                 lambda image, dy, dx: reflect_cropped(image, 2, dy, dx))
        assert found, f"image {index} is not a reflect-padded crop of its input"
    assert (reflect != 0).all(), "reflect padding never brings in black"


def test_flip_mirrors_about_half_of_the_images():
    images = batch(count=200)
    augmented = Augmenter("flip", seed=4)(images)
    mirrored = [torch.equal(augmented[i], images[i].flip(-1)) for i in range(200)]
    kept = [torch.equal(augmented[i], images[i]) for i in range(200)]
    assert all(a or b for a, b in zip(mirrored, kept))
    assert 70 < sum(mirrored) < 130


def test_the_same_seed_gives_the_same_batches_and_another_seed_others():
    images = batch(count=32)
    first, second = Augmenter("shift:4,flip,crop:2", seed=7), Augmenter("shift:4,flip,crop:2", seed=7)
    for _ in range(3):  # a whole sequence of batches, not only the first
        assert torch.equal(first(images), second(images))
    assert not torch.equal(Augmenter("shift:4,flip", seed=8)(images), Augmenter("shift:4,flip", seed=9)(images))
    torch.manual_seed(0)
    unaffected = Augmenter("shift:4", seed=5)(images)
    torch.manual_seed(123)  # the global random state plays no part
    assert torch.equal(unaffected, Augmenter("shift:4", seed=5)(images))


def test_in_eval_mode_batches_pass_untouched():
    images = batch()
    augmenter = Augmenter("shift:4,flip,crop:4", seed=0)
    assert augmenter.training
    augmenter.eval()
    assert augmenter(images) is images
    augmenter.train()
    assert augmenter(images) is not images


def test_evaluation_and_prediction_never_augment():
    """The contract the trainer relies on: evaluate() and predict() put the model in eval mode,
    so an augmenter inside it leaves validation and test data exactly as they are."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 12 * 10, 4))
    augmenter = Augmenter("shift:4,flip,crop:4", seed=0)
    images, labels = batch(count=64), torch.randint(0, 4, (64,))
    normalisation = Normalisation.of_images(images)
    plain = evaluate(model, images, labels, normalisation=normalisation, num_classes=4)
    with_augmenter = nn.Sequential(augmenter, model)
    with_augmenter.train()
    augmented = evaluate(with_augmenter, images, labels, normalisation=normalisation, num_classes=4)
    assert augmented == plain
    with_augmenter.train()
    assert np.array_equal(predict(with_augmenter, images, normalisation=normalisation),
                          predict(model, images, normalisation=normalisation))
    # and the same model in training mode does see changed inputs
    with_augmenter.train()
    with torch.no_grad():
        assert not torch.equal(with_augmenter(images.float()), model(images.float()))


def test_no_augmentation_builds_nothing_and_bad_shapes_are_refused():
    assert build_augmenter("none", 0) is None and build_augmenter("", 0) is None
    assert isinstance(build_augmenter("flip", 0), Augmenter)
    with pytest.raises(ValueError, match="N×C×H×W"):
        Augmenter("flip").apply_to(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="crop:4:reflect needs images larger than 4 pixels"):
        Augmenter("crop:4:reflect").apply_to(torch.zeros(2, 1, 4, 4))
    assert Augmenter("shift:2")(torch.zeros(0, 1, 5, 5)).shape == (0, 1, 5, 5)


def test_a_large_batch_is_augmented_without_a_python_loop_per_image():
    # 4,096 images; a per-image loop would call into torch thousands of times. Count the
    # calls to torch.Tensor.__getitem__ made by one augmentation: a handful, not thousands.
    images = batch(count=4096, channels=1, height=28, width=28)
    augmenter = Augmenter("shift:4,flip,crop:2", seed=0)
    calls = []
    original = torch.Tensor.__getitem__

    def counting(self, index):
        calls.append(1)
        return original(self, index)

    torch.Tensor.__getitem__ = counting
    try:
        augmented = augmenter(images)
    finally:
        torch.Tensor.__getitem__ = original
    assert augmented.shape == images.shape
    assert len(calls) < 20
