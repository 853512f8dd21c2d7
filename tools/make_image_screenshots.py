"""Make the README's screenshots of issue 13: your own pictures, augmentation, schedules, predictions, runs.

    xvfb-run -a python tools/make_image_screenshots.py [--output docs/images] [--per-class 1000]

Builds a folder of pictures from Fashion-MNIST's test set (Debian's dataset-fashion-mnist
package, /usr/share/datasets/fashion-mnist): four classes, PNG and JPEG, a third of them
enlarged to 320×320 (mixed sizes) and three damaged files. In the window at the default
1400×900 it chooses the folder in the Training dock, adapts the design (LeNet-5), trains it
once with a constant learning rate and once with ``shift:2`` augmentation and a cosine
schedule, and writes:

folder-decoding.png (the decoding dialog with Cancel, when decoding lasts long enough to show it),
folder-skipped.png (what was left out), folder-settings.png (the dock's settings form whole: the
folder, resize mode, learning-rate schedule, augmentation), folder-training.png (the dock: the folder, augmentation
and schedule settings, curves and the learning-rate plot), folder-results.png (the confusion
matrix with the folder's class names), predict-window.png and predict-window-dark.png (a
picture as the network sees it, its top 3, the FC neurons), runs-view.png and runs-view-dark.png
(both runs listed and their curves overlaid). Offscreen unless a display is set; the saved
layout and settings are not used, and the runs go to a temporary folder.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIZE = (1400, 900)
FASHION = Path("/usr/share/datasets/fashion-mnist")
#: Fashion-MNIST's label → folder name, for the classes used
CLASSES = {0: "t-shirt", 1: "trouser", 7: "sneaker", 8: "bag"}


def read_idx(path: Path) -> np.ndarray:
    data = gzip.open(path).read()
    dimensions = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * index:8 + 4 * index], "big") for index in range(dimensions))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dimensions).reshape(shape)


def write_fashion_folder(root: Path, per_class: int) -> Path:
    from PIL import Image

    images = read_idx(FASHION / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(FASHION / "t10k-labels-idx1-ubyte.gz")
    for label, name in CLASSES.items():
        folder = root / name
        folder.mkdir(parents=True)
        for index, image_index in enumerate(np.flatnonzero(labels == label)[:per_class]):
            picture = Image.fromarray(images[image_index], "L")
            if index % 3 == 2:  # a third as larger photos: mixed sizes, and decoding that takes a moment
                picture = picture.resize((320, 320), Image.BICUBIC)
            if index % 2:
                picture.save(folder / f"{index:04d}.jpg", quality=90)
            else:
                picture.save(folder / f"{index:04d}.png")
    (root / "bag" / "scan-0001.png").write_bytes(b"\x89PNG\r\n\x1a\n cut off here")
    (root / "sneaker" / "notes.jpg").write_text("not a picture")
    (root / "trouser" / "empty.png").write_bytes(b"")
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=4)
    arguments = parser.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.pop("NETWORK_DESIGNER_COLOUR_SCHEME", None)
    work = Path(tempfile.mkdtemp(prefix="image-screenshots-"))
    os.environ["NETWORK_DESIGNER_RUNS"] = str(work / "runs")
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # the first run decodes, as on a new computer
    folder = write_fashion_folder(work / "fashion", arguments.per_class)

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication, QFileDialog

    from designer.core import load_architecture
    from designer.core.paths import TEMPLATES
    from designer.data import FOLDER_DATASET
    from designer.ui.main_window import MainWindow
    from designer.ui.style import apply_style, set_colour_scheme

    app = QApplication(sys.argv[:1])
    apply_style(app, "light")
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, restore_layout=False)
    window.resize(*SIZE)
    window.show()
    output = arguments.output
    output.mkdir(parents=True, exist_ok=True)

    def settle(rounds: int = 10) -> None:
        for _ in range(rounds):
            app.processEvents()

    def save(widget, name: str) -> None:
        settle()
        widget.grab().save(str(output / name))
        print("wrote", output / name)

    def wait(milliseconds: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(milliseconds, loop.quit)
        loop.exec()

    settle()
    panel = window.training_panel
    panel.dock.raise_()
    settle()
    window.show_graph(load_architecture(TEMPLATES / "lenet5.json"), None)
    options = panel.settings
    QFileDialog.getExistingDirectory = staticmethod(lambda *_args, **_kwargs: str(folder))
    options.dataset_combo.setCurrentIndex(options.dataset_combo.findData(FOLDER_DATASET))
    panel.adapt_input_to_dataset()
    options.epochs_spin.setValue(arguments.epochs)
    options.batch_size_spin.setValue(64)
    options.set_device("cpu")
    settle()

    def train(*, augment: str, schedule: str, watch_decoding: bool = False) -> None:
        options.set_augment(augment)
        options.set_schedule(schedule)
        loop = QEventLoop()
        panel.training.finished.connect(loop.quit)
        shot = {"taken": False}
        poll = QTimer()
        poll.setInterval(40)

        def look_for_the_decoding_dialog() -> None:
            dialog = panel.prompts.decoding_dialog
            if not shot["taken"] and dialog is not None and dialog.isVisible() and dialog.maximum() > 0 \
                    and dialog.value() > dialog.maximum() // 5:
                shot["taken"] = True
                save(dialog, "folder-decoding.png")  # a window of its own: not in the main window's grab

        if watch_decoding:
            poll.timeout.connect(look_for_the_decoding_dialog)
            poll.start()
        assert panel.start(), panel.status_label.text()
        loop.exec()
        poll.stop()
        panel.training.finished.disconnect(loop.quit)
        settle()
        if watch_decoding and not shot["taken"]:
            print("the decoding dialog did not show (decoding took under half a second): no folder-decoding.png")
        print(panel.status_label.text())

    train(augment="none", schedule="none", watch_decoding=True)
    box = panel.prompts.skipped_box
    if box is not None:
        save(box, "folder-skipped.png")
        box.close()
    train(augment="shift:2", schedule="cosine")
    save(panel.settings_area.widget(), "folder-settings.png")  # the whole form, as if scrolled through
    panel.tabs.setCurrentIndex(0)
    save(window, "folder-training.png")
    panel.tabs.setCurrentIndex(1)
    save(window, "folder-results.png")

    picture = next((folder / "sneaker").glob("*2.png"))
    panel.predictions.predict_files([str(picture)])
    dialog = panel.predictions.dialog
    for _ in range(300):
        wait(100)
        if not dialog.runner.running:
            break
    print(dialog.status_label.text())
    save(dialog, "predict-window.png")
    set_colour_scheme(app, "dark")
    save(dialog, "predict-window-dark.png")
    set_colour_scheme(app, "light")
    dialog.close()

    runs = window.runs_view
    window.docks["runs"].raise_()
    settle()
    runs.select_runs({record.name for record in runs.records})
    save(window, "runs-view.png")
    set_colour_scheme(app, "dark")
    save(window, "runs-view-dark.png")
    set_colour_scheme(app, "light")

    window.document.undo_stack.setClean()
    window.close()
    from designer.training import service

    service.shutdown_idle()
    return 0


if __name__ == "__main__":
    sys.exit(main())
