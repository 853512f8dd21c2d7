"""The Training dock's right-hand side: the *Curves* and *Results* tabs and the exports beside them.

The curves and the results need pyqtgraph, whose import costs a good part of the window's
start-up: they are made right after the window is on screen (or when first used), with empty
stand-ins until then. The learning-rate plot sits beside the loss and accuracy curves,
narrower, and shows only while the rate changes (``learning_rate_plot``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSplitter, QTabWidget, QVBoxLayout, QWidget

from designer.ui.diagnosis_view import DiagnosisView


class TrainingOutputs(QTabWidget):
    """``checkpoints`` (``CheckpointActions``) answers the exports and the Results tab's buttons;
    ``training`` (``TrainingRun``) feeds the learning-rate plot."""

    #: the curves and the results view were just made (their buttons need the run's state)
    created = Signal()
    #: image files were dropped on the Results tab
    images_dropped = Signal(list)

    def __init__(self, checkpoints, training, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._checkpoints, self._training = checkpoints, training
        self._plots = self._results = self._learning_rate_plot = None
        self.export_plot_button = QPushButton("Export plot…")
        self.export_plot_button.setToolTip("Save the curves as PNG or SVG")
        self.export_plot_button.clicked.connect(checkpoints.export_plot)
        self.export_history_button = QPushButton("Export history (CSV)…")
        self.export_history_button.clicked.connect(checkpoints.export_history)
        self.diagnosis_view = DiagnosisView()
        # The exports sit beside the tabs, not in a row of their own: the curves get that height.
        exports = QWidget()
        export_row = QHBoxLayout(exports)
        export_row.setContentsMargins(0, 0, 2, 2)
        export_row.addWidget(self.export_plot_button)
        export_row.addWidget(self.export_history_button)
        curves = QWidget()
        self._curves_layout = QVBoxLayout(curves)
        self._curves_layout.setContentsMargins(0, 0, 0, 0)
        self._curves_layout.addWidget(QWidget(), 1)  # the plots' stand-in
        self._curves_layout.addWidget(self.diagnosis_view)
        self.addTab(curves, "Curves")
        self.addTab(QWidget(), "Results")
        self.setCornerWidget(exports, Qt.TopRightCorner)
        QTimer.singleShot(0, self.create)

    @property
    def plots(self):
        """The curves (``TrainingPlots``), made now if they do not exist yet."""
        self.create()
        return self._plots

    @property
    def learning_rate_plot(self):
        """The learning rate (``LearningRatePlot``), made now if it does not exist yet."""
        self.create()
        return self._learning_rate_plot

    @property
    def results(self):
        """The results view (``ResultsView``), made now if it does not exist yet."""
        self.create()
        return self._results

    @property
    def results_made(self):
        """The results view if it exists already, else None (without making it)."""
        return self._results

    @Slot()
    def create(self) -> None:
        if self._plots is not None:
            return
        from designer.ui.learning_rate_plot import LearningRatePlot
        from designer.ui.results_view import ResultsView
        from designer.ui.training_plots import TrainingPlots

        self._plots, self._learning_rate_plot = TrainingPlots(), LearningRatePlot()
        self._learning_rate_plot.follow(self._training)
        row = QSplitter(Qt.Horizontal)
        row.addWidget(self._plots)
        row.addWidget(self._learning_rate_plot)
        row.setSizes([900, 220])
        stand_in = self._curves_layout.itemAt(0).widget()
        self._curves_layout.replaceWidget(stand_in, row)
        stand_in.deleteLater()
        self._results = ResultsView()
        self._results.save_checkpoint_requested.connect(self._checkpoints.save_interactively)
        self._results.load_checkpoint_requested.connect(self._checkpoints.load_interactively)
        self._results.images_dropped.connect(self.images_dropped)
        current = self.currentIndex()
        stand_in = self.widget(1)
        self.removeTab(1)
        stand_in.deleteLater()
        self.insertTab(1, self._results, "Results")
        self.setCurrentIndex(current)
        self.created.emit()


__all__ = ["TrainingOutputs"]
