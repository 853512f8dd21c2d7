"""Scaling out on this computer: a sweep on 1 vs 2 training processes vs Ray, and DDP on 1 vs 2 processes.

    python tests/benchmarks/bench_scale.py [--epochs 2] [--skip-sweep] [--skip-ddp] [--skip-ray]

Sweep: the 6 variants of LeNet-5's FC head (depths 1, 2, 3 × widths 32, 128, ReLU) on the
built-in sample, run on the run path as ``python main.py sweep`` runs them — ``--parallel 1``
(one training process, all CPUs' threads; and with one thread), ``--parallel 2`` (two
processes, the threads shared) and ``--backend ray`` (Ray tasks of as many CPUs, on a Ray
instance started for the sweep) — timed from the call to the last result; Ray's start and
shutdown are timed apart.
The tables must agree between ``--parallel 2`` and Ray (the same threads per variant).

DDP: one run of LeNet-5 and of the larger mnist-cnn, through the run path, as one process
of global batch 2b with all CPUs' threads (``A``) and with one thread (``A1``), as
``Processes(2)`` of batch b each with the CPUs shared (``B``), and as one process of batch b
with the threads of one of the two (``C``: the same work per process, without the other).
Reported: start-up (call → first batch), images per second in the training loop, and the
median step time; the per-step overhead of data parallelism is the 2-process step time
less ``C``'s. Last, the cost of the per-step sum of the batch figures and Stop
(``Processes.sum`` of 4 values), timed alone in 2 processes under torchrun.

Steps are counted from the 6th (warm-up), without each epoch's first (it holds the
validation before it).
Prints figures only; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

WARM_UP_STEPS = 5


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f}"


def sweep_figures(epochs: int, skip_ray: bool) -> None:
    from designer.core import TEMPLATES, load_architecture
    from designer.lab.sweep import SweepSpec, run_sweep
    from designer.training.records import TrainConfig
    from designer.training.run import Local, Ray
    from designer.training import service

    cpus = os.cpu_count() or 1
    graph = load_architecture(TEMPLATES / "lenet5.json")
    spec = SweepSpec(depths=(1, 2, 3), widths=(32, 128), activation="ReLU", epochs=epochs)
    config = TrainConfig(dataset="mnist-sample", epochs=epochs, batch_size=64, device="cpu", download=False)
    print(f"Sweep: 6 variants of LeNet-5's head, {epochs} epoch(s) each, mnist-sample, {cpus} CPUs; {load()}")
    tables, walls = {}, {}
    cases = [("--parallel 1", Local(parallel=1, torch_threads=cpus)),
             ("--parallel 1 --threads-per-run 1", Local(parallel=1, torch_threads=1)),
             ("--parallel 2", Local(parallel=2, torch_threads=max(1, cpus // 2)))]
    if not skip_ray:
        cases.append(("--backend ray", Ray(cpus_per_run=max(1, cpus // 2))))
    for name, launch in cases:
        service.shutdown_idle()  # every case starts its processes itself
        started = time.perf_counter()
        runs = run_sweep(graph, spec, config, launch=launch)
        walls[name] = time.perf_counter() - started
        tables[name] = [(run.label, run.parameters, run.accuracy) for run in runs]
        trained = sum(run.seconds or 0 for run in runs)
        print(f"  {name:33} {walls[name]:6.1f} s wall, {trained:6.1f} s of training summed over variants; {load()}")
    base = walls["--parallel 1"]
    ratios = ", ".join(f"{name} {base / wall:.2f}×" for name, wall in walls.items())
    print(f"  speed-up over --parallel 1 (its wall time ÷ each one's): {ratios}")
    if "--backend ray" in tables:
        same = tables["--backend ray"] == tables["--parallel 2"]
        print(f"  --parallel 2 and Ray tables identical (same seeds, same threads per variant): {same}")
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        up = time.perf_counter() - started
        started = time.perf_counter()
        ray.shutdown()
        print(f"  of Ray's wall time: starting a Ray instance here {up:.1f} s, shutting it down "
              f"{time.perf_counter() - started:.1f} s")


@dataclasses.dataclass
class RunFigures:
    startup: float  # call → first batch reported
    images_per_second: float
    step_seconds: float  # median, after the warm-up steps
    accuracy: float | None


def one_run(template: str, launch, batch_size: int, epochs: int) -> RunFigures:
    from designer.core import TEMPLATES, load_architecture
    from designer.training.records import TrainConfig
    from designer.training.run import BatchesDone, RunRequest, RunStarted, run

    graph = load_architecture(TEMPLATES / f"{template}.json")
    config = TrainConfig(dataset="mnist-sample", epochs=epochs, batch_size=batch_size, device="cpu",
                         download=False)
    seconds, sizes, first, steps = [], [], [], []
    started = time.perf_counter()

    def listen(event) -> None:
        if isinstance(event, RunStarted):
            steps.append(event.info.batches_per_epoch)
        if isinstance(event, BatchesDone):
            if not first:
                first.append(time.perf_counter() - started)
            seconds.extend(event.points.seconds)
            sizes.extend(event.points.sizes)

    result = run(RunRequest.of(graph, config, find_mistakes=False, keep_weights=False, launch=launch), listen)
    assert result.status == "finished", result.result.message
    # Each epoch's first step also holds the validation before it: left out, with the warm-up.
    kept = [index for index in range(WARM_UP_STEPS, len(seconds)) if index % steps[0]]
    steady_seconds, steady_sizes = [seconds[index] for index in kept], [sizes[index] for index in kept]
    return RunFigures(first[0], sum(steady_sizes) / sum(steady_seconds), statistics.median(steady_seconds),
                      result.result.test_accuracy)


def ddp_figures(epochs: int) -> None:
    from designer.training.run import Local, Processes

    cpus = os.cpu_count() or 1
    print(f"\nDDP on this CPU ({cpus} CPUs, gloo), mnist-sample, {epochs} epochs; {load()}")
    half = max(1, cpus // 2)
    for template, batch in (("lenet5", 32), ("mnist-cnn", 32)):
        cases = [
            (f"A: 1 process, batch {2 * batch}, {cpus} threads", Local(own_process=False, torch_threads=cpus),
             2 * batch),
            (f"A1: 1 process, batch {2 * batch}, 1 thread", Local(own_process=False, torch_threads=1), 2 * batch),
            (f"B: 2 processes, batch {batch} each, {half} thread(s) each", Processes(2, torch_threads=half), batch),
            (f"C: 1 process, batch {batch}, {half} thread(s)", Local(own_process=False, torch_threads=half), batch),
        ]
        figures = {}
        print(f"  {template}:")
        for name, launch, batch_size in cases:
            figures[name[:name.index(":")]] = found = one_run(template, launch, batch_size, epochs)
            print(f"    {name:44} start {found.startup:5.1f} s, {found.images_per_second:7.0f} images/s, "
                  f"step {found.step_seconds * 1000:6.1f} ms, test accuracy {found.accuracy:.2%}")
        two = figures["B"]
        print(f"    throughput B / A: {two.images_per_second / figures['A'].images_per_second:.2f}×, B / A1: "
              f"{two.images_per_second / figures['A1'].images_per_second:.2f}×; per-step overhead of data "
              f"parallelism (B's step − C's): {(two.step_seconds - figures['C'].step_seconds) * 1000:+.1f} ms; "
              f"{load()}")


def probe_sum_cost() -> None:
    """Under torchrun: the time of ``Processes.sum`` of 4 values (the per-step figures and Stop)."""
    import torch

    from designer.training import distributed

    torch.set_num_threads(1)
    with distributed.start("cpu") as processes:
        for _ in range(50):
            processes.sum(1.0, 2.0, 3.0, 0.0)
        processes.barrier()
        started = time.perf_counter()
        for _ in range(1000):
            processes.sum(1.0, 2.0, 3.0, 0.0)
        elapsed = time.perf_counter() - started
        processes.print(f"  Processes.sum of 4 values in 2 processes (gloo): {elapsed:.3f} ms per call "
                        f"(1,000 calls)")


def sum_figures() -> None:
    print(f"\nThe per-step sum alone; {load()}")
    environment = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    completed = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                                "2", str(Path(__file__).resolve()), "--probe-sum"], env=environment,
                               capture_output=True, text=True, timeout=300)
    print(completed.stdout.rstrip() or completed.stderr[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--skip-ddp", action="store_true")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--probe-sum", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.probe_sum:
        probe_sum_cost()
        return
    import platform

    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; {load()}")
    if not arguments.skip_sweep:
        sweep_figures(arguments.epochs, arguments.skip_ray)
    if not arguments.skip_ddp:
        ddp_figures(arguments.epochs)
        sum_figures()


if __name__ == "__main__":
    main()
