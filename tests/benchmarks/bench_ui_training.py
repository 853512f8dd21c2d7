"""Does training with the window open keep the GUI responsive and the trainer fast?

    python tests/benchmarks/bench_ui_training.py [--case dock|lab|both] [--batches 300] [--repeats 8]
                                                 [--threads N] [--thread] [--lab-repeats 4]

The dock case trains the same design on the same data for a fixed number of batches, alternately
  (a) headless, twice: on the run path (``designer.training.run.run``) in a training process
      of its own (``Local()``, what the window uses) read by a plain loop, no event loop
      running — the baseline; and, with ``--here``, in this process's main thread
      (``Local(own_process=False)``; this process also holds the idle window, whose many
      Python objects the garbage collector walks too);
  (b) from the training dock of a real MainWindow (offscreen), with the live curves,
      progress bars and diagnosis updating as they do for a person — training in the
      training process (the default), and, with ``--thread``, in the run's worker thread in
      the window's process (``Local(own_process=False)``);
and prints
  1. the gaps between GUI event-loop ticks during (b), measured with a 1-ms precise QTimer:
     the longest and the 99th percentile (goals: ≤ 50 ms and ≤ 16 ms);
  2. training throughput of (b) ÷ (a) (goal ≥ 0.95): the median over the repeats of each
     repeat's ratio (the runs of one repeat follow each other, so slow drifts of a shared
     machine cancel), with the lowest and highest, and the ratio of the medians.
Throughput is measured the same way on every side: the images of batches
``WARM_UP_BATCHES + 1 … --batches`` over their wall time, as the trainer's callback
(``BatchThrottle``) times them where the training runs. Both sides use the same
``torch.set_num_threads`` value.

The lab case runs a 4-variant FC-head sweep (depths 1, 2 × widths 32, 128 on the design,
``--lab-epochs`` each) from the FC lab's sweep window, alternately with the same four
requests trained headless on the run path (one queue in the training process, read by a
plain loop): the GUI tick gaps while the sweep trains (goals as above) and the sweep's
throughput in the window ÷ headless (goal ≥ 0.95), over every variant's batches after its
first ``WARM_UP_BATCHES``. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

WARM_UP_BATCHES = 10


class PointsLog:
    """Batch points as they arrive, when they arrive; calls ``stop`` once ``limit`` batches are in."""

    def __init__(self, limit: int, stop) -> None:
        self.limit = limit
        self.stop = stop
        self.seconds: list[float] = []
        self.sizes: list[int] = []
        self.arrivals: list[tuple[int, float]] = []  # (batches so far, perf_counter on arrival)

    def add(self, points) -> None:
        self.seconds.extend(points.seconds)
        self.sizes.extend(points.sizes)
        self.arrivals.append((len(self.seconds), time.perf_counter()))
        if len(self.seconds) >= self.limit and self.stop is not None:
            stop, self.stop = self.stop, None
            stop()

    def samples_per_second(self) -> float:
        span = slice(WARM_UP_BATCHES + 1, self.limit)  # after the warm-up, as far as the limit
        return sum(self.sizes[span]) / sum(self.seconds[span])

    def measured_span(self) -> tuple[float, float]:
        """When the points of the first and the last measured batch reached the GUI."""
        start = next(when for count, when in self.arrivals if count > WARM_UP_BATCHES)
        end = next(when for count, when in self.arrivals if count >= self.limit)
        return start, end


def headless_run(graph, config, batches: int, threads: int, own_process: bool) -> float:
    """The run path without a window: a plain loop reads the events."""
    from designer.training.run import BatchesDone, Local, RunControl, RunRequest, run

    control = RunControl()
    request = RunRequest.of(graph, config, launch=Local(own_process=own_process, torch_threads=threads))
    log = PointsLog(batches, lambda: control.stop(request.run_id))

    def collect(event) -> None:
        if isinstance(event, BatchesDone):
            log.add(event.points)

    run(request, collect, control)
    return log.samples_per_second()


class Ticks:
    """A 1-ms precise timer in the GUI thread: when the event loop got round to it."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(1)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def gaps(self, start: float, end: float) -> np.ndarray:
        inside = np.array([tick for tick in self.ticks if start <= tick <= end])
        return np.diff(inside) * 1000 if inside.size > 1 else np.array([np.nan])


