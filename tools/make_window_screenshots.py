"""Make the window screenshots of issue 14 (the first hour in the window), at the default 1400×900.

    xvfb-run -a python tools/make_window_screenshots.py [--output docs/images]

Writes training-starting.png (the Training dock while the training process starts), and, in the
light and the dark theme (switched live, as View ▸ Appearance does):
window-light.png / window-dark.png (VGG-16: canvas, inspector, the Parameters table with
nothing cut), training-light.png / training-dark.png (LeNet-5 trained for 2 epochs on the
built-in sample: curves), results-light.png (the Results tab: the docks keep their widths),
results-stale.png (the same tab after an edit of the design: marked stale),
pooling-stride.png (the inspector on a pooling block: "same as kernel"), and the two Help
pages (help-getting-started.png, help-shortcuts.png). Offscreen unless a display is set; the
saved layout and settings are not used.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIZE = (1400, 900)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--epochs", type=int, default=2)
    arguments = parser.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.pop("NETWORK_DESIGNER_COLOUR_SCHEME", None)

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from designer.core import load_architecture
    from designer.core.paths import TEMPLATES
    from designer.ui.main_window import MainWindow
    from designer.ui.style import apply_style, set_colour_scheme

    app = QApplication(sys.argv[:1])
    apply_style(app, "light")
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, restore_layout=False)
    window.resize(*SIZE)
    window.show()
    output = arguments.output
    output.mkdir(parents=True, exist_ok=True)

    def settle() -> None:
        for _ in range(10):
            app.processEvents()

    def save(widget, name: str) -> None:
        settle()
        widget.grab().save(str(output / name))
        print("wrote", output / name)

    settle()
    window.show_graph(load_architecture(TEMPLATES / "vgg16.json"), None)
    settle()
    window.canvas.fit_view()
    window.document.set_selection(["fc1"])
    for scheme in ("light", "dark"):
        set_colour_scheme(app, scheme)
        save(window, f"window-{scheme}.png")
    set_colour_scheme(app, "light")

    window.show_graph(load_architecture(TEMPLATES / "lenet5.json"), None)
    window.document.set_selection(["avgpool1"])
    save(window, "pooling-stride.png")

    for page in (window.show_getting_started(), window.show_keyboard_shortcuts()):
        page.resize(620, 640)
        name = "help-getting-started.png" if page is window.help_pages["getting_started"] else "help-shortcuts.png"
        save(page, name)
        page.close()

    panel = window.training_panel
    panel.dock.raise_()
    panel.settings.epochs_spin.setValue(arguments.epochs)
    panel.settings.batch_size_spin.setValue(64)
    panel.settings.set_device("cpu")
    settle()
    from designer.training import service

    service.shutdown_idle()  # the first run of a session: the training process starts (PyTorch loads)
    loop = QEventLoop()
    assert panel.start(), panel.status_label.text()
    panel.training.finished.connect(loop.quit)
    save(window, "training-starting.png")
    loop.exec()
    settle()
    print(panel.status_label.text())
    widths = {name: dock.width() for name, dock in window.docks.items() if dock.isVisible()}
    for scheme in ("light", "dark"):
        set_colour_scheme(app, scheme)
        save(window, f"training-{scheme}.png")
    set_colour_scheme(app, "light")
    panel.tabs.setCurrentIndex(1)
    save(window, "results-light.png")
    after = {name: dock.width() for name, dock in window.docks.items() if dock.isVisible()}
    window.document.set_param("fc1", "out_features", 100)  # the design changes after the run
    loop = QEventLoop()
    QTimer.singleShot(300, loop.quit)  # the results' staleness is checked once after a burst of edits
    loop.exec()
    save(window, "results-stale.png")
    print("dock widths on the Curves tab:", widths, "on the Results tab:", after)
    window.document.undo_stack.setClean()
    window.close()
    from designer.training import service

    service.shutdown_idle()
    return 0


if __name__ == "__main__":
    sys.exit(main())
