"""The training dock: settings, Start/Stop, progress, live curves, diagnosis and results.

A run is driven by a ``TrainingWorker`` moved to its own QThread (DESIGN.md 8), which by
default has the training itself done in a process of its own (``designer.training.service``;
the worker module says why). While it runs the design is locked
(``DesignDocument.set_locked``), so the network being trained is never half-changed. Widgets are touched only here, in the GUI thread, from slots fed
by the worker's throttled signals. Closing the window stops and joins the worker
(``shutdown``).
"""

from __future__ import annotations

import html
import math
import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QFrame, QHBoxLayout, QLabel, QMessageBox, QProgressBar,
                               QProgressDialog, QPushButton, QScrollArea, QSizePolicy, QSpinBox,
                               QSplitter, QTabWidget, QVBoxLayout, QWidget)

from designer.core import Graph, format_shape
from designer.data import DATASET_NAMES, DEFAULT_DATASET, dataset_info, find_local
from designer.training.diagnosis import Diagnosis, diagnose
from designer.training.records import DEVICES, OPTIMIZERS, EpochMetrics, TrainConfig
from designer.ui.document import DesignDocument
from designer.ui.style import FC_COLOUR
from designer.ui.training_worker import (DEFAULT_ISOLATION, RunOutcome, TrainedModel, TrainingWorker,
                                        format_duration)

PROGRESS_PER_SECOND = 5
DIAGNOSIS_LINES = 6  # the diagnosis box's height; longer advice scrolls
#: how long closing the window waits for a run to wind down before giving up on it
SHUTDOWN_WAIT_MS = 10_000
OPTIMIZER_LABELS = {"sgd": "SGD (momentum 0.9)", "adam": "Adam", "adamw": "AdamW"}
VERDICT_COLOURS = {"overfitting": "#c0392b", "underfitting": "#b9770e", "healthy": "#1e8449",
                   "too early": "#5f6b7a"}


class InputCheck:
    """How the design's Input block and output compare with a dataset, and how to fix it."""

    def __init__(self, graph: Graph, analysis, dataset_name: str) -> None:
        self.info = info = dataset_info(dataset_name)
        self.changes: list[tuple[str, str, int]] = []  # (block id, parameter, new value)
        self.problems: list[str] = []
        inputs = [block_id for block_id in graph.inputs() if graph.block(block_id).type_id == "Input"]
        if not inputs:
            self.problems.append("the design has no Input block")
            return
        input_block = graph.block(inputs[0])
        wanted = dict(zip(("channels", "height", "width"), info.input_shape))
        current = tuple(input_block.params[name] for name in wanted)
        if current != info.input_shape:
            self.problems.append(f"the Input block is {format_shape(current)} but {info.label} images are "
                                 f"{format_shape(info.input_shape)}")
            self.changes += [(input_block.id, name, value) for name, value in wanted.items()
                             if input_block.params[name] != value]
        classes = info.num_classes
        last_fc = next((block_id for block_id in reversed(graph.topological_order())
                        if graph.block(block_id).type_id == "FC"), None)
        if last_fc is not None and graph.block(last_fc).params["out_features"] != classes:
            self.problems.append(f"the last FC block ({last_fc}) has "
                                 f"{graph.block(last_fc).params['out_features']} outputs but {info.label} has "
                                 f"{classes} classes")
            self.changes.append((last_fc, "out_features", classes))
        elif last_fc is None and analysis.output_shape not in (None, (classes,)):
            self.problems.append(f"the network outputs {format_shape(analysis.output_shape)} but {info.label} "
                                 f"has {classes} classes; end it with an FC block with {classes} outputs")

    @property
    def fits(self) -> bool:
        return not self.problems

    @property
    def adaptable(self) -> bool:
        return bool(self.changes)


