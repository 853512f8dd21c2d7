"""Depth × width sweep of the FC head: accuracy against parameters and against training time.

The variants (``designer.lab.sweep``) go to the training process as one queue with the
training dock's settings (epochs from here); the scatter plots and the table grow as runs
end; the Pareto front (no other run is both cheaper and more accurate) is drawn as a line
through ringed points.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QHeaderView,
                               QLabel, QLineEdit, QProgressBar, QPushButton, QSpinBox, QSplitter, QTableWidget,
                               QTableWidgetItem, QWidget)

from designer.core import types_in_category
from designer.ui.lab.common import LabDialog, style_plot
from designer.ui.lab.label_placement import Box, place_labels
from designer.ui.style import FC_COLOUR, hex_colour

ACTIVATIONS = types_in_category("Activation")
DEPTHS = (0, 1, 2, 3)
POINT_COLOUR = "#3B7DD8"
FRONT_COLOUR = hex_colour(FC_COLOUR)
SECOND_TURN_MS = 40
#: a label keeps this many pixels from the centre of any point (the front's rings are 15 px wide)
LABEL_CLEARANCE = 8.0
COLUMNS = ("variant", "parameters", "MACs", "validation accuracy", "training time", "Pareto (params)",
           "Pareto (time)", "error")


def parse_widths(text: str) -> tuple[int, ...]:
    """"32, 128 512" → (32, 128, 512); raises ValueError naming the bad item."""
    widths = []
    for item in text.replace(";", ",").replace(" ", ",").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            value = int(item)
        except ValueError:
            raise ValueError(f"“{item}” is not a whole number of neurons") from None
        if value < 1:
            raise ValueError(f"a width must be at least 1, not {value}")
        widths.append(value)
    if not widths:
        raise ValueError("give at least one width")
    return tuple(dict.fromkeys(widths))


class SweepDialog(LabDialog):
    def __init__(self, lab, parent: QWidget | None = None) -> None:
        super().__init__(lab, "FC lab — Depth × width sweep", parent)
        self.runs: list = []
        self._requests: list = []
        self._graphs: dict = {}  # run id → the variant's graph
        self.training = self.add_training()
        self.training.run_started.connect(self._on_training_run_started)
        self.training.batches_done.connect(self._on_training_batches_done)
        self.training.run_ended.connect(self._on_training_run_ended)
        self.training.finished.connect(self._on_training_finished)

        intro = QLabel("Each variant keeps the design's convolutions and gets a new FC head: depth hidden FC "
                       "layers of a given width. Which heads buy accuracy, and which only cost parameters and time?")
        intro.setWordWrap(True)
        intro.setObjectName("mutedNote")
        self.depth_checks: dict[int, QCheckBox] = {}
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Depths:"))
        for depth in DEPTHS:
            check = QCheckBox(str(depth))
            check.setToolTip("hidden FC layers before the classifier (0: the classifier alone)")
            check.setChecked(depth in (1, 2))
            self.depth_checks[depth] = check
            controls.addWidget(check)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Widths:"))
        self.widths_edit = QLineEdit("32, 128, 512")
        self.widths_edit.setToolTip("neurons per hidden FC layer, separated by commas")
        self.widths_edit.setMinimumWidth(140)
        controls.addWidget(self.widths_edit)
        controls.addWidget(QLabel("Activation:"))
        self.activation_combo = QComboBox()
        self.activation_combo.addItems(ACTIVATIONS)
        controls.addWidget(self.activation_combo)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 200)
        self.epochs_spin.setValue(2)
        self.epochs_spin.setSuffix(" epochs")
        controls.addWidget(self.epochs_spin)
        self.start_button = QPushButton("Start sweep")
        self.start_button.clicked.connect(self._on_start_button_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._on_export_button_clicked)
        for button in (self.start_button, self.cancel_button, self.export_button):
            controls.addWidget(button)
        controls.addStretch(1)
        where = QHBoxLayout()
        where.addWidget(QLabel("Run on:"))
        self.run_on_combo = QComboBox()
        self.run_on_combo.addItem("this computer", "local")
        self.run_on_combo.addItem("Ray cluster at", "ray")
        self.run_on_combo.setToolTip("this computer: the training process, one variant after another; Ray: each "
                                     "variant a Ray task with one CPU, side by side on the cluster")
        self.run_on_combo.currentIndexChanged.connect(self._on_run_on_combo_changed)
        self.ray_address_edit = QLineEdit()
        self.ray_address_edit.setPlaceholderText("host:port from `ray start --head`; empty: a Ray instance on this "
                                                 "computer for the sweep")
        self.ray_address_edit.setMinimumWidth(360)
        where.addWidget(self.run_on_combo)
        where.addWidget(self.ray_address_edit)
        where.addStretch(1)
        self._on_run_on_combo_changed(0)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat(" ")

        # Two views, not one with two plots: a finished variant redraws one plot per turn of the
        # event loop (_refresh_in_turns), and each view repaints only itself.
        self.views = {key: pg.PlotWidget() for key in ("parameters", "seconds")}
        self.plots = QWidget()
        plots_layout = QHBoxLayout(self.plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        for view in self.views.values():
            view.setMinimumHeight(300)
            plots_layout.addWidget(view)
        self.params_plot = style_plot(self.views["parameters"].getPlotItem(), "Validation accuracy vs parameters",
                                      "parameters (log scale)", "validation accuracy")
        # x is log10(parameters), drawn by hand with readable ticks ("50k", "200k", "1M").
        self.time_plot = style_plot(self.views["seconds"].getPlotItem(), "Validation accuracy vs training time",
                                    "training time (s)", "validation accuracy")
        self.scatters, self.fronts, self.labels = {}, {}, {}
        for key, plot in (("parameters", self.params_plot), ("seconds", self.time_plot)):
            plot.setClipToView(False)
            plot.getViewBox().setDefaultPadding(0.12)  # room for the labels of the outermost points
            # An accuracy is 0…1: one point alone must not put -0.2 or 1.2 on the axis.
            plot.getViewBox().setLimits(yMin=-0.05, yMax=1.05)
            self.fronts[key] = plot.plot([], [], pen=pg.mkPen(FRONT_COLOUR, width=2, style=Qt.PenStyle.DashLine),
                                         symbol="o", symbolSize=15, symbolBrush=None,
                                         symbolPen=pg.mkPen(FRONT_COLOUR, width=2.5), name="Pareto front")
            self.scatters[key] = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(POINT_COLOUR), pen=pg.mkPen("w"))
            plot.addItem(self.scatters[key])
            self.labels[key] = {}  # id(run) → (its TextItem, its point in data units)
            self.themed(self.views[key], plot)
            plot.getViewBox().sigRangeChanged.connect(self._on_view_changed)
            plot.getViewBox().sigResized.connect(self._on_view_changed)
        self._placing: set[str] = set()

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.plots)
        splitter.addWidget(self.table)
        splitter.setSizes([420, 200])

        self.layout_.addWidget(intro)
        self.layout_.addLayout(controls)
        self.layout_.addLayout(where)
        self.layout_.addWidget(self.progress)
        self.layout_.addWidget(splitter, 1)
        self.layout_.addWidget(self.status_label)
        self.runner.running_changed.connect(self._on_runner_running_changed)
        self._on_runner_running_changed(False)
        self.resize(1100, 800)

    # ------------------------------------------------------------------ settings

    def set_settings(self, depths, widths, activation: str = "ReLU", epochs: int = 1) -> None:
        for depth, check in self.depth_checks.items():
            check.setChecked(depth in depths)
        self.widths_edit.setText(", ".join(str(width) for width in widths))
        self.activation_combo.setCurrentText(activation)
        self.epochs_spin.setValue(epochs)

    def set_run_on(self, backend: str, address: str = "") -> None:
        """``backend``: "local" (this computer) or "ray" (the cluster at ``address``; "" starts one here)."""
        self.run_on_combo.setCurrentIndex(self.run_on_combo.findData(backend))
        self.ray_address_edit.setText(address)

    def launch(self):
        """Where the variants train: the training process, or Ray tasks of one CPU each."""
        from designer.training.run import Local, Ray

        if self.run_on_combo.currentData() != "ray":
            return Local()
        from designer.training.run.ray_tasks import ray_missing

        missing = ray_missing()
        if missing is not None:
            raise ValueError(missing)
        return Ray(address=self.ray_address_edit.text().strip() or None, cpus_per_run=1)

    def spec(self):
        from designer.lab.sweep import SweepSpec

        depths = tuple(depth for depth, check in self.depth_checks.items() if check.isChecked())
        if not depths:
            raise ValueError("tick at least one depth")
        return SweepSpec(depths, parse_widths(self.widths_edit.text()), self.activation_combo.currentText(),
                         self.epochs_spin.value())

    # ------------------------------------------------------------------ running

    def start(self) -> bool:
        """Opening the dialog from the menu does not start a sweep: it may take long."""
        if not self.runs and not self.runner.running:
            self.set_status("Choose depths, widths, activation and epochs, then press “Start sweep”. Training uses "
                            "the training dock's dataset and settings.")
        return False

    def start_sweep(self) -> bool:
        if self.runner.running:
            return False
        from designer.core import DesignerError
        from designer.lab.sweep import sweep_requests

        config = self.lab.models.training_config()
        try:
            spec, graph = self.spec(), self.document.graph.copy()
            launch = self.launch()
            requests = sweep_requests(graph, spec, config, launch)
        except (ValueError, DesignerError) as error:  # refused before a run starts: settings, or no usable head
            self.set_status(f"Cannot start: {error}", error=True)
            return False
        self._requests = requests
        self._graphs = {request.run_id: graph for request, (_label, graph) in zip(requests, spec.variants(graph))}
        self.runs = []
        self._refresh()
        self.progress.setValue(0)
        where = "" if self.run_on_combo.currentData() != "ray" else \
            f" as Ray tasks on {launch.address or 'a Ray instance on this computer'}"
        self.set_status(f"Training {len(requests)} variants on {config.dataset}{where}, "
                        f"{requests[0].config.epochs} epoch(s) each…")
        return self.training.start(requests)

    @Slot()
    def _on_start_button_clicked(self) -> None:
        self.start_sweep()

    @Slot(int)
    def _on_run_on_combo_changed(self, _index: int) -> None:
        self.ray_address_edit.setEnabled(self.run_on_combo.currentData() == "ray" and not self.runner.running)

    @Slot(bool)
    def _on_runner_running_changed(self, running: bool) -> None:
        self.run_on_combo.setEnabled(not running)
        self.ray_address_edit.setEnabled(not running and self.run_on_combo.currentData() == "ray")
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.export_button.setEnabled(not running and bool(self.runs))

    def _index_of(self, run_id: str) -> int:
        return next((index for index, request in enumerate(self._requests) if request.run_id == run_id), 0)

    @Slot(object)
    def _on_training_run_started(self, event) -> None:
        index, total = self._index_of(event.run_id), len(self._requests)
        self.progress.setValue(int(1000 * index / total))
        self.progress.setFormat(f"{index}/{total} done — training {self._requests[index].label}")

    @Slot(object)
    def _on_training_batches_done(self, event) -> None:
        index, latest = self._index_of(event.run_id), event.points.latest
        request = self._requests[index]
        within = ((latest.epoch - 1) + latest.batch / latest.batches) / request.config.epochs
        self.progress.setValue(int(1000 * (index + within) / len(self._requests)))

    @Slot(object)
    def _on_training_run_ended(self, event) -> None:
        from designer.lab.sweep import cut_short, sweep_run

        request = self._requests[self._index_of(event.run_id)]
        if cut_short(request, event.result, self.training.control):
            return  # cancelled: the variant cut short is not a result
        self.runs.append(sweep_run(request, event.result, self._graphs.get(event.run_id)))
        total = len(self._requests)
        self.progress.setValue(int(1000 * len(self.runs) / total))
        self.progress.setFormat(f"{len(self.runs)}/{total} done")
        self._refresh_in_turns()

    @Slot(object)
    def _on_training_finished(self, outcome) -> None:
        # Whatever the outcome, the plots and the table show every finished run now: a refresh
        # still waiting for its second turn must not leave the table a run behind.
        self._refresh()
        if outcome.error or outcome.cancelled:  # the bar no longer says a variant is training
            self.progress.setFormat(f"{len(self.runs)}/{len(self._requests)} done — "
                                    f"{'failed' if outcome.error else 'cancelled'}")
        if outcome.error:
            self.set_status(f"The sweep failed: {outcome.error}", error=True)
        elif outcome.cancelled:
            self.set_status(f"Cancelled after {len(self.runs)} run(s); they are kept below.")
        else:
            self.progress.setValue(1000)
            best = max((run for run in self.runs if run.ok), key=lambda run: run.accuracy, default=None)
            self.set_status(f"Done: {len(self.runs)} variants." + (
                f" Best validation accuracy {best.accuracy:.2%} ({best.label}, {best.parameters:,} parameters)."
                if best else ""))
        self._on_runner_running_changed(False)

    # ------------------------------------------------------------------ showing runs

    def _refresh(self) -> None:
        """Both plots and the table, now."""
        for key in ("parameters", "seconds"):
            self._refresh_plot(key)
        self._fill_table()

    def _refresh_in_turns(self) -> None:
        """The same, spread over two turns of the event loop while the sweep runs: each repaint of
        a plot costs tens of milliseconds, and the window must not freeze that long at once."""
        self._refresh_plot("parameters")
        # Later than the next turn: the first plot's repaint (a posted event) must come in between.
        QTimer.singleShot(SECOND_TURN_MS, self._on_second_turn_timeout)

    @Slot()
    def _on_second_turn_timeout(self) -> None:
        self._refresh_plot("seconds")
        self._fill_table()

    def _refresh_plot(self, key: str) -> None:
        from designer.lab.sweep import pareto_runs

        plot = self.params_plot if key == "parameters" else self.time_plot
        usable = [run for run in self.runs if run.ok]
        costs = [float(run.parameters) if key == "parameters" else float(run.seconds) for run in usable]
        places = [math.log10(cost) if key == "parameters" else cost for cost in costs]
        self.scatters[key].setData(x=np.asarray(places, dtype=np.float64),
                                   y=np.asarray([run.accuracy for run in usable], dtype=np.float64))
        front = pareto_runs(usable, key) if usable else []
        front_costs = [float(run.parameters) if key == "parameters" else float(run.seconds) for run in front]
        if key == "parameters":
            front_costs = [math.log10(cost) for cost in front_costs]
        self.fronts[key].setData(np.asarray(front_costs, dtype=np.float64),
                                 np.asarray([run.accuracy for run in front], dtype=np.float64))
        # Add the new runs' labels, drop those of runs no longer listed; then place them all.
        labels = self.labels[key]
        listed = {id(run) for run in usable}
        for run_key in [run_key for run_key in labels if run_key not in listed]:
            plot.removeItem(labels.pop(run_key)[0])
        for run, place in zip(usable, places):
            if id(run) not in labels:
                text = pg.TextItem(run.label, color=hex_colour(self.theme.plot_text), anchor=(0.0, 0.0))
                # Not part of the auto-range: a label's extent in data units depends on the range
                # itself, so the range and the labels would chase each other over a dozen repaints.
                plot.addItem(text, ignoreBounds=True)
            labels[id(run)] = (labels[id(run)][0] if id(run) in labels else text, (place, run.accuracy))
        if key == "parameters":
            self._set_parameter_ticks([run.parameters for run in usable])
        self._place_labels(key)

    def _place_labels(self, key: str) -> None:
        """Every label beside its point, inside the plot, none on another (issue 14l): placed in
        screen pixels, so again whenever the range or the size changes."""
        labels = list(self.labels[key].values())
        if not labels:
            return
        plot = self.params_plot if key == "parameters" else self.time_plot
        view = plot.getViewBox()
        area = view.sceneBoundingRect()
        bounds = Box(area.left() + 2, area.top() + 2, area.width() - 4, area.height() - 4)
        points, sizes = [], []
        for text, (x, y) in labels:
            where = view.mapViewToScene(QPointF(x, y))
            points.append((where.x(), where.y()))
            rect = text.textItem.boundingRect()
            sizes.append((rect.width(), rect.height()))
        for (text, _point), box in zip(labels, place_labels(points, sizes, bounds, radius=LABEL_CLEARANCE)):
            text.setPos(view.mapSceneToView(QPointF(box.left, box.top)))

    @Slot(object)
    def _on_view_changed(self, view, *_arguments) -> None:
        key = "parameters" if view is self.params_plot.getViewBox() else "seconds"
        if key not in self._placing:
            self._placing.add(key)
            QTimer.singleShot(0, lambda key=key: self._on_place_labels_timeout(key))

    def _on_place_labels_timeout(self, key: str) -> None:
        self._placing.discard(key)
        self._place_labels(key)

    def apply_theme(self, theme) -> None:
        super().apply_theme(theme)
        for key, labels in self.labels.items():
            for text, _point in labels.values():
                text.setColor(hex_colour(theme.plot_text))

    def label_boxes(self, key: str) -> list:
        """The labels' rectangles in scene pixels, and the plot area's (for the tests)."""
        view = (self.params_plot if key == "parameters" else self.time_plot).getViewBox()
        return [text.sceneBoundingRect() for text, _point in self.labels[key].values()], view.sceneBoundingRect()

    def _set_parameter_ticks(self, parameters) -> None:
        def format_count(value: float) -> str:
            for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
                if value >= limit:
                    return f"{value / limit:g}{suffix}"
            return f"{value:g}"

        if not parameters:
            self.params_plot.getAxis("bottom").setTicks(None)
            return
        low, high = math.log10(min(parameters)) - 0.3, math.log10(max(parameters)) + 0.3
        major, minor = [], []
        for exponent in range(int(math.floor(low)), int(math.ceil(high)) + 1):
            for mantissa in (1, 2, 5):
                value = mantissa * 10 ** exponent
                if low <= math.log10(value) <= high:
                    (major if mantissa == 1 else minor).append((math.log10(value), format_count(value)))
        self.params_plot.getAxis("bottom").setTicks([major, minor])

    def front_labels(self, cost: str = "parameters") -> list[str]:
        from designer.lab.sweep import pareto_runs

        return [run.label for run in pareto_runs(self.runs, cost)]

    def _fill_table(self) -> None:
        from designer.lab.sweep import pareto_runs

        on_params = {id(run) for run in pareto_runs(self.runs, "parameters")}
        on_time = {id(run) for run in pareto_runs(self.runs, "seconds")}
        self.table.setRowCount(len(self.runs))
        for row, run in enumerate(self.runs):
            values = (run.label, f"{run.parameters:,}", f"{run.macs:,}",
                      "–" if run.accuracy is None else f"{run.accuracy:.2%}",
                      "–" if run.seconds is None else f"{run.seconds:.1f} s",
                      "★" if id(run) in on_params else "", "★" if id(run) in on_time else "", run.error)
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if 0 < column < 5:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column in (5, 6):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    item.setForeground(QColor(FRONT_COLOUR))
                self.table.setItem(row, column, item)

    # ------------------------------------------------------------------ CSV

    def choose_csv_path(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Export sweep", "fc-head-sweep.csv", "CSV (*.csv)")
        return path or None

    def export_csv(self, path) -> bool:
        from designer.lab.sweep import runs_to_csv

        try:
            runs_to_csv(self.runs, path)
        except OSError as error:
            self.set_status(f"Cannot write {path}: {error.strerror or error}", error=True)
            return False
        self.set_status(f"Wrote {len(self.runs)} runs to {path}.")
        return True

    @Slot()
    def _on_export_button_clicked(self) -> None:
        path = self.choose_csv_path()
        if path:
            self.export_csv(path)
