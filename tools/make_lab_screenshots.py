"""Make the FC lab screenshots of issue 14 (items d, e, l, n) at 1400×900, on the built-in sample.

    xvfb-run -a -s "-screen 0 1400x900x24" python tools/make_lab_screenshots.py [--output docs/images]

The screen is 1400×900 and each picture is the whole screen: the main window with the lab's
window over it, as a person sees them. Writes lab-fc2conv-preview.png and lab-gap-preview.png
(the previews: the design is unchanged until "Apply to the design"), lab-shift-legend.png
("Where is the cat?" with four models, two of them the same network: legend, markers, the
"same curve" note), lab-sweep-labels.png (a six-variant sweep, labels inside and apart) and
lab-shift-dark.png (the same probe in the dark theme) and lab-shift-augmentation.png ("Where
is the cat?" after *Train and compare*: the FC head, the FC head trained with shift
augmentation ±4 px and the GAP head, 10 epochs each, with the verdict). LeNet-5, 2 epochs
elsewhere; a few minutes on
two cores. ``--only shift-augmentation`` makes that last picture alone. Without a display it
falls back to grabbing the lab window alone.
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
    parser.add_argument("--only", choices=("shift-augmentation",), default=None,
                        help="make one picture only (the others need the dock's run first)")
    arguments = parser.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.pop("NETWORK_DESIGNER_COLOUR_SCHEME", None)

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtGui import QGuiApplication
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
    window.move(0, 0)
    window.show()
    output = arguments.output
    output.mkdir(parents=True, exist_ok=True)
    lab = window.fc_lab

    def settle(rounds: int = 10) -> None:
        for _ in range(rounds):
            app.processEvents()

    def wait_until(done) -> None:
        loop = QEventLoop()
        timer = QTimer()
        timer.timeout.connect(lambda: loop.quit() if done() else None)
        timer.start(50)
        loop.exec()
        timer.stop()
        settle()

    def save(dialog, name: str) -> None:
        settle()
        screen = QGuiApplication.primaryScreen()
        picture = screen.grabWindow(0) if QGuiApplication.platformName() == "xcb" else dialog.grab()
        picture.save(str(output / name))
        print("wrote", output / name, f"{picture.width()}×{picture.height()}")

    def show(name: str, width: int = 1000, height: int = 760, prepare=None):
        dialog = lab.dialog(name)
        dialog.resize(width, height)
        dialog.move((SIZE[0] - width) // 2, (SIZE[1] - height) // 2)
        if prepare is not None:
            prepare(dialog)
        lab.open(name)
        return dialog

    def shift_augmentation() -> None:
        """Train and compare the three with the dock's settings, 10 epochs (in 2 the GAP head has
        barely started to learn); all 1,000 test images, shifts ±6."""
        window.training_panel.settings.epochs_spin.setValue(10)

        def prepare(dialog) -> None:
            dialog.shift_spin.setValue(6)
            dialog.augment_spin.setValue(4)
            dialog.limit_samples([])
            dialog.samples_spin.setValue(dialog.samples_spin.maximum())

        dialog = show("shift", 1000, 820, prepare=prepare)
        wait_until(lambda: not dialog.runner.running)  # the plain probe open() starts
        assert dialog.start_comparison(), dialog.status_text()
        wait_until(lambda: not dialog.runner.running)
        print(dialog.verdict_label.text())
        dialog.compare_button.setFocus()  # no text cursor blinking in a spin box on the picture
        save(dialog, "lab-shift-augmentation.png")
        dialog.close()

    settle()
    window.show_graph(load_architecture(TEMPLATES / "lenet5.json"), None)
    panel = window.training_panel
    panel.settings.epochs_spin.setValue(arguments.epochs)
    panel.settings.batch_size_spin.setValue(64)
    panel.settings.set_device("cpu")
    if arguments.only == "shift-augmentation":
        shift_augmentation()
        return finish()
    assert panel.start(), panel.status_label.text()
    wait_until(lambda: not panel.running)
    print(panel.status_label.text())

    fc_to_conv = show("fc_to_conv")
    wait_until(lambda: not fc_to_conv.runner.running)
    save(fc_to_conv, "lab-fc2conv-preview.png")
    # Applied and undone: the converted network (the trained weights, carried over) stays one of
    # the lab's models — the same network as the dock's, under another name.
    fc_to_conv.apply()
    window.named_actions["undo"].trigger()
    fc_to_conv.close()

    gap = show("gap")
    wait_until(lambda: not gap.runner.running)
    save(gap, "lab-gap-preview.png")
    gap.start_side_by_side()
    wait_until(lambda: not gap.runner.running)
    gap.close()

    def prepare_shift(dialog) -> None:
        dialog.shift_spin.setValue(4)
        dialog.limit_samples()
        dialog.samples_spin.setValue(dialog.samples_spin.maximum())

    shift = show("shift", prepare=prepare_shift)
    wait_until(lambda: not shift.runner.running)
    save(shift, "lab-shift-legend.png")
    set_colour_scheme(app, "dark")
    save(shift, "lab-shift-dark.png")
    set_colour_scheme(app, "light")
    shift.close()

    sweep = show("sweep", 1100, 800)
    sweep.set_settings(depths=(1, 2, 3), widths=(32, 128), activation="ReLU", epochs=1)
    sweep.start_sweep()
    wait_until(lambda: not sweep.runner.running)
    save(sweep, "lab-sweep-labels.png")
    sweep.close()
    shift_augmentation()
    return finish()


def finish() -> int:
    from PySide6.QtWidgets import QApplication

    from designer.training import service

    for widget in QApplication.topLevelWidgets():
        lab = getattr(widget, "fc_lab", None)
        if lab is not None:
            widget.document.undo_stack.setClean()
            lab.shutdown()
            widget.close()
    service.shutdown_idle()
    return 0


if __name__ == "__main__":
    sys.exit(main())