class TrainingPanel(QWidget):
    """Everything about training the open design; meant to sit in a dock."""

    #: a run is about to start (the main window raises the dock)
    run_starting = Signal()

    def __init__(self, document: DesignDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TrainingPanel")
        self.document = document
        self.torch_threads: int | None = None  # None: PyTorch's default
        #: "process": train in a process of its own (designer.training.service); "thread": in
        #: the worker thread, sharing this interpreter with the window
        self.isolation = DEFAULT_ISOLATION
        self.allow_download = True  # False: a dataset that is not on disk fails instead of downloading
        self.thread: QThread | None = None
        self.worker: TrainingWorker | None = None
        self.trained: TrainedModel | None = None
        self.history: list[EpochMetrics] = []
        self.run_info = None
        self.last_outcome: RunOutcome | None = None
        self.diagnosis: Diagnosis | None = None
        self._num_classes = 10
        self._run_started_at = 0.0
        # Batch updates arrive up to 20 times a second; the progress widgets are repainted
        # at most PROGRESS_PER_SECOND times (each repaint costs the GUI thread, not the trainer).
        self._reset_progress()
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(1000 // PROGRESS_PER_SECOND)
        self._progress_timer.timeout.connect(self._on_progress_timer_timeout)
        self._download_dialog: QProgressDialog | None = None
        self._dataset_error_box: QMessageBox | None = None
        self.dock = None  # the QDockWidget holding this panel, once installed

        self._build_settings()
        self._build_outputs()
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self.settings_area)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([360, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        document.analysis_changed.connect(self._on_document_analysis_changed)
        document.locked_changed.connect(self._on_document_locked_changed)
        self._refresh_input_check()
        self._set_running(False)

    # ------------------------------------------------------------------ construction

    def _build_settings(self) -> None:
        self.dataset_combo = QComboBox()
        for name in DATASET_NAMES:
            info = dataset_info(name)
            text = info.label + (" (built in)" if info.download_bytes == 0 else "")
            self.dataset_combo.addItem(text, name)
            self.dataset_combo.setItemData(self.dataset_combo.count() - 1, info.description, Qt.ToolTipRole)
        self.dataset_combo.setCurrentIndex(max(0, self.dataset_combo.findData(DEFAULT_DATASET)))
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_combo_changed)
        self.folder_button = QPushButton("Folder…")
        self.folder_button.setToolTip("Read the dataset files from a folder of your own "
                                      "(the IDX files, or CIFAR-10's archive or folder)")
        self.folder_button.clicked.connect(self._on_folder_button_clicked)
        self.folder_clear_button = QPushButton("×")
        self.folder_clear_button.setToolTip("Forget the folder: use the cache or download")
        self.folder_clear_button.setFixedWidth(28)
        self.folder_clear_button.clicked.connect(self._on_folder_clear_button_clicked)
        self.folder_label = QLabel()
        self.folder_label.setWordWrap(True)
        self.folder_label.setStyleSheet("color: #5f6b7a")
        self.data_folder: str | None = None
        dataset_row = QHBoxLayout()
        dataset_row.addWidget(self.dataset_combo, 1)
        dataset_row.addWidget(self.folder_button)
        dataset_row.addWidget(self.folder_clear_button)

        defaults = TrainConfig()
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 1000)
        self.epochs_spin.setValue(defaults.epochs)
        self.batch_size_spin = QSpinBox()
        self.batch_size_spin.setRange(1, 65536)
        self.batch_size_spin.setValue(defaults.batch_size)
        self.optimizer_combo = QComboBox()
        for name in OPTIMIZERS:
            self.optimizer_combo.addItem(OPTIMIZER_LABELS.get(name, name), name)
        self.optimizer_combo.setCurrentIndex(self.optimizer_combo.findData(defaults.optimizer))
        self.learning_rate_spin = QDoubleSpinBox()
        self.learning_rate_spin.setDecimals(6)
        self.learning_rate_spin.setRange(1e-6, 10.0)
        self.learning_rate_spin.setStepType(QDoubleSpinBox.AdaptiveDecimalStepType)
        self.learning_rate_spin.setValue(defaults.learning_rate)
        self.weight_decay_spin = QDoubleSpinBox()
        self.weight_decay_spin.setDecimals(6)
        self.weight_decay_spin.setRange(0.0, 1.0)
        self.weight_decay_spin.setStepType(QDoubleSpinBox.AdaptiveDecimalStepType)
        self.weight_decay_spin.setValue(defaults.weight_decay)
        self.weight_decay_spin.setToolTip("L2 penalty on the weights: one of the article's cures for overfitting")
        self.validation_spin = QDoubleSpinBox()
        self.validation_spin.setRange(0.0, 0.5)
        self.validation_spin.setSingleStep(0.05)
        self.validation_spin.setValue(defaults.validation_fraction)
        self.validation_spin.setToolTip("Share of the training images held out to draw the validation curves")
        self.early_stopping_check = QCheckBox("after")
        self.patience_spin = QSpinBox()
        self.patience_spin.setRange(1, 100)
        self.patience_spin.setValue(3)
        self.patience_spin.setSuffix(" epochs")
        self.patience_spin.setToolTip("Stop when the validation loss has not improved for this many epochs")
        self.patience_spin.setEnabled(False)
        self.early_stopping_check.toggled.connect(self.patience_spin.setEnabled)
        early_row = QHBoxLayout()
        early_row.addWidget(self.early_stopping_check)
        early_row.addWidget(self.patience_spin, 1)
        self.device_combo = QComboBox()
        for name in DEVICES:
            self.device_combo.addItem(name, name)
        self.device_combo.setToolTip("auto: a CUDA GPU, else Apple MPS, else the CPU")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.addRow("Dataset", dataset_row)
        form.addRow("", self.folder_label)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Batch size", self.batch_size_spin)
        form.addRow("Optimizer", self.optimizer_combo)
        form.addRow("Learning rate", self.learning_rate_spin)
        form.addRow("Weight decay", self.weight_decay_spin)
        form.addRow("Validation", self.validation_spin)
        form.addRow("Early stop", early_row)
        form.addRow("Device", self.device_combo)
        self.setting_widgets = [self.dataset_combo, self.folder_button, self.folder_clear_button,
                                self.epochs_spin, self.batch_size_spin, self.optimizer_combo,
                                self.learning_rate_spin, self.weight_decay_spin, self.validation_spin,
                                self.early_stopping_check, self.patience_spin, self.device_combo]

        self.input_check_label = QLabel()
        self.input_check_label.setWordWrap(True)
        self.adapt_button = QPushButton("Adapt input to dataset")
        self.adapt_button.setToolTip("Set the Input block (and the last FC's outputs) to fit the dataset; "
                                     "one undo step")
        self.adapt_button.clicked.connect(self._on_adapt_button_clicked)
        self.input_check_frame = QFrame()
        self.input_check_frame.setObjectName("inputCheck")
        self.input_check_frame.setStyleSheet("#inputCheck { background: #fff4e5; border: 1px solid #f0c27b; "
                                             "border-radius: 4px; }")
        check_layout = QVBoxLayout(self.input_check_frame)
        check_layout.setContentsMargins(6, 4, 6, 4)
        check_layout.addWidget(self.input_check_label)
        check_layout.addWidget(self.adapt_button, 0, Qt.AlignLeft)

        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self._on_start_button_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)

        self.epoch_progress = QProgressBar()
        self.epoch_progress.setFormat("epoch")
        self.run_progress = QProgressBar()
        self.run_progress.setFormat("run")
        for bar in (self.epoch_progress, self.run_progress):
            bar.setTextVisible(True)
            bar.setRange(0, 1000)
            bar.setValue(0)
        self.speed_label = QLabel(" ")
        self.speed_label.setStyleSheet("color: #5f6b7a")
        self.status_label = QLabel("Ready.")
        self.status_label.setWordWrap(True)

        box = QWidget()
        box_layout = QVBoxLayout(box)
        box_layout.setContentsMargins(4, 4, 4, 4)
        box_layout.addLayout(form)
        box_layout.addWidget(self.input_check_frame)
        box_layout.addLayout(buttons)
        box_layout.addWidget(self.epoch_progress)
        box_layout.addWidget(self.run_progress)
        box_layout.addWidget(self.speed_label)
        box_layout.addWidget(self.status_label)
        box_layout.addStretch(1)
        self.settings_area = QScrollArea()
        self.settings_area.setWidgetResizable(True)
        self.settings_area.setFrameShape(QFrame.NoFrame)
        self.settings_area.setWidget(box)
        self.settings_area.setMinimumWidth(340)

    def _build_outputs(self) -> None:
        # The curves and the results need pyqtgraph, whose import costs a good part of the
        # window's start-up: they are made right after the window is on screen (or when first
        # used), with empty stand-ins until then.
        self._plots = None
        self._results = None
        self._curves_layout = None
        self.export_plot_button = QPushButton("Export plot…")
        self.export_plot_button.setToolTip("Save the curves as PNG or SVG")
        self.export_plot_button.clicked.connect(self._on_export_plot_button_clicked)
        self.export_history_button = QPushButton("Export history (CSV)…")
        self.export_history_button.clicked.connect(self._on_export_history_button_clicked)
        self.export_history_button.setEnabled(False)
        self.diagnosis_label = QLabel()
        self.diagnosis_label.setObjectName("diagnosis")
        self.diagnosis_label.setWordWrap(True)
        self.diagnosis_label.setTextFormat(Qt.RichText)
        self.diagnosis_label.setTextInteractionFlags(Qt.LinksAccessibleByMouse)
        self.diagnosis_label.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.diagnosis_label.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred)
        self.diagnosis_label.setStyleSheet("#diagnosis { background: #f7f9fc; border: 1px solid #d8dee6; "
                                           "border-radius: 4px; padding: 6px; }")
        self.diagnosis_label.linkActivated.connect(self._on_diagnosis_link_activated)
        # A fixed-height box: a diagnosis of a different length must not resize the plots above
        # it (re-laying out both plots froze the window for 30-40 ms at every epoch's end).
        self.diagnosis_area = QScrollArea()
        self.diagnosis_area.setWidget(self.diagnosis_label)
        self.diagnosis_area.setWidgetResizable(True)
        self.diagnosis_area.setFrameShape(QFrame.NoFrame)
        self.diagnosis_area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.diagnosis_area.setFixedHeight(self.diagnosis_label.fontMetrics().lineSpacing() * DIAGNOSIS_LINES + 16)
        self._show_diagnosis(None)

        export_row = QHBoxLayout()
        export_row.addStretch(1)
        export_row.addWidget(self.export_plot_button)
        export_row.addWidget(self.export_history_button)
        curves = QWidget()
        curves_layout = QVBoxLayout(curves)
        curves_layout.setContentsMargins(0, 0, 0, 0)
        curves_layout.addWidget(QWidget(), 1)  # the plots' stand-in
        curves_layout.addWidget(self.diagnosis_area)
        curves_layout.addLayout(export_row)
        self._curves_layout = curves_layout

        self.tabs = QTabWidget()
        self.tabs.addTab(curves, "Curves")
        self.tabs.addTab(QWidget(), "Results")
        QTimer.singleShot(0, self._create_outputs)

    @property
    def plots(self):
        """The curves (``TrainingPlots``), made now if they do not exist yet."""
        self._create_outputs()
        return self._plots

    @property
    def results(self):
        """The results view (``ResultsView``), made now if it does not exist yet."""
        self._create_outputs()
        return self._results

    @Slot()
    def _create_outputs(self) -> None:
        if self._plots is not None:
            return
        from designer.ui.results_view import ResultsView
        from designer.ui.training_plots import TrainingPlots

        self._plots = TrainingPlots()
        stand_in = self._curves_layout.itemAt(0).widget()
        self._curves_layout.replaceWidget(stand_in, self._plots)
        stand_in.deleteLater()
        self._results = ResultsView()
        self._results.save_checkpoint_requested.connect(self._on_results_save_checkpoint_requested)
        self._results.load_checkpoint_requested.connect(self._on_results_load_checkpoint_requested)
        current = self.tabs.currentIndex()
        stand_in = self.tabs.widget(1)
        self.tabs.removeTab(1)
        stand_in.deleteLater()
        self.tabs.insertTab(1, self._results, "Results")
        self.tabs.setCurrentIndex(current)
        self._results.load_button.setEnabled(not self.running)
        self._results.set_checkpoint_available(not self.running and self.trained is not None)

    # ------------------------------------------------------------------ settings

    @property
    def dataset_name(self) -> str:
        return self.dataset_combo.currentData()

    def set_dataset(self, name: str) -> None:
        self.dataset_combo.setCurrentIndex(self.dataset_combo.findData(name))

    def config(self) -> TrainConfig:
        return TrainConfig(
            dataset=self.dataset_name, data_folder=self.data_folder, epochs=self.epochs_spin.value(),
            batch_size=self.batch_size_spin.value(), optimizer=self.optimizer_combo.currentData(),
            learning_rate=self.learning_rate_spin.value(), weight_decay=self.weight_decay_spin.value(),
            validation_fraction=self.validation_spin.value(),
            early_stopping_patience=self.patience_spin.value() if self.early_stopping_check.isChecked() else None,
            device=self.device_combo.currentData(), download=self.allow_download)

    @Slot(int)
    def _on_dataset_combo_changed(self, _index: int) -> None:
        self._refresh_input_check()

    @Slot()
    def _on_folder_button_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, f"Folder with the {dataset_info(self.dataset_name).label} files")
        if folder:
            self.set_data_folder(folder)

    @Slot()
    def _on_folder_clear_button_clicked(self) -> None:
        self.set_data_folder(None)

    def set_data_folder(self, folder: str | None) -> None:
        self.data_folder = folder or None
        self.folder_label.setText(f"from {folder}" if folder else "")
        self.folder_label.setVisible(bool(folder))
        self.folder_clear_button.setVisible(bool(folder))

    # ------------------------------------------------------------------ input check

    @Slot(object)
    def _on_document_analysis_changed(self, _analysis) -> None:
        self._refresh_input_check()

    def input_check(self) -> InputCheck:
        return InputCheck(self.document.graph, self.document.analysis, self.dataset_name)

    def _refresh_input_check(self) -> InputCheck:
        check = self.input_check()
        self.input_check_frame.setVisible(not check.fits)
        if not check.fits:
            self.input_check_label.setText("⚠ " + html.escape("; ".join(check.problems)) + ".")
            self.adapt_button.setVisible(check.adaptable)
            self.adapt_button.setEnabled(not self.document.locked)
        return check

    @Slot()
    def _on_adapt_button_clicked(self) -> None:
        self.adapt_input_to_dataset()

    def adapt_input_to_dataset(self) -> bool:
        """One undo step setting the Input's C×H×W (and the last FC's outputs) to the dataset's."""
        check = self.input_check()
        if not check.changes or self.document.locked:
            return False
        with self.document.macro(f"Adapt input to {check.info.label}"):
            for block_id, name, value in check.changes:
                self.document.set_param(block_id, name, value)
        self._refresh_input_check()
        return True

    # ------------------------------------------------------------------ running

    @property
    def running(self) -> bool:
        return self.thread is not None

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        for widget in self.setting_widgets:
            widget.setEnabled(not running)
        self.patience_spin.setEnabled(not running and self.early_stopping_check.isChecked())
        self.adapt_button.setEnabled(not running and not self.document.locked)
        if self._results is not None:  # else set when it is made
            self._results.load_button.setEnabled(not running)
            self._results.set_checkpoint_available(not running and self.trained is not None)
        self.export_history_button.setEnabled(bool(self.history))
        self.set_data_folder(self.data_folder)
        if running:
            self.folder_clear_button.setEnabled(False)

    @Slot()
    def _on_start_button_clicked(self) -> None:
        self.start()

    @Slot()
    def _on_stop_button_clicked(self) -> None:
        self.stop()

    def start(self) -> bool:
        """Start a run with the current settings; False (with a message) when it cannot."""
        if self.running:
            return False
        analysis = self.document.analysis
        if not analysis.valid:
            problems = list(analysis.problems) + [f"{block_id}: {error}" for block_id, error in analysis.errors.items()]
            self._set_status("The design cannot be trained yet: " + "; ".join(problems or ["it is incomplete"]),
                             error=True)
            return False
        check = self._refresh_input_check()
        if not check.fits:
            hint = " Click “Adapt input to dataset”." if check.adaptable else ""
            self._set_status(f"Cannot start: {'; '.join(check.problems)}.{hint}", error=True)
            return False

        config = self.config()
        self._num_classes = check.info.num_classes
        self.history = []
        self.run_info = None
        self.diagnosis = None
        self.plots.reset(config.epochs)
        self._show_diagnosis(None)
        self.epoch_progress.setValue(0)
        self.run_progress.setValue(0)
        self.epoch_progress.setFormat("epoch")
        self.run_progress.setFormat("run")
        self.speed_label.setText(" ")
        self._reset_progress()
        self.tabs.setCurrentIndex(0)

        worker = TrainingWorker(self.document.graph, config, torch_threads=self.torch_threads,
                                isolation=self.isolation)
        thread = QThread(self)
        thread.setObjectName("training")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # quit() is thread-safe; a direct connection ends the thread's loop without a GUI round trip.
        worker.finished.connect(thread.quit, Qt.DirectConnection)
        worker.status_changed.connect(self._on_worker_status_changed)
        worker.download_progress.connect(self._on_worker_download_progress)
        worker.run_started.connect(self._on_worker_run_started)
        worker.batches_done.connect(self._on_worker_batches_done)
        worker.epoch_done.connect(self._on_worker_epoch_done)
        worker.finished.connect(self._on_worker_finished)
        thread.finished.connect(self._on_thread_finished)
        self.worker, self.thread = worker, thread
        self.run_starting.emit()
        self.document.set_locked(True)
        self._set_running(True)
        self._run_started_at = time.perf_counter()
        self._set_status(f"Preparing {check.info.label}…")
        if check.info.download_bytes and find_local(config.dataset, config.data_folder) is None:
            self._open_download_dialog(check.info)
        thread.start()
        return True

    def stop(self) -> None:
        """Ask the run to stop before its next batch (the test set is still evaluated)."""
        if self.worker is not None and not self.worker.stop_requested:
            self.worker.request_stop()
            self._set_status("Stopping…")
            self.stop_button.setEnabled(False)

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Stop and join the worker thread (the window is closing). True when nothing runs any more."""
        thread, worker = self.thread, self.worker
        if thread is None:
            return True
        if worker is not None:
            worker.abort()
        self._close_download_dialog()
        thread.quit()
        finished = thread.wait(timeout_ms)
        if finished:
            self._release_run()
        return finished

    def _release_run(self) -> None:
        if self.worker is not None and self.worker.trained is not None:
            self.trained = self.worker.trained
        self.worker = None
        self.thread = None
        self.document.set_locked(False)
        self._set_running(False)

    # ------------------------------------------------------------------ worker signals

    @Slot(str)
    def _on_worker_status_changed(self, text: str) -> None:
        if self.worker is not None and not self.worker.stop_requested:
            self._set_status(text)

    @Slot(object, object)
    def _on_worker_download_progress(self, done, total) -> None:
        dialog = self._download_dialog
        if dialog is None:
            return
        dialog.setMaximum(1000)
        dialog.setValue(int(1000 * done / total) if total else 0)
        dialog.setLabelText(f"Downloading {dialog.property('dataset_label')}: "
                            f"{done / 1e6:.1f} of {total / 1e6:.1f} MB")

    @Slot(object)
    def _on_worker_run_started(self, info) -> None:
        self._close_download_dialog()
        self.run_info = info
        self._num_classes = len(info.class_names) or self._num_classes
        self._run_started_at = time.perf_counter()
        self._set_status(f"Training on {info.device}: {info.train_samples:,} training and "
                         f"{info.validation_samples:,} validation images, {info.batches_per_epoch} batches "
                         f"per epoch.")

    @Slot(object)
    def _on_worker_batches_done(self, points) -> None:
        self.plots.add_batches(points)
        self._pending_seconds += sum(points.seconds)
        self._pending_samples += sum(points.sizes)
        self._latest_batch = points.latest
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    def _reset_progress(self) -> None:
        self._samples_per_second = 0.0
        self._latest_batch = None
        self._pending_seconds = 0.0
        self._pending_samples = 0

    @Slot()
    def _on_progress_timer_timeout(self) -> None:
        self._show_progress()

    def _show_progress(self) -> None:
        """Progress bars and the speed line, from the batches since the last time (a few times a second)."""
        latest, info = self._latest_batch, self.run_info
        self._progress_timer.stop()
        if latest is None or info is None:
            return
        if self._pending_seconds > 0:
            speed = self._pending_samples / self._pending_seconds
            self._samples_per_second = (speed if not self._samples_per_second
                                        else 0.7 * self._samples_per_second + 0.3 * speed)
        self._pending_seconds = 0.0
        self._pending_samples = 0
        done = (latest.epoch - 1) * latest.batches + latest.batch
        total = info.epochs * latest.batches
        self.epoch_progress.setValue(int(1000 * latest.batch / latest.batches))
        self.epoch_progress.setFormat(f"epoch {latest.epoch}/{info.epochs} — batch {latest.batch}/{latest.batches}")
        self.run_progress.setValue(int(1000 * done / total))
        elapsed = time.perf_counter() - self._run_started_at
        left = elapsed / done * (total - done) if done else math.inf
        self.run_progress.setFormat(f"run {100 * done / total:.0f}% — {format_duration(left)} left")
        self.speed_label.setText(f"{self._samples_per_second:,.0f} samples/s · loss {latest.loss:.3f} · "
                                 f"elapsed {format_duration(elapsed)}")

    @Slot(object)
    def _on_worker_epoch_done(self, metrics: EpochMetrics) -> None:
        self.history.append(metrics)
        self.plots.add_epoch(metrics)
        self.plots.set_best_epoch(self._best_epoch())
        self.export_history_button.setEnabled(True)
        self.diagnosis = diagnose(self.history, self.document.analysis, num_classes=self._num_classes)
        self._show_diagnosis(self.diagnosis)

    def _best_epoch(self) -> int | None:
        """Lowest validation loss (training loss without a validation set), as the trainer picks."""
        if not self.history:
            return None
        key = ((lambda metrics: metrics.validation_loss) if self.history[-1].validation_loss is not None
               else (lambda metrics: metrics.train_loss))
        return min(self.history, key=key).epoch

    @Slot(object)
    def _on_worker_finished(self, outcome: RunOutcome) -> None:
        self.last_outcome = outcome
        self._close_download_dialog()
        result = outcome.result
        self.plots.refresh()
        self._show_progress()
        if result.best_epoch is not None:
            self.plots.set_best_epoch(result.best_epoch)
        if result.history and len(result.history) > len(self.history):
            self.history = list(result.history)
        # The engine's message already says what happened ("finished 8 epochs; …"); only a
        # failure needs a word in front of it.
        message = result.message[:1].upper() + result.message[1:]
        self._set_status(f"Failed: {result.message}" if result.status == "failed" else message,
                         error=result.status == "failed")
        if result.failure == "dataset":
            self._show_dataset_error(result.message)
        elif result.failure in ("input-shape", "output-shape"):
            self._refresh_input_check()
        if result.test_accuracy is not None or result.confusion_matrix:
            self.results.show_outcome(outcome)
            if result.status == "finished":
                self.epoch_progress.setValue(1000)
                self.run_progress.setValue(1000)
                self.run_progress.setFormat("run 100% — done")

    @Slot()
    def _on_thread_finished(self) -> None:
        thread, worker = self.thread, self.worker
        if thread is None:
            return  # shutdown() released it already
        self._release_run()
        thread.deleteLater()
        if worker is not None:
            worker.deleteLater()

    # ------------------------------------------------------------------ messages

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #c0392b" if error else "")

    def _open_download_dialog(self, info) -> None:
        dialog = QProgressDialog(f"Downloading {info.label} ({info.download_bytes / 1e6:.0f} MB)…", "Cancel",
                                 0, 0, self)
        dialog.setWindowTitle("Downloading dataset")
        dialog.setProperty("dataset_label", info.label)
        dialog.setWindowModality(Qt.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self._on_download_dialog_canceled)
        dialog.show()
        self._download_dialog = dialog

    @Slot()
    def _on_download_dialog_canceled(self) -> None:
        self._download_dialog = None
        self.stop()

    def _close_download_dialog(self) -> None:
        dialog, self._download_dialog = self._download_dialog, None
        if dialog is not None:
            dialog.canceled.disconnect(self._on_download_dialog_canceled)
            dialog.close()
            dialog.deleteLater()

    def _show_dataset_error(self, message: str) -> None:
        box = QMessageBox(QMessageBox.Warning, "Dataset not available", message, QMessageBox.NoButton, self)
        box.setInformativeText("The built-in MNIST sample (5,000 digits) needs no download.")
        use_sample = box.addButton("Use the built-in sample", QMessageBox.AcceptRole)
        box.addButton(QMessageBox.Close)
        use_sample.clicked.connect(self._on_use_sample_clicked)
        box.setAttribute(Qt.WA_DeleteOnClose)
        self._dataset_error_box = box
        box.open()

    @Slot()
    def _on_use_sample_clicked(self) -> None:
        self.set_data_folder(None)
        self.set_dataset(DEFAULT_DATASET)

    def _show_diagnosis(self, diagnosis: Diagnosis | None) -> None:
        if diagnosis is None:
            self.diagnosis_label.setText("<b>Diagnosis</b>: appears after the first epochs — training and "
                                         "validation curves tell whether to shrink or grow the FC head.")
            return
        colour = VERDICT_COLOURS.get(diagnosis.verdict, "#333")
        headline = diagnosis.headline
        label, _, rest = headline.partition(": ")
        if rest and label.lower() == diagnosis.verdict:
            headline = rest[0].upper() + rest[1:]  # the verdict is shown once, in colour
        parts = [f"<span style='color:{colour}; font-weight:bold'>{html.escape(diagnosis.verdict.capitalize())}"
                 f"</span> — {html.escape(headline)}"]
        if diagnosis.blocks:
            links = ", ".join(f"<a href='block:{html.escape(block_id)}' style='color:{FC_COLOUR.name()}'>"
                              f"{html.escape(block_id)}</a>" for block_id in diagnosis.blocks)
            parts.append(f"Blocks concerned: {links} (click to select)")
        if diagnosis.advice:
            items = "".join(f"<li>{html.escape(advice)}</li>" for advice in diagnosis.advice)
            parts.append(f"<ul style='margin:0; -qt-list-indent:1'>{items}</ul>")
        self.diagnosis_label.setText("<br>".join(parts))

    @Slot(str)
    def _on_diagnosis_link_activated(self, link: str) -> None:
        if link.startswith("block:"):
            self.document.set_selection([link.removeprefix("block:")])

    @Slot(bool)
    def _on_document_locked_changed(self, locked: bool) -> None:
        self.adapt_button.setEnabled(not locked)

    # ------------------------------------------------------------------ exports and checkpoints

    @Slot()
    def _on_export_plot_button_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the curves", "training-curves.png",
                                              "PNG image (*.png);;SVG drawing (*.svg)")
        if path:
            self.plots.export_image(path)

    @Slot()
    def _on_export_history_button_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the training history", "history.csv",
                                              "CSV table (*.csv)")
        if path:
            self.export_history(path)

    def export_history(self, path: str | Path) -> None:
        from designer.training.history import save_history_csv

        save_history_csv(self.history, path)

    @Slot()
    def _on_results_save_checkpoint_requested(self) -> None:
        if self.trained is None:
            return
        name = (self.document.path.stem if self.document.path else self.trained.graph.name) or "network"
        path, _ = QFileDialog.getSaveFileName(self, "Save checkpoint (design + weights)", f"{name}.pt",
                                              "PyTorch checkpoint (*.pt)")
        if path:
            self.save_checkpoint(path)

    def save_checkpoint(self, path: str | Path) -> bool:
        from designer.training.checkpoint import CheckpointError, save_checkpoint

        trained = self.trained
        if trained is None:
            return False
        try:
            save_checkpoint(path, trained.graph, trained.module, trained.config, trained.result,
                            trained.normalisation, trained.class_names)
        except CheckpointError as error:
            QMessageBox.warning(self, "Checkpoint not saved", str(error))
            return False
        self._set_status(f"Saved the design and its weights to {path}.")
        return True

    @Slot()
    def _on_results_load_checkpoint_requested(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load checkpoint", "", "PyTorch checkpoint (*.pt);;All files (*)")
        if path:
            self.load_checkpoint(path)

    def confirm_discard_changes(self) -> bool:
        if not self.document.modified:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Loading a checkpoint replaces the design “{self.document.display_name()}”, "
                                     f"which has unsaved changes. Replace it?",
            QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Yes

    def show_design(self, graph: Graph, path) -> None:
        """Put a graph into the document (the main window replaces this to lay it out and fit it)."""
        self.document.load(graph, path)

    def load_checkpoint(self, path: str | Path) -> bool:
        """Open the design in the document and keep the weights for the results."""
        if self.running or not self.confirm_discard_changes():
            return False
        from designer.training.checkpoint import CheckpointError, load_checkpoint

        try:
            graph, module, metadata = load_checkpoint(path)
        except CheckpointError as error:
            QMessageBox.warning(self, "Checkpoint not loaded", str(error))
            return False
        self.show_design(graph, None)
        config = metadata.config or TrainConfig()
        self.trained = TrainedModel(graph.copy(), config, module, metadata.normalisation,
                                    metadata.class_names, metadata.result, source=str(path))
        if metadata.config is not None and self.dataset_combo.findData(config.dataset) >= 0:
            self.set_dataset(config.dataset)
        result = metadata.result
        self.history = list(result.history) if result else []
        self.plots.reset()
        for metrics in self.history:
            self.plots.add_epoch(metrics)
        self.plots.refresh()
        self.plots.set_best_epoch(result.best_epoch if result else None)
        self.diagnosis = diagnose(self.history, self.document.analysis,
                                  num_classes=len(metadata.class_names) or 10) if self.history else None
        self._show_diagnosis(self.diagnosis)
        if result is not None:
            self.results.show_outcome(RunOutcome(result, None, metadata.class_names))
        else:
            self.results.show_message(f"Loaded {Path(path).name}: no training record inside.")
        self._set_running(False)
        self._set_status(f"Loaded {Path(path).name}: the design and its trained weights"
                         f"{' (trained ' + metadata.created + ')' if metadata.created else ''}."
                         + "".join(f" Note: {note}." for note in metadata.notes))
        return True


def end_idle_training_process() -> None:
    """End the training process kept for the next run, if one was ever started."""
    service = sys.modules.get("designer.training.service")  # not imported: nothing to end
    if service is not None:
        service.shutdown_idle()


def install_training(main_window) -> TrainingPanel:
    """Add the training dock and a Training menu to the main window.

    Uses the window's extension points: ``add_dock``, ``add_menu``, ``maybe_save`` (unsaved
    changes before a checkpoint replaces the design), ``show_graph`` and ``about_to_close``
    (stop and join the worker once the window has accepted the close).
    """
    from PySide6.QtWidgets import QApplication

    panel = TrainingPanel(main_window.document)
    panel.confirm_discard_changes = main_window.maybe_save
    panel.show_design = main_window.show_graph
    dock = main_window.add_dock(panel, Qt.DockWidgetArea.BottomDockWidgetArea, "Training", "training")
    neighbour = main_window.docks.get("parameters")
    if neighbour is not None:
        main_window.tabifyDockWidget(neighbour, dock)
        neighbour.raise_()
    panel.dock = dock
    panel.run_starting.connect(dock.raise_)

    menu = main_window.add_menu("training", "&Training")
    for text, slot, shortcut in (("&Start Training", panel._on_start_button_clicked, "Ctrl+T"),
                                 ("S&top Training", panel._on_stop_button_clicked, "Ctrl+."),
                                 (None, None, None),
                                 ("&Save Checkpoint…", panel._on_results_save_checkpoint_requested, None),
                                 ("&Load Checkpoint…", panel._on_results_load_checkpoint_requested, None),
                                 (None, None, None),
                                 ("Export &Plot…", panel._on_export_plot_button_clicked, None),
                                 ("Export &History (CSV)…", panel._on_export_history_button_clicked, None)):
        if text is None:
            menu.addSeparator()
            continue
        action = menu.addAction(text)
        if shortcut:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
    menu.addSeparator()
    menu.addAction(dock.toggleViewAction())

    main_window.about_to_close.connect(panel.shutdown)
    application = QApplication.instance()
    application.aboutToQuit.connect(panel.shutdown)
    if not application.property("training_service_stopper"):
        # The idle training process ends with the application (not with one of its windows).
        application.aboutToQuit.connect(end_idle_training_process)
        application.setProperty("training_service_stopper", True)
    main_window.training_panel = panel
    return panel


__all__ = ["InputCheck", "TrainingPanel", "install_training"]
