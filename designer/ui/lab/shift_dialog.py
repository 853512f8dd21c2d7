""""Where is the cat?": accuracy of the trained models when the test images move.

Probes every trained model the lab knows (the training dock's, the side-by-side run's FC
and GAP variants, a converted network) in a worker thread, one shift at a time, so the
curves grow while it runs (``designer.lab.shift.probe_models``). A GAP head also gets the
random-position probe on a larger canvas.

Every model has its own colour, marker and dash, named in a legend under the plot; the same
network listed twice is probed once, and a model whose curve is exactly another's says so
("same curve as …"), since the two lines lie on top of each other.

*Train and compare* answers the question the probe invites: it trains the open design three
times with the Training dock's settings — as it is, as it is with shift augmentation ±K px
(K: the dialog's own setting, 4 by default), and with its head replaced by GAP — as one
queue of runs in the training process, probes the three and says in a verdict how much
accuracy each keeps at ±K px (``designer.lab.shift_augmentation``). Training and probing
are one task: one Cancel stops either.
"""

from __future__ import annotations

import dataclasses
import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox, QWidget)

from designer.data import DatasetError, dataset_info
from designer.training.run import BatchesDone, RunControl, RunStarted
from designer.lab.shift_augmentation import DEFAULT_AUGMENT_SHIFT
from designer.ui.lab.common import (LabDialog, muted_label, series_colour, series_symbol, style_plot,
                                    theme_legend)
from designer.ui.style import hex_colour

AXIS_LABELS = (("x", "left ↔ right (x)"), ("y", "up ↕ down (y)"), ("both", "diagonal (x and y)"))
DASHES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine)
MIN_SAMPLES = 100


