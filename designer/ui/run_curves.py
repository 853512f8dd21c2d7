"""The Runs view's plots: validation accuracy and loss per epoch of the selected runs, overlaid.

One curve per selected run, each in its own colour and marker; the table marks each overlaid
run with a dot of its colour, which is the legend (a legend of run names in the plot would be
wider than the plots at the default window size). Curves are made when a run is selected and fed with
``setData``; a run's curves are removed when it is deselected.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Slot

from designer.ui.style import current_theme, theme_notifier

#: one colour and marker per overlaid run; mid-tones that read on white and on near-black
RUN_COLOURS = ("#E8710A", "#3B7DD8", "#2E9E8F", "#8E6CC9", "#6A9F3A", "#C2487A", "#607D8B", "#B8860B")
RUN_SYMBOLS = ("o", "s", "t", "d", "star", "t1", "p", "h")


def run_colour(index: int) -> str:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


class RunCurves(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(160)
        self.accuracy_plot = self.addPlot(row=0, col=0)
        self.loss_plot = self.addPlot(row=0, col=1)
        for plot in (self.accuracy_plot, self.loss_plot):
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setMenuEnabled(False)
            for axis in ("left", "bottom"):
                plot.getAxis(axis).enableAutoSIPrefix(False)
        self.curves: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self.apply_theme(current_theme())
        theme_notifier().theme_changed.connect(self.apply_theme)

    @Slot(object)
    def apply_theme(self, theme) -> None:
        self.setBackground(theme.plot_background)
        for plot, label in ((self.accuracy_plot, "validation accuracy"), (self.loss_plot, "validation loss")):
            plot.setLabel("bottom", "epoch", color=theme.plot_text.name())
            plot.setLabel("left", label, color=theme.plot_text.name())
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setTextPen(pg.mkPen(theme.plot_text))
                plot.getAxis(axis).setPen(pg.mkPen(theme.plot_axis))

    def show_runs(self, records: list, colours: dict[str, int]) -> None:
        """Overlay ``records`` (``RunRecord``s); ``colours[name]`` is each run's colour index."""
        wanted = {record.name: record for record in records if record.readable}
        for name in [name for name in self.curves if name not in wanted]:
            for plot, curve in zip((self.accuracy_plot, self.loss_plot), self.curves.pop(name)):
                plot.removeItem(curve)
        for name, record in wanted.items():
            if name in self.curves:
                continue
            index = colours.get(name, len(self.curves))
            style = dict(pen=pg.mkPen(run_colour(index), width=2), symbol=RUN_SYMBOLS[index % len(RUN_SYMBOLS)],
                         symbolSize=7, symbolBrush=run_colour(index), symbolPen=None)
            x = np.asarray(record.epochs, dtype=np.float64)
            accuracy = _values(record.validation_accuracy, record.train_accuracy)
            loss = _values(record.validation_loss, record.train_loss)
            curves = (self.accuracy_plot.plot(x, accuracy, **style), self.loss_plot.plot(x, loss, **style))
            self.curves[name] = curves
        # Both axes follow the runs: runs worth comparing differ by a point or two, which a
        # fixed 0…1 accuracy axis would flatten into one line.
        self.accuracy_plot.enableAutoRange()
        self.loss_plot.enableAutoRange()

    def curve_count(self) -> int:
        return len(self.curves)


def _values(validation, training) -> np.ndarray:
    """Validation figures, or training ones for a run without a validation set."""
    values = validation if any(value is not None for value in validation) else training
    return np.asarray([np.nan if value is None else value for value in values], dtype=np.float64)


__all__ = ["RUN_COLOURS", "RunCurves", "run_colour"]
