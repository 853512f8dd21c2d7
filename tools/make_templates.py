"""Regenerate resources/templates/*.json from the definitions below.

The templates are committed; this script documents how they were made and keeps them
consistent (run it after changing the block catalogue): ``python tools/make_templates.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from designer.core import TEMPLATES, Graph, chain, save_architecture  # noqa: E402

SPACING = 100.0


def conv(channels: int, kernel: int = 3, padding=1, stride: int = 1) -> tuple[str, dict]:
    return ("Conv2d", {"out_channels": channels, "kernel_size": kernel, "padding": padding, "stride": stride})


def fc(features: int) -> tuple[str, dict]:
    return ("FC", {"out_features": features})


RELU = ("ReLU", {})
TANH = ("Tanh", {})
POOL = ("MaxPool2d", {"kernel_size": 2})
DROPOUT = ("Dropout", {"p": 0.5})


def straight(name: str, channels: int, size: int, layers: list) -> Graph:
    graph = Graph(name)
    chain(graph, [("Input", {"channels": channels, "height": size, "width": size})] + layers, SPACING)
    return graph


def lenet5() -> Graph:
    # The classic variant used in most teaching material: 28×28 input padded by 2 in the first
    # convolution (equivalent to LeCun's 32×32), tanh, average pooling: 61,706 parameters.
    return straight(
        "LeNet-5", 1, 28,
        [conv(6, 5, 2), TANH, ("AvgPool2d", {"kernel_size": 2}), conv(16, 5, 0), TANH,
         ("AvgPool2d", {"kernel_size": 2}), fc(120), TANH, fc(84), TANH, fc(10)],
    )


def vgg16() -> Graph:
    layers = []
    for channels, repeats in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(repeats):
            layers += [conv(channels), RELU]
        layers.append(POOL)
    layers += [fc(4096), RELU, DROPOUT, fc(4096), RELU, DROPOUT, fc(1000)]
    return straight("VGG-16", 3, 224, layers)


def small_cnn(name: str, channels: int, size: int, head: str) -> Graph:
    body = [conv(32), RELU, conv(32), RELU, POOL, conv(64), RELU, conv(64), RELU, POOL]
    if head == "fc":
        return straight(name, channels, size, body + [("Flatten", {}), fc(256), RELU, DROPOUT, fc(10)])
    return straight(name, channels, size, body + [("GAP", {}), fc(10)])


def mnist_cnn(name: str, head: str) -> Graph:
    body = [conv(32), RELU, POOL, conv(64), RELU, POOL]
    if head == "fc":
        return straight(name, 1, 28, body + [("Flatten", {}), fc(128), RELU, DROPOUT, fc(10)])
    return straight(name, 1, 28, body + [conv(128), RELU, ("GAP", {}), fc(10)])


def fashion_bn() -> Graph:
    """Two VGG-style stages (two 3×3 convolutions, each followed by BatchNorm, then pooling)
    and a small FC head. BatchNorm lets Adam's default rate train it in few epochs: ≥ 92% on
    Fashion-MNIST after 5 (README, Templates), where one convolution per stage without
    BatchNorm (mnist-cnn) reaches 90.87%. No Dropout: in 5 epochs it only slowed training
    (measured on Fashion-MNIST, seed 0: Dropout 0.5 gave 92.14%, 0.25 gave 92.26%, none 92.57%)."""
    batchnorm = ("BatchNorm2d", {})
    layers = []
    for channels in (32, 64):
        layers += [conv(channels), batchnorm, RELU, conv(channels), batchnorm, RELU, POOL]
    layers += [("Flatten", {}), fc(128), RELU, fc(10)]
    return straight("Fashion CNN with BatchNorm (28×28)", 1, 28, layers)


def residual() -> Graph:
    """A small ResNet-style network: two residual blocks joined with Add, GAP head."""
    graph = Graph("Mini ResNet")
    y = 0.0

    def add(type_id: str, params: dict, x: float = 0.0) -> str:
        nonlocal y
        y += SPACING
        return graph.add_block(type_id, params, (x, y)).id

    graph.add_block("Input", {"channels": 3, "height": 32, "width": 32}, (0, 0), "input")
    previous = "input"
    for step in (conv(16), ("BatchNorm2d", {}), RELU):
        block = add(*step)
        graph.connect(previous, block)
        previous = block
    for channels in (16, 16):
        skip = previous
        for step in (conv(channels), ("BatchNorm2d", {}), RELU, conv(channels), ("BatchNorm2d", {})):
            block = add(*step, x=0.0)
            graph.connect(previous, block)
            previous = block
        merged = add("Add", {})
        graph.connect(previous, merged, 0)
        graph.connect(skip, merged, 1)
        block = add("ReLU", {})
        graph.connect(merged, block)
        previous = block
    for step in (POOL, conv(32), ("BatchNorm2d", {}), RELU, ("GAP", {}), fc(10)):
        block = add(*step)
        graph.connect(previous, block)
        previous = block
    return graph


TEMPLATE_BUILDERS = {
    "lenet5": lenet5,
    "mnist-cnn": lambda: mnist_cnn("Small CNN (28×28, FC head)", "fc"),
    "mnist-cnn-gap": lambda: mnist_cnn("Small CNN (28×28, GAP head)", "gap"),
    "cifar-cnn": lambda: small_cnn("CIFAR CNN (FC head)", 3, 32, "fc"),
    "cifar-cnn-gap": lambda: small_cnn("CIFAR CNN (GAP head)", 3, 32, "gap"),
    "vgg16": vgg16,
    "resnet-mini": residual,
    "fashion-bn": fashion_bn,
}


def main() -> None:
    TEMPLATES.mkdir(parents=True, exist_ok=True)
    for stem, build in TEMPLATE_BUILDERS.items():
        save_architecture(build(), TEMPLATES / f"{stem}.json")
        print(f"wrote {stem}.json")


if __name__ == "__main__":
    main()
