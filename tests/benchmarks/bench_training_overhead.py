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

    python tests/benchmarks/bench_training_overhead.py --case contention [--rounds 3] [--seconds 4]

Training under contention (issue 14): the same LeNet-5 training, each configuration in a
fresh process (OpenMP reads its environment once, when torch loads), timed over the batches
after a warm-up: every fixed thread count from 1 to the number of cores with OpenMP's default
wait and with ``OMP_WAIT_POLICY=PASSIVE``, and the program's policy
(``designer.training.threads``: passive wait, one thread per free core, measured as the
command line and the training process do). Two conditions, each in the same run: no
competitor of the benchmark's own ("idle", whatever else the machine runs — the load average
is printed), and one competing process that keeps a core busy. Configurations alternate
order in each round. Goals: the policy ≥ 0.9 of the best fixed thread count under the
competitor, and ≥ what the previous default did (PyTorch's choice less one core, default
wait) without it.
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
    parser.add_argument("--case", choices=("overhead", "contention"), default="overhead",
                        help="overhead: Trainer vs a hand loop (default); contention: thread policies "
                             "with and without a competing busy process")
    parser.add_argument("--rounds", type=int, default=3, help="contention: rounds over every configuration")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="contention: how long each configuration trains after its warm-up")
    parser.add_argument("--template", default="lenet5", help="a file in resources/templates (default lenet5)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: torch's choice). On a machine busy with other work, "
                             "1 thread keeps OpenMP from spinning and makes the ratio far less noisy")
    arguments = parser.parse_args()
    if arguments.case == "contention":
        run_contention_case(arguments.template, arguments.batch_size, arguments.rounds, arguments.seconds)
        return
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


# ---------------------------------------------------------------------------------------- contention

#: What one configuration runs, in a fresh process: the training loop of a real run, timed per
#: batch after a warm-up, stopped once it has trained ``seconds`` (a slow configuration under
#: contention would otherwise take minutes). "policy" chooses its threads as a run does.
CONTENTION_CHILD = r"""
import json, sys, threading, time
template, batch_size, threads, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
sys.path.insert(0, sys.argv[5])
from designer.training.threads import policy, prepare_openmp
if threads == "policy":
    prepare_openmp()
    policy().mark()
import torch
from designer.core import TEMPLATES, load_architecture
from designer.data import load_dataset
from designer.training import TrainConfig, Trainer, TrainingCallback
if threads == "policy":
    from designer.training.session import choose_torch_threads
    choice = choose_torch_threads(torch)
    torch.set_num_threads(choice.threads)
    reason = choice.reason
else:
    torch.set_num_threads(int(threads))
    reason = "fixed"
WARM_UP = 8
stop = threading.Event()
class Clock(TrainingCallback):
    def __init__(self):
        self.batches, self.images, self.started = 0, 0, None
    def on_batch_end(self, metrics):
        self.batches += 1
        if self.batches == WARM_UP:
            self.started = time.perf_counter()
        elif self.batches > WARM_UP:
            self.images += metrics.size
            if time.perf_counter() - self.started >= seconds:
                self.seconds = time.perf_counter() - self.started
                stop.set()
clock = Clock()
graph = load_architecture(TEMPLATES / f"{template}.json")
dataset = load_dataset("mnist-sample", download=False)
config = TrainConfig(epochs=1000, batch_size=batch_size, validation_fraction=0.0, device="cpu")
Trainer(graph, config, [clock], dataset=dataset, stop_event=stop).run()
print(json.dumps({"rate": clock.images / clock.seconds, "threads": torch.get_num_threads(), "reason": reason}))
"""


def _busy() -> None:
    while True:
        pass


def _measure(template: str, batch_size: int, threads: str, wait: str, seconds: float) -> dict:
    import json
    import subprocess

    environment = {key: value for key, value in os.environ.items() if key not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    if wait:
        environment["OMP_WAIT_POLICY"] = wait
    completed = subprocess.run([sys.executable, "-c", CONTENTION_CHILD, template, str(batch_size), threads,
                                str(seconds), str(ROOT)], env=environment, capture_output=True, text=True,
                               timeout=600)
    if completed.returncode != 0:
        raise SystemExit(f"a configuration failed: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_contention_case(template: str, batch_size: int, rounds: int, seconds: float) -> None:
    import multiprocessing

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    previous_default = max(1, min(torch.get_num_threads(), cores - 1))  # before issue 14: torch's less one
    configurations = [(str(count), "") for count in range(1, cores + 1)]
    configurations += [(str(count), "PASSIVE") for count in range(1, cores + 1)]
    configurations.append(("policy", ""))
    print(f"template {template}, batch {batch_size}, {seconds:g} s per configuration after 8 warm-up batches, "
          f"{rounds} rounds; torch {torch.__version__}, {cores} cores; the previous default was "
          f"{previous_default} thread(s) with OpenMP's default wait", flush=True)
    context = multiprocessing.get_context("spawn")
    for condition, competitors in (("idle", 0), ("one busy competitor", 1)):
        processes = [context.Process(target=_busy, daemon=True) for _ in range(competitors)]
        for process in processes:
            process.start()
        try:
            rates: dict[tuple[str, str], list[float]] = {configuration: [] for configuration in configurations}
            chosen: list[str] = []
            loads = []
            for round_number in range(rounds):
                order = configurations if round_number % 2 == 0 else configurations[::-1]
                for threads, wait in order:
                    loads.append(os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"))
                    measured = _measure(template, batch_size, threads, wait, seconds)
                    rates[(threads, wait)].append(measured["rate"])
                    if threads == "policy":
                        chosen.append(f"{measured['threads']} ({measured['reason']})")
        finally:
            for process in processes:
                process.terminate()
                process.join()
        medians = {configuration: statistics.median(values) for configuration, values in rates.items()}
        print(f"\n{condition}: load average {min(loads):.2f}–{max(loads):.2f} during the runs", flush=True)
        for (threads, wait), median in medians.items():
            name = "policy" if threads == "policy" else f"{threads} thread{'s' if threads != '1' else ''}, " \
                                                        f"{'passive' if wait else 'default'} wait"
            runs = ", ".join(f"{value:,.0f}" for value in rates[(threads, wait)])
            print(f"  {name:<28} {median:9,.0f} images/s   (runs: {runs})")
        print(f"  the policy chose: {'; '.join(chosen)}")
        best = max(median for (threads, wait), median in medians.items() if threads != "policy" and not wait)
        best_any = max(median for (threads, _wait), median in medians.items() if threads != "policy")
        policy_rate = medians[("policy", "")]
        previous = medians[(str(previous_default), "")]
        print(f"  policy ÷ best fixed thread count (default wait) {policy_rate / best:.3f}; "
              f"÷ best of every fixed configuration {policy_rate / best_any:.3f}; "
              f"÷ the previous default {policy_rate / previous:.3f}", flush=True)


if __name__ == "__main__":
    main()
