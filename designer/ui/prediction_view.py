"""Predict image…: one picture through the current trained network — as the network sees it,
its top-3 classes, and what every FC layer's neurons make of it.

The trained network is the Training dock's (its last run or a loaded checkpoint). The picture
is read exactly as ``predict`` and image folders read it (``designer.lab.neurons.look_at_image``),
in a worker thread; the FC activations are the FC lab's "Which FC neurons fire" view.
Pictures come from *Open image…*, from dropping a file on this window or on the Training
dock's Results tab.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QDialog, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from designer.data.image_decode import IMAGE_SUFFIXES
from designer.ui.results_view import image_to_pixmap
from designer.ui.style import FC_COLOUR, current_theme, hex_colour, theme_notifier
from designer.ui.tasks import TaskRunner

PICTURE_SIZE = 196
TOP = 3
HIGHLIGHTED = 5  # the most active neurons of each FC layer, in the FC colour (as in the FC lab)
QUIET_COLOUR = "#AEB6C0"
IMAGE_FILTER = "Images (" + " ".join(f"*{suffix}" for suffix in IMAGE_SUFFIXES) + ");;All files (*)"


def image_paths(mime_data) -> list[str]:
    """The local image files in a drop (by suffix), in order."""
    from designer.ui.results_view import _dropped_images

    return _dropped_images(mime_data)


class NeuronBars(pg.GraphicsLayoutWidget):
    """One bar chart per FC layer: each neuron's activation, the most active in the FC colour."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plots: list[pg.PlotItem] = []
        self.bars: list[pg.BarGraphItem] = []
        self.titles: list[str] = []  # each plot's title, written again in a new theme's colour
        self.apply_theme(current_theme())
        theme_notifier().theme_changed.connect(self.apply_theme)

    @Slot(object)
    def apply_theme(self, theme) -> None:
        self.setBackground(theme.plot_background)
        for plot, title in zip(self.plots, self.titles):
            plot.setTitle(title, color=hex_colour(theme.plot_text), size="9pt")
        for plot in self.plots:
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setTextPen(pg.mkPen(theme.plot_text))
                plot.getAxis(axis).setPen(pg.mkPen(theme.plot_axis))

    def show_layers(self, layers, class_names) -> None:
        if len(self.plots) != len(layers):
            self.clear()
            self.plots, self.bars, self.titles = [], [], []
            for row in range(len(layers)):
                plot = self.addPlot(row=row, col=0)
                plot.setMenuEnabled(False)
                plot.showGrid(y=True, alpha=0.25)
                bars = pg.BarGraphItem(x=[], height=[], width=0.8)
                plot.addItem(bars)
                self.plots.append(plot)
                self.bars.append(bars)
            self.apply_theme(current_theme())
        text = hex_colour(current_theme().plot_text)
        last = len(layers) - 1
        for row, ((block_id, values), plot, bars) in enumerate(zip(layers, self.plots, self.bars)):
            values = np.asarray(values, dtype=np.float64)
            loudest = np.argsort(values)[::-1][:HIGHLIGHTED]
            brushes = [pg.mkBrush(QUIET_COLOUR)] * len(values)
            for neuron in loudest:
                brushes[neuron] = pg.mkBrush(hex_colour(FC_COLOUR))
            bars.setOpts(x=np.arange(len(values), dtype=np.float64), height=values,
                         width=0.8 if len(values) <= 200 else 1.0, brushes=brushes, pens=[pg.mkPen(None)] * len(values))
            kind = "class scores (logits)" if row == last else "activations"
            title = (f"{html.escape(block_id)}: {len(values)} neurons, {kind} — most active: "
                     + ", ".join(f"#{int(neuron)}" for neuron in loudest))
            self.titles[row:row + 1] = [title]
            plot.setTitle(title, color=text, size="9pt")
            plot.setXRange(-1, len(values), padding=0.01)
            low, high = float(min(0.0, values.min())), float(max(0.0, values.max()))
            plot.setYRange(low, high if high > low else low + 1, padding=0.05)
            if row == last and len(values) <= 20:
                plot.getAxis("bottom").setTicks([[(index, class_names[index][:10] if index < len(class_names)
                                                   else str(index)) for index in range(len(values))]])
            else:
                plot.getAxis("bottom").setTicks(None)


