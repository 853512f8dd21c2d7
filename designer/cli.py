"""Command line: ``python main.py`` opens the window; subcommands run headless.

Each subcommand imports what it needs when it runs, so ``info`` never loads torch or Qt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from designer.command_line import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_INVALID_DESIGN, read_design

#: Every headless command with its one-line help, in the order `--help` lists them. A new
#: command adds its line here and its parser in build_command_parser.
COMMAND_HELP = {
    "info": "print the layer table (shapes, parameters, MACs, FC share) and where each dataset "
            "comes from",
    "train": "train a design headless and save history and checkpoint (--nproc N: data-parallel)",
    "sweep": "train depth × width variants of a design's FC head; table, Pareto fronts, CSV and JSON",
    "export": "write a design as standalone PyTorch code or as ONNX",
    "import": "read an ONNX model as a design (and its weights as a checkpoint)",
    "predict": "print the top classes a checkpoint gives image files",
}
COMMANDS = tuple(COMMAND_HELP)


def _info(arguments) -> int:
    from designer.core import analyze
    from designer.core.summary import summary_text

    graph = read_design(arguments.file)
    if graph is None:
        return EXIT_BAD_INPUT
    analysis = analyze(graph)
    print(summary_text(graph, analysis))
    if getattr(arguments, "dataset", None) == "folder":
        print(_image_folder_text(graph, getattr(arguments, "data_folder", None)))
    else:
        print(_data_sources_text(getattr(arguments, "dataset", None), getattr(arguments, "data_folder", None)))
    if not analysis.valid:
        name = Path(arguments.file).name
        print(f"error: {name}: the design is not valid: {_invalid_reasons(analysis)}", file=sys.stderr)
        return EXIT_INVALID_DESIGN
    return 0


def _invalid_reasons(analysis, shown: int = 3) -> str:
    """The graph's problems and the blocks in error, the first few, on one line."""
    reasons = list(analysis.problems) + [f"{block_id}: {error}" for block_id, error in analysis.errors.items()]
    text = "; ".join(reasons[:shown])
    if len(reasons) > shown:
        text += f"; and {len(reasons) - shown:,} more (see the table)"
    return text


def _data_sources_text(dataset: str | None, folder: str | None) -> str:
    """Where `train` would take each dataset from now; nothing is read or downloaded."""
    from designer.data import DATASET_NAMES, DatasetError, describe_source

    names = (dataset,) if dataset else DATASET_NAMES
    width = max(len(name) for name in names)
    lines = ["", "Data for `train --dataset NAME`" + (f" (trying {folder} first)" if folder else "") + ":"]
    for name in names:
        try:
            where = describe_source(name, folder)
        except DatasetError as error:
            where = str(error)
        lines.append(f"  {name:<{width}}  {where}")
    return "\n".join(lines)


def _image_folder_text(graph, folder: str | None) -> str:
    """What `train --dataset folder` would read: classes and image counts from a listing (nothing decoded)."""
    from designer.data import DatasetError
    from designer.training.datasets import describe_dataset, design_input_shape
    from designer.training.records import TrainConfig

    try:
        info = describe_dataset(TrainConfig(dataset="folder", data_folder=folder), design_input_shape(graph))
    except DatasetError as error:
        return f"\nImage folder: {error}"
    names = ", ".join(info.class_names[:8]) + (f", … ({info.num_classes - 8} more)" if info.num_classes > 8 else "")
    channels, height, width = info.input_shape
    return (f"\nImage folder for `train --dataset folder`: {info.description}; {info.num_classes} classes ({names}); "
            f"about {info.train_size:,} training and {info.test_size:,} test images, read as "
            f"{'grey' if channels == 1 else 'RGB'} {height}×{width} (the Input block)")


def _train(arguments) -> int:
    from designer.training.cli import run_training_command

    return run_training_command(arguments)


