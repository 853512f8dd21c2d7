"""``python main.py train FILE.json ...``: train headless, print a line per epoch, save results.

``add_training_arguments`` runs whenever the command parser is built (also for ``info``),
so this module imports neither torch nor the trainer at the top.
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import sys
from pathlib import Path

from designer.training.records import DEVICES, OPTIMIZERS, TrainConfig

from designer.command_line import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, read_design

#: TrainResult.failure values that mean the person's input was wrong, not the training.
BAD_INPUT_FAILURES = ("config", "design", "dataset", "input-shape", "output-shape", "device")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, not {value}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), not {value}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, not {value}")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {value}")
    return value


def add_training_arguments(parser: argparse.ArgumentParser, output_help: str | None = None) -> None:
    from designer.data import TRAINING_DATASETS

    defaults = TrainConfig()
    parser.add_argument("--dataset", choices=TRAINING_DATASETS, default=defaults.dataset,
                        help=f"what to train on (default: {defaults.dataset}, built in, needs no network); "
                             f"folder: your own pictures in --data-folder DIR, one sub-folder per class")
    parser.add_argument("--data-folder", metavar="DIR", help="a folder holding the dataset's files; "
                        "tried before the cache and the download (--dataset folder: the folder of pictures)")
    parser.add_argument("--resize", choices=("crop", "letterbox"), default=defaults.resize,
                        help="--dataset folder: how each picture becomes the Input block's H×W: crop (scale to "
                             "cover, cut the centre) or letterbox (scale to fit, black bars) (default: crop)")
    parser.add_argument("--augment", default=defaults.augment, metavar="SPEC",
                        help="augment the training batches (never validation or test): shift:K, flip, crop:P "
                             "or crop:P:reflect, separated by commas, e.g. shift:4,flip (default: none)")
    parser.add_argument("--schedule", default=defaults.schedule, metavar="SPEC",
                        help="learning-rate schedule: none, step:N[:G], cosine[:MIN], onecycle[:PEAK] or "
                             "plateau[:P[:F]] (default: none)")
    parser.add_argument("--epochs", type=_positive_int, default=defaults.epochs,
                        help=f"passes over the training set (default: {defaults.epochs})")
    parser.add_argument("--batch-size", type=_positive_int, default=defaults.batch_size,
                        help=f"images per step (default: {defaults.batch_size})")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer,
                        help=f"sgd (with momentum), adam or adamw (default: {defaults.optimizer})")
    parser.add_argument("--lr", "--learning-rate", dest="learning_rate", type=_positive,
                        default=defaults.learning_rate, help=f"learning rate (default: {defaults.learning_rate:g})")
    parser.add_argument("--momentum", type=_fraction, default=defaults.momentum,
                        help=f"SGD momentum (default: {defaults.momentum:g})")
    parser.add_argument("--weight-decay", type=_non_negative, default=defaults.weight_decay,
                        help=f"L2 penalty (default: {defaults.weight_decay:g})")
    parser.add_argument("--validation-fraction", type=_fraction, default=defaults.validation_fraction,
                        help=f"share of the training set held out for validation, per class "
                             f"(default: {defaults.validation_fraction:g})")
    parser.add_argument("--patience", type=_positive_int, default=defaults.early_stopping_patience,
                        help="stop after this many epochs without a lower validation loss and keep "
                             "the best weights (default: off)")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help=f"same seed, same device → same metrics (default: {defaults.seed})")
    parser.add_argument("--device", choices=DEVICES, default=defaults.device,
                        help="auto: CUDA, then Apple MPS, then CPU (default: auto)")
    parser.add_argument("--output", metavar="DIR",
                        help=output_help or "folder for history.csv, history.json and checkpoint.pt "
                                            "(default: runs/<file name>-<date-time>)")
    parser.add_argument("--no-download", action="store_true",
                        help="never use the network; fail if the dataset is not on this computer")


def add_process_arguments(parser: argparse.ArgumentParser) -> None:
    """Data-parallel training through torchrun (``Processes`` launch)."""
    group = parser.add_argument_group(
        "data-parallel training (PyTorch's torchrun and DistributedDataParallel)",
        "--batch-size is per process: N processes of batch b take the steps of one of batch N×b. Several "
        "computers: run the same command on each, with --nnodes, its own --node-rank and node 0's "
        "--rdzv-endpoint; node 0 saves the results.")
    group.add_argument("--nproc", type=_positive_int, default=1, metavar="N",
                       help="processes on this computer (default: 1, a run in this process; on CUDA one GPU each)")
    group.add_argument("--nnodes", type=_positive_int, default=1, metavar="M",
                       help="computers taking part (default: 1)")
    group.add_argument("--node-rank", type=int, default=0, metavar="R", help="this computer's number, 0 … M-1")
    group.add_argument("--rdzv-endpoint", metavar="HOST:PORT",
                       help="where the computers meet: node 0's address and a free port, the same on every node")
    group.add_argument("--threads-per-process", type=_positive_int, metavar="T",
                       help="PyTorch threads of each process (default: this computer's CPUs divided by N)")


def launch_from_arguments(arguments: argparse.Namespace):
    """``Local`` in this process for one process on one computer (today's run), else ``Processes``."""
    from designer.training.run import Local, Processes

    nproc, nnodes = getattr(arguments, "nproc", 1), getattr(arguments, "nnodes", 1)
    endpoint, threads = getattr(arguments, "rdzv_endpoint", None), getattr(arguments, "threads_per_process", None)
    if nproc == 1 and nnodes == 1 and endpoint is None:
        # The command trains in its own process: a training process would only add its start-up.
        return Local(own_process=False, torch_threads=threads)
    return Processes(nproc, nnodes, getattr(arguments, "node_rank", 0), endpoint, threads)


def config_from_arguments(arguments: argparse.Namespace) -> TrainConfig:
    defaults = TrainConfig()
    return TrainConfig(
        dataset=getattr(arguments, "dataset", defaults.dataset),
        data_folder=getattr(arguments, "data_folder", None),
        epochs=getattr(arguments, "epochs", defaults.epochs),
        batch_size=getattr(arguments, "batch_size", defaults.batch_size),
        optimizer=getattr(arguments, "optimizer", defaults.optimizer),
        learning_rate=getattr(arguments, "learning_rate", defaults.learning_rate),
        momentum=getattr(arguments, "momentum", defaults.momentum),
        weight_decay=getattr(arguments, "weight_decay", defaults.weight_decay),
        validation_fraction=getattr(arguments, "validation_fraction", defaults.validation_fraction),
        early_stopping_patience=getattr(arguments, "patience", defaults.early_stopping_patience),
        seed=getattr(arguments, "seed", defaults.seed),
        device=getattr(arguments, "device", defaults.device),
        download=not getattr(arguments, "no_download", False),
        augment=getattr(arguments, "augment", defaults.augment) or "",
        schedule=getattr(arguments, "schedule", defaults.schedule) or "",
        resize=getattr(arguments, "resize", defaults.resize),
    )


def default_output_folder(architecture_file: str | Path, now: datetime.datetime | None = None) -> Path:
    from designer.training.run_folder import new_run_folder

    return new_run_folder("runs", Path(architecture_file).stem, now)


class _ProgressLine:
    """A download's bytes or an image folder's pictures on one terminal line that rewrites itself."""

    def __init__(self) -> None:
        from designer.data.download import ProgressLine

        self._line = ProgressLine()

    def __call__(self, done: int, total: int) -> None:
        self._line(done, total)

    def show_images(self, done: int, total: int) -> None:
        text = f"listing the image folder: {done:,} entries" if not total else f"reading images: {done:,} of {total:,}"
        print(f"\r{text:<50}", end="", file=sys.stderr, flush=True)
        self._line.open = True
        if total and done >= total:
            self.finish()

    def finish(self) -> None:
        self._line.finish()


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _loss(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


class _QuitNow(BaseException):
    """The second Ctrl+C: leave at once and write nothing. A BaseException, so that no
    ``except Exception`` on the way (the trainer's, the run path's) mistakes it for a failure."""


class _Interrupts:
    """What Ctrl+C does at each moment of ``train``: the SIGINT handler.

    The first Ctrl+C asks the run to stop (a download is cancelled, training stops after the
    current batch, and what was trained is saved); a second one quits at once, writing
    nothing. While the results are being written, Ctrl+C only says to wait: a half-written
    result would be worse than a few milliseconds more. The handler writes with ``os.write``:
    ``print`` from a signal handler can land inside another ``print`` to the same stream,
    which raises "reentrant call" in the middle of the program.
    """

    def __init__(self, control) -> None:
        self.control = control
        self.phase = "preparing"  # then "downloading", "training", "saving", "quitting"
        self.quit_while = ""  # the phase the second Ctrl+C came in
        self.count = 0
        self.batches_trained = 0

    @property
    def interrupted(self) -> bool:
        """Ctrl+C stopped the run (one while the results are written changes nothing)."""
        return self.control.stopping_all

    def __call__(self, signum, frame) -> None:
        self.count += 1
        if self.phase == "quitting":
            return
        if self.phase == "saving":
            if self.count == 1:
                _say("\nCtrl+C: the results are being written; a moment")
            return
        if self.count == 1:
            self.control.stop()
            what = {"downloading": "cancelling the download; nothing will be trained",
                    "training": "stopping after the current batch; the history and checkpoint will be saved"}
            _say(f"\n{what.get(self.phase, 'stopping before training begins')} (Ctrl+C again to quit at once, "
                 f"writing nothing)")
            return
        self.quit_while = self.phase
        self.phase = "quitting"  # before raising: a third Ctrl+C must not raise inside the cleanup
        raise _QuitNow


def _say(text: str) -> None:
    try:
        os.write(sys.stderr.fileno(), (text + "\n").encode("utf-8", "replace"))
    except (OSError, ValueError, AttributeError):
        pass  # no usable stderr: the exit status still tells


def _printer(epochs: int, progress_line, interrupts: _Interrupts):
    """The run's events as the command prints them; downloads on ``progress_line`` (one line that
    rewrites itself, ended before anything else is printed)."""
    from designer.training.run import (BatchesDone, DatasetLoaded, DecodingProgress, DownloadProgress, EpochDone,
                                       RunStarted)

    def show(event) -> None:
        if isinstance(event, DecodingProgress):
            progress_line.show_images(event.done, event.total)
        elif isinstance(event, DatasetLoaded):
            progress_line.finish()
            print(f"image folder: {event.message}", flush=True)
        elif isinstance(event, RunStarted):
            if interrupts.phase != "quitting":
                interrupts.phase = "training"
            progress_line.finish()
            if event.data_source:
                print(f"data: {event.data_source}", flush=True)
            info = event.info
            where = info.device if info.processes == 1 else f"{info.processes} processes ({info.device})"
            if info.device == "cpu" and info.threads:
                each = " each" if info.processes != 1 else ""
                where += f" ({info.threads} thread{'s' if info.threads != 1 else ''}{each})"
            print(f"training on {where}: {info.train_samples:,} training, {info.validation_samples:,} "
                  f"validation, {info.test_samples:,} test images; {info.batches_per_epoch} batches per epoch",
                  flush=True)
        elif isinstance(event, EpochDone):
            metrics = event.metrics
            width = len(str(epochs))
            line = (f"epoch {metrics.epoch:>{width}}/{epochs}  "
                    f"train loss {_loss(metrics.train_loss)} acc {_percent(metrics.train_accuracy)}")
            if metrics.validation_loss is not None:
                line += (f"  val loss {_loss(metrics.validation_loss)} "
                         f"acc {_percent(metrics.validation_accuracy)}")
            print(f"{line}  {metrics.seconds:.1f} s", flush=True)
        elif isinstance(event, BatchesDone):
            interrupts.batches_trained += len(event.points.x)
        elif isinstance(event, DownloadProgress):
            if interrupts.phase == "preparing":
                interrupts.phase = "downloading"
            progress_line(event.done, event.total)

    return show


def run_training_command(arguments: argparse.Namespace) -> int:
    from designer.training.run import RunControl

    from designer.training.threads import policy, prepare_openmp

    prepare_openmp()  # before torch loads, or OpenMP never reads it
    policy().mark()  # loading PyTorch takes long enough to measure the free cores over
    # From the very start, so that a Ctrl+C while PyTorch loads is as clean as one while training.
    control = RunControl()
    interrupts = _Interrupts(control)
    previous_handler = signal.getsignal(signal.SIGINT)
    if previous_handler is not signal.SIG_IGN:  # started to ignore Ctrl+C (nohup, `&` in a script): keep to that
        signal.signal(signal.SIGINT, interrupts)
    try:
        try:
            return _train(arguments, control, interrupts)
        except _QuitNow:
            interrupts.phase = "quitting"
            removed = "; the partial download was removed" if interrupts.quit_while == "downloading" else ""
            _say(f"quit at once (Ctrl+C twice): nothing was written{removed}")
            return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, previous_handler)


def _train(arguments: argparse.Namespace, control, interrupts: _Interrupts) -> int:
    from designer.training.run import Processes, RunRequest, refusal

    graph = read_design(arguments.file)
    if graph is None:
        return EXIT_BAD_INPUT
    config = config_from_arguments(arguments)
    launch = launch_from_arguments(arguments)
    request = RunRequest.of(graph, config, label=graph.name, find_mistakes=False, launch=launch)
    refused = refusal(request)  # settings, dataset name, fit: before torch loads
    if refused is not None:
        print(f"error: {refused.result.message}", file=sys.stderr)
        return EXIT_BAD_INPUT

    # torch loads only once the file and the settings are known to be good.
    from designer.training.run import run

    output = Path(arguments.output) if getattr(arguments, "output", None) else default_output_folder(arguments.file)
    progress_line = _ProgressLine()
    try:
        print(f"{graph.name}: {config.summary()}", flush=True)
        ended = run(request, _printer(config.epochs, progress_line, interrupts), control)
    finally:
        progress_line.finish()
    interrupts.phase = "saving"

    result = ended.result
    if result.status == "failed" and result.failure in BAD_INPUT_FAILURES:
        print(f"error: {result.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(launch, Processes) and launch.node_rank != 0:
        # Process 0 runs on node 0, which writes history and checkpoint; nothing is written here.
        print(result.message, file=sys.stderr if result.status == "failed" else sys.stdout)
        print(f"node {launch.node_rank}: done; node 0 saves history and checkpoint")
        return EXIT_FAILED if result.status == "failed" else (EXIT_INTERRUPTED if interrupts.interrupted else 0)

    try:
        written, no_checkpoint = _save_results(request, ended, graph, config, output, arguments.file,
                                               interrupts.batches_trained)
    except _SaveFailed as failure:
        print(f"error: cannot save the results in {output}: {failure.error}; "
              f"{_listed(failure.written) if failure.written else 'nothing'} "
              f"{'were' if len(failure.written) > 1 else 'was'} written",
              file=sys.stderr)
        return EXIT_BAD_INPUT

    if result.status == "failed":
        print(f"error: {result.message}", file=sys.stderr)
        print(_written_text(written, output, no_checkpoint), file=sys.stderr)
        return EXIT_FAILED
    if result.test_accuracy is not None:
        best = f", best epoch {result.best_epoch}" if result.best_epoch is not None else ""
        print(f"test accuracy {result.test_accuracy:.2%} (loss {result.test_loss:.4f}){best}; "
              f"{result.seconds:.1f} s in all")
    print(result.message)
    print(_written_text(written, output, no_checkpoint))
    return EXIT_INTERRUPTED if interrupts.interrupted else 0


class _SaveFailed(Exception):
    def __init__(self, error: Exception, written: list[str]) -> None:
        super().__init__(str(error))
        self.error = error
        self.written = written


def _save_results(request, ended, graph, config, output: Path, architecture_file,
                   batches_trained: int) -> tuple[list[str], str]:
    """Write the run's folder (``designer.training.run_folder``); returns the names written and,
    when there is no checkpoint, why. A run stopped before its first batch writes nothing: an
    empty history and untrained weights are no record of anything."""
    import time

    from designer.training.checkpoint import CheckpointError
    from designer.training.run import trained_model
    from designer.training.run_folder import CHECKPOINT, DESIGN, HISTORY_CSV, HISTORY_JSON, save_run

    result, info = ended.result, ended.outcome.info
    if info is None:
        return [], "training never began"
    if batches_trained == 0 and result.status == "stopped":
        return [], "stopped before the first batch"
    model = trained_model(request, ended) if result.status != "failed" else None
    existed, began = output.is_dir(), time.time()
    try:
        save_run(output, graph, config, result, info, module=model.module if model else None,
                 normalisation=model.normalisation if model else None,
                 class_names=model.class_names if model else (), architecture=str(architecture_file))
    except (OSError, CheckpointError) as error:
        # A new folder is left out whole; into an existing one, each file is replaced atomically.
        written = [name for name in (HISTORY_CSV, HISTORY_JSON, DESIGN, CHECKPOINT)
                   if existed and (output / name).exists() and (output / name).stat().st_mtime >= began - 1]
        raise _SaveFailed(error, written) from None
    written = [HISTORY_CSV, HISTORY_JSON, DESIGN] + ([CHECKPOINT] if model is not None else [])
    if model is None:
        return written, "training failed" if result.status == "failed" else "no trained network came back"
    return written, ""


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _written_text(written: list[str], output: Path, no_checkpoint: str) -> str:
    """Exactly what is on disk now: a message never claims a file that was not written."""
    if not written:
        return f"nothing was written ({no_checkpoint})" if no_checkpoint else "nothing was written"
    text = f"saved {_listed(written)} in {output}"
    if "checkpoint.pt" not in written:
        text += f"; no checkpoint.pt ({no_checkpoint})"
    return text