class PredictionDialog(QDialog):
    """``trained_model()``: the network to ask (a ``TrainedModel``), or None when there is none yet."""

    def __init__(self, trained_model, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.trained_model = trained_model
        self.setWindowTitle("Predict image")
        self.setModal(False)
        self.setAcceptDrops(True)
        self.result: dict | None = None
        self._pending: str | None = None
        self.runner = TaskRunner(self, "prediction")
        self.runner.finished.connect(self._on_runner_finished)

        self.open_button = QPushButton("Open image…")
        self.open_button.clicked.connect(self._on_open_button_clicked)
        self.file_label = QLabel("Drop a PNG, JPEG, BMP or WebP picture here, or open one.")
        self.file_label.setWordWrap(True)
        top_row = QHBoxLayout()
        top_row.addWidget(self.file_label, 1)
        top_row.addWidget(self.open_button)

        self.picture = QLabel()
        self.picture.setFixedSize(PICTURE_SIZE + 4, PICTURE_SIZE + 4)
        self.picture.setAlignment(Qt.AlignCenter)
        self.picture.setFrameShape(QLabel.StyledPanel)
        self.picture_caption = QLabel(" ")
        self.picture_caption.setWordWrap(True)
        self.picture_caption.setMaximumWidth(PICTURE_SIZE + 4)
        self.top_names = [QLabel(" ") for _ in range(TOP)]
        self.top_bars = [QProgressBar() for _ in range(TOP)]
        top_grid = QGridLayout()
        top_grid.addWidget(QLabel("<b>Top 3</b>"), 0, 0, 1, 2)
        for rank, (name, bar) in enumerate(zip(self.top_names, self.top_bars), start=1):
            bar.setRange(0, 1000)
            bar.setValue(0)
            bar.setFormat(" ")
            bar.setMinimumWidth(120)
            top_grid.addWidget(name, rank, 0)
            top_grid.addWidget(bar, rank, 1)
        left = QVBoxLayout()
        left.addWidget(self.picture)
        left.addWidget(self.picture_caption)
        left.addLayout(top_grid)
        left.addStretch(1)
        self.neurons = NeuronBars()
        self.neurons.setMinimumSize(560, 360)
        body = QHBoxLayout()
        body.addLayout(left)
        body.addWidget(self.neurons, 1)
        self.status_label = QLabel(" ")
        self.status_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top_row)
        layout.addLayout(body, 1)
        layout.addWidget(self.status_label)
        self.resize(980, 560)

    # ------------------------------------------------------------------ asking

    def predict(self, path: str | Path) -> bool:
        """Run ``path`` through the trained network (in the background); False when there is none."""
        model = self.trained_model()
        if model is None:
            self.set_status("No trained network yet: train the design (Training ▸ Start Training) or load a "
                            "checkpoint, then predict.", error=True)
            return False
        self._pending = str(path)
        if self.runner.running:
            return True  # asked when the one running now is done
        return self._start_pending()

    def _start_pending(self) -> bool:
        path, self._pending = self._pending, None
        if path is None:
            return False
        model = self.trained_model()
        self.file_label.setText(f"<b>{html.escape(Path(path).name)}</b> through {html.escape(model.label)}")
        self.set_status("Reading the picture…")

        def work(_context):
            from designer.lab.neurons import look_at_image

            return look_at_image(model, path)

        return self.runner.start(work)

    @Slot(object)
    def _on_runner_finished(self, outcome) -> None:
        if outcome.error:
            self.set_status(f"Cannot predict: {outcome.error}", error=True)
        elif outcome.ok:
            self.show_result(outcome.value)
        if self._pending is not None:
            self._start_pending()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        return self.runner.shutdown(timeout_ms)

    # ------------------------------------------------------------------ showing

    def show_result(self, result: dict) -> None:
        self.result = result
        image = result["image"]
        channels, height, width = image.shape
        self.picture.setPixmap(image_to_pixmap(image, PICTURE_SIZE))
        resize = "centre crop" if result["resize"] == "crop" else "letterbox"
        self.picture_caption.setText(f"As the network sees it: {'grey' if channels == 1 else 'RGB'} "
                                     f"{height}×{width} ({resize})")
        for index, (name_label, bar) in enumerate(zip(self.top_names, self.top_bars)):
            if index < len(result["top"]):
                name, probability = result["top"][index]
                name_label.setText(f"{index + 1}. <b>{html.escape(name)}</b>")
                bar.setValue(int(round(1000 * probability)))
                bar.setFormat(f"{probability:.1%}")
            else:
                name_label.setText(" ")
                bar.setValue(0)
                bar.setFormat(" ")
        self.neurons.show_layers(result["layers"], result["class_names"])
        best, probability = result["top"][0]
        self.set_status(f"{result['path']}: {best} ({probability:.1%}) according to {result['model']}.")

    def set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {hex_colour(current_theme().error)}" if error else "")

    def top_classes(self) -> list[tuple[str, float]]:
        return list(self.result["top"]) if self.result else []

    # ------------------------------------------------------------------ files

    @Slot()
    def _on_open_button_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Picture to predict", "", IMAGE_FILTER)
        if path:
            self.predict(path)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if image_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        paths = image_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.predict(paths[0])


__all__ = ["NeuronBars", "PredictionDialog", "image_paths"]