def _sweep(arguments) -> int:
    from designer.lab.sweep_cli import run_sweep_command

    return run_sweep_command(arguments)


def _export(arguments) -> int:
    from designer.exchange.cli import run_export_command

    return run_export_command(arguments)


def _import(arguments) -> int:
    from designer.exchange.cli import run_import_command

    return run_import_command(arguments)


def _predict(arguments) -> int:
    from designer.training.predictions import predict_command

    return predict_command(arguments)


def _window(arguments) -> int:
    from designer.ui.app import run_window

    return run_window(arguments)


def _commands_epilog() -> str:
    width = max(len(name) for name in COMMANDS) + len(" FILE")
    lines = ["headless commands (`python main.py COMMAND --help` for each):"]
    lines += [f"  {name + ' FILE':<{width}}  {text}" for name, text in COMMAND_HELP.items()]
    return "\n".join(lines)


def build_window_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="network-designer",
        description="Design convolutional networks, see what every block costs, train them. "
        "Without a command, opens the window.",
        epilog=_commands_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", nargs="?", help="architecture JSON to open (default: the LeNet-5 template)")
    parser.add_argument("--screenshot", metavar="PNG", help="render the window to a PNG file and exit")
    parser.set_defaults(handler=_window)
    return parser


def build_command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="network-designer", epilog=_commands_epilog(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    info = commands.add_parser(
        "info", help=COMMAND_HELP["info"],
        description="Print the design's layer table, totals and FC share, computed without torch, and "
                    "where each dataset would come from. Exit codes: 0 valid design, 1 the file reads but "
                    "the design is not valid (the table shows the blocks in error), 2 the file cannot be read.")
    info.add_argument("file", help="architecture JSON")
    from designer.data import TRAINING_DATASETS

    info.add_argument("--dataset", choices=TRAINING_DATASETS, help="say only where this dataset would come from "
                      "(folder: what the image folder in --data-folder holds)")
    info.add_argument("--data-folder", metavar="DIR", help="a folder to look in first, as `train` would")
    info.set_defaults(handler=_info)

    train = commands.add_parser("train", help=COMMAND_HELP["train"])
    train.add_argument("file", help="architecture JSON")
    from designer.training.cli import add_process_arguments, add_training_arguments

    add_training_arguments(train)
    add_process_arguments(train)
    train.set_defaults(handler=_train)

    from designer.lab.sweep_cli import add_sweep_arguments

    sweep = commands.add_parser("sweep", help=COMMAND_HELP["sweep"])
    add_sweep_arguments(sweep)
    sweep.set_defaults(handler=_sweep)

    from designer.exchange.cli import add_export_arguments, add_import_arguments

    export = commands.add_parser("export", help=COMMAND_HELP["export"])
    add_export_arguments(export)
    export.set_defaults(handler=_export)

    import_ = commands.add_parser("import", help=COMMAND_HELP["import"])
    add_import_arguments(import_)
    import_.set_defaults(handler=_import)

    predict = commands.add_parser("predict", help=COMMAND_HELP["predict"])
    predict.add_argument("checkpoint", help="a checkpoint.pt written by training")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, BMP or WebP files")
    predict.add_argument("--top", type=int, default=3, metavar="K", help="classes shown per image (default: 3)")
    predict.set_defaults(handler=_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from designer.training.threads import prepare_openmp

    prepare_openmp()  # before anything loads torch: idle OpenMP threads sleep instead of spinning
    # A positional FILE and subcommands cannot share one argparse parser; route by the first word.
    if not (argv and argv[0] in COMMANDS):
        arguments = build_window_parser().parse_args(argv)
        return arguments.handler(arguments)
    try:
        arguments = build_command_parser().parse_args(argv)
        return arguments.handler(arguments)
    except KeyboardInterrupt:
        # A Ctrl+C before a command takes it over itself (`train` does once torch may load):
        # an exit status, not a traceback, and nothing was written by then.
        print("\nstopped with Ctrl+C", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
