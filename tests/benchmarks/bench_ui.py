"""Window benchmarks (run on purpose: ``python tests/benchmarks/bench_ui.py``).

1. Start-up: from before ``python main.py`` is launched to the window's first paint
   (goal ≤ 1.5 s). A child process runs the real entry point with a hook that prints the
   wall-clock time of the first paint event and quits.
2. Edit → screen: from ``document.set_param`` on VGG-16's conv1 out_channels to the
   canvas items and the parameter panel showing the new counts (goal ≤ 16 ms, one frame).
   Measured two ways: (a) as the program runs — the edit, then Qt's event processing, which
   repaints the regions that changed (a paint of the canvas is checked to have happened);
   (b) a worst case that additionally forces a full repaint of the whole canvas viewport and
   of the parameter panel.

Prints figures, asserts nothing about time (DESIGN.md 11).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

STARTUP_RUNS = 5
EDIT_RUNS = 50

# The child: the real `python main.py` path, plus an event filter that reports the first paint.
_CHILD = r"""
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

class FirstPaint(QObject):
    done = False
    def eventFilter(self, watched, event):
        if not self.done and event.type() == QEvent.Type.Paint and watched.isWidgetType() and watched.window().isVisible():
            self.done = True
            print(f"FIRST_PAINT {time.time():.6f}", flush=True)
            QTimer.singleShot(0, QApplication.quit)
        return False

_original_init = QApplication.__init__
_filter = FirstPaint()
def _init(self, *args, **kwargs):
    _original_init(self, *args, **kwargs)
    self.installEventFilter(_filter)
QApplication.__init__ = _init

# Keep the user's settings out of it: the child writes a throw-away settings file.
from PySide6.QtCore import QSettings
import designer.ui.main_window as main_window
settings_path = sys.argv[1]
main_window.default_settings = lambda: QSettings(settings_path, QSettings.Format.IniFormat)
sys.argv = ["main.py"]
from designer.cli import main
sys.exit(main())
"""


def bench_startup(runs: int = STARTUP_RUNS) -> list[float]:
    import tempfile

    times = []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(runs):
            settings = os.path.join(folder, f"settings{run}.ini")
            start = time.time()
            result = subprocess.run(
                [sys.executable, "-c", _CHILD, settings], cwd=ROOT, capture_output=True, text=True, timeout=120,
            )
            lines = [line for line in result.stdout.splitlines() if line.startswith("FIRST_PAINT")]
            if not lines:
                raise RuntimeError(f"the window never painted:\n{result.stdout}\n{result.stderr}")
            times.append(float(lines[0].split()[1]) - start)
    return times


def bench_edit(runs: int = EDIT_RUNS) -> tuple[list[float], int]:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from designer.core import format_count, load_architecture
    from designer.core.paths import TEMPLATES
    from designer.ui.main_window import MainWindow
    from designer.ui.style import apply_style

    app = QApplication.instance() or QApplication([])
    apply_style(app)
    import tempfile

    settings = QSettings(os.path.join(tempfile.mkdtemp(), "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, restore_layout=False)
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    window.show_graph(load_architecture(TEMPLATES / "vgg16.json"), None)
    app.processEvents()
    document, canvas, panel = window.document, window.canvas, window.parameter_panel
    item = canvas.items_by_id["conv1"]

    from PySide6.QtCore import QEvent, QObject

    class PaintCounter(QObject):
        count = 0

        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    counter = PaintCounter()
    canvas.viewport().installEventFilter(counter)

    as_run, forced = [], []
    for run in range(2 * runs + 10):  # the first few warm caches and are dropped
        value = 64 if run % 2 else 96
        force = run % 4 >= 2  # alternate the two ways so machine noise hits both alike
        painted_before = counter.count
        start = time.perf_counter()
        document.set_param("conv1", "out_channels", value)
        app.processEvents()
        if force:
            canvas.viewport().repaint()
            panel.repaint()
        elapsed = time.perf_counter() - start
        if counter.count == painted_before:
            raise RuntimeError("the canvas was not repainted after the edit")
        expected = format_count(document.analysis.reports["conv1"].params)
        if not item.text_lines()[2].startswith(expected) or not item.text_lines()[0].endswith(str(value)):
            raise RuntimeError(f"canvas shows {item.text_lines()}, expected {expected}")
        if run >= 10:
            (forced if force else as_run).append(elapsed)
    window.document.undo_stack.setClean()
    window.close()
    return as_run, forced, len(document.graph)


def main() -> int:
    cores = os.cpu_count()
    startup = bench_startup()
    print(f"start-up to first paint (python main.py, LeNet-5): median {statistics.median(startup):.3f} s "
          f"over {len(startup)} runs (min {min(startup):.3f}, max {max(startup):.3f}); goal <= 1.5 s")
    as_run, forced, blocks = bench_edit()
    for label, edit in (("changed regions repainted (as the program runs)", as_run),
                        ("plus forced full repaint of canvas and panel", forced)):
        print(f"parameter edit -> {label} (VGG-16, {blocks} blocks): "
              f"median {statistics.median(edit) * 1000:.1f} ms over {len(edit)} edits "
              f"(p90 {sorted(edit)[int(len(edit) * 0.9)] * 1000:.1f} ms, max {max(edit) * 1000:.1f} ms); goal <= 16 ms")
    print(f"cores: {cores}; platform: {os.environ.get('QT_QPA_PLATFORM')}; python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
