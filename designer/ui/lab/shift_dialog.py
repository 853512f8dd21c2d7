""""Where is the cat?": accuracy of the trained models when the test images move.

Probes every trained model the lab knows (the training dock's, the side-by-side run's FC
and GAP variants, a converted network) in a worker thread, one shift at a time, so the
curves grow while it runs (``designer.lab.shift.probe_models``). A GAP head also gets the random-position probe on a larger canvas.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox, QWidget)

from designer.ui.lab.common import MUTED_STYLE, LabDialog, series_colour, style_plot

AXIS_LABELS = (("x", "left ↔ right (x)"), ("y", "up ↕ down (y)"), ("both", "diagonal (x and y)"))


class ShiftDialog(LabDialog):
    def __init__(self, lab, parent: QWidget | None = None) -> None:
        super().__init__(lab, "FC lab — Where is the cat? (shift probe)", parent)
        self.results: list[dict] = []
        self.curves: dict[int, pg.PlotDataItem] = {}

        intro = QLabel("Every test image is moved by the same number of pixels (black fills the gap), and each "
                       "trained model is evaluated again. An FC head learned <i>where</i> things were; GAP "
                       "mostly asks <i>whether</i> they are there.")
        intro.setWordWrap(True)
        intro.setStyleSheet(MUTED_STYLE)
        self.shift_spin = QSpinBox()
        self.shift_spin.setRange(1, 14)
        self.shift_spin.setValue(6)
        self.shift_spin.setPrefix("shifts −k…+k, k = ")
        self.axis_combo = QComboBox()
        for axis, text in AXIS_LABELS:
            self.axis_combo.addItem(text, axis)
        self.samples_spin = QSpinBox()
        self.samples_spin.setRange(100, 100_000)
        self.samples_spin.setSingleStep(500)
        self.samples_spin.setValue(2000)
        self.samples_spin.setSuffix(" test images")
        self.canvas_spin = QSpinBox()
        self.canvas_spin.setRange(0, 64)
        self.canvas_spin.setValue(12)
        self.canvas_spin.setPrefix("random position: canvas +")
        self.canvas_spin.setSuffix(" px")
        self.run_button = QPushButton("Probe")
        self.run_button.clicked.connect(self._on_run_button_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        controls = QHBoxLayout()
        for widget in (self.shift_spin, self.axis_combo, self.samples_spin, self.canvas_spin, self.run_button,
                       self.cancel_button):
            controls.addWidget(widget)
        controls.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)

        self.plot_widget = pg.PlotWidget(background="w")
        self.plot = style_plot(self.plot_widget.getPlotItem(), "Test accuracy against shift",
                               "shift (pixels; negative = left/up)", "accuracy")
        self.plot.setYRange(0, 1, padding=0.02)
        # No legend inside the plot (it would hide the ends of the curves): the table below names
        # each model in its curve's colour.
        self.plot.addItem(pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#B0B7C0", style=Qt.PenStyle.DotLine)))
        self.plot_widget.setMinimumHeight(320)
        self.table_label = QLabel(" ")
        self.table_label.setTextFormat(Qt.TextFormat.RichText)
        self.table_label.setWordWrap(True)

        self.layout_.addWidget(intro)
        self.layout_.addLayout(controls)
        self.layout_.addWidget(self.progress)
        self.layout_.addWidget(self.plot_widget, 1)
        self.layout_.addWidget(self.table_label)
        self.layout_.addWidget(self.status_label)
        self.runner.progress.connect(self._on_runner_progress)
        self.runner.finished.connect(self._on_runner_finished)
        self.runner.running_changed.connect(self._on_runner_running_changed)
        self._on_runner_running_changed(False)
        self.resize(980, 720)

    def start(self) -> bool:
        if self.runner.running:
            return False
        models = self.lab.models.all()
        if not models:
            self.set_status("No trained model yet: train the design (Training ▸ Start Training) or run "
                            "FC lab ▸ FC head → GAP ▸ Train both side by side.", error=True)
            return False
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.curves = {}
        self.results = []
        self.table_label.setText(" ")
        for index, model in enumerate(models):
            colour = series_colour(index)
            self.curves[index] = self.plot.plot([], [], name=model.label, pen=pg.mkPen(colour, width=2.5),
                                                symbol="o", symbolSize=8, symbolBrush=colour, symbolPen="w")
        max_shift, axis = self.shift_spin.value(), self.axis_combo.currentData()
        samples, extra = self.samples_spin.value(), self.canvas_spin.value()
        self.plot.setXRange(-max_shift - 0.5, max_shift + 0.5, padding=0)
        self.plot.getAxis("bottom").setTicks([[(value, str(value)) for value in range(-max_shift, max_shift + 1)]])
        self.progress.setValue(0)
        self.set_status(f"Probing {len(models)} model(s) on {samples} test images…")
        def work(context):
            from designer.lab.shift import probe_models

            return probe_models(models, max_shift, axis, samples, extra, report=context.report,
                                should_stop=context.cancelled)

        return self.runner.start(work)

    @Slot()
    def _on_run_button_clicked(self) -> None:
        self.start()

    @Slot(bool)
    def _on_runner_running_changed(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    @Slot(object)
    def _on_runner_progress(self, data) -> None:
        if data[0] == "point":
            _kind, index, _label, points, fraction = data
            self._set_curve(index, points)
            self.progress.setValue(int(1000 * fraction))
        elif data[0] == "model":
            _kind, index, result, fraction = data
            self.results.append(result)
            self.progress.setValue(int(1000 * fraction))
            self._show_table()

    def _set_curve(self, index: int, points) -> None:
        curve = self.curves.get(index)
        if curve is not None and points:
            curve.setData(np.array([shift for shift, _ in points], dtype=np.float64),
                          np.array([accuracy for _, accuracy in points], dtype=np.float64))

    def point_count(self, index: int = 0) -> int:
        curve = self.curves.get(index)
        return 0 if curve is None or curve.xData is None else len(curve.xData)

    def _show_table(self) -> None:
        max_shift = self.shift_spin.value()
        rows = []
        for index, result in enumerate(self.results):
            points = dict(result["points"])
            position = result["position"]
            if position.supported:
                where = f"{position.accuracy:.1%} on {position.canvas[0]}×{position.canvas[1]}"
            else:
                reason = position.reason.split(". ")[0]
                where = f"<span style='color:#5F6B7A'>not possible: {html.escape(reason)}</span>"
            colour = series_colour(index)
            cells = "".join(f"<td align=right>{points[shift]:.1%}</td>" if shift in points else "<td>–</td>"
                            for shift in (-max_shift, 0, max_shift))
            rows.append(f"<tr><td style='color:{colour}'><b>{html.escape(result['label'])}</b></td>{cells}"
                        f"<td>{where}</td></tr>")
        self.table_label.setText(
            f"<table cellspacing=0 cellpadding=3><tr><th align=left>model</th><th>shift −{max_shift}</th>"
            f"<th>shift 0</th><th>shift +{max_shift}</th><th align=left>random position</th></tr>"
            + "".join(rows) + "</table>")

    @Slot(object)
    def _on_runner_finished(self, outcome) -> None:
        if outcome.cancelled:
            self.set_status("Cancelled; the curves show the shifts measured so far.")
            return
        if outcome.error:
            self.set_status(f"The probe failed: {outcome.error}", error=True)
            return
        self.progress.setValue(1000)
        samples = outcome.value[0]["samples"] if outcome.value else 0
        self.set_status(f"Done: {len(outcome.value)} model(s), {samples} test images each; shift 0 is the plain "
                        f"test accuracy on those images.")