def window_run(app, window, config, batches: int, threads: int | None, own_process: bool, probe: bool):
    from PySide6.QtCore import QEventLoop, QObject, Slot

    from designer.training.run import Local

    panel = window.training_panel
    panel.launch = Local(own_process=own_process, torch_threads=threads)
    panel.settings.epochs_spin.setValue(config.epochs)
    panel.settings.batch_size_spin.setValue(config.batch_size)
    panel.settings.set_device(config.device)
    panel.settings.validation_spin.setValue(config.validation_fraction)

    class Listener(QObject):
        """Sees the same batch points as the panel, in the GUI thread."""

        def __init__(self) -> None:
            super().__init__()
            self.log = PointsLog(batches, panel.stop)

        @Slot(object)
        def on_batches(self, event) -> None:
            self.log.add(event.points)

    listener = Listener()
    ticks = Ticks()
    loop = QEventLoop()
    panel.training.batches_done.connect(listener.on_batches)
    panel.training.finished.connect(loop.quit)
    try:
        started = time.perf_counter()
        assert panel.start(), panel.status_label.text()
        if probe:
            ticks.timer.start()
        loop.exec()  # the window's own event loop runs until the run's worker thread ends
    finally:
        ticks.timer.stop()
        panel.training.batches_done.disconnect(listener.on_batches)
        panel.training.finished.disconnect(loop.quit)
    for _ in range(3):
        app.processEvents()
    log = listener.log
    # Only the ticks while measured batches ran count: starting the process, loading data
    # and torch happen before, the test-set evaluation after.
    gaps = ticks.gaps(*log.measured_span())
    first_point = log.arrivals[0][1] - started
    return log.samples_per_second(), gaps, panel.plots.point_count(), first_point


# ----------------------------------------------------------------------------- the lab case


class SweepLog:
    """Batch points of a queue of runs, per run; throughput over each run's batches after its warm-up."""

    def __init__(self) -> None:
        self.runs: dict[str, PointsLog] = {}

    def add(self, event) -> None:
        log = self.runs.setdefault(event.run_id, PointsLog(10**9, None))
        log.add(event.points)

    def samples_per_second(self) -> float:
        sizes = sum(sum(log.sizes[WARM_UP_BATCHES + 1:]) for log in self.runs.values())
        seconds = sum(sum(log.seconds[WARM_UP_BATCHES + 1:]) for log in self.runs.values())
        return sizes / seconds

    def span(self) -> tuple[float, float]:
        """From the first measured batch of the first variant reaching the GUI to the last batch's."""
        logs = list(self.runs.values())
        start = next(when for count, when in logs[0].arrivals if count > WARM_UP_BATCHES)
        return start, logs[-1].arrivals[-1][1]


def headless_sweep(requests) -> tuple[float, float]:
    """The sweep's requests on the run path with no window: (samples/s, wall seconds)."""
    from designer.training.run import BatchesDone, run_all

    log = SweepLog()
    started = time.perf_counter()
    results = run_all(requests, lambda event: log.add(event) if isinstance(event, BatchesDone) else None)
    assert all(result.status == "finished" for result in results), [result.result.message for result in results]
    return log.samples_per_second(), time.perf_counter() - started


def window_sweep(app, dialog, probe: bool):
    """The same sweep from the FC lab's sweep window: (samples/s, tick gaps, wall seconds, variants)."""
    from PySide6.QtCore import QEventLoop

    log = SweepLog()
    ticks = Ticks()
    loop = QEventLoop()
    dialog.training.batches_done.connect(log.add)
    dialog.training.finished.connect(loop.quit)
    try:
        started = time.perf_counter()
        assert dialog.start_sweep(), dialog.status_text()
        if probe:
            ticks.timer.start()
        loop.exec()
    finally:
        ticks.timer.stop()
        dialog.training.batches_done.disconnect(log.add)
        dialog.training.finished.disconnect(loop.quit)
    wall = time.perf_counter() - started
    for _ in range(3):
        app.processEvents()
    assert len(dialog.runs) == 4 and all(run.ok for run in dialog.runs), dialog.status_text()
    return log.samples_per_second(), ticks.gaps(*log.span()), wall, len(dialog.runs)


