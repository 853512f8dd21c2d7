"""Trainer overhead: the same model on the same data, Trainer vs a minimal hand-written loop.

    python tests/benchmarks/bench_training_overhead.py [--template lenet5] [--epochs 2] [--repeats 5]

Both sides build the model from the same template with the same seed, train it with Adam
on the built-in MNIST sample for the same number of epochs with the same batch size, and
are timed over the training epochs only (no validation set for the Trainer, no test
evaluation on either side). The runs alternate so drifting machine load hits both alike.
The hand-written loop holds the data pre-normalised in float32 and does nothing but
shuffle, slice, forward, loss, backward, step; the Trainer additionally normalises uint8
batches on the fly, counts correct predictions, reads the loss back to check it is finite,
and calls a callback every batch. Goal: Trainer throughput ≥ 0.97 of the loop's.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch.nn import functional  # noqa: E402

from designer.core import TEMPLATES, load_architecture  # noqa: E402
from designer.data import load_dataset  # noqa: E402
from designer.nn import build_module  # noqa: E402
from designer.training import Normalisation, TrainConfig, Trainer, TrainingCallback  # noqa: E402


class EpochClock(TrainingCallback):
    """Times the training loop: from the first batch to the end of the last epoch."""

    def __init__(self) -> None:
        self.started = self.ended = 0.0
        self.batches = 0

    def on_train_start(self, info) -> None:
        self.started = time.perf_counter()

    def on_batch_end(self, metrics) -> None:
        self.batches += 1  # a callback per batch, as the window has

    def on_epoch_end(self, metrics) -> None:
        self.ended = time.perf_counter()


def run_trainer(graph, dataset, epochs: int, batch_size: int, seed: int) -> tuple[float, float]:
    clock = EpochClock()
    config = TrainConfig(epochs=epochs, batch_size=batch_size, optimizer="adam", learning_rate=1e-3,
                         validation_fraction=0.0, seed=seed, device="cpu")
    result = Trainer(graph, config, [clock], dataset=dataset).run()
    assert result.status == "finished", result.message
    return clock.ended - clock.started, result.history[-1].train_loss


def run_loop(graph, dataset, epochs: int, batch_size: int, seed: int) -> tuple[float, float]:
    torch.manual_seed(seed)
    model = build_module(graph)
    normalisation = Normalisation.of_images(dataset.train_images)
    images = normalisation.apply(torch.from_numpy(dataset.train_images))
    labels = torch.from_numpy(dataset.train_labels)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    count = images.shape[0]
    model.train()
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(count, generator=generator)
        for start in range(0, count, batch_size):
            indices = order[start:start + batch_size]
            loss = functional.cross_entropy(model(images[indices]), labels[indices])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - started
    return seconds, loss.item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="lenet5", help="a file in resources/templates (default lenet5)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: torch's choice). On a machine busy with other work, "
                             "1 thread keeps OpenMP from spinning and makes the ratio far less noisy")
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)

    graph = load_architecture(TEMPLATES / f"{arguments.template}.json")
    dataset = load_dataset("mnist-sample", download=False)
    samples = dataset.train_images.shape[0] * arguments.epochs
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"template {arguments.template}, {dataset.train_images.shape[0]:,} images × {arguments.epochs} epochs, "
          f"batch {arguments.batch_size}, Adam; torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch threads, {cores} cores available"
          + (f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""))

    # Warm up both (first optimizer creation imports torch._dynamo; first kernels allocate).
    run_trainer(graph, dataset, 1, arguments.batch_size, seed=0)
    run_loop(graph, dataset, 1, arguments.batch_size, seed=0)

    trainer_rates, loop_rates = [], []
    for repeat in range(1, arguments.repeats + 1):
        # Alternate which goes first so neither always runs on a "warmer" machine.
        order = (("trainer", run_trainer), ("loop", run_loop))
        if repeat % 2 == 0:
            order = order[::-1]
        for name, runner in order:
            seconds, loss = runner(graph, dataset, arguments.epochs, arguments.batch_size, seed=repeat)
            rate = samples / seconds
            (trainer_rates if name == "trainer" else loop_rates).append(rate)
            print(f"run {repeat} {name:>7}: {seconds:7.3f} s  {rate:9,.0f} images/s", flush=True)

    trainer_median = statistics.median(trainer_rates)
    loop_median = statistics.median(loop_rates)
    ratio = trainer_median / loop_median
    pairwise = statistics.median(t / l for t, l in zip(trainer_rates, loop_rates))
    print(f"median Trainer      {trainer_median:9,.0f} images/s")
    print(f"median hand loop    {loop_median:9,.0f} images/s")
    print(f"ratio of medians    {ratio:.3f}   (median of paired ratios {pairwise:.3f}; goal ≥ 0.97)")
    if not math.isfinite(ratio):
        sys.exit(1)


if __name__ == "__main__":
    main()
