"""Which FC neurons fire: every FC layer's activations for one test image, and the top-3 predictions."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from designer.ui.lab.common import LabDialog, good_colour, muted_label, set_plot_title, style_plot
from designer.ui.style import FC_COLOUR, hex_colour

HIGHLIGHTED = 5  # the most active neurons of each layer are drawn in the FC colour
QUIET_COLOUR = "#AEB6C0"
LOUD_COLOUR = hex_colour(FC_COLOUR)


class NeuronsDialog(LabDialog):
    def __init__(self, lab, parent: QWidget | None = None) -> None:
        super().__init__(lab, "FC lab — Which FC neurons fire", parent)
        self.result: dict | None = None
        self._pending: tuple | None = None
        self.layer_plots: list[pg.PlotItem] = []
        self.bars: list[pg.BarGraphItem] = []

        intro = muted_label("Each bar is one neuron of an FC layer (after its activation; the last layer shows "
                            f"the class scores). The {HIGHLIGHTED} most active neurons of each layer are orange.")
        self.model_combo = QComboBox()
        self.model_combo.setMinimumWidth(280)
        self.model_combo.currentIndexChanged.connect(self._on_model_combo_changed)
        self.index_spin = QSpinBox()
        self.index_spin.setRange(0, 9999)
        self.index_spin.setPrefix("test image #")
        self.index_spin.valueChanged.connect(self._on_index_spin_changed)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Model:"))
        controls.addWidget(self.model_combo, 1)
        controls.addWidget(self.index_spin)

        self.image_widget = pg.PlotWidget()
        self.image_widget.setFixedSize(230, 230)
        self.themed(self.image_widget)
        self.image_plot = self.image_widget.getPlotItem()
        self.image_plot.hideAxis("left")
        self.image_plot.hideAxis("bottom")
        self.image_plot.invertY(True)
        self.image_plot.setAspectLocked(True)
        self.image_plot.setMenuEnabled(False)
        self.image_item = pg.ImageItem()
        self.image_plot.addItem(self.image_item)
        self.prediction_label = QLabel(" ")
        self.prediction_label.setTextFormat(Qt.TextFormat.RichText)
        self.prediction_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.prediction_label.setMinimumWidth(230)
        self.prediction_label.setWordWrap(True)
        left = QWidget()
        from PySide6.QtWidgets import QVBoxLayout

        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.image_widget)
        left_layout.addWidget(self.prediction_label, 1)

        self.plots = self.themed(pg.GraphicsLayoutWidget())
        self.plots.setMinimumHeight(420)
        body = QHBoxLayout()
        body.addWidget(left)
        body.addWidget(self.plots, 1)

        self.layout_.addWidget(intro)
        self.layout_.addLayout(controls)
        self.layout_.addLayout(body, 1)
        self.layout_.addWidget(self.status_label)
        self.runner.finished.connect(self._on_runner_finished)
        lab.models.changed.connect(self._on_models_changed)
        self.resize(1100, 640)

    # ------------------------------------------------------------------ models

    def _fill_models(self) -> None:
        current = self.model_combo.currentText()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for model in self.lab.models.with_fc_layers():
            self.model_combo.addItem(model.label)
        found = self.model_combo.findText(current)
        self.model_combo.setCurrentIndex(found if found >= 0 else 0)
        self.model_combo.blockSignals(False)

    def current_model(self):
        label = self.model_combo.currentText()
        return next((model for model in self.lab.models.with_fc_layers() if model.label == label), None)

    @Slot()
    def _on_models_changed(self) -> None:
        if self.isVisible():
            self._fill_models()

    def start(self) -> bool:
        self._fill_models()
        return self.request()

    def request(self) -> bool:
        model = self.current_model()
        if model is None:
            self.set_status("No trained model with FC layers: train the design first (Training ▸ Start Training).",
                            error=True)
            return False
        self._pending = (model, self.index_spin.value())
        if self.runner.running:
            return True  # shown when the running look finishes
        return self._start_pending()

    def _start_pending(self) -> bool:
        if self._pending is None:
            return False
        model, index = self._pending
        self._pending = None
        self.set_status(f"Running test image #{index} through {model.label}…")
        def work(context):
            from designer.lab.neurons import look_inside

            return look_inside(model, index)

        return self.runner.start(work)

    @Slot(int)
    def _on_model_combo_changed(self, _index: int) -> None:
        self.request()

    @Slot(int)
    def _on_index_spin_changed(self, _value: int) -> None:
        self.request()

    # ------------------------------------------------------------------ showing

    @Slot(object)
    def _on_runner_finished(self, outcome) -> None:
        if outcome.error:
            self.set_status(f"Cannot look inside: {outcome.error}", error=True)
        elif outcome.ok:
            self._show(outcome.value)
        if self._pending is not None:
            self._start_pending()

    def _show(self, result: dict) -> None:
        self.result = result
        self.index_spin.blockSignals(True)
        self.index_spin.setMaximum(result["count"] - 1)
        self.index_spin.blockSignals(False)
        image = result["image"]
        shown = image[0].T if image.shape[0] == 1 else np.transpose(image, (2, 1, 0))
        self.image_item.setImage(shown, levels=(0.0, 1.0))
        self.image_item.setRect(QRectF(0, 0, image.shape[2], image.shape[1]))
        names = result["class_names"]
        truth = names[result["label"]]
        rows = []
        text = hex_colour(self.theme.text)
        for rank, (name, probability) in enumerate(result["top"], start=1):
            colour = good_colour(self.theme) if name == truth else hex_colour(self.theme.error) if rank == 1 else text
            rows.append(f"<tr><td>{rank}.</td><td style='color:{colour}'><b>{html.escape(name)}</b></td>"
                        f"<td align=right>{probability:.1%}</td></tr>")
        self.prediction_label.setText(f"<p>True class: <b>{html.escape(truth)}</b></p><p>Top 3 predictions:</p>"
                                      f"<table cellpadding=2>{''.join(rows)}</table>")
        self._show_layers(result["layers"])
        self.set_status(f"Test image #{result['index']} of {result['count']} through {result['model']}.")

    def _show_layers(self, layers) -> None:
        if len(self.layer_plots) != len(layers):
            self.plots.clear()
            self.layer_plots, self.bars = [], []
            for row in range(len(layers)):
                plot = style_plot(self.plots.addPlot(row=row, col=0), "", "neuron", "activation")
                self.add_themed_plot(self.plots, plot)
                plot.setClipToView(False)
                bars = pg.BarGraphItem(x=[], height=[], width=0.8)
                plot.addItem(bars)
                self.layer_plots.append(plot)
                self.bars.append(bars)
        last = len(layers) - 1
        for row, ((block_id, values), plot, bars) in enumerate(zip(layers, self.layer_plots, self.bars)):
            values = np.asarray(values, dtype=np.float64)
            order = np.argsort(values)[::-1][:HIGHLIGHTED]
            brushes = [pg.mkBrush(QUIET_COLOUR)] * len(values)
            for neuron in order:
                brushes[neuron] = pg.mkBrush(LOUD_COLOUR)
            width = 0.8 if len(values) <= 200 else 1.0
            bars.setOpts(x=np.arange(len(values), dtype=np.float64), height=values, width=width, brushes=brushes,
                         pens=[pg.mkPen(None)] * len(values))
            top = ", ".join(f"#{int(neuron)}" for neuron in order)
            kind = "class scores (logits)" if row == last else "activations"
            set_plot_title(plot, f"{block_id}: {len(values)} neurons, {kind} — most active: {top}")
            plot.setXRange(-1, len(values), padding=0.01)
            low, high = float(min(0.0, values.min())), float(max(0.0, values.max()))
            plot.setYRange(low, high if high > low else low + 1, padding=0.05)
            if row == last and len(values) <= 20:
                names = self.result["class_names"] if self.result else ()
                plot.getAxis("bottom").setTicks([[(index, names[index] if index < len(names) else str(index))
                                                  for index in range(len(values))]])
                plot.setLabel("bottom", "class")

    def apply_theme(self, theme) -> None:
        super().apply_theme(theme)
        if self.result is not None:
            self._show(self.result)  # the prediction table's colours

    def layer_count(self) -> int:
        return len(self.result["layers"]) if self.result else 0
