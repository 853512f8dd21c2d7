"""FC → convolution: show the fully convolutional design beside the FC one — same parameters, same
outputs, a score map over several images — and make it the design on a button.

The conversion, the output comparison and the score map (``designer.lab.convert``) run in a
worker thread as a preview: opening the dialog never changes the design. *Apply to the
design* does (one undoable ``replace_graph``), and only if the design is still the one
previewed.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QFormLayout, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSpinBox,
                               QWidget)

from designer.core import DesignLockedError
from designer.training.run import TrainedModel
from designer.ui.lab.common import LabDialog, change_table, muted_label, style_plot
from designer.ui.style import hex_colour

DEFAULT_TILES = 6
UNDO_TEXT = "FC → convolution"


class FcToConvDialog(LabDialog):
    def __init__(self, lab, parent: QWidget | None = None) -> None:
        super().__init__(lab, "FC lab — FC → convolution", parent)
        self.result: dict | None = None
        self.applied = False
        self._revision = -1
        self._previewed = None  # the design the preview was made from
        self._source_model: TrainedModel | None = None

        intro = muted_label("An FC layer on a C×H×W input is a convolution whose kernel covers the whole input; "
                            "later FCs are 1×1 convolutions. Same parameters, same outputs — and the network "
                            "now slides over larger images. Nothing changes in the design until you press "
                            "“Apply to the design”.")
        self.weights_label = QLabel("–")
        self.params_label = QLabel("–")
        self.difference_label = QLabel("–")
        for label in (self.weights_label, self.params_label, self.difference_label):
            label.setWordWrap(True)
        bold = QFont(self.params_label.font())
        bold.setBold(True)
        self.params_label.setFont(bold)
        self.difference_label.setFont(bold)
        form = QFormLayout()
        form.addRow("Weights:", self.weights_label)
        form.addRow("Parameters:", self.params_label)
        form.addRow("Outputs:", self.difference_label)
        self.changes_label = QLabel("–")
        self.changes_label.setTextFormat(Qt.TextFormat.RichText)
        form.addRow("Blocks:", self.changes_label)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(64)

        self.tiles_spin = QSpinBox()
        self.tiles_spin.setRange(2, 16)
        self.tiles_spin.setValue(DEFAULT_TILES)
        self.tiles_spin.setSuffix(" test images side by side")
        self.again_button = QPushButton("Preview again")
        self.again_button.setToolTip("Convert the design as it is now and recompute the comparison and the score map")
        self.again_button.clicked.connect(self._on_again_button_clicked)
        self.apply_button = QPushButton("Apply to the design")
        self.apply_button.setToolTip("Make the design fully convolutional as previewed (one undo step)")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self._on_apply_button_clicked)
        controls = QHBoxLayout()
        controls.addWidget(self.tiles_spin)
        controls.addWidget(self.again_button)
        controls.addWidget(self.apply_button)
        controls.addStretch(1)

        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setMinimumHeight(320)
        self.image_plot = style_plot(self.plots.addPlot(row=0, col=0), "Input: test images side by side",
                                     "x (pixels)", "")
        self.image_plot.invertY(True)
        self.image_plot.getAxis("left").setStyle(showValues=False)
        self.image_plot.setLabel("bottom", "")
        self.image_item = pg.ImageItem()
        self.image_plot.addItem(self.image_item)
        self.score_plot = style_plot(self.plots.addPlot(row=1, col=0),
                                     "Class-score map (softmax per position) and the predicted class",
                                     "centre of the window the network sees (input pixels)", "class")
        self.score_plot.setXLink(self.image_plot)
        for plot in (self.image_plot, self.score_plot):
            plot.getAxis("left").setWidth(120)  # equal widths keep the two x axes aligned
        self.themed(self.plots, self.image_plot, self.score_plot)
        self.score_item = pg.ImageItem()
        self.score_item.setColorMap(pg.colormap.get("viridis"))
        self.score_plot.addItem(self.score_item)
        self.plots.ci.layout.setRowStretchFactor(0, 2)
        self.plots.ci.layout.setRowStretchFactor(1, 3)
        self.prediction_items: list[pg.TextItem] = []
        self.truth_items: list[pg.TextItem] = []

        self.layout_.addWidget(intro)
        self.layout_.addLayout(form)
        self.layout_.addWidget(self.details)
        self.layout_.addLayout(controls)
        self.layout_.addWidget(self.plots, 1)
        self.layout_.addWidget(self.status_label)
        self.runner.finished.connect(self._on_runner_finished)
        self.runner.running_changed.connect(self._on_runner_running_changed)
        self.resize(980, 760)

    # ------------------------------------------------------------------ running

    def start(self) -> bool:
        """Preview the conversion of the open design (in the background); the design does not change."""
        if self.runner.running:
            return False
        self.result = None
        self.apply_button.setEnabled(False)
        graph = self._previewed = self.document.graph.copy()
        self._revision = self.document.graph.revision
        model = self._source_model = self.lab.models.model_for(graph)
        config = model.config if model is not None else self.lab.models.training_config()
        tiles = self.tiles_spin.value()
        self.applied = False
        self.set_status("Converting and comparing outputs…")
        def work(context):
            from designer.lab.convert import convert_design

            return convert_design(graph, model, config, tiles, should_stop=context.cancelled)

        return self.runner.start(work)

    @Slot()
    def _on_again_button_clicked(self) -> None:
        self.start()

    @Slot(bool)
    def _on_runner_running_changed(self, running: bool) -> None:
        self.again_button.setEnabled(not running)
        self.apply_button.setEnabled(not running and self._can_apply())

    def _can_apply(self) -> bool:
        return (self.result is not None and self.result["report"].changed and not self.applied
                and self.document.graph.revision == self._revision)

    @Slot(object)
    def _on_runner_finished(self, outcome) -> None:
        if outcome.cancelled:
            self.set_status("Cancelled.")
            return
        if outcome.error:
            self.set_status(f"Cannot convert this design: {outcome.error}", error=True)
            return
        result = self.result = outcome.value
        report = result["report"]
        self.weights_label.setText(
            "the trained weights were carried over" if result["carried"] else
            "fresh initialisation (seed 0): no trained model of exactly this design")
        self.params_label.setText(f"{report.params_before:,} before → {report.params_after:,} after"
                                  + (" (identical)" if report.params_before == report.params_after else ""))
        self.difference_label.setText(f"max |difference| of the outputs = {result['max_difference']:.3g} on "
                                      f"{result['images']} (float32 rounding)")
        self.details.setPlainText(report.text())
        self._show_changes()
        self._show_score_map(result)
        if not report.changed:
            self.set_status("Nothing to convert: the design is fully convolutional already (or its FCs cannot be "
                            "converted, see above).")
            return
        if self.document.graph.revision != self._revision:
            self.set_status("The design changed while converting; press “Preview again”.", error=True)
            return
        self.apply_button.setEnabled(True)
        self.set_status("Preview: the design is unchanged. “Apply to the design” makes it fully convolutional "
                        "(one undo step).")

    def _show_changes(self) -> None:
        report = self.result["report"] if self.result else None
        if report is None:
            self.changes_label.setText("–")
            return
        converted = [block_id for block_id, _what in report.converted]
        self.changes_label.setText(change_table(self._previewed, self.result["graph"], converted + list(report.removed),
                                                converted + list(report.added), self.theme))

    def apply(self) -> bool:
        """Make the design the previewed fully convolutional one (one undo step), if it is still the one previewed."""
        result = self.result
        if result is None or not result["report"].changed or self.applied or self.runner.running:
            return False
        if self.document.graph.revision != self._revision:
            self.set_status("The design changed since the preview; here is the preview for the design as it is now.")
            self.start()
            return False
        try:
            self.document.replace_graph(result["graph"].copy(), UNDO_TEXT)
        except DesignLockedError as error:
            self.set_status(f"Not applied: {error}", error=True)
            return False
        self.applied = True
        self.apply_button.setEnabled(False)
        source = self._source_model
        if result["carried"] and source is not None:
            # The converted network keeps the trained weights: the probes and the neuron view may use it.
            self.lab.models.add(TrainedModel(result["graph"].name, result["graph"].copy(), source.config,
                                             result["module"], source.normalisation, source.class_names,
                                             source.result))
        self.set_status("The design is now fully convolutional (Edit ▸ Undo restores the FC layers).")
        return True

    @Slot()
    def _on_apply_button_clicked(self) -> None:
        self.apply()

    def apply_theme(self, theme) -> None:
        super().apply_theme(theme)
        text = hex_colour(theme.plot_text)
        for item in self.prediction_items:
            item.setColor(text)
        if self.result is not None:
            self._show_changes()

    # ------------------------------------------------------------------ the score map

    def _show_score_map(self, result: dict) -> None:
        canvas = result["canvas"]
        image = canvas[0].T if canvas.shape[0] == 1 else np.transpose(canvas, (2, 1, 0))
        self.image_item.setImage(image, levels=(0.0, 1.0))
        height, width = canvas.shape[1:]
        self.image_item.setRect(QRectF(0, 0, width, height))
        for item in self.truth_items + self.prediction_items:
            item.scene() and item.scene().removeItem(item)
        self.truth_items, self.prediction_items = [], []
        names = result["class_names"]
        tile = result["tile_width"]
        for index, label in enumerate(result["tile_labels"]):
            if label < 0:
                continue
            text = pg.TextItem(f"true: {names[label] if names else label}", color="#E8590C", anchor=(0.5, 1.0))
            text.setPos(index * tile + tile / 2, 0)
            self.image_plot.addItem(text)
            self.truth_items.append(text)
        self.image_plot.setYRange(-7, height, padding=0)
        if result["score_error"]:
            self.score_item.clear()
            self.set_status(f"No score map: {result['score_error']}", error=True)
            return
        scores = result["scores"][0]  # classes × H' × W'
        classes, _rows, positions = scores.shape
        row = scores[:, 0, :]
        stride = result["stride"]
        self.score_item.setImage(row.T, levels=(0.0, 1.0))
        first_centre = tile / 2
        self.score_item.setRect(QRectF(first_centre - stride / 2, -0.5, positions * stride, classes))
        predicted = row.argmax(axis=0)
        for position in range(positions):
            text = pg.TextItem(str(int(predicted[position])), color=hex_colour(self.theme.plot_text),
                               anchor=(0.5, 1.0))
            text.setPos(first_centre + position * stride, classes - 0.5)
            self.score_plot.addItem(text)
            self.prediction_items.append(text)
        ticks = [(index, names[index] if names and names[index] == str(index) else
                  f"{index} {names[index]}" if names else str(index)) for index in range(classes)]
        self.score_plot.getAxis("left").setTicks([ticks])
        self.score_plot.setYRange(-0.5, classes + 1.2, padding=0)
        self.image_plot.setXRange(0, width, padding=0.01)

    def predicted_classes(self) -> list[int]:
        """The predicted class at every score-map position (what the labels above the map say)."""
        if not self.result or "scores" not in self.result:
            return []
        return [int(value) for value in self.result["scores"][0][:, 0, :].argmax(axis=0)]
