"""Make the README's training screenshots: LeNet-5 training on the built-in sample.

    python tools/make_training_screenshots.py [--output docs/images]

Writes training-during.png (half-way through the run), training-after.png (curves and
diagnosis when it has finished) and training-results.png (the Results tab). Runs offscreen
unless a display is set; the window is 1400×900 (the default) and its saved layout is not used.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--epochs", type=int, default=8)
    arguments = parser.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from designer.core import load_architecture
    from designer.core.paths import TEMPLATES
    from designer.ui.main_window import MainWindow
    from designer.ui.style import apply_style

    app = QApplication(sys.argv[:1])
    apply_style(app)
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, restore_layout=False)
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    panel = window.training_panel
    panel.dock.raise_()
    app.processEvents()
    window.show_graph(load_architecture(TEMPLATES / "lenet5.json"), None)  # laid out to fit what is left
    panel.settings.epochs_spin.setValue(arguments.epochs)
    panel.settings.batch_size_spin.setValue(64)
    panel.settings.set_device("cpu")
    arguments.output.mkdir(parents=True, exist_ok=True)

    loop = QEventLoop()
    during = QTimer()
    during.setInterval(50)

    def take_during_when_half_way() -> None:
        # Half-way, and a little into the next epoch, so the batch curves run past the last epoch mark.
        latest = panel.progress.latest
        if latest is not None and latest.epoch > arguments.epochs // 2 and latest.batch > latest.batches // 2:
            during.stop()
            window.grab().save(str(arguments.output / "training-during.png"))

    during.timeout.connect(take_during_when_half_way)
    assert panel.start(), panel.status_label.text()
    panel.training.finished.connect(loop.quit)
    during.start()
    loop.exec()
    during.stop()
    for _ in range(10):
        app.processEvents()
    print(panel.status_label.text())
    window.grab().save(str(arguments.output / "training-after.png"))
    panel.tabs.setCurrentIndex(1)
    for _ in range(10):
        app.processEvents()
    window.grab().save(str(arguments.output / "training-results.png"))
    window.document.undo_stack.setClean()
    window.close()
    from designer.training import service

    service.shutdown_idle()
    return 0


if __name__ == "__main__":
    sys.exit(main())
