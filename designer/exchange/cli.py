"""``python main.py export`` and ``python main.py import``.

The argument functions run whenever the command parser is built, so this module imports
nothing heavy at the top; torch and onnx load once the input files are known to be good.
Exit codes: 0 done, 2 a bad file, setting or output (nothing was written).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from designer.command_line import EXIT_BAD_INPUT, read_design
FORMATS = ("pytorch", "onnx")


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="architecture JSON")
    parser.add_argument("--format", choices=FORMATS,
                        help="pytorch: a folder with model.py, train.py, data.py, distributed.py and README.md; "
                             "onnx: one .onnx file (default: onnx when --output ends in .onnx, else pytorch)")
    parser.add_argument("--output", required=True, metavar="PATH", help="the folder (pytorch) or file (onnx) to write")
    parser.add_argument("--checkpoint", metavar="CKPT",
                        help="a checkpoint of this design (train's checkpoint.pt): include its trained weights "
                             "(and, for ONNX, its input normalisation, so the model takes raw pixels 0-255)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing output (a folder only when it is an earlier export)")


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="an ONNX model (.onnx)")
    parser.add_argument("--output", required=True, metavar="DESIGN.json", help="the architecture file to write")
    parser.add_argument("--weights", metavar="CKPT.pt",
                        help="also write the model's weights as a checkpoint the window and export read")
    parser.add_argument("--name", help="the design's name (default: the model's)")
    parser.add_argument("--force", action="store_true", help="replace existing output files")


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 1e5 else f"{count / 1e3:.0f} kB"


def run_export_command(arguments: argparse.Namespace) -> int:
    from designer.exchange.errors import ExchangeError

    graph = read_design(arguments.file)
    if graph is None:
        return EXIT_BAD_INPUT
    output = Path(arguments.output)
    kind = arguments.format or ("onnx" if output.suffix.lower() == ".onnx" else "pytorch")
    started = time.perf_counter()
    try:
        from designer.exchange import weights as weights_module

        weights = (weights_module.from_checkpoint(graph, arguments.checkpoint) if arguments.checkpoint
                   else None)
        if kind == "pytorch":
            from designer.exchange.pytorch_code import export_pytorch

            result = export_pytorch(graph, output, weights, force=arguments.force)
            print(f"wrote {output}/: {', '.join(result.files)} ({time.perf_counter() - started:.1f} s)")
            print(f"model.py: class {result.class_name} (also importable as Model)")
            print(f"weights: {weights.describe() if weights else 'none: model.py starts from random weights'}"
                  + ("" if weights else "; add --checkpoint CKPT.pt to include trained weights"))
            print(f"train it: python {output / 'train.py'} --data DIR   "
                  f"(or python -m torch.distributed.run --nproc_per_node N {output / 'train.py'} --data DIR)")
        else:
            from designer.exchange.onnx_export import export_onnx

            result = export_onnx(graph, output, weights, force=arguments.force)
            print(f"wrote {output} (ONNX opset {result.opset}, {_size(result.size)}, "
                  f"{time.perf_counter() - started:.1f} s)")
            print(f"input 'images': {result.input_description}")
            print(f"output 'logits': {graph.name}'s class scores, batch size free")
            print(f"weights: {result.weights.describe()}"
                  + ("" if result.weights.trained else "; add --checkpoint CKPT.pt to include trained weights"))
            print(f"checked with onnxruntime: largest difference from PyTorch {result.max_difference:.1e}")
    except ExchangeError as error:
        return _error(str(error))
    return 0


def run_import_command(arguments: argparse.Namespace) -> int:
    from designer.core import analyze
    from designer.exchange.errors import ExchangeError
    from designer.exchange.onnx_import import import_onnx, write_import
    from designer.exchange.output import check_output, check_writable

    started = time.perf_counter()
    try:
        # Refuse existing outputs before reading a model of half a gigabyte.
        check_output(Path(arguments.output), arguments.force, "file")
        check_writable(Path(arguments.output))
        if arguments.weights:
            check_output(Path(arguments.weights), arguments.force, "file")
            check_writable(Path(arguments.weights))
        result = import_onnx(arguments.file, arguments.name)
        write_import(result, arguments.output, arguments.weights, force=arguments.force)
    except ExchangeError as error:
        return _error(str(error))
    graph = result.graph
    analysis = analyze(graph)
    counts: dict[str, int] = {}
    for block in graph:
        counts[block.type_id] = counts.get(block.type_id, 0) + 1
    print(f"read {Path(arguments.file).name}: {result.nodes} ONNX nodes → {len(graph)} blocks "
          f"({', '.join(f'{count} {kind}' for kind, count in counts.items())})")
    print(f"wrote {arguments.output}: \"{graph.name}\", {analysis.total_params:,} parameters, "
          f"{analysis.total_macs:,} MACs ({time.perf_counter() - started:.1f} s)")
    if result.normalisation is not None:
        mean = ", ".join(f"{value:.4f}" for value in result.normalisation.mean)
        std = ", ".join(f"{value:.4f}" for value in result.normalisation.std)
        print(f"the model takes raw pixels and normalises them itself (mean {mean}, std {std}); "
              f"the checkpoint keeps that normalisation")
    if arguments.weights:
        print(f"wrote {arguments.weights}: the design with the model's weights (open it in the window, "
              f"or export it again with --checkpoint)")
    else:
        print("weights not kept: add --weights CKPT.pt to write them as a checkpoint")
    for note in result.notes:
        print(f"note: {note}")
    if result.max_difference is not None:
        print(f"checked with onnxruntime: outputs match to {result.max_difference:.1e}")
    return 0
