"""``python main.py sweep FILE.json --depths 0,1,2 --widths 64,256 ...``: the FC lab's sweep, headless.

Every variant of the design's FC head trains on the run path, K at a time in training
processes on this computer (``--backend local``), or as Ray tasks on a cluster
(``--backend ray``). Each variant trains with the same number of PyTorch threads on both
back-ends (``--threads-per-run``, by default this computer's CPUs divided by K), so the same
seeds give the same table — times apart, and the Pareto front over time with them. The
table goes to the terminal, ``sweep.csv`` and ``sweep.json`` to the output folder.

Parsing the command imports neither torch nor ray.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import signal
import sys
from pathlib import Path

from designer.command_line import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, read_design


def _whole_numbers(text: str) -> tuple[int, ...]:
    values = []
    for item in re.split(r"[,\s]+", text.strip()):
        if not item:
            continue
        try:
            values.append(int(item))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item[:20]!r} is not a whole number") from None
    if not values:
        raise argparse.ArgumentTypeError("give at least one number, e.g. 0,1,2")
    return tuple(dict.fromkeys(values))


def _activation(text: str) -> str:
    from designer.core import ACTIVATION_TYPES

    for name in ACTIVATION_TYPES:
        if name.lower() == text.strip().lower():
            return name
    raise argparse.ArgumentTypeError(f"choose one of {', '.join(sorted(ACTIVATION_TYPES))}, not {text[:20]!r}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, not {value}")
    return value


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    from designer.training.cli import add_training_arguments

    parser.description = ("Train every depth × width variant of the design's FC head and print the table: "
                          "variant, parameters, MACs, validation accuracy, training time and the Pareto fronts.")
    parser.add_argument("file", help="architecture JSON")
    parser.add_argument("--depths", type=_whole_numbers, default=(0, 1, 2), metavar="LIST",
                        help="hidden FC layers before the classifier, e.g. 0,1,2 (default: 0,1,2; 0 is the "
                             "classifier alone)")
    parser.add_argument("--widths", type=_whole_numbers, default=(64, 256), metavar="LIST",
                        help="neurons per hidden FC layer, e.g. 64,256 (default: 64,256)")
    parser.add_argument("--activation", type=_activation, default="ReLU",
                        help="after each hidden FC layer: relu, leakyrelu, gelu, sigmoid or tanh (default: relu)")
    parser.add_argument("--dropout", type=float, default=0.0, metavar="P",
                        help="a Dropout of this rate after each hidden activation (default: 0, none)")
    add_training_arguments(parser, output_help="folder for sweep.csv and sweep.json "
                                               "(default: runs/<file name>-sweep-<date-time>)")
    scale = parser.add_argument_group("where the variants train")
    scale.add_argument("--backend", choices=("local", "ray"), default="local",
                       help="local: training processes on this computer; ray: Ray tasks on a cluster "
                            "(default: local)")
    scale.add_argument("--parallel", type=_positive_int, metavar="K",
                       help="variants training at once on this computer (default: one per CPU, at most one "
                            "per variant); with ray it only sets the default of --threads-per-run")
    scale.add_argument("--threads-per-run", type=_positive_int, metavar="T",
                       help="PyTorch threads (and Ray CPUs) of each variant (default: the CPUs divided by K); "
                            "the same T gives the same numbers on both back-ends")
    scale.add_argument("--ray-address", metavar="ADDRESS",
                       help="the Ray cluster to use (what `ray start --head` printed, e.g. 10.0.0.1:6379); "
                            "default: a Ray instance on this computer, started for the sweep and shut down after")


def default_output_folder(architecture_file, now: datetime.datetime | None = None) -> Path:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(architecture_file).stem).strip("-") or "design"
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stem}-sweep-{stamp}"


def share_of_cpus(variants: int, parallel: int | None, threads: int | None) -> tuple[int, int]:
    """(K variants at once, T threads each) from the options and this computer's CPUs."""
    cpus = os.cpu_count() or 1
    parallel = parallel or max(1, min(variants, cpus))
    return parallel, threads or max(1, cpus // parallel)


def run_sweep_command(arguments: argparse.Namespace) -> int:
    from designer.core import DesignerError
    from designer.lab.sweep import SweepSpec, final_validation_accuracy, sweep_requests
    from designer.training.cli import config_from_arguments
    from designer.training.run import Local, Ray, RunControl, RunEnded, refusal
    from designer.training.run.ray_tasks import ray_missing

    graph = read_design(arguments.file)
    if graph is None:
        return EXIT_BAD_INPUT
    config = config_from_arguments(arguments)
    try:
        spec = SweepSpec(arguments.depths, arguments.widths, arguments.activation, config.epochs, arguments.dropout)
        variants = len(spec.variants(graph))
    except DesignerError as error:  # a bad setting, or a design with no FC head to rewrite
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    parallel, threads = share_of_cpus(variants, arguments.parallel, arguments.threads_per_run)
    if arguments.backend == "ray":
        missing = ray_missing()
        if missing is not None:
            print(f"error: {missing}", file=sys.stderr)
            return EXIT_BAD_INPUT
        launch = Ray(address=arguments.ray_address, cpus_per_run=threads)
        where = f"Ray tasks on {arguments.ray_address or 'a Ray instance on this computer'}"
    else:
        if arguments.ray_address:
            print("error: --ray-address needs --backend ray", file=sys.stderr)
            return EXIT_BAD_INPUT
        launch = Local(own_process=True, torch_threads=threads, parallel=parallel)
        where = f"{parallel} training process{'es' if parallel > 1 else ''} on this computer"
    requests = sweep_requests(graph, spec, config, launch)
    refused = refusal(requests[0])  # settings, dataset, fit: the same for every variant
    if refused is not None:
        print(f"error: {refused.result.message}", file=sys.stderr)
        return EXIT_BAD_INPUT

    output = Path(arguments.output) if arguments.output else default_output_folder(arguments.file)
    print(f"{graph.name}: {variants} variant{'s' if variants != 1 else ''} of the FC head ({spec.activation}), "
          f"{config.epochs} epoch(s) each on {config.dataset}, {config.optimizer} lr {config.learning_rate:g}, batch "
          f"{config.batch_size}, seed {config.seed}; {where}, {threads} PyTorch thread{'s' if threads > 1 else ''} "
          f"per variant", flush=True)
    control, interrupted, done = RunControl(), [False], [0]
    labels = {request.run_id: request.label for request in requests}

    def show(event) -> None:
        if isinstance(event, RunEnded):
            done[0] += 1
            result = event.result.result
            figure = f"{result.status}: {result.message}"
            if result.status == "finished":
                try:
                    figure = f"validation accuracy {final_validation_accuracy(result):.2%}"
                except ValueError:
                    pass
            print(f"[{done[0]}/{variants}] {labels[event.run_id]}: {figure} ({result.seconds:.1f} s)", flush=True)

    def on_interrupt(signum, frame) -> None:
        if interrupted[0]:
            raise KeyboardInterrupt
        interrupted[0] = True
        print("\nstopping the variants that are training (Ctrl+C again to quit at once)", file=sys.stderr,
              flush=True)
        control.stop()

    previous_handler = signal.signal(signal.SIGINT, on_interrupt)
    try:
        from designer.lab.sweep import cut_short, sweep_run
        from designer.training.run import run_all

        results = run_all(requests, show, control)
    finally:
        signal.signal(signal.SIGINT, previous_handler)
    runs = [sweep_run(request, result, variant) for request, result, (_label, variant)
            in zip(requests, results, spec.variants(graph)) if not cut_short(request, result, control)]
    print()
    print(sweep_table(runs))
    return _save(runs, output, arguments, spec, config, where, threads, interrupted[0])


def _save(runs, output: Path, arguments, spec, config, where: str, threads: int, interrupted: bool) -> int:
    from designer.lab.sweep import runs_to_csv, runs_to_json

    about = {"design": str(arguments.file), "depths": list(spec.depths), "widths": list(spec.widths),
             "activation": spec.activation, "dropout": spec.dropout, "settings": config.to_dict(),
             "backend": arguments.backend, "ran_on": where, "threads_per_run": threads}
    try:
        output.mkdir(parents=True, exist_ok=True)
        runs_to_csv(runs, output / "sweep.csv")
        runs_to_json(runs, output / "sweep.json", **about)
    except OSError as error:
        print(f"error: cannot save the table in {output}: {error.strerror or error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"saved sweep.csv and sweep.json in {output}")
    if interrupted:
        return EXIT_INTERRUPTED
    if runs and not any(run.ok for run in runs):
        print("error: no variant trained: " + runs[0].error, file=sys.stderr)
        return EXIT_FAILED
    return 0


def sweep_table(runs) -> str:
    """The runs as the terminal shows them, then the two Pareto fronts."""
    from designer.lab.sweep import pareto_runs

    on_params = {id(run) for run in pareto_runs(runs, "parameters")}
    on_time = {id(run) for run in pareto_runs(runs, "seconds")}
    header = ("variant", "parameters", "MACs", "val. accuracy", "time", "front: params", "front: time")
    rows = [(run.label, f"{run.parameters:,}", f"{run.macs:,}",
             f"{run.accuracy:.2%}" if run.ok else "failed", "—" if run.seconds is None else f"{run.seconds:.1f} s",
             "*" if id(run) in on_params else "", "*" if id(run) in on_time else "") for run in runs]
    widths = [max(len(row[column]) for row in [header] + rows) for column in range(len(header))]
    lines = ["  ".join(text.ljust(width) if column == 0 else text.rjust(width)
                       for column, (text, width) in enumerate(zip(row, widths))) for row in [header] + rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for run in runs:
        if run.error:
            lines.append(f"{run.label}: {run.error}")
    for cost, title in (("parameters", "parameters"), ("seconds", "training time")):
        front = pareto_runs(runs, cost)
        if front:
            lines.append(f"Pareto front, accuracy vs {title}: " + " → ".join(run.label for run in front))
    return "\n".join(lines)


__all__ = ["add_sweep_arguments", "default_output_folder", "run_sweep_command", "share_of_cpus", "sweep_table"]
