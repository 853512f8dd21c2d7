"""The Training dock and menu in the main window."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from designer.ui.training_panel import TrainingPanel


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

    menu = main_window.add_menu("training", "&Training")
    for text, slot, shortcut in (("&Start Training", panel._on_start_button_clicked, "Ctrl+T"),
                                 ("S&top Training", panel._on_stop_button_clicked, "Ctrl+."),
                                 (None, None, None),
                                 ("&Save Checkpoint…", panel.checkpoints.save_interactively, None),
                                 ("&Load Checkpoint…", panel.checkpoints.load_interactively, None),
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

    main_window.about_to_close.connect(panel.shutdown)
    application = QApplication.instance()
    application.aboutToQuit.connect(panel.shutdown)
    if not application.property("training_service_stopper"):
        # The idle training process ends with the application (not with one of its windows).
        application.aboutToQuit.connect(end_idle_training_process)
        application.setProperty("training_service_stopper", True)
    return panel


__all__ = ["end_idle_training_process", "install_training"]
