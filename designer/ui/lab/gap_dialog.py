"""FC head → GAP: preview the swap (parameters, shapes, the saving), apply it on a button (one
undo step), train both variants side by side.

Opening the dialog never changes the design: it shows what the swap would take out and put
in, and *Apply to the design* does it — only if the design is still the one previewed.
Training both side by side needs no apply: it trains the design as it is and the previewed
variant. The side-by-side run is one queue of two run requests (``designer.lab.compare``) in
the training process, like the Training dock's runs; the curves grow from its events.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QWidget)

from designer.core import DesignLockedError, analyze
from designer.ui.lab.common import (LabDialog, add_legend, change_table, good_colour, muted_label, series_colour,
                                    style_plot)

MODES = (("gap_fc", "GAP → FC(classes)  (GoogLeNet, ResNet)"),
         ("conv1x1_gap", "1×1 conv(classes) → GAP  (NiN, all-convolutional)"))
UNDO_TEXT = "FC head → GAP"


class GapDialog(LabDialog):
    def __init__(self, lab, parent: QWidget | None = None) -> None:
        super().__init__(lab, "FC lab — FC head → GAP", parent)
        self.original = None  # the design before the swap
        self.variant = None  # the design after it
        self.report = None
        self.applied = False
        self._revision = -1  # the design's revision the preview was made from
        self._applied_revision = -1
        self._task = ""
        self.curves: dict[str, dict[str, pg.PlotDataItem]] = {}
        self.points: dict[str, dict[str, list]] = {}
        self.trained_labels: list[str] = []
        self._requests: list = []
        self._config = None
        self.training = self.add_training()
        self.training.run_started.connect(self._on_training_run_started)
        self.training.batches_done.connect(self._on_training_batches_done)
        self.training.epoch_done.connect(self._on_training_epoch_done)
        self.training.finished.connect(self._on_training_finished)

        intro = muted_label("Global average pooling replaces Flatten + FC layers: each channel becomes one "
                            "number, wherever in the image its feature sits. Far fewer parameters — does accuracy "
                            "follow? Nothing changes in the design until you press “Apply to the design”.")
        self.mode_combo = QComboBox()
        for mode, text in MODES:
            self.mode_combo.addItem(text, mode)
        self.mode_combo.currentIndexChanged.connect(self._on_mode_combo_changed)
        self.params_label = QLabel("–")
        self.head_label = QLabel("–")
        self.saving_label = QLabel("–")
        bold = QFont(self.saving_label.font())
        bold.setBold(True)
        self.saving_label.setFont(bold)
        self.changes_label = QLabel("–")
        self.changes_label.setTextFormat(Qt.TextFormat.RichText)
        self.apply_button = QPushButton("Apply to the design")
        self.apply_button.setToolTip("Replace the design's head as previewed (one undo step)")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self._on_apply_button_clicked)
        form = QFormLayout()
        form.addRow("New head:", self.mode_combo)
        form.addRow("Parameters:", self.params_label)
        form.addRow("Head only:", self.head_label)
        form.addRow("Saving:", self.saving_label)
        form.addRow("Blocks:", self.changes_label)
        form.addRow("", self.apply_button)

        self.train_button = QPushButton("Train both side by side")
        self.train_button.setMinimumWidth(self.train_button.sizeHint().width() + 24)
        self.train_button.setToolTip("Trains the design before and after the swap with the training dock's "
                                     "current settings, one after the other, in the background")
        self.train_button.clicked.connect(self._on_train_button_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat(" ")
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)

        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setMinimumHeight(300)
        self.accuracy_plot = style_plot(self.plots.addPlot(row=0, col=0), "Accuracy (validation solid, training dashed)",
                                        "epoch", "accuracy")
        self.loss_plot = style_plot(self.plots.addPlot(row=0, col=1), "Validation loss", "epoch", "cross-entropy")
        self.themed(self.plots, self.accuracy_plot, self.loss_plot)
        add_legend(self.accuracy_plot, offset=(-10, -10))
        add_legend(self.loss_plot, offset=(-10, 10))
        self.accuracy_plot.getAxis("bottom").setTickSpacing(1, 1)
        self.loss_plot.getAxis("bottom").setTickSpacing(1, 1)
        self.results_label = QLabel(" ")
        self.results_label.setTextFormat(Qt.TextFormat.RichText)

        self.layout_.addWidget(intro)
        self.layout_.addLayout(form)
        self.layout_.addLayout(buttons)
        self.layout_.addWidget(self.plots, 1)
        self.layout_.addWidget(self.results_label)
        self.layout_.addWidget(self.status_label)
        self.runner.finished.connect(self._on_runner_finished)
        self.runner.running_changed.connect(self._on_runner_running_changed)
        self._on_runner_running_changed(False)
        self.apply_theme(self.theme)
        self.resize(980, 760)

    @property
    def mode(self) -> str:
        return self.mode_combo.currentData()

    # ------------------------------------------------------------------ the swap

    def start(self) -> bool:
        """Preview the swap of the open design's head (in the background); nothing changes yet."""
        if self.runner.running:
            return False
        graph = self.document.graph.copy()
        if self.applied and self.document.graph.revision == self._applied_revision and self.original is not None:
            graph = self.original.copy()  # another head for the swap just applied: start again from the FC head
        else:
            self.original = graph
            self.applied = False
        self._revision = self.document.graph.revision
        self._task = "swap"
        self.variant = None
        self.apply_button.setEnabled(False)
        mode = self.mode
        self.set_status("Working out the new head…")

        def work(context):
            from designer.lab.transforms import replace_head_with_gap

            return replace_head_with_gap(graph, mode)

        return self.runner.start(work)

    @Slot(int)
    def _on_mode_combo_changed(self, _index: int) -> None:
        if not self.runner.running and self.original is not None:
            self.start()

    def _show_swap(self, new_graph, report) -> None:
        """The preview: what the swap would do, before anything is changed."""
        self.variant, self.report = new_graph, report
        self.params_label.setText(f"{report.params_before:,} → {report.params_after:,}")
        self.head_label.setText(f"{report.head_params_before:,} → {report.head_params_after:,}")
        self.saving_label.setText(f"{report.saving:,} parameters, {report.saving_percent:.1f}% of the network")
        self.changes_label.setText(change_table(self.original, new_graph, report.removed, report.added, self.theme))
        if self.applied:
            self.apply_button.setEnabled(True)
            self.set_status("The design has the head applied before; “Apply to the design” puts this one in "
                            "instead.")
            return
        self.apply_button.setEnabled(True)
        self.set_status("Preview: the design is unchanged. “Apply to the design” replaces its head (one undo step); "
                        "“Train both side by side” compares the two without changing it.")

    def apply(self) -> bool:
        """Put the previewed head into the design, as one undo step; only onto the design previewed."""
        if self.variant is None or self.runner.running:
            return False
        expected = self._applied_revision if self.applied else self._revision
        if self.document.graph.revision != expected:
            self.set_status("The design changed since the preview; here is the preview for the design as it is "
                            "now.")
            self.applied = False
            self.start()
            return False
        try:
            self.document.replace_graph(self.variant.copy(), UNDO_TEXT)
        except DesignLockedError as error:
            self.set_status(f"Not applied: {error}", error=True)
            return False
        self.applied = True
        self._applied_revision = self.document.graph.revision
        self.apply_button.setEnabled(False)
        self.set_status("The head is replaced (Edit ▸ Undo restores it). “Train both side by side” compares them.")
        return True

    @Slot()
    def _on_apply_button_clicked(self) -> None:
        self.apply()

    def apply_theme(self, theme) -> None:
        super().apply_theme(theme)
        self.saving_label.setStyleSheet(f"color: {good_colour(theme)};")
        if self.variant is not None and self.report is not None:
            self.changes_label.setText(change_table(self.original, self.variant, self.report.removed,
                                                   self.report.added, theme))
        if self.trained_labels:
            self._show_results_table()

    # ------------------------------------------------------------------ side-by-side run

    def _show_results_table(self) -> None:
        rows = []
        for index, model in enumerate(getattr(self, "_trained_models", [])):
            parameters = analyze(model.graph).total_params
            accuracy = "–" if model.test_accuracy is None else f"{model.test_accuracy:.2%}"
            rows.append(f"<tr><td style='color:{series_colour(index)}'><b>{model.label}</b></td>"
                        f"<td align=right>{parameters:,}</td><td align=right>{accuracy}</td>"
                        f"<td align=right>{model.result.seconds:.1f} s</td></tr>")
        self.results_label.setText("<table cellspacing=0 cellpadding=3><tr><th align=left>variant</th>"
                                   "<th>parameters</th><th>test accuracy</th><th>training time</th></tr>"
                                   + "".join(rows) + "</table>")

    def start_side_by_side(self) -> bool:
        if self.runner.running or self.original is None or self.variant is None:
            if self.original is None:
                self.set_status("Replace the head first (FC lab ▸ FC head → GAP).", error=True)
            return False
        expected = self._applied_revision if self.applied else self._revision
        if self.document.graph.revision != expected:
            # Train what the person sees, never a design from before their last edits.
            self.applied = False
            self.start()
            self.set_status("The design changed since the preview: here is the preview for the design as it is "
                            "now; press “Train both side by side” again.", error=True)
            return False
        from designer.lab.compare import side_by_side_requests

        config = self._config = self.lab.models.training_config()
        name = self.original.name or "design"
        variants = [(f"FC head ({name})", self.original.copy()), (f"GAP head ({self.mode})", self.variant.copy())]
        self._requests = side_by_side_requests(variants, config)
        self._reset_curves([label for label, _graph in variants])
        self._task = "train"
        self.progress.setValue(0)
        self.set_status(f"Training both on {config.dataset} for {config.epochs} epoch(s) each…")
        return self.training.start(self._requests)

    @Slot()
    def _on_train_button_clicked(self) -> None:
        self.start_side_by_side()

    def _reset_curves(self, labels) -> None:
        for plot in (self.accuracy_plot, self.loss_plot):
            for item in list(plot.listDataItems()):
                plot.removeItem(item)
            plot.legend.clear()
        self.curves, self.points = {}, {}
        for index, label in enumerate(labels):
            colour = series_colour(index)
            short = label.split(" (")[0]  # "FC head", "GAP head": the table below names the designs
            self.points[label] = {"x": [], "val_acc": [], "train_acc": [], "val_loss": []}
            self.curves[label] = {
                "val_acc": self.accuracy_plot.plot([], [], name=f"{short}, validation", pen=pg.mkPen(colour, width=2.5),
                                                   symbol="o", symbolSize=7, symbolBrush=colour, symbolPen="w"),
                "train_acc": self.accuracy_plot.plot([], [], name=f"{short}, training",
                                                     pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine)),
                "val_loss": self.loss_plot.plot([], [], name=short, pen=pg.mkPen(colour, width=2.5),
                                                symbol="o", symbolSize=7, symbolBrush=colour, symbolPen="w"),
            }

    def add_epoch(self, label: str, metrics) -> None:
        points = self.points.get(label)
        if points is None:
            return
        points["x"].append(float(metrics.epoch))
        points["train_acc"].append(metrics.train_accuracy)
        points["val_acc"].append(metrics.validation_accuracy if metrics.validation_accuracy is not None else np.nan)
        points["val_loss"].append(metrics.validation_loss if metrics.validation_loss is not None else np.nan)
        x = np.asarray(points["x"], dtype=np.float64)
        for key, curve in self.curves[label].items():
            curve.setData(x, np.asarray(points[key], dtype=np.float64))

    def curve_points(self, label: str) -> int:
        return len(self.points.get(label, {}).get("x", []))

    def _label_of(self, run_id: str) -> tuple[int, str]:
        index = next((index for index, request in enumerate(self._requests) if request.run_id == run_id), 0)
        return index, self._requests[index].label if self._requests else ""

    @Slot(object)
    def _on_training_run_started(self, event) -> None:
        _index, label = self._label_of(event.run_id)
        self.progress.setFormat(f"{label}: starting")

    @Slot(object)
    def _on_training_batches_done(self, event) -> None:
        index, label = self._label_of(event.run_id)
        latest = event.points.latest
        epochs = max(1, self._config.epochs if self._config is not None else 1)
        done = (index + ((latest.epoch - 1) + latest.batch / latest.batches) / epochs) / max(1, len(self._requests))
        self.progress.setValue(int(1000 * done))
        self.progress.setFormat(f"{label}: epoch {latest.epoch}, batch {latest.batch}/{latest.batches}")

    @Slot(object)
    def _on_training_epoch_done(self, event) -> None:
        self.add_epoch(self._label_of(event.run_id)[1], event.metrics)

    @Slot(bool)
    def _on_runner_running_changed(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.mode_combo.setEnabled(not running)
        self.apply_button.setEnabled(not running and self.variant is not None
                                     and not (self.applied and self.document.graph.revision == self._applied_revision))
        self.cancel_button.setEnabled(running and self._task == "train")

    @Slot(object)
    def _on_runner_finished(self, outcome) -> None:
        if self._task != "swap":
            return  # the training's own end comes as _on_training_finished
        self._task = ""
        self._on_runner_running_changed(False)
        if outcome.cancelled:
            self.set_status("Cancelled; the design is unchanged.")
        elif outcome.error:
            self.set_status(f"Cannot replace the head: {outcome.error}", error=True)
        else:
            self._show_swap(*outcome.value)

    @Slot(object)
    def _on_training_finished(self, outcome) -> None:
        self._task = ""
        self._on_runner_running_changed(False)
        if outcome.cancelled:
            self.progress.setFormat("cancelled")
            self.set_status("Cancelled.")
            return
        if outcome.error:
            self.set_status(f"Training failed: {outcome.error}", error=True)
            return
        failed = next((finished for finished in outcome.value if finished.result.status == "failed"), None)
        if failed is not None:
            self.set_status(f"Training failed: {failed.request.label}: {failed.result.result.message}", error=True)
            return
        self.show_trained([finished.model for finished in outcome.value if finished.model is not None], self._config)

    def show_trained(self, models: list, config) -> None:
        """List the trained variants (``TrainedModel``s) and hand them to the lab's models for the shift probe."""
        self.trained_labels = []
        self._trained_models = list(models)
        for model in models:
            self.lab.models.add(model)
            self.trained_labels.append(model.label)
        self._show_results_table()
        self.progress.setValue(1000)
        self.progress.setFormat("done")
        self.set_status(f"Both trained on {config.dataset}, {config.epochs} epoch(s) each, same settings. "
                        "FC lab ▸ Where is the cat? probes them against shifts.")
