"""Does training with the window open keep the GUI responsive and the trainer fast?

    python tests/benchmarks/bench_ui_training.py [--batches 300] [--repeats 8] [--threads N] [--thread]

Trains the same design on the same data for a fixed number of batches, alternately
  (a) headless, twice: in a training process of its own (``designer.training.service``,
      the code the window uses) read by a plain loop, no event loop running — the baseline;
      and ``run_session`` in this process's main thread (this process also holds the idle
      window, whose many Python objects the garbage collector walks too);
  (b) from the training dock of a real MainWindow (offscreen), with the live curves,
      progress bars and diagnosis updating as they do for a person — training in the
      dock's own training process (``isolation="process"``, the default), and, with
      ``--thread``, in the worker thread of the window's process (``"thread"``);
and prints
  1. the gaps between GUI event-loop ticks during (b), measured with a 1-ms precise QTimer:
     the longest and the 99th percentile (goals: ≤ 50 ms and ≤ 16 ms);
  2. training throughput of (b) ÷ (a) (goal ≥ 0.95): the median over the repeats of each
     repeat's ratio (the runs of one repeat follow each other, so slow drifts of a shared
     machine cancel), with the lowest and highest, and the ratio of the medians.
Throughput is measured the same way on every side: the images of batches
``WARM_UP_BATCHES + 1 … --batches`` over their wall time, as the trainer's callback
(``BatchThrottle``) times them where the training runs. Both sides use the same
``torch.set_num_threads`` value. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
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


def headless_run(graph, config, dataset, batches: int, threads: int) -> float:
    from designer.training.session import Reporter, run_session

    stop, abort = threading.Event(), threading.Event()
    log = PointsLog(batches, stop.set)

    class Collect(Reporter):
        def batches(self, points) -> None:
            log.add(points)

    run_session(graph, config, Collect(), stop=stop, abort=abort, torch_threads=threads, dataset=dataset)
    return log.samples_per_second()


def headless_process_run(graph, config, batches: int, threads: int) -> float:
    from designer.training import service

    process = service.acquire()
    log = PointsLog(batches, process.request_stop)
    try:
        process.start_run(graph, config, threads)
        for kind, arguments in process.messages():
            if kind == "batches":
                log.add(arguments[0])
    finally:
        service.release(process)
    return log.samples_per_second()


def window_run(app, window, config, batches: int, threads: int | None, isolation: str, probe: bool):
    from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Slot

    panel = window.training_panel
    panel.torch_threads = threads
    panel.isolation = isolation
    panel.epochs_spin.setValue(config.epochs)
    panel.batch_size_spin.setValue(config.batch_size)
    panel.device_combo.setCurrentIndex(panel.device_combo.findData(config.device))
    panel.validation_spin.setValue(config.validation_fraction)

    class Listener(QObject):
        """Sees the same batch points as the panel, in the GUI thread."""

        def __init__(self) -> None:
            super().__init__()
            self.log = PointsLog(batches, panel.stop)

        @Slot(object)
        def on_batches(self, points) -> None:
            self.log.add(points)

    listener = Listener()
    ticks: list[float] = []
    ticker = QTimer()
    ticker.setTimerType(Qt.TimerType.PreciseTimer)
    ticker.setInterval(1)
    ticker.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    try:
        started = time.perf_counter()
        assert panel.start(), panel.status_label.text()
        panel.worker.batches_done.connect(listener.on_batches)
        panel.thread.finished.connect(loop.quit)
        if probe:
            ticker.start()
        loop.exec()  # the window's own event loop runs until the worker thread ends
    finally:
        ticker.stop()
    for _ in range(3):
        app.processEvents()
    log = listener.log
    # Only the ticks while measured batches ran count: starting the process, loading data
    # and torch happen before, the test-set evaluation after.
    start, end = log.measured_span()
    window_ticks = np.array([tick for tick in ticks if start <= tick <= end])
    gaps = np.diff(window_ticks) * 1000 if window_ticks.size > 1 else np.array([np.nan])
    first_point = log.arrivals[0][1] - started
    return log.samples_per_second(), gaps, panel.plots.point_count(), first_point


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
                        help="also measure training in the window's worker thread (isolation='thread')")
    arguments = parser.parse_args()

    import torch
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from designer.core import load_architecture
    from designer.core.paths import TEMPLATES
    from designer.data import load_dataset
    from designer.training import service
    from designer.training.records import TrainConfig
    from designer.training.session import default_torch_threads
    from designer.ui.main_window import MainWindow

    threads = arguments.threads or default_torch_threads(torch)
    torch.set_num_threads(threads)
    graph = load_architecture(TEMPLATES / arguments.template)
    dataset = load_dataset(arguments.dataset)
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

    print(f"{arguments.template} on {arguments.dataset}, batch {arguments.batch_size}, {arguments.batches} batches "
          f"per run ({WARM_UP_BATCHES} warm-up), device {arguments.device}, torch threads {threads}, "
          f"{os.cpu_count()} CPUs, Qt platform {app.platformName()}")
    # The 1-ms probe timer itself wakes the GUI thread a thousand times a second, so each
    # isolation runs twice with the window open: without the probe (the throughput a person
    # gets) and with it (the runs whose tick gaps are reported).
    # A cold start first (a new training process: Python, torch, the dataset), then warm runs.
    service.shutdown_idle()
    _, _, _, cold = window_run(app, window, config, WARM_UP_BATCHES + 20, threads, "process", probe=False)
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
                speed = (headless_process_run(graph, config, arguments.batches, threads) if side == "headless"
                         else headless_run(graph, config, dataset, arguments.batches, threads))
                speeds[side].append(speed)
                print(f"  run {repeat + 1} {side:14s} {speed:8.0f} samples/s", flush=True)
                continue
            isolation, _, probe = side.partition("+")
            speed, side_gaps, points, first_point = window_run(app, window, config, arguments.batches, threads,
                                                               isolation, probe=bool(probe))
            speeds[side].append(speed)
            first_points[isolation].append(first_point)
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
    for isolation in ("process", "thread"):
        if isolation not in speeds:
            continue
        window_speed = statistics.median(speeds[isolation])
        paired = [window / alone for window, alone in zip(speeds[isolation], speeds["headless"])]
        all_gaps = np.concatenate(gaps[f"{isolation}+probe"])
        per_run = ", ".join(f"{np.nanmax(run):.1f}" for run in gaps[f"{isolation}+probe"])
        print(f"window, training in the {isolation}{' (the default)' if isolation == 'process' else ''}:")
        print(f"  GUI event-loop tick gap while training: max {np.nanmax(all_gaps):.1f} ms (goal ≤ 50; per run "
              f"{per_run}), 99th percentile {np.nanpercentile(all_gaps, 99):.1f} ms (goal ≤ 16), "
              f"median {float(np.nanmedian(all_gaps)):.2f} ms, {all_gaps.size} ticks")
        print(f"  throughput with the window open / headless: median of the paired ratios "
              f"{statistics.median(paired):.3f} (goal ≥ 0.95; lowest {min(paired):.3f}, highest {max(paired):.3f}); "
              f"ratio of the medians {window_speed:.0f} / {headless:.0f} = {window_speed / headless:.3f}")
        if arguments.here:
            print(f"  against the headless run in this process: median paired ratio "
                  f"{statistics.median(w / h for w, h in zip(speeds[isolation], speeds['headless-here'])):.3f}")
        print(f"  with the 1-ms probe timer running: median paired ratio "
              f"{statistics.median(w / h for w, h in zip(speeds[isolation + '+probe'], speeds['headless'])):.3f}; "
              f"Start → first curve point (warm): median {statistics.median(first_points[isolation]):.2f} s")
    window.document.undo_stack.setClean()
    window.close()
    service.shutdown_idle()
    return 0


if __name__ == "__main__":
    sys.exit(main())
