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


def _predict(arguments) -> int:
    from designer.training.predictions import predict_command

    return predict_command(arguments)


def _window(arguments) -> int:
    from designer.ui.app import run_window

    return run_window(arguments)


COMMANDS = ("info", "train", "predict")


def build_window_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="network-designer",
        description="Design convolutional networks, see what every block costs, train them. "
        "Headless commands: info, train, predict (see `network-designer COMMAND --help`).",
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

    predict = commands.add_parser("predict", help="print the top classes a checkpoint gives image files")
    predict.add_argument("checkpoint", help="a checkpoint.pt written by training")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="PNG, JPEG, BMP or WebP files")
    predict.add_argument("--top", type=int, default=3, metavar="K", help="classes shown per image (default: 3)")
    predict.set_defaults(handler=_predict)
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
