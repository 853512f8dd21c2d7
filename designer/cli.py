"""Command line: ``python main.py`` opens the window; subcommands run headless.

Each subcommand imports what it needs when it runs, so ``info`` never loads torch or Qt.
"""

from __future__ import annotations

import argparse
import sys

EXIT_BAD_INPUT = 2


def _info(arguments) -> int:
    from designer.core import ArchitectureError, load_architecture
    from designer.core.summary import summary_text

    try:
        graph = load_architecture(arguments.file)
    except ArchitectureError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(summary_text(graph))
    return 0


def _train(arguments) -> int:
    from designer.training.cli import run_training_command

    return run_training_command(arguments)


def _export(arguments) -> int:
    from designer.exchange.cli import run_export_command

    return run_export_command(arguments)


def _import(arguments) -> int:
    from designer.exchange.cli import run_import_command

    return run_import_command(arguments)


def _window(arguments) -> int:
    from designer.ui.app import run_window

    return run_window(arguments)


COMMANDS = ("info", "train", "export", "import")


def build_window_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="network-designer",
        description="Design convolutional networks, see what every block costs, train them. "
        "Headless commands: info, train, export, import (see `network-designer COMMAND --help`).",
    )
    parser.add_argument("file", nargs="?", help="architecture JSON to open (default: the LeNet-5 template)")
    parser.add_argument("--screenshot", metavar="PNG", help="render the window to a PNG file and exit")
    parser.set_defaults(handler=_window)
    return parser


def build_command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="network-designer")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    info = commands.add_parser("info", help="print a layer table with shapes, parameters, MACs and the FC share")
    info.add_argument("file", help="architecture JSON")
    info.set_defaults(handler=_info)

    train = commands.add_parser("train", help="train a design headless and save history and checkpoint")
    train.add_argument("file", help="architecture JSON")
    try:
        from designer.training.cli import add_training_arguments
    except ImportError:  # until the training package exists, `train` only takes the file
        add_training_arguments = None
    if add_training_arguments is not None:
        add_training_arguments(train)
    train.set_defaults(handler=_train)

    from designer.exchange.cli import add_export_arguments, add_import_arguments

    export = commands.add_parser("export", help="write a design as standalone PyTorch code or as ONNX")
    add_export_arguments(export)
    export.set_defaults(handler=_export)

    import_ = commands.add_parser("import", help="read an ONNX model as a design (and its weights as a checkpoint)")
    add_import_arguments(import_)
    import_.set_defaults(handler=_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # A positional FILE and subcommands cannot share one argparse parser; route by the first word.
    if argv and argv[0] in COMMANDS:
        arguments = build_command_parser().parse_args(argv)
    else:
        arguments = build_window_parser().parse_args(argv)
    return arguments.handler(arguments)


if __name__ == "__main__":
    sys.exit(main())
