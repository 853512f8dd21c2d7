"""How fast the live analysis answers an edit: run with ``python tests/benchmarks/bench_analysis.py``.

The canvas re-analyses the whole graph on every keystroke in the parameter panel, so the
figure that matters is set_param followed by analyze(). Goals (issue 2): ≤ 1 ms for VGG-16,
≤ 20 ms for a 1,000-block chain. For scale: a forward pass of VGG-16 for a torchinfo-style
summary takes ~300 ms on these machines.

Second part (issue 14): opening a design file — read, JSON, schema, graph, loop check — and
analysing it, for chains of 1,000, 10,000 and 100,000 blocks (the schema's limit). Goals:
≤ 0.5 s at 10,000 blocks, ≤ 5 s at 100,000, and a time per block that stays flat (linear).
`--quick` leaves out the 100,000-block chain.
"""

from __future__ import annotations

import os
import platform
import tempfile
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from designer.core import TEMPLATES, Graph, analyze, chain, load_architecture, save_architecture  # noqa: E402


def median_seconds(step, repeats: int) -> float:
    step()  # warm caches (topological order) as the canvas would be after the first edit
    samples = []
    for index in range(repeats):
        started = time.perf_counter()
        step(index)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def edit_and_analyze(graph: Graph, block_id: str, name: str, values: list):
    def step(index: int = 0):
        graph.set_param(block_id, name, values[index % len(values)])
        return analyze(graph)

    return step


def thousand_block_chain() -> Graph:
    graph = Graph("chain")
    layers = [("Input", {"channels": 3, "height": 32, "width": 32})]
    while len(layers) < 1000:
        layers += [("Conv2d", {"out_channels": 8, "padding": 1}), ("ReLU", {})]
    chain(graph, layers[:1000])
    return graph


def chain_of(count: int) -> Graph:
    """Input, then Conv2d/ReLU pairs: every block has parameters to validate and a shape to work out."""
    graph = Graph(f"chain of {count:,}")
    layers = [("Input", {"channels": 3, "height": 32, "width": 32})]
    while len(layers) < count:
        layers += [("Conv2d", {"out_channels": 8, "padding": 1}), ("ReLU", {})]
    chain(graph, layers[:count])
    return graph


def load_and_analyse_seconds(count: int, folder: Path, repeats: int) -> tuple[float, float, float, float, int]:
    """Medians of load_architecture + analyze on a saved chain: wall seconds in all, for the load
    and for the analysis, CPU seconds of this process in all (a shared machine delays the wall
    clock, not the CPU time), and the file's size."""
    path = folder / f"chain-{count}.json"
    save_architecture(chain_of(count), path)
    totals, loads, analyses, processor = [], [], [], []
    for _ in range(repeats):
        cpu_started = time.process_time()
        started = time.perf_counter()
        graph = load_architecture(path)
        loaded = time.perf_counter()
        analysis = analyze(graph)
        finished = time.perf_counter()
        processor.append(time.process_time() - cpu_started)
        assert len(graph) == count and analysis.valid
        totals.append(finished - started)
        loads.append(loaded - started)
        analyses.append(finished - loaded)
        del graph, analysis
    return (statistics.median(totals), statistics.median(loads), statistics.median(analyses),
            statistics.median(processor), path.stat().st_size)


def main() -> None:
    vgg = load_architecture(TEMPLATES / "vgg16.json")
    conv = next(block.id for block in vgg if block.type_id == "Conv2d")
    vgg_seconds = median_seconds(edit_and_analyze(vgg, conv, "out_channels", [64, 65]), repeats=2000)
    assert analyze(vgg).valid

    long_chain = thousand_block_chain()
    assert len(long_chain) == 1000 and analyze(long_chain).valid
    middle = [block.id for block in long_chain if block.type_id == "Conv2d"][250]
    chain_seconds = median_seconds(edit_and_analyze(long_chain, middle, "out_channels", [8, 9]), repeats=200)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"
    print(f"Machine: {machine}")
    print(f"VGG-16 ({len(vgg)} blocks), set_param + analyze: median {vgg_seconds * 1e3:.3f} ms "
          f"(goal <= 1 ms) {'OK' if vgg_seconds <= 1e-3 else 'MISSED'}")
    print(f"1,000-block chain, set_param + analyze: median {chain_seconds * 1e3:.3f} ms "
          f"(goal <= 20 ms) {'OK' if chain_seconds <= 20e-3 else 'MISSED'}")

    goals = {10_000: 0.5, 100_000: 5.0}
    sizes = [1_000, 10_000] + ([] if "--quick" in sys.argv else [100_000])
    print("Open a design file (read, JSON, schema, graph, loops) + analyze, chains of Conv2d/ReLU:")
    with tempfile.TemporaryDirectory() as folder:
        for count in sizes:
            total, load, analysis, cpu, size = load_and_analyse_seconds(count, Path(folder),
                                                                        repeats=5 if count < 100_000 else 3)
            goal = goals.get(count)
            verdict = f"(goal <= {goal:g} s) {'OK' if total <= goal else 'MISSED'}" if goal else ""
            print(f"  {count:>7,} blocks ({size / 1e6:5.1f} MB): {total:6.3f} s = load {load:.3f} + analyze "
                  f"{analysis:.3f}; {total / count * 1e6:5.1f} µs per block; CPU {cpu:6.3f} s, "
                  f"{cpu / count * 1e6:5.1f} µs per block {verdict}")
    print(f"Load average while running: {', '.join(f'{value:.2f}' for value in os.getloadavg())} "
          f"(1, 5, 15 min; the machine may be shared)" if hasattr(os, "getloadavg") else "")


if __name__ == "__main__":
    main()
