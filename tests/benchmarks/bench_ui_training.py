"""Does training with the window open keep the GUI responsive and the trainer fast?

    python tests/benchmarks/bench_ui_training.py [--batches 300] [--repeats 3] [--threads N]

Trains the same design on the same data for a fixed number of batches, alternately
  (a) headless: ``Trainer`` with a callback that only records the time of each batch, and
  (b) from the training dock of a real MainWindow (offscreen), with the live curves,
      progress bars and diagnosis updating as they do for a person,
and prints
  1. the gaps between GUI event-loop ticks during (b), measured with a 1-ms precise QTimer:
     the longest and the 99th percentile (goals: ≤ 50 ms and ≤ 16 ms);
  2. training throughput (samples/s over batches after a warm-up) of (b) ÷ (a), medians
     over the repeats (goal ≥ 0.95).
Both sides use the same ``torch.set_num_threads`` value. Not collected by pytest.
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


class BatchClock:
    """Records when each batch ends (in the training thread) and stops the run after ``limit``."""

    def __init__(self, limit: int, stop) -> None:
        self.limit = limit
        self.stop = stop
        self.times: list[float] = []
        self.batch_sizes: list[int] = []

    def record(self, metrics, batch_size: int) -> None:
        self.times.append(time.perf_counter())
        self.batch_sizes.append(batch_size)
        if len(self.times) == self.limit:
            self.stop()

    def samples_per_second(self) -> float:
        times = self.times[WARM_UP_BATCHES:self.limit]
        samples = sum(self.batch_sizes[WARM_UP_BATCHES + 1:self.limit])
        return samples / (times[-1] - times[0])


def headless_run(graph, config, dataset, batches: int) -> float:
    from designer.training.records import TrainingCallback
    from designer.training.trainer import Trainer

    class Recorder(TrainingCallback):
        def on_batch_end(self, metrics) -> None:
            clock.record(metrics, config.batch_size)

    trainer = Trainer(graph, config, [Recorder()], dataset=dataset)
    clock = BatchClock(batches, trainer.request_stop)
    trainer.run()
    return clock.samples_per_second()


def window_run(app, window, config, batches: int, threads: int | None, probe: bool = True):
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    from designer.ui import training_worker

    panel = window.training_panel
    panel.torch_threads = threads
    panel.epochs_spin.setValue(config.epochs)
    panel.batch_size_spin.setValue(config.batch_size)
    panel.device_combo.setCurrentIndex(panel.device_combo.findData(config.device))
    panel.validation_spin.setValue(config.validation_fraction)

    clock_holder = {}
    original = training_worker._SignalCallback.on_batch_end

    def timed_on_batch_end(callback, metrics):
        original(callback, metrics)
        clock_holder["clock"].record(metrics, config.batch_size)

    training_worker._SignalCallback.on_batch_end = timed_on_batch_end
    ticks: list[float] = []
    ticker = QTimer()
    ticker.setTimerType(Qt.TimerType.PreciseTimer)
    ticker.setInterval(1)
    ticker.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    try:
        assert panel.start(), panel.status_label.text()
        clock_holder["clock"] = BatchClock(batches, panel.worker.request_stop)
        panel.thread.finished.connect(loop.quit)
        if probe:
            ticker.start()
        loop.exec()  # the window's own event loop runs until the worker thread ends
    finally:
        ticker.stop()
        training_worker._SignalCallback.on_batch_end = original
    for _ in range(3):
        app.processEvents()
    clock = clock_holder["clock"]
    # Only the ticks while batches ran (after the warm-up) count: torch import and data
    # loading happen before, the test-set evaluation after.
    start, end = clock.times[WARM_UP_BATCHES], clock.times[-1]
    window_ticks = np.array([tick for tick in ticks if start <= tick <= end])
    gaps = np.diff(window_ticks) * 1000 if window_ticks.size > 1 else np.array([np.nan])
    return clock.samples_per_second(), gaps, panel.plots.point_count()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="lenet5.json")
    parser.add_argument("--dataset", default="mnist-sample")
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads for both sides (default: what the window uses, "
                             "designer.ui.training_worker.default_torch_threads)")
    parser.add_argument("--device", default="cpu")
    arguments = parser.parse_args()

    import torch
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from designer.core import load_architecture
    from designer.core.paths import TEMPLATES
    from designer.data import load_dataset
    from designer.training.records import TrainConfig
    from designer.ui.main_window import MainWindow

    from designer.ui.training_worker import default_torch_threads

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
    # The 1-ms probe timer itself costs the training thread GIL hand-overs, so throughput
    # is measured twice with the window open: without the probe (what a person gets) and
    # with it (the runs whose tick gaps are reported).
    headless_speeds, window_speeds, probed_speeds, all_gaps = [], [], [], []
    sides = ("headless", "window", "window+probe")
    for repeat in range(arguments.repeats):
        order = sides if repeat % 2 == 0 else tuple(reversed(sides))
        for side in order:
            if side == "headless":
                speed = headless_run(graph, config, dataset, arguments.batches)
                headless_speeds.append(speed)
                print(f"  run {repeat + 1} headless:     {speed:8.0f} samples/s", flush=True)
            elif side == "window":
                speed, _, points = window_run(app, window, config, arguments.batches, threads, probe=False)
                window_speeds.append(speed)
                print(f"  run {repeat + 1} window:       {speed:8.0f} samples/s; {points} batch points plotted",
                      flush=True)
            else:
                speed, gaps, points = window_run(app, window, config, arguments.batches, threads)
                probed_speeds.append(speed)
                all_gaps.append(gaps)
                print(f"  run {repeat + 1} window+probe: {speed:8.0f} samples/s; GUI tick gaps max "
                      f"{np.nanmax(gaps):6.1f} ms, p99 {np.nanpercentile(gaps, 99):5.1f} ms over {gaps.size} ticks",
                      flush=True)

    gaps = np.concatenate(all_gaps)
    longest, p99 = float(np.nanmax(gaps)), float(np.nanpercentile(gaps, 99))
    ratio = statistics.median(window_speeds) / statistics.median(headless_speeds)
    print(f"GUI event-loop tick gap while training: max {longest:.1f} ms (goal ≤ 50), "
          f"99th percentile {p99:.1f} ms (goal ≤ 16), median {float(np.nanmedian(gaps)):.2f} ms, "
          f"{gaps.size} ticks")
    headless = statistics.median(headless_speeds)
    print(f"throughput with the window open / headless: {statistics.median(window_speeds):.0f} / "
          f"{headless:.0f} samples/s = {ratio:.3f} (goal ≥ 0.95); with the 1-ms probe timer running: "
          f"{statistics.median(probed_speeds) / headless:.3f}")
    window.document.undo_stack.setClean()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
