"""The Training dock, the Runs dock and the Training menu in the main window."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QApplication

from designer.ui.runs_location import runs_folder
from designer.ui.runs_view import RunsView
from designer.ui.training_panel import TrainingPanel


class ImagePredictions(QObject):
    """Training ▸ Predict Image… and pictures dropped on the Results tab: one prediction window,
    made on first use (it needs pyqtgraph and torch), asking the dock's trained network."""

    def __init__(self, panel: TrainingPanel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.dialog = None

    def window(self):
        if self.dialog is None:
            from designer.ui.prediction_view import PredictionDialog

            self.dialog = PredictionDialog(lambda: self.panel.trained, self.panel.window())
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    @Slot()
    def open_interactively(self) -> None:
        dialog = self.window()
        if self.panel.trained is None:
            dialog.predict("")  # says what to do first
            return
        dialog._on_open_button_clicked()

    @Slot(list)
    def predict_files(self, paths: list) -> None:
        if paths:
            self.window().predict(paths[0])

    @Slot()
    def shutdown(self) -> bool:
        return self.dialog is None or self.dialog.shutdown()


def end_idle_training_process() -> None:
    """End the training process kept for the next run (none may ever have started)."""
    from designer.training.service import shutdown_idle

    shutdown_idle()


def install_training(main_window) -> TrainingPanel:
    """Add the training dock and a Training menu to ``main_window``; returns the panel.

    What the panel needs from the window goes to its constructor: ``maybe_save`` (unsaved
    changes before a checkpoint replaces the design) and ``show_graph`` (lay a loaded design
    out and fit it). The window's ``about_to_close`` stops and joins the run.
    """
    panel = TrainingPanel(main_window.document, confirm_discard_changes=main_window.maybe_save,
                          show_design=main_window.show_graph)
    dock = main_window.add_dock(panel, Qt.DockWidgetArea.BottomDockWidgetArea, "Training", "training")
    neighbour = main_window.docks.get("parameters")
    if neighbour is not None:
        main_window.tabifyDockWidget(neighbour, dock)
        neighbour.raise_()
    panel.dock = dock
    panel.run_starting.connect(dock.raise_)
    panel.runs_folder_of = lambda: runs_folder(main_window.settings)[0]

    runs = RunsView(open_design=lambda graph: _open_run_design(main_window, graph),
                    open_checkpoint=lambda path: _open_run_checkpoint(panel, path), settings=main_window.settings)
    runs_dock = main_window.add_dock(runs, Qt.DockWidgetArea.BottomDockWidgetArea, "Runs", "runs")
    main_window.tabifyDockWidget(dock, runs_dock)
    if neighbour is not None:
        neighbour.raise_()  # the window opens on the Parameters table, not on the last tab added
    panel.run_saved.connect(runs.refresh)
    main_window.runs_view = runs
    predictions = panel.predictions = ImagePredictions(panel)
    panel.images_dropped.connect(predictions.predict_files)

    menu = main_window.add_menu("training", "&Training")
    for text, slot, shortcut in (("&Start Training", panel._on_start_button_clicked, "Ctrl+T"),
                                 ("S&top Training", panel._on_stop_button_clicked, "Ctrl+."),
                                 (None, None, None),
                                 ("&Save Checkpoint…", panel.checkpoints.save_interactively, None),
                                 ("&Load Checkpoint…", panel.checkpoints.load_interactively, None),
                                 ("&Predict Image…", predictions.open_interactively, None),
                                 (None, None, None),
                                 ("Export &Plot…", panel.checkpoints.export_plot, None),
                                 ("Export &History (CSV)…", panel.checkpoints.export_history, None)):
        if text is None:
            menu.addSeparator()
            continue
        action = menu.addAction(text)
        if shortcut:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
    menu.addSeparator()
    menu.addAction(dock.toggleViewAction())
    menu.addAction(runs_dock.toggleViewAction())

    main_window.about_to_close.connect(panel.shutdown)
    main_window.about_to_close.connect(predictions.shutdown)
    application = QApplication.instance()
    application.aboutToQuit.connect(panel.shutdown)
    if not application.property("training_service_stopper"):
        # The idle training process ends with the application (not with one of its windows).
        application.aboutToQuit.connect(end_idle_training_process)
        application.setProperty("training_service_stopper", True)
    return panel


def _open_run_design(main_window, graph) -> bool:
    """A run's design.json opens as a new design (saving it never writes into the run's folder)."""
    if main_window.training_panel.running or not main_window.maybe_save():
        return False
    main_window.show_graph(graph, None)
    return True


def _open_run_checkpoint(panel: TrainingPanel, path) -> bool:
    if not panel.load_checkpoint(path):
        return False
    if panel.dock is not None:
        panel.dock.raise_()
    return True


__all__ = ["ImagePredictions", "end_idle_training_process", "install_training"]
