"""Support for the trainer tests (no tests here): tiny learnable datasets and graphs, an event recorder."""

from __future__ import annotations

import numpy as np

from designer.core import Graph, chain
from designer.data import Dataset
from designer.training.records import TrainingCallback


def tiny_dataset(train: int = 150, test: int = 60, classes: int = 3, channels: int = 1, size: int = 8,
                 seed: int = 0, random_labels: bool = False) -> Dataset:
    """Class k lights up horizontal band k of the image, plus noise: easy to learn, not trivial."""
    generator = np.random.default_rng(seed)

    def split(count: int):
        labels = np.arange(count, dtype=np.int64) % classes
        generator.shuffle(labels)
        images = generator.integers(0, 90, size=(count, channels, size, size)).astype(np.int64)
        band = size // classes
        for index, label in enumerate(labels):
            images[index, :, label * band:(label + 1) * band, :] += 120
        if random_labels:
            labels = generator.integers(0, classes, size=count).astype(np.int64)
        return np.clip(images, 0, 255).astype(np.uint8), labels

    train_images, train_labels = split(train)
    test_images, test_labels = split(test)
    return Dataset(name="tiny", train_images=train_images, train_labels=train_labels,
                   test_images=test_images, test_labels=test_labels,
                   class_names=tuple(f"class {k}" for k in range(classes)))


def tiny_graph(channels: int = 1, size: int = 8, outputs: int = 3, hidden: int = 16) -> Graph:
    graph = Graph("tiny")
    chain(graph, [("Input", {"channels": channels, "height": size, "width": size}),
                  ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
                  ("ReLU", {}),
                  ("FC", {"out_features": hidden}),
                  ("ReLU", {}),
                  ("FC", {"out_features": outputs})])
    return graph


class Recorder(TrainingCallback):
    """Keeps every event, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def on_train_start(self, info) -> None:
        self.events.append(("start", info))

    def on_batch_end(self, metrics) -> None:
        self.events.append(("batch", metrics))

    def on_epoch_end(self, metrics) -> None:
        self.events.append(("epoch", metrics))

    def on_finished(self, result) -> None:
        self.events.append(("finished", result))

    def of(self, kind: str) -> list:
        return [payload for event, payload in self.events if event == kind]
