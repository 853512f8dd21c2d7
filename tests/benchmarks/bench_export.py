"""Export and import times: run with ``python tests/benchmarks/bench_export.py [--repeats N]``.

For LeNet-5 and VGG-16 (138 M parameters) it times, in this process after a warm-up:
PyTorch code export with trained weights, ONNX export with trained weights (including the
onnxruntime check), and ONNX import (reading, mapping, weights, the onnxruntime check), and
prints the medians.

``--compare-exporters`` also exports every template with both of torch.onnx's exporters, the
dynamo-based one this program uses (``dynamo=True``, then its own tidying) and the
TorchScript-based one (``dynamo=False``), and prints per template the time, the number of
warnings each raised and the largest difference between onnxruntime's and torch's outputs: the
measurement behind the choice of exporter (README, "Export and import").
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from designer.core import TEMPLATES, load_architecture, template_paths  # noqa: E402


def median_seconds(step, repeats: int) -> tuple[float, float, float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), min(samples), max(samples)


def trained_weights(graph):
    """Seeded weights with a normalisation, standing in for a checkpoint's."""
    import torch

    from designer.exchange.weights import Weights
    from designer.nn import build_module
    from designer.training.evaluation import Normalisation

    torch.manual_seed(0)
    module = build_module(graph).eval()
    channels = module.input_shape[0]
    return Weights(module, trained=True, source="the benchmark", normalisation=Normalisation(
        (0.45,) * channels, (0.25,) * channels), class_names=tuple(str(index) for index in range(10)))


def time_exports(repeats: int, folder: Path) -> None:
    from designer.exchange.onnx_export import export_onnx
    from designer.exchange.onnx_import import import_onnx
    from designer.exchange.pytorch_code import export_pytorch

    print(f"{'design':<10} {'step':<34} {'median':>9} {'min':>9} {'max':>9}")
    for name in ("lenet5", "vgg16"):
        graph = load_architecture(TEMPLATES / f"{name}.json")
        weights = trained_weights(graph)
        onnx_path = folder / f"{name}.onnx"
        export_onnx(graph, onnx_path, weights, force=True)  # warm-up: imports, first trace
        import_onnx(onnx_path)
        steps = (
            ("PyTorch code with weights.pt", lambda: export_pytorch(graph, folder / f"{name}-code", weights,
                                                                    force=True)),
            ("ONNX export (+ onnxruntime check)", lambda: export_onnx(graph, onnx_path, weights, force=True)),
            ("ONNX import (+ onnxruntime check)", lambda: import_onnx(onnx_path)),
        )
        for label, step in steps:
            median, low, high = median_seconds(step, repeats)
            print(f"{graph.name:<10} {label:<34} {median:>8.2f}s {low:>8.2f}s {high:>8.2f}s", flush=True)
        size = onnx_path.stat().st_size
        print(f"{graph.name:<10} {'ONNX file size':<34} {size / 1e6:>8.1f} MB")


def compare_exporters(folder: Path) -> None:
    import numpy as np
    import onnxruntime
    import torch

    from designer.exchange.onnx_export import quiet
    from designer.nn import build_module

    print(f"\n{'template':<14} {'exporter':<12} {'seconds':>8} {'warnings':>9} {'max |ORT - torch|':>18}")
    for path in template_paths():
        graph = load_architecture(path)
        torch.manual_seed(0)
        module = build_module(graph).eval()
        example = torch.randn(2, *module.input_shape)
        for exporter in ("dynamo", "torchscript"):
            target = folder / f"{path.stem}-{exporter}.onnx"
            with warnings.catch_warnings(record=True) as caught, quiet():
                warnings.simplefilter("always")
                started = time.perf_counter()
                if exporter == "dynamo":
                    torch.onnx.export(module, (example,), str(target), dynamo=True, verbose=False,
                                      input_names=["images"], output_names=["logits"],
                                      dynamic_shapes=({0: torch.export.Dim("batch")},))
                else:
                    torch.onnx.export(module, (example,), str(target), dynamo=False, input_names=["images"],
                                      output_names=["logits"], dynamic_axes={"images": {0: "batch"}},
                                      opset_version=17)
                seconds = time.perf_counter() - started
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
            with torch.no_grad():
                expected = module(example[:1]).numpy()
            actual = session.run(None, {"images": example[:1].numpy()})[0]
            difference = float(np.max(np.abs(actual - expected)))
            print(f"{path.stem:<14} {exporter:<12} {seconds:>8.2f} {len(caught):>9} {difference:>18.1e}",
                  flush=True)
            target.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compare-exporters", action="store_true")
    arguments = parser.parse_args()
    import torch

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        time_exports(arguments.repeats, Path(folder))
        if arguments.compare_exporters:
            compare_exporters(Path(folder))


if __name__ == "__main__":
    main()