class ShiftDialog(LabDialog):
    def __init__(self, lab, parent: QWidget | None = None) -> None:
        super().__init__(lab, "FC lab — Where is the cat? (shift probe)", parent)
        self.results: list[dict] = []
        self.curves: dict[int, pg.PlotDataItem] = {}
        self.models: list = []  # the models of the current probe, one per distinct network
        self.same_as: dict[int, int] = {}  # a model's index → the earlier one whose curve it repeats
        self._task = ""  # "probe" or "compare" while one runs
        self._requests: list = []  # the comparison's runs, in queue order
        self._epochs = 1
        self.comparison: dict | None = None  # the last comparison's outcome (train_and_probe's dict)

        intro = muted_label("Every test image is moved by the same number of pixels (black fills the gap), and "
                            "each trained model is evaluated again. An FC head learned <i>where</i> things were; "
                            "GAP mostly asks <i>whether</i> they are there.")
        self.shift_spin = QSpinBox()
        self.shift_spin.setRange(1, 14)
        self.shift_spin.setValue(6)
        self.shift_spin.setPrefix("shifts −k…+k, k = ")
        self.axis_combo = QComboBox()
        for axis, text in AXIS_LABELS:
            self.axis_combo.addItem(text, axis)
        self.samples_spin = QSpinBox()
        self.samples_spin.setRange(MIN_SAMPLES, 100_000)
        self.samples_spin.setSingleStep(500)
        self.samples_spin.setValue(2000)
        self.samples_spin.setSuffix(" test images")
        self.limit_samples()
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
        self.augment_spin = QSpinBox()
        self.augment_spin.setRange(1, 14)
        self.augment_spin.setValue(DEFAULT_AUGMENT_SHIFT)
        self.augment_spin.setPrefix("shift augmentation ±")
        self.augment_spin.setSuffix(" px")
        self.augment_spin.setToolTip("How far the training images of the augmented variant move, at random, in x "
                                     "and y (--augment shift:K); the verdict compares the three at this shift")
        self.compare_button = QPushButton("Train and compare: FC head, FC head + shift augmentation, GAP head")
        self.compare_button.setToolTip("Trains the open design three times with the Training dock's settings — "
                                       "as it is, with shifted training images, and with a GAP head — one after "
                                       "the other in the background, then probes the three")
        self.compare_button.clicked.connect(self._on_compare_button_clicked)
        comparison_controls = QHBoxLayout()
        comparison_controls.addWidget(self.augment_spin)
        comparison_controls.addWidget(self.compare_button)
        comparison_controls.addStretch(1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat(" ")

        self.plot_widget = pg.GraphicsLayoutWidget()
        self.plot = style_plot(self.plot_widget.addPlot(row=0, col=0), "Test accuracy against shift",
                               "shift (pixels; negative = left/up)", "accuracy")
        self.plot.setYRange(0, 1, padding=0.02)
        # The legend sits under the plot, not in it, where it would hide the ends of the curves.
        self.legend = pg.LegendItem(colCount=2, horSpacing=24)
        self.plot_widget.addItem(self.legend, row=1, col=0)
        self.plot.addItem(pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#8893A1", style=Qt.PenStyle.DotLine)))
        self.plot_widget.setMinimumHeight(340)
        self.themed(self.plot_widget, self.plot)
        theme_legend(self.legend, self.theme)
        self.table_label = QLabel(" ")
        self.table_label.setTextFormat(Qt.TextFormat.RichText)
        self.table_label.setWordWrap(True)
        self.verdict_label = QLabel("")
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict_label.setVisible(False)
        self._theme_verdict()

        self.layout_.addWidget(intro)
        self.layout_.addLayout(controls)
        self.layout_.addLayout(comparison_controls)
        self.layout_.addWidget(self.progress)
        self.layout_.addWidget(self.plot_widget, 1)
        self.layout_.addWidget(self.table_label)
        self.layout_.addWidget(self.verdict_label)
        self.layout_.addWidget(self.status_label)
        self.runner.progress.connect(self._on_runner_progress)
        self.runner.finished.connect(self._on_runner_finished)
        self.runner.running_changed.connect(self._on_runner_running_changed)
        self._on_runner_running_changed(False)
        lab.models.changed.connect(self._on_models_changed)
        self.resize(980, 760)

    # ------------------------------------------------------------------ models and test images

    def distinct_models(self) -> list:
        """The lab's models, each network once: the training dock's model and the same network kept
        by the lab under another name are one entry, named by both."""
        models, seen = [], {}
        for model in self.lab.models.all():
            key = id(model.module)
            if key in seen:
                first = seen[key]
                models[first] = dataclasses.replace(models[first], label=f"{models[first].label} = {model.label}")
                continue
            seen[key] = len(models)
            models.append(model)
        return models

    def test_images_available(self, models=None) -> int | None:
        """How many test images the models' dataset has (the smallest, for several); None when unknown."""
        configs = [model.config for model in (models if models is not None else self.lab.models.all())]
        if not configs:
            configs = [self.lab.models.training_config()]
        sizes = []
        for config in configs:
            try:
                sizes.append(dataset_info(config.dataset).test_size)
            except DatasetError:
                continue
        return min(sizes) if sizes else None

    def limit_samples(self, models=None) -> None:
        """Offer no more test images than the dataset has (the built-in sample: 1,000)."""
        available = self.test_images_available(models)
        if available:
            self.samples_spin.setRange(min(MIN_SAMPLES, available), available)
            self.samples_spin.setToolTip(f"The dataset has {available:,} test images")

    @Slot()
    def _on_models_changed(self) -> None:
        if not self.runner.running:
            self.limit_samples()

    # ------------------------------------------------------------------ probing

    def start(self) -> bool:
        """Probe every trained model the lab knows."""
        if self.runner.running:
            return False
        models = self.models = self.distinct_models()
        if not models:
            self.set_status("No trained model yet: train the design (Training ▸ Start Training), run "
                            "FC lab ▸ FC head → GAP ▸ Train both side by side, or press “Train and compare”.",
                            error=True)
            return False
        self.limit_samples(models)
        self._reset_curves([model.label for model in models])
        max_shift, axis = self.shift_spin.value(), self.axis_combo.currentData()
        samples, extra = self.samples_spin.value(), self.canvas_spin.value()
        self.set_status(f"Probing {len(models)} model(s) on {samples} test images…")

        def work(context):
            from designer.lab.shift import probe_models

            return probe_models(models, max_shift, axis, samples, extra, report=context.report,
                                should_stop=context.cancelled)

        self._task = "probe"
        if not self.runner.start(work):
            self._task = ""
            return False
        return True

    def _reset_curves(self, labels: list[str]) -> None:
        """Empty curves, one per model, named in the legend; the results of the last probe go."""
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.legend.clear()
        self.curves = {}
        self.results = []
        self.same_as = {}
        self.comparison = None
        self.table_label.setText(" ")
        self.verdict_label.setText("")
        self.verdict_label.setVisible(False)
        for index, label in enumerate(labels):
            colour = series_colour(index)
            # Earlier models get bigger markers: a curve exactly on another still shows its markers round it.
            size = max(6, 15 - 3 * index)
            pen = pg.mkPen(colour, width=2.5, style=DASHES[index % len(DASHES)])
            self.curves[index] = self.plot.plot([], [], pen=pen, symbol=series_symbol(index), symbolSize=size,
                                                symbolBrush=colour, symbolPen=pg.mkPen(self.theme.plot_background))
            self.legend.addItem(self.curves[index], label)
        # Three models (the comparison) fit on one row; more take two columns, so long names still fit.
        self.legend.setColumnCount(3 if len(labels) == 3 else 2)
        theme_legend(self.legend, self.theme)  # the new labels in the theme's text colour
        max_shift = self.shift_spin.value()
        self.plot.setXRange(-max_shift - 0.5, max_shift + 0.5, padding=0)
        self.plot.getAxis("bottom").setTicks([[(value, str(value)) for value in range(-max_shift, max_shift + 1)]])
        self.progress.setValue(0)
        self.progress.setFormat(" ")

    # ------------------------------------------------------------------ FC head, FC head + augmentation, GAP head

    def start_comparison(self) -> bool:
        """Train the open design as it is, with shift augmentation and with a GAP head (one queue in the
        training process), then probe the three and give the verdict."""
        if self.runner.running:
            return False
        from designer.lab.shift_augmentation import (ComparisonSetupError, augmented_label, comparison_requests,
                                                     comparison_variants)

        config = self.lab.models.training_config()
        try:
            variants = comparison_variants(self.document.graph.copy(), config, self.augment_spin.value())
        except ComparisonSetupError as error:
            self.set_status(f"Cannot compare: {error}.", error=True)
            return False
        requests = comparison_requests(variants)
        self.limit_samples([])  # the dock's dataset: the models are not trained yet
        self._reset_curves([variant.label for variant in variants])
        self._requests, self._epochs = requests, max(1, config.epochs)
        max_shift, axis = self.shift_spin.value(), self.axis_combo.currentData()
        samples, extra = self.samples_spin.value(), self.canvas_spin.value()
        self.set_status(f"Training three variants on {config.dataset}, {config.epochs} epoch(s) each (the FC head, "
                        f"{augmented_label(self.augment_spin.value())}, the GAP head), then probing them…")

        def work(context):
            from designer.lab.shift_augmentation import train_and_probe

            control = RunControl()
            context.on_cancel(control.stop)
            context.on_abort(control.abort)
            return train_and_probe(variants, max_shift=max_shift, axis=axis, samples=samples, canvas_extra=extra,
                                   requests=requests, emit=context.report, control=control, report=context.report,
                                   should_stop=context.cancelled)

        self._task = "compare"
        if not self.runner.start(work):
            self._task = ""
            return False
        return True

    @Slot()
    def _on_compare_button_clicked(self) -> None:
        self.start_comparison()

    def _run_index(self, run_id: str) -> int:
        return next((index for index, request in enumerate(self._requests) if request.run_id == run_id), 0)

    def _show_training(self, event) -> None:
        """The comparison's training phase on the progress bar: which variant, which epoch and batch."""
        index = self._run_index(event.run_id)
        label = self._requests[index].label if self._requests else ""
        if isinstance(event, RunStarted):
            self.progress.setFormat(f"training {index + 1}/{len(self._requests)}: {label}")
            return
        latest = event.points.latest
        done = (index + ((latest.epoch - 1) + latest.batch / max(1, latest.batches)) / self._epochs) / max(
            1, len(self._requests))
        self.progress.setValue(int(1000 * done))
        self.progress.setFormat(f"training {index + 1}/{len(self._requests)}: {label}: epoch {latest.epoch}, "
                                f"batch {latest.batch}/{latest.batches}")

    @Slot()
    def _on_run_button_clicked(self) -> None:
        self.start()

    @Slot(bool)
    def _on_runner_running_changed(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.compare_button.setEnabled(not running)
        self.augment_spin.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    @Slot(object)
    def _on_runner_progress(self, data) -> None:
        if isinstance(data, (RunStarted, BatchesDone)):
            self._show_training(data)
            return
        if not isinstance(data, tuple):
            return  # the comparison's other run events: the progress bar shows enough
        if data[0] == "point":
            _kind, index, _label, points, fraction = data
            self._set_curve(index, points)
            self.progress.setValue(int(1000 * fraction))
            self.progress.setFormat(f"probing {index + 1}/{len(self.curves)}: {_label}")
        elif data[0] == "model":
            _kind, index, result, fraction = data
            self.results.append(result)
            self._note_repeats(len(self.results) - 1)
            self.progress.setValue(int(1000 * fraction))
            self._show_table()

    def _note_repeats(self, index: int) -> None:
        """A model whose every point is an earlier model's says so in the legend: one line hides the other."""
        result = self.results[index]
        for earlier, other in enumerate(self.results[:index]):
            same_position = (result["position"].supported == other["position"].supported
                             and (not result["position"].supported
                                  or result["position"].accuracy == other["position"].accuracy))
            if result["points"] == other["points"] and same_position:
                self.same_as[index] = earlier
                for sample, label in self.legend.items:
                    if sample.item is self.curves.get(index):
                        label.setText(f"{result['label']} (same curve as {other['label']})")
                return

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
            muted = hex_colour(self.theme.muted_text)
            if position.supported:
                where = f"{position.accuracy:.1%} on {position.canvas[0]}×{position.canvas[1]}"
            else:
                reason = position.reason.split(". ")[0]
                where = f"<span style='color:{muted}'>not possible: {html.escape(reason)}</span>"
            colour = series_colour(index)
            cells = "".join(f"<td align=right>{points[shift]:.1%}</td>" if shift in points else "<td>–</td>"
                            for shift in (-max_shift, 0, max_shift))
            repeat = ""
            if index in self.same_as:
                earlier = html.escape(self.results[self.same_as[index]]["label"])
                repeat = f" <span style='color:{muted}'>(same curve as {earlier})</span>"
            rows.append(f"<tr><td style='color:{colour}'><b>{html.escape(result['label'])}</b>{repeat}</td>{cells}"
                        f"<td>{where}</td></tr>")
        self.table_label.setText(
            f"<table cellspacing=0 cellpadding=3><tr><th align=left>model</th><th>shift −{max_shift}</th>"
            f"<th>shift 0</th><th>shift +{max_shift}</th><th align=left>random position</th></tr>"
            + "".join(rows) + "</table>")

    @Slot(object)
    def _on_runner_finished(self, outcome) -> None:
        task, self._task = self._task, ""
        if outcome.cancelled:
            self.progress.setFormat("cancelled")
            self.set_status("Cancelled; the curves show the shifts measured so far." if task == "probe" or self.results
                            else "Cancelled before the three variants had trained; nothing was probed.")
            return
        if outcome.error:
            what = "The comparison" if task == "compare" else "The probe"
            self.set_status(f"{what} failed: {outcome.error}", error=True)
            return
        self.progress.setValue(1000)
        self.progress.setFormat("done")
        if task == "compare":
            self._show_comparison(outcome.value)
            return
        samples = outcome.value[0]["samples"] if outcome.value else 0
        self.set_status(f"Done: {len(outcome.value)} model(s), {samples} test images each; shift 0 is the plain "
                        f"test accuracy on those images.")

    def _show_comparison(self, comparison: dict) -> None:
        """The three trained models join the lab's (the other windows and later probes see them); the verdict."""
        self.comparison = comparison
        self.models = list(comparison["models"])
        for model in comparison["models"]:
            self.lab.models.add(model)
        self.verdict_label.setText(comparison["verdict"])
        self.verdict_label.setVisible(True)
        config = comparison["models"][0].config
        samples = comparison["probes"][0]["samples"] if comparison["probes"] else 0
        self.set_status(f"Done: trained on {config.dataset}, {config.epochs} epoch(s) each with the Training dock's "
                        f"settings, probed on {samples} test images; shift 0 is each one's test accuracy there.")

    def apply_theme(self, theme) -> None:
        super().apply_theme(theme)
        theme_legend(self.legend, theme)
        for curve in self.curves.values():
            curve.setSymbolPen(pg.mkPen(theme.plot_background))
        if self.results:
            self._show_table()
        self._theme_verdict()

    def _theme_verdict(self) -> None:
        """The verdict boxed like the legend, so it reads as the comparison's conclusion."""
        self.verdict_label.setStyleSheet(
            f"QLabel {{ border: 1px solid {hex_colour(self.theme.panel_border)}; border-radius: 3px; padding: 6px; "
            f"background: {hex_colour(self.theme.panel_fill)}; color: {hex_colour(self.theme.text)}; }}")

    def legend_labels(self) -> list[str]:
        return [label.text for _sample, label in self.legend.items]
