"""The learning rate over a run, beside the loss and accuracy curves.

Shown while the run has a schedule (``--schedule``, the dock's *LR schedule*), or for a loaded
run whose rate changed; hidden for a constant rate, where it would only take room from the
curves. Per batch (a one-cycle schedule changes the rate every batch) and per epoch (the
history's ``learning_rate`` column), on a logarithmic axis: a step schedule's drops by ×0.1
are equal steps. Like the other curves it is fed with ``setData`` a few times a second.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Slot

from designer.ui.style import current_theme, theme_notifier
from designer.ui.training_plots import GrowingSeries

RATE_COLOUR = "#8E6CC9"
REFRESH_MS = 250


class RateAxis(pg.AxisItem):
    """A logarithmic axis with a few round rates (1e-3, 5e-4, 2e-4) written as such.

    pyqtgraph's own log axis writes the decade's minor ticks as 0.9, 0.8… over a shared
    "×0.001", crowded into a narrow plot; a rate reads better as the number one types."""

    PIXELS_PER_LABEL = 26

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 - pyqtgraph's names
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        low, high = sorted((minVal, maxVal))
        if not (math.isfinite(low) and math.isfinite(high)):
            return []
        candidates = [(mantissa, exponent + math.log10(mantissa))
                      for exponent in range(math.floor(low) - 1, math.ceil(high) + 1) for mantissa in (1, 2, 5)]
        candidates = [(mantissa, value) for mantissa, value in candidates if low <= value <= high]
        room = max(2, int(size / self.PIXELS_PER_LABEL))
        chosen = []
        for allowed in ((1, 2, 5), (1, 5), (1,)):
            chosen = [value for mantissa, value in candidates if mantissa in allowed]
            if len(chosen) <= room:
                break
        if len(chosen) < 2:  # a narrow range (a rate that barely moved): plain numbers
            middle = (low + high) / 2
            return [(1.0, [middle])] if math.isfinite(middle) else []
        return [(1.0, chosen)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        return [_rate_text(10 ** value) for value in values]


def _rate_text(rate: float) -> str:
    """1e-3, 5e-4, 2.5e-4, 0.01: the way a rate is typed (``--lr 1e-3``)."""
    if rate >= 0.01 or rate <= 0:
        return f"{rate:g}"
    mantissa, exponent = f"{rate:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


class LearningRatePlot(pg.PlotWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent, axisItems={"left": RateAxis("left")})
        self.setMinimumWidth(150)
        plot = self.plot_item = self.getPlotItem()
        plot.setLogMode(y=True)
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setMenuEnabled(False)
        plot.getAxis("bottom").enableAutoSIPrefix(False)
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.getViewBox().setDefaultPadding(0.08)  # the first and last rates' markers clear of the frame
        self.batches = GrowingSeries()
        self.epochs = GrowingSeries()
        self.batch_curve = plot.plot(pen=pg.mkPen(RATE_COLOUR, width=1.5))
        self.epoch_curve = plot.plot(pen=None, symbol="o", symbolSize=6, symbolBrush=RATE_COLOUR, symbolPen=None)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.setVisible(False)
        self.apply_theme(current_theme())
        theme_notifier().theme_changed.connect(self.apply_theme)

    @Slot(object)
    def apply_theme(self, theme) -> None:
        self.setBackground(theme.plot_background)
        self.plot_item.setLabel("left", "learning rate", color=theme.plot_text.name())
        self.plot_item.setLabel("bottom", "epoch", color=theme.plot_text.name())
        for axis in ("left", "bottom"):
            self.plot_item.getAxis(axis).setTextPen(pg.mkPen(theme.plot_text))
            self.plot_item.getAxis(axis).setPen(pg.mkPen(theme.plot_axis))

    def follow(self, training) -> None:
        """Take the points of ``training``'s runs (a ``TrainingRun``) as they come."""
        training.batches_done.connect(self._on_training_batches_done)
        training.epoch_done.connect(self._on_training_epoch_done)

    @Slot(object)
    def _on_training_batches_done(self, event) -> None:
        self.add_batches(event.points)

    @Slot(object)
    def _on_training_epoch_done(self, event) -> None:
        self.add_epoch(event.metrics)

    def reset(self, scheduled: bool, epochs: int | None = None) -> None:
        """A new run: shown when ``scheduled`` (the rate will change)."""
        self.batches.clear()
        self.epochs.clear()
        self.refresh()
        if epochs:
            self.plot_item.setXRange(0, epochs, padding=0.05)  # the last epoch's point clear of the frame
        self.plot_item.enableAutoRange(y=True)  # a new run's rates, not the last one's
        self.setVisible(scheduled)

    def add_batches(self, points) -> None:
        """``BatchPoints``; their ``learning_rate`` (empty from an older training process: ignored)."""
        if len(points.learning_rate) == len(points.x):
            self.batches.extend(points.x, points.learning_rate)
            if not self._timer.isActive():
                self._timer.start()

    def add_epoch(self, metrics) -> None:
        self.epochs.extend((float(metrics.epoch),), (metrics.learning_rate,))
        if not self._timer.isActive():
            self._timer.start()

    def show_history(self, history) -> None:
        """A run from before (a loaded checkpoint): its per-epoch rates; shown if they changed."""
        self.reset(False, len(history))
        for metrics in history:
            self.epochs.extend((float(metrics.epoch),), (metrics.learning_rate,))
        self.refresh()
        self.plot_item.enableAutoRange(y=True)
        rates = self.epochs.y
        self.setVisible(bool(len(rates)) and float(np.max(rates)) != float(np.min(rates)))

    @Slot()
    def refresh(self) -> None:
        self._timer.stop()
        # A log axis cannot show 0 (SGD's rate never is, but a damaged history might say so).
        for curve, series in ((self.batch_curve, self.batches), (self.epoch_curve, self.epochs)):
            keep = series.y > 0
            curve.setData(series.x[keep], series.y[keep])

    def point_count(self) -> int:
        return len(self.batches)


__all__ = ["LearningRatePlot"]
