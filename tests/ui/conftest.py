"""Fixtures for the window tests: isolated settings, dialogs answered without a modal loop,
training panels on a small network."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from designer.core import Graph, chain, load_architecture
from designer.core.paths import TEMPLATES


@dataclass
class Dialogs:
    """What the window asked, and what the test answers next."""

    unsaved_answer: QMessageBox.StandardButton = QMessageBox.StandardButton.Discard
    open_path: str | None = None
    save_path: str | None = None
    unsaved_questions: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
def isolated_settings(tmp_path):
    """No test reads or writes the user's real settings."""
    folder = tmp_path / "settings"
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return QSettings(str(folder / "window.ini"), QSettings.Format.IniFormat)


def answer_dialogs(window) -> Dialogs:
    dialogs = Dialogs()

    def ask_unsaved_changes():
        dialogs.unsaved_questions += 1
        return dialogs.unsaved_answer

    window.ask_unsaved_changes = ask_unsaved_changes
    window.show_error = lambda title, text: dialogs.errors.append((title, text))
    window.choose_open_path = lambda: dialogs.open_path
    window.choose_save_path = lambda: dialogs.save_path
    return dialogs


@pytest.fixture
def main_window(qtbot, isolated_settings):
    """The real main window showing the LeNet-5 template, with ``window.dialogs`` answering."""
    from designer.ui.main_window import MainWindow

    window = MainWindow(settings=isolated_settings)
    window.dialogs = answer_dialogs(window)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    window.show_graph(load_architecture(TEMPLATES / "lenet5.json"), None)
    yield window
    window.dialogs.unsaved_answer = QMessageBox.StandardButton.Discard


@pytest.fixture
def canvas(main_window):
    return main_window.canvas


@pytest.fixture
def document(main_window):
    return main_window.document


RUN_TIMEOUT_MS = 60_000


def tiny_graph(channels=1, size=28, classes=10) -> Graph:
    """A network that trains in a second on the built-in sample."""
    graph = Graph("tiny")
    chain(graph, [("Input", {"channels": channels, "height": size, "width": size}),
                  ("Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2}),
                  ("ReLU", {}),
                  ("FC", {"out_features": 32}),
                  ("ReLU", {}),
                  ("FC", {"out_features": classes})])
    return graph


@pytest.fixture
def tiny():
    """``tiny(channels=1, size=28, classes=10)``: a small Graph for training tests."""
    return tiny_graph


@pytest.fixture
def finish_run(qtbot):
    """``finish_run(panel)``: wait until the panel's run has ended."""
    return lambda panel: qtbot.waitUntil(lambda: not panel.running, timeout=RUN_TIMEOUT_MS)


@pytest.fixture
def make_panel(qtbot):
    from designer.ui.document import DesignDocument
    from designer.ui.training_panel import TrainingPanel

    panels = []

    def make(graph: Graph | None = None, *, epochs=1, batch_size=500, confirm_discard_changes=None):
        document = DesignDocument(graph if graph is not None else load_architecture(TEMPLATES / "lenet5.json"))
        panel = TrainingPanel(document, confirm_discard_changes=confirm_discard_changes)
        panel._test_document = document  # keep the document alive as long as the panel
        qtbot.addWidget(panel)
        panel.resize(1200, 500)
        panel.show()
        panel.settings.epochs_spin.setValue(epochs)
        panel.settings.batch_size_spin.setValue(batch_size)
        panel.settings.set_device("cpu")
        panels.append(panel)
        return panel

    yield make
    for panel in panels:
        assert panel.shutdown(5000), "the run's worker thread did not end"


@pytest.fixture
def styled(qapp):
    """The program's own look (``apply_style``) for one test, then Qt's defaults back."""
    from designer.ui import style

    style_name, palette, font = qapp.style().name(), qapp.palette(), qapp.font()
    style.apply_style(qapp, "light")
    yield qapp
    style.set_colour_scheme(qapp, "system")
    style.set_theme(qapp, style.LIGHT)  # the next tests paint in the light theme, as before
    qapp.setStyleSheet("")
    qapp.setStyle(style_name)
    qapp.setPalette(palette)
    qapp.setFont(font)


@pytest.fixture(autouse=True)
def _delete_closed_widgets(qapp):
    """Delete the windows earlier tests closed (pytest-qt calls deleteLater, but nothing runs the
    deferred deletes between tests): hundreds of stale widgets made every app-wide style change
    (a theme switch repolishes every widget) take seconds."""
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    yield


@pytest.fixture
def lab_window(main_window, qtbot):
    """The main window with the training dock (1 epoch, batch 500, CPU, the built-in sample) and
    the FC lab menu installed; at the end every lab task and the dock's run must have ended."""
    from designer.ui.lab import install_lab

    panel = main_window.training_panel
    panel.settings.epochs_spin.setValue(1)
    panel.settings.batch_size_spin.setValue(500)
    panel.settings.set_device("cpu")
    panel.settings.set_dataset("mnist-sample")
    assert install_lab(main_window) is main_window.fc_lab
    yield main_window
    assert main_window.fc_lab.shutdown(), "a lab task did not end"
    assert panel.shutdown(5000)
