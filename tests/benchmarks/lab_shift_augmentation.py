"""FC lab, "Where is the cat?": FC head vs FC head + shift augmentation vs GAP head, headless.

    python tests/benchmarks/lab_shift_augmentation.py [--design resources/templates/lenet5.json]
        [--dataset mnist-sample] [--epochs 2] [--batch-size 64] [--augment-shift 4] [--max-shift 6]
        [--samples 1000] [--axis x] [--seed 0]

What the dialog's "Train and compare" does (``designer.lab.shift_augmentation.train_and_probe``):
trains the design as it is, the same design with ``--augment shift:K`` and the design with its
head replaced by GAP + FC, with the same settings (Adam 1e-3 by default, seed 0), one after
the other in this process; probes each on the first ``--samples`` test images shifted
−max…+max pixels; prints a table, the verdict and the wall times. Accuracy is deterministic
for a given seed, device and PyTorch thread count (printed); the times are not.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", type=Path, default=ROOT / "resources" / "templates" / "lenet5.json")
    parser.add_argument("--dataset", default="mnist-sample")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--augment-shift", type=int, default=4)
    parser.add_argument("--max-shift", type=int, default=6)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--axis", choices=("x", "y", "both"), default="x")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()

    from designer.training.threads import prepare_openmp

    prepare_openmp()
    from designer.core import analyze, load_architecture
    from designer.lab.shift_augmentation import comparison_variants, robustness, train_and_probe
    from designer.training.records import TrainConfig
    from designer.training.run import EpochDone, Local, RunStarted

    graph = load_architecture(arguments.design)
    config = TrainConfig(dataset=arguments.dataset, epochs=arguments.epochs, batch_size=arguments.batch_size,
                         seed=arguments.seed, device="cpu", download=False)
    variants = comparison_variants(graph, config, arguments.augment_shift)
    threads = {}

    def emit(event) -> None:
        if isinstance(event, RunStarted):
            threads[event.run_id] = event.info.threads
            print(f"  run started: {event.info.train_samples} training images, {event.info.threads} thread(s)",
                  file=sys.stderr, flush=True)
        elif isinstance(event, EpochDone):
            metrics = event.metrics
            print(f"  epoch {metrics.epoch}: validation accuracy {metrics.validation_accuracy:.4f}, "
                  f"{metrics.seconds:.1f} s", file=sys.stderr, flush=True)

    began = time.perf_counter()
    outcome = train_and_probe(variants, max_shift=arguments.max_shift, axis=arguments.axis, samples=arguments.samples,
                              launch=Local(own_process=False), emit=emit)
    wall = time.perf_counter() - began
    shift = outcome["shift"]
    print(f"{graph.name} on {arguments.dataset}: {arguments.epochs} epoch(s), batch {arguments.batch_size}, Adam 1e-3, "
          f"seed {arguments.seed}, CPU; probe on {outcome['probes'][0]['samples']} test images, axis {arguments.axis}")
    print(f"{'variant':<42} {'params':>9} {'shift 0':>8} {f'±{shift} px':>8} {'kept':>6} "
          f"{f'±{arguments.max_shift} px':>8} {'train s':>8} threads")
    for request_threads, variant, model, probe in zip(threads.values(), outcome["variants"], outcome["models"],
                                                      outcome["probes"]):
        near = robustness(probe["points"], shift)
        far = robustness(probe["points"], arguments.max_shift)
        run_seconds = model.result.seconds if model.result is not None else float("nan")
        print(f"{variant.label:<42} {analyze(variant.graph).total_params:>9,} {near.centred:>8.2%} "
              f"{near.shifted:>8.2%} {near.kept:>6.0%} {far.shifted:>8.2%} {run_seconds:>8.1f} {request_threads:>7}")
    print(outcome["verdict"])
    print(f"wall time {wall:.0f} s (training and probing; the machine may be shared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
