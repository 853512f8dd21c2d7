"""Plain records describing a dataset and holding its data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DatasetInfo:
    """What is known about a dataset before any of its data is read.

    The window uses it to check or adapt the network's Input block and to tell the
    person how much a download would cost.
    """

    name: str
    label: str  # short display name, also the prefix of error messages
    description: str
    input_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    train_size: int
    test_size: int
    download_bytes: int  # 0 when the dataset is never downloaded (the built-in sample)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


# eq=False: comparing records field by field would compare whole image arrays and
# raise numpy's "truth value of an array is ambiguous" error.
@dataclass(frozen=True, eq=False)
class Dataset:
    """A whole dataset held in memory as uint8 images and int64 labels.

    Images are N×C×H×W so a consumer can turn them into a tensor once and slice
    batches from it instead of assembling samples one by one.
    """

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    source: str = ""  # the folder or archive the data was read from, for messages
    # Where that is, in words, for a person: "your folder (…)", "the cache (…)", "the built-in
    # sample (…)", "Debian's dataset-fashion-mnist package (…)", "a download into the cache (…)".
    origin: str = ""

    def __post_init__(self) -> None:
        # Catch a reader bug here rather than as a confusing shape error mid-training.
        for split, images, labels in (
            ("train", self.train_images, self.train_labels),
            ("test", self.test_images, self.test_labels),
        ):
            if images.dtype != np.uint8 or images.ndim != 4:
                raise ValueError(f"{self.name}: {split} images must be uint8 N×C×H×W, "
                                 f"got {images.dtype} with shape {images.shape}")
            if labels.dtype != np.int64 or labels.shape != (images.shape[0],):
                raise ValueError(f"{self.name}: {split} labels must be int64 of shape "
                                 f"({images.shape[0]},), got {labels.dtype} {labels.shape}")
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise ValueError(f"{self.name}: train images are {self.train_images.shape[1:]} "
                             f"but test images are {self.test_images.shape[1:]}")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        channels, height, width = self.train_images.shape[1:]
        return (int(channels), int(height), int(width))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)