def lab_case(app, window, arguments) -> None:
    from designer.lab.sweep import SweepSpec, sweep_requests

    dialog = window.fc_lab.open("sweep")
    dialog.resize(1100, 800)
    dialog.set_settings(depths=(1, 2), widths=(32, 128), activation="ReLU", epochs=arguments.lab_epochs)
    for _ in range(5):
        app.processEvents()
    spec = SweepSpec((1, 2), (32, 128), "ReLU", arguments.lab_epochs)
    config = window.training_panel.config()
    print(f"lab case: a 4-variant sweep (depths 1, 2 × widths 32, 128, ReLU) of {arguments.template}, "
          f"{arguments.lab_epochs} epoch(s) each on {config.dataset}, batch {config.batch_size}, one queue in the "
          f"training process", flush=True)
    speeds: dict[str, list[float]] = {"headless": [], "window": [], "window+probe": []}
    gaps: list[np.ndarray] = []
    for repeat in range(arguments.lab_repeats):
        sides = ["headless", "window", "window+probe"]
        for side in (sides if repeat % 2 == 0 else list(reversed(sides))):
            if side == "headless":
                speed, wall = headless_sweep(sweep_requests(window.document.graph, spec, config))
                line = f"  run {repeat + 1} {side:13s} {speed:8.0f} samples/s; sweep {wall:.1f} s"
            else:
                speed, side_gaps, wall, count = window_sweep(app, dialog, probe=side.endswith("probe"))
                line = f"  run {repeat + 1} {side:13s} {speed:8.0f} samples/s; sweep {wall:.1f} s, {count} variants"
                if side.endswith("probe"):
                    gaps.append(side_gaps)
                    line += (f"; GUI tick gaps max {np.nanmax(side_gaps):6.1f} ms, "
                             f"p99 {np.nanpercentile(side_gaps, 99):5.1f} ms over {side_gaps.size} ticks")
            speeds[side].append(speed)
            print(line, flush=True)
    all_gaps = np.concatenate(gaps)
    paired = [window / alone for window, alone in zip(speeds["window"], speeds["headless"])]
    print("FC lab sweep, training in the training process:")
    print(f"  GUI event-loop tick gap while the sweep trains: max {np.nanmax(all_gaps):.1f} ms (goal ≤ 50; per run "
          f"{', '.join(f'{np.nanmax(run):.1f}' for run in gaps)}), 99th percentile "
          f"{np.nanpercentile(all_gaps, 99):.1f} ms (goal ≤ 16), median {float(np.nanmedian(all_gaps)):.2f} ms, "
          f"{all_gaps.size} ticks")
    print(f"  sweep throughput in the window / headless: median of the paired ratios {statistics.median(paired):.3f} "
          f"(goal ≥ 0.95; lowest {min(paired):.3f}, highest {max(paired):.3f}); ratio of the medians "
          f"{statistics.median(speeds['window']):.0f} / {statistics.median(speeds['headless']):.0f} = "
          f"{statistics.median(speeds['window']) / statistics.median(speeds['headless']):.3f}; with the probe timer "
          f"{statistics.median(w / h for w, h in zip(speeds['window+probe'], speeds['headless'])):.3f}")
    dialog.hide()


