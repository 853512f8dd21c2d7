"""The Training dock: a view over one ``TrainingRun`` — settings, Start/Stop, progress, curves, results.

Runs go down the run path (``designer.training.run``) in a ``TrainingRun``, by default in a
training process of its own (``designer.training.service`` says why); its events arrive
here as Qt signals, in the GUI thread, throttled at their source. While a run goes the
design is locked (``DesignDocument.set_locked``), so the network being trained is never
half-changed. Closing the window stops and joins the run (``shutdown``).

The pieces live beside this file: the settings form (``training_settings``, with the image
folder's ``image_folder_choice``), the fit check (``training_fit``), the progress bars
(``run_progress``), the Curves and Results tabs (``training_outputs``, with the diagnosis box
and the learning-rate plot), whether the results are stale (``results_staleness``), checkpoints
(``training_checkpoints``), the dataset prompts (``dataset_prompts``) and the menu
(``training_menu``, with the Runs dock and Predict Image…). Every run that trains is saved in
the runs folder (``runs_location``) by the worker thread, like the command line's.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget

from designer.training.diagnosis import Diagnosis, diagnose
from designer.training.fit import FitCheck
from designer.training.records import EpochMetrics, TrainConfig, best_epoch
from designer.training.run import Local, RunOutcome, RunRequest, TrainedModel, refusal
from designer.ui.dataset_prompts import DatasetPrompts
from designer.ui.document import DesignDocument
from designer.ui.results_staleness import ResultsStaleness
from designer.ui.run_progress import RunProgress
from designer.ui.runs_location import default_runs_folder
from designer.ui.style import current_theme, hex_colour, theme_notifier
from designer.ui.training_checkpoints import CheckpointActions
from designer.ui.training_fit import apply_changes, dataset_description, dataset_fit, use_input_shape
from designer.ui.training_outputs import TrainingOutputs
from designer.ui.training_run import TrainingRun, starts_training_process
from designer.ui.training_settings import FitWarning, TrainingSettings

#: how long closing the window waits for a run to wind down before giving up on it
SHUTDOWN_WAIT_MS = 10_000


class TrainingPanel(QWidget):
    """Everything about training the open design; meant to sit in a dock.

    ``confirm_discard_changes()`` (True: the design may be replaced) and
    ``show_design(graph, path)`` are what loading a checkpoint needs from the window; without
    them the panel asks in a message box and loads the graph into the document itself.
    """

    #: a run is about to start (the main window raises the dock)
    run_starting = Signal()
    #: a run was saved in its folder (the path); the Runs view lists it
    run_saved = Signal(str)
    #: image files were dropped on the Results tab (Predict Image… shows them)
    images_dropped = Signal(list)

    def __init__(self, document: DesignDocument, *, confirm_discard_changes=None, show_design=None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("TrainingPanel")
        self.document = document
        self.show_design = show_design if show_design is not None else document.load
        #: where runs happen: the training process (the default), or with own_process=False the
        #: run's worker thread, sharing this interpreter with the window (the benchmark's --thread)
        self.launch = Local()
        self.training = TrainingRun(parent=self)
        self.checkpoints = CheckpointActions(self, confirm_discard_changes)
        self.trained: TrainedModel | None = None
        self.history: list[EpochMetrics] = []
        self.run_info = None
        self.last_outcome: RunOutcome | None = None
        self.diagnosis: Diagnosis | None = None
        self._num_classes = 10
        self.dock = None  # the QDockWidget holding this panel, once installed
        #: where runs are saved (the window sets it to the Runs view's folder)
        self.runs_folder_of = default_runs_folder

        self._build_settings()
        self.tabs = TrainingOutputs(self.checkpoints, self.training)
        self.tabs.created.connect(self._on_tabs_created)
        self.tabs.images_dropped.connect(self.images_dropped)
        self.diagnosis_view = self.tabs.diagnosis_view
        self.diagnosis_view.block_activated.connect(self._on_diagnosis_view_block_activated)
        # Start/Stop, the progress and the result sit above the settings form, which scrolls:
        # at 1400×900 the dock is too short for both, and what a run is doing must never be
        # below the fold (issue 14c).
        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        controls_layout.addWidget(self.run_box)
        controls_layout.addWidget(self.settings_area, 1)
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(controls)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([330, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self.prompts = DatasetPrompts(self)
        for signal, slot in ((self.training.status_changed, self._on_training_status_changed),
                             (self.training.run_started, self._on_training_run_started),
                             (self.training.batches_done, self._on_training_batches_done),
                             (self.training.epoch_done, self._on_training_epoch_done),
                             (self.training.run_ended, self._on_training_run_ended),
                             (self.training.finished, self._on_training_finished)):
            signal.connect(slot)
        self.settings.dataset_changed.connect(self._on_settings_dataset_changed)
        self.settings.image_folder.input_suggested.connect(self._on_image_folder_input_suggested)
        document.analysis_changed.connect(self._on_document_analysis_changed)
        self.staleness = ResultsStaleness(document, self.tabs, self)
        document.locked_changed.connect(self._on_document_locked_changed)
        self._refresh_input_check()
        self.set_running(False)

    # ------------------------------------------------------------------ construction

    def _build_settings(self) -> None:
        self.settings = TrainingSettings()
        self.fit_warning = FitWarning()
        self.adapt_button = self.fit_warning.adapt_button
        self.adapt_button.clicked.connect(self._on_adapt_button_clicked)

        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self._on_start_button_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        self.progress = RunProgress()
        self.status_label = QLabel("Ready.")
        self.status_label.setWordWrap(True)
        self._status_error = False

        self.run_box = QWidget()
        run_layout = QVBoxLayout(self.run_box)
        run_layout.setContentsMargins(4, 4, 4, 2)
        run_layout.addLayout(buttons)
        run_layout.addWidget(self.progress)
        run_layout.addWidget(self.status_label)
        box = QWidget()
        box_layout = QVBoxLayout(box)
        box_layout.setContentsMargins(4, 2, 4, 4)
        box_layout.addWidget(self.settings)
        box_layout.addWidget(self.fit_warning)
        box_layout.addStretch(1)
        self.settings_area = QScrollArea()
        self.settings_area.setWidgetResizable(True)
        self.settings_area.setFrameShape(QFrame.NoFrame)
        self.settings_area.setWidget(box)
        # Never a horizontal scroll bar: the form is as wide as the column (its fields shrink).
        self.settings_area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self._fit_settings_width()
        theme_notifier().theme_changed.connect(self._on_theme_changed)

    @property
    def plots(self):
        """The curves (``TrainingPlots``), made now if they do not exist yet."""
        return self.tabs.plots

    @property
    def learning_rate_plot(self):
        return self.tabs.learning_rate_plot

    @property
    def results(self):
        """The results view (``ResultsView``), made now if it does not exist yet."""
        return self.tabs.results

    # ------------------------------------------------------------------ settings and the fit check

    def config(self) -> TrainConfig:
        return self.settings.config()

    def input_check(self) -> FitCheck:
        return dataset_fit(self.document.graph, self.settings, self.document.analysis)

    def _refresh_input_check(self) -> FitCheck:
        check = self.input_check()
        self.fit_warning.show_check(check, editable=not self.document.locked)
        return check

    def adapt_input_to_dataset(self) -> bool:
        """One undo step setting the Input's C×H×W (and the classifier's outputs) to the dataset's."""
        check = self.input_check()
        if not apply_changes(self.document, check.changes, f"Adapt input to {check.dataset_label}"):
            return False
        self._refresh_input_check()
        return True

    @Slot(object)
    def _on_image_folder_input_suggested(self, shape) -> None:
        use_input_shape(self.document, shape)

    @Slot()
    def _on_adapt_button_clicked(self) -> None:
        self.adapt_input_to_dataset()

    @Slot()
    def _on_settings_dataset_changed(self) -> None:
        self._refresh_input_check()
        self._fit_settings_width()

    def _fit_settings_width(self) -> None:
        # Never narrower than the form (no horizontal scroll bar: a field would be cut off); the
        # form grows when an image folder's settings appear under the dataset.
        self.settings_area.setMinimumWidth(self.settings_area.widget().minimumSizeHint().width()
                                           + self.settings_area.verticalScrollBar().sizeHint().width())

    @Slot(object)
    def _on_document_analysis_changed(self, _analysis) -> None:
        self._refresh_input_check()

    def mark_results_current(self) -> None:
        """The results tab now shows results of the design as it is (a run ended, a checkpoint loaded)."""
        self.staleness.mark_current()

    @Slot(bool)
    def _on_document_locked_changed(self, locked: bool) -> None:
        self.adapt_button.setEnabled(not locked)

    # ------------------------------------------------------------------ running

    @property
    def running(self) -> bool:
        return self.training.running

    def set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.settings.set_running(running)
        self.adapt_button.setEnabled(not running and not self.document.locked)
        results = self.tabs.results_made
        if results is not None:  # else set when it is made
            results.load_button.setEnabled(not running)
            results.set_checkpoint_available(not running and self.trained is not None)
        self.tabs.export_history_button.setEnabled(bool(self.history))

    @Slot()
    def _on_tabs_created(self) -> None:
        self.set_running(self.running)

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
            self.set_status("The design cannot be trained yet: " + "; ".join(problems or ["it is incomplete"]),
                             error=True)
            return False
        check = self._refresh_input_check()
        if not check.fits:
            hint = " Click “Adapt input to dataset”." if check.adaptable else ""
            self.set_status(f"Cannot start: {check.message}.{hint}", error=True)
            return False
        config = self.config()
        request = RunRequest.of(self.document.graph, config, label=self.document.graph.name,
                                launch=self.settings.launch(self.launch))
        refused = refusal(request)  # the run path's own checks: the same message as the command line's
        if refused is not None:
            self.set_status(f"Cannot start: {refused.result.message}.", error=True)
            return False

        info = dataset_description(self.settings)
        self._num_classes = info.num_classes
        self.history, self.run_info, self.diagnosis = [], None, None
        self.plots.reset(config.epochs)
        self.learning_rate_plot.reset(config.schedule not in ("", "none"), config.epochs)
        self.diagnosis_view.show_diagnosis(None)
        self.progress.reset()
        self.tabs.setCurrentIndex(0)
        starts_process = starts_training_process(self.launch)
        if not self.training.start([request], save_runs_in=self.runs_folder_of()):
            return False
        self.run_starting.emit()
        self.document.set_locked(True)
        self.set_running(True)
        waiting = ("Starting the training process… (loading PyTorch, a few seconds the first time)"
                   if starts_process else f"Preparing {info.label}…")
        self.progress.set_busy(waiting)  # said under the moving bar; the status line waits for news
        self.set_status(" ")
        self.prompts.run_starting(config, info)
        return True

    def stop(self) -> None:
        """Ask the run to stop before its next batch (the test set is still evaluated)."""
        if self.running and not self.training.stop_requested:
            self.training.stop()
            self.set_status("Stopping…")
            self.stop_button.setEnabled(False)

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Stop and join the run (the window is closing). True when nothing runs any more."""
        if not self.running:
            return True
        self.prompts.close_dialogs()
        finished = self.training.shutdown(timeout_ms)
        if finished:
            self._release_run()
        return finished

    def _release_run(self) -> None:
        self.document.set_locked(False)
        self.set_running(False)

    # ------------------------------------------------------------------ the run's events

    @Slot(object)
    def _on_training_status_changed(self, event) -> None:
        if not self.training.stop_requested:
            if self.progress.busy:
                self.progress.set_busy(event.text)
            else:
                self.set_status(event.text)

    @Slot(object)
    def _on_training_run_started(self, event) -> None:
        info = self.run_info = event.info
        self._num_classes = len(info.class_names) or self._num_classes
        self.progress.start(info)
        where = info.device if info.processes == 1 else f"{info.processes} processes ({info.device})"
        self.set_status(f"Training on {where}: {info.train_samples:,} training and "
                         f"{info.validation_samples:,} validation images, {info.batches_per_epoch} batches "
                         f"per epoch.")

    @Slot(object)
    def _on_training_batches_done(self, event) -> None:
        self.plots.add_batches(event.points)
        self.progress.add(event.points)

    @Slot(object)
    def _on_training_epoch_done(self, event) -> None:
        self.history.append(event.metrics)
        self.plots.add_epoch(event.metrics)
        self.plots.set_best_epoch(best_epoch(self.history))
        self.tabs.export_history_button.setEnabled(True)
        self.diagnosis = diagnose(self.history, self.document.analysis, num_classes=self._num_classes)
        self.diagnosis_view.show_diagnosis(self.diagnosis)

    @Slot(object)
    def _on_training_run_ended(self, event) -> None:
        outcome = self.last_outcome = event.result.outcome
        result = outcome.result
        self.plots.refresh()
        self.progress.show_now()
        self.progress.ended(result)
        if result.best_epoch is not None:
            self.plots.set_best_epoch(result.best_epoch)
        if result.history and len(result.history) > len(self.history):
            self.history = list(result.history)
        # The engine's message already says what happened ("finished 8 epochs; …"); only a
        # failure needs a word in front of it.
        message = result.message[:1].upper() + result.message[1:]
        self.set_status(f"Failed: {result.message}" if result.status == "failed" else message,
                         error=result.status == "failed")
        if result.failure in ("input-shape", "output-shape"):
            self._refresh_input_check()
        if result.test_accuracy is not None or result.confusion_matrix:
            self.results.show_outcome(outcome)
            self.mark_results_current()  # the design is locked while it trains: this is it
            if result.status == "finished":
                self.progress.done()

    @Slot(object)
    def _on_training_finished(self, outcome) -> None:
        finished = outcome.value or []
        if finished and finished[0].model is not None:
            self.trained = finished[0].model
        if finished and finished[0].saved_to:
            self.set_status(f"{_sentence(self.status_label.text())} Saved in {finished[0].saved_to}.",
                            error=finished[0].result.status == "failed")
            self.run_saved.emit(finished[0].saved_to)
        elif finished and finished[0].save_error:
            self.set_status(f"{_sentence(self.status_label.text())} Note: {finished[0].save_error}.", error=True)
        if outcome.error:
            self.set_status(f"Failed: training failed unexpectedly ({outcome.error}); this is a bug, please "
                             f"report it", error=True)
        self._release_run()

    # ------------------------------------------------------------------ messages

    def set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self._status_error = error
        self.status_label.setStyleSheet(f"color: {hex_colour(current_theme().error)}" if error else "")

    @Slot(object)
    def _on_theme_changed(self, _theme) -> None:
        self.set_status(self.status_label.text(), self._status_error)

    @Slot(str)
    def _on_diagnosis_view_block_activated(self, block_id: str) -> None:
        self.document.set_selection([block_id])

    # ------------------------------------------------------------------ exports and checkpoints

    def export_history(self, path: str | Path) -> None:
        from designer.training.history import save_history_csv

        save_history_csv(self.history, path)

    def save_checkpoint(self, path: str | Path) -> bool:
        return self.checkpoints.save(path)

    def load_checkpoint(self, path: str | Path) -> bool:
        """Open the design in the document and keep the weights for the results."""
        return self.checkpoints.load(path)

    def show_history(self, history: list[EpochMetrics], best: int | None, classes: int) -> None:
        """Curves and diagnosis of a run that happened before (a loaded checkpoint's)."""
        self.history = history
        self.plots.reset()
        for metrics in history:
            self.plots.add_epoch(metrics)
        self.plots.refresh()
        self.learning_rate_plot.show_history(history)
        self.plots.set_best_epoch(best)
        self.diagnosis = diagnose(history, self.document.analysis, num_classes=classes) if history else None
        self.diagnosis_view.show_diagnosis(self.diagnosis)


def _sentence(text: str) -> str:
    """``text`` ending as a sentence, so that another can follow it."""
    text = text.rstrip()
    return text if not text or text[-1] in ".!?…" else text + "."


__all__ = ["TrainingPanel"]
