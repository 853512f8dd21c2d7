"""Pieces every FC-lab dialog shares: the dialog base and plot styling."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from designer.ui.tasks import TaskRunner
from designer.ui.style import FC_COLOUR, hex_colour

#: one colour per model in overlaid plots; the first is the FC colour (the FC-head model)
SERIES_COLOURS = (hex_colour(FC_COLOUR), "#3B7DD8", "#2E9E8F", "#8E6CC9", "#6A9F3A", "#9C5B9E", "#607D8B")
ERROR_STYLE = "color: #D32F2F;"
MUTED_STYLE = "color: #5F6B7A;"


def series_colour(index: int) -> str:
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]


def style_plot(plot: pg.PlotItem, title: str, bottom: str, left: str) -> pg.PlotItem:
    plot.setTitle(title, color="#1F2328", size="11pt")
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setLabel("bottom", bottom, color="#444")
    plot.setLabel("left", left, color="#444")
    for axis in ("left", "bottom"):
        plot.getAxis(axis).enableAutoSIPrefix(False)  # "accuracy (x0.001)" reads badly
        plot.getAxis(axis).setTextPen("#444")
        plot.getAxis(axis).setPen("#888")
    plot.setMenuEnabled(False)
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")
    return plot


def add_legend(plot: pg.PlotItem, offset=(-10, -10)) -> pg.LegendItem:
    return plot.addLegend(offset=offset, labelTextColor="#333", brush=pg.mkBrush(255, 255, 255, 215),
                          pen=pg.mkPen("#C9CFD6"))


class LabDialog(QDialog):
    """A non-modal dialog with a status line and a TaskRunner for its background work, one task
    at a time; a dialog that trains adds a ``TrainingRun`` on the same runner (``add_training``),
    so its runs go down the run path to the training process like the Training dock's.

    The window closes every lab dialog (and joins their tasks) in ``shutdown``.
    """

    def __init__(self, lab, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lab = lab
        self.setWindowTitle(title)
        self.setModal(False)
        self.setWindowFlag(Qt.WindowType.WindowContextHelpButtonHint, False)
        self.runner = TaskRunner(self, title)
        self.training = None  # a TrainingRun, for the dialogs that train
        self.status_label = QLabel(" ")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.layout_ = QVBoxLayout(self)

    @property
    def document(self):
        return self.lab.window.document

    def set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")
        self.status_label.setText(text)

    def status_text(self) -> str:
        return self.status_label.text()

    def add_training(self):
        from designer.ui.training_run import TrainingRun

        self.training = TrainingRun(self.runner, self)
        return self.training

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        if self.training is not None and not self.training.shutdown(timeout_ms):
            return False
        return self.runner.shutdown(timeout_ms)

    def cancel(self) -> None:
        """Stop the background work (it finishes its current step, then reports as cancelled)."""
        if self.runner.running:
            self.runner.cancel()
            self.set_status("Cancelling…")

    @Slot()
    def _on_cancel_button_clicked(self) -> None:
        self.cancel()

    @Slot()
    def reject(self) -> None:  # Escape / close: hide; a running task keeps going unless cancelled
        super().reject()