def dock_case(app, window, graph, config, threads: int, arguments) -> None:
    from designer.training import service

    # The 1-ms probe timer itself wakes the GUI thread a thousand times a second, so each
    # side runs twice with the window open: without the probe (the throughput a person
    # gets) and with it (the runs whose tick gaps are reported).
    # A cold start first (a new training process: Python, torch, the dataset), then warm runs.
    service.shutdown_idle()
    _, _, _, cold = window_run(app, window, config, WARM_UP_BATCHES + 20, threads, True, probe=False)
    print(f"  Start → first curve point with a new training process: {cold:.2f} s", flush=True)
    sides = ["headless", "process", "process+probe"]
    if arguments.here:
        sides.append("headless-here")
    if arguments.thread:
        sides += ["thread", "thread+probe"]
    speeds: dict[str, list[float]] = {side: [] for side in sides}
    gaps: dict[str, list[np.ndarray]] = {side: [] for side in sides}
    first_points: dict[str, list[float]] = {"process": [], "thread": []}
    for repeat in range(arguments.repeats):
        order = sides if repeat % 2 == 0 else list(reversed(sides))
        for side in order:
            if side.endswith("+probe") and repeat >= arguments.probe_runs:
                continue
            if side.startswith("headless"):
                speed = headless_run(graph, config, arguments.batches, threads, own_process=side == "headless")
                speeds[side].append(speed)
                print(f"  run {repeat + 1} {side:14s} {speed:8.0f} samples/s", flush=True)
                continue
            where, _, probe = side.partition("+")
            speed, side_gaps, points, first_point = window_run(app, window, config, arguments.batches, threads,
                                                               where == "process", probe=bool(probe))
            speeds[side].append(speed)
            first_points[where].append(first_point)
            line = (f"  run {repeat + 1} {side:14s} {speed:8.0f} samples/s; {points} batch points plotted; "
                    f"first point after {first_point:.2f} s")
            if probe:
                gaps[side].append(side_gaps)
                line += (f"; GUI tick gaps max {np.nanmax(side_gaps):6.1f} ms, "
                         f"p99 {np.nanpercentile(side_gaps, 99):5.1f} ms over {side_gaps.size} ticks")
            print(line, flush=True)

    headless = statistics.median(speeds["headless"])
    print(f"headless: median {headless:.0f} samples/s in a training process of its own (the baseline) over "
          f"{arguments.repeats} runs" + (f"; {statistics.median(speeds['headless-here']):.0f} samples/s in this "
                                         f"process's main thread" if arguments.here else ""))
    for where in ("process", "thread"):
        if where not in speeds:
            continue
        window_speed = statistics.median(speeds[where])
        paired = [window / alone for window, alone in zip(speeds[where], speeds["headless"])]
        all_gaps = np.concatenate(gaps[f"{where}+probe"])
        per_run = ", ".join(f"{np.nanmax(run):.1f}" for run in gaps[f"{where}+probe"])
        print(f"window, training in the {where}{' (the default)' if where == 'process' else ''}:")
        print(f"  GUI event-loop tick gap while training: max {np.nanmax(all_gaps):.1f} ms (goal ≤ 50; per run "
              f"{per_run}), 99th percentile {np.nanpercentile(all_gaps, 99):.1f} ms (goal ≤ 16), "
              f"median {float(np.nanmedian(all_gaps)):.2f} ms, {all_gaps.size} ticks")
        print(f"  throughput with the window open / headless: median of the paired ratios "
              f"{statistics.median(paired):.3f} (goal ≥ 0.95; lowest {min(paired):.3f}, highest {max(paired):.3f}); "
              f"ratio of the medians {window_speed:.0f} / {headless:.0f} = {window_speed / headless:.3f}")
        if arguments.here:
            print(f"  against the headless run in this process: median paired ratio "
                  f"{statistics.median(w / h for w, h in zip(speeds[where], speeds['headless-here'])):.3f}")
        print(f"  with the 1-ms probe timer running: median paired ratio "
              f"{statistics.median(w / h for w, h in zip(speeds[where + '+probe'], speeds['headless'])):.3f}; "
              f"Start → first curve point (warm): median {statistics.median(first_points[where]):.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("dock", "lab", "both"), default="both")
    parser.add_argument("--template", default="lenet5.json")
    parser.add_argument("--dataset", default="mnist-sample")
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20,
                        help="rounds of headless + window runs for the throughput ratio")
    parser.add_argument("--probe-runs", type=int, default=6,
                        help="how many of the rounds also run with the 1-ms probe timer (the tick gaps)")
    parser.add_argument("--here", action="store_true",
                        help="also train headless in this process's main thread")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads for both sides (default: what the window uses, "
                             "designer.training.session.default_torch_threads)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--thread", action="store_true",
                        help="also measure training in the run's worker thread in the window's process")
    parser.add_argument("--lab-repeats", type=int, default=4, help="rounds of the lab case")
    parser.add_argument("--lab-epochs", type=int, default=2, help="epochs of each sweep variant")
    arguments = parser.parse_args()

    import torch
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from designer.core import load_architecture
    from designer.core.paths import TEMPLATES
    from designer.training import service
    from designer.training.records import TrainConfig
    from designer.training.session import default_torch_threads
    from designer.ui.main_window import MainWindow

    threads = arguments.threads or default_torch_threads(torch)
    torch.set_num_threads(threads)
    graph = load_architecture(TEMPLATES / arguments.template)
    config = TrainConfig(dataset=arguments.dataset, epochs=100, batch_size=arguments.batch_size,
                         device=arguments.device, validation_fraction=0.1)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings_file = Path(tempfile.mkdtemp()) / "settings.ini"
    window = MainWindow(settings=QSettings(str(settings_file), QSettings.Format.IniFormat), restore_layout=False)
    window.resize(1600, 1000)
    window.show()
    window.show_graph(graph, None)
    window.training_panel.dock.raise_()
    for _ in range(5):
        app.processEvents()
    from designer.ui.memory import freeze_long_lived_objects

    freeze_long_lived_objects()  # as the program does once its window is up (designer.ui.app)

    print(f"{arguments.template} on {arguments.dataset}, batch {arguments.batch_size}, {arguments.batches} batches "
          f"per run ({WARM_UP_BATCHES} warm-up), device {arguments.device}, torch threads {threads}, "
          f"{os.cpu_count()} CPUs, Qt platform {app.platformName()}")
    if arguments.case in ("dock", "both"):
        dock_case(app, window, graph, config, threads, arguments)
    if arguments.case in ("lab", "both"):
        panel = window.training_panel
        panel.settings.batch_size_spin.setValue(arguments.batch_size)
        panel.settings.set_device(arguments.device)
        panel.settings.set_dataset(arguments.dataset)
        lab_case(app, window, arguments)
    window.document.undo_stack.setClean()
    window.close()
    service.shutdown_idle()
    return 0


if __name__ == "__main__":
    sys.exit(main())
