"""Live loss and accuracy curves (pyqtgraph).

Every curve is created once and then only fed with ``setData`` (DESIGN.md 9): points go
into growing float64 buffers, the curves get views of them, ``clipToView`` and automatic
downsampling keep long runs cheap to draw. x is in epochs for every curve, so a batch at
the middle of epoch 3 sits at 2.5 and the epoch-3 averages at 3.

Drawing is what costs the GUI thread most, so new points reach each plot at most
``REFRESH_PER_SECOND`` times a second, the two plots take turns (each turn is one plot's
update and repaint, so the event loop is never held for both at once), and the axes move in
steps instead of auto-ranging on every update (each new range re-lays the axes).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem

from designer.training.records import EpochMetrics
from designer.ui.style import current_theme, theme_notifier

TRAIN_COLOUR = "#1f77b4"
VALIDATION_COLOUR = "#d62728"
BEST_COLOUR = "#2ca02c"
REFRESH_PER_SECOND = 4  # per plot


class GrowingSeries:
    """Appendable float64 x/y arrays with amortised O(1) appends."""

    def __init__(self, capacity: int = 1024) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def extend(self, xs, ys) -> None:
        count = len(xs)
        needed = self._size + count
        if needed > self._x.shape[0]:
            capacity = max(needed, 2 * self._x.shape[0])
            for name in ("_x", "_y"):
                grown = np.empty(capacity, dtype=np.float64)
                grown[:self._size] = getattr(self, name)[:self._size]
                setattr(self, name, grown)
        self._x[self._size:needed] = xs
        self._y[self._size:needed] = ys
        self._size = needed

    def clear(self) -> None:
        self._size = 0

    @property
    def x(self) -> np.ndarray:
        return self._x[:self._size]

    @property
    def y(self) -> np.ndarray:
        return self._y[:self._size]


def _faint(colour: str, alpha: int = 70) -> QColor:
    faint = QColor(colour)
    faint.setAlpha(alpha)
    return faint


class TrainingPlots(pg.GraphicsLayoutWidget):
    """Two plots side by side: loss and accuracy, training and validation; one legend under both,
    outside the plots, so it never hides a curve."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(180)
        self.ci.layout.setContentsMargins(2, 2, 2, 2)
        self.ci.layout.setVerticalSpacing(0)
        # No titles: the axes say what is plotted, and the dock's height goes to the curves.
        self.loss_plot = self.addPlot(row=0, col=0)
        self.accuracy_plot = self.addPlot(row=0, col=1)
        # Both plots draw the same four kinds of line in the same styles: one legend under both names them.
        # Two columns: one row of four was wider than the plots at 1400×900 and pushed the
        # accuracy plot partly out of sight.
        self.legend = pg.LegendItem(colCount=2, horSpacing=20, verSpacing=-6)
        self.legend.layout.setContentsMargins(4, 0, 4, 0)
        self.addItem(self.legend, row=1, col=0, colspan=2)
        self.series: dict[str, GrowingSeries] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.best_lines: list[pg.InfiniteLine] = []
        for plot, quantity, y_label in ((self.loss_plot, "loss", "cross-entropy"),
                                        (self.accuracy_plot, "accuracy", "accuracy")):
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            for axis in ("left", "bottom"):
                # Never "epoch (x0.001)" with ticks at 200 and 400 early in a run: epochs are
                # epochs, fractions of one included.
                plot.getAxis(axis).enableAutoSIPrefix(False)
                # The axes (and the grid they draw across the plot) change only when the range
                # steps; painting them from a cached pixmap keeps the per-refresh Python work small.
                plot.getAxis(axis).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            plot.setMenuEnabled(False)
            self._add_curve(plot, f"batch_{quantity}", "training (batches)",
                            pen=pg.mkPen(_faint(TRAIN_COLOUR), width=1))
            self._add_curve(plot, f"smoothed_{quantity}", "smoothed",
                            pen=pg.mkPen(TRAIN_COLOUR, width=2))
            self._add_curve(plot, f"train_{quantity}", "training (epochs)",
                            pen=pg.mkPen(TRAIN_COLOUR, width=1, style=Qt.DashLine),
                            symbol="o", symbolSize=7, symbolBrush=TRAIN_COLOUR, symbolPen="w")
            self._add_curve(plot, f"validation_{quantity}", "validation",
                            pen=pg.mkPen(VALIDATION_COLOUR, width=2),
                            symbol="s", symbolSize=7, symbolBrush=VALIDATION_COLOUR, symbolPen="w")
            line = pg.InfiniteLine(angle=90, movable=False,
                                   pen=pg.mkPen(BEST_COLOUR, width=1.5, style=Qt.DashLine),
                                   label="best", labelOpts={"position": 0.35 if quantity == "loss" else 0.62,
                                                             "color": BEST_COLOUR})
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
            self.best_lines.append(line)
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.getViewBox().disableAutoRange()
        self.accuracy_plot.setYRange(0, 1, padding=0.02)
        self.best_epoch: int | None = None
        self.total_epochs: float | None = None  # the x axis never needs to go further
        self._x_shown = 0.0
        self._loss_shown = 0.0
        self._x_seen = 0.0
        self._loss_seen = 0.0
        self._dirty: set[str] = set()
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(1000 // (2 * REFRESH_PER_SECOND))  # one plot per turn
        self._next_quantity = "loss"
        self._refresh_timer.timeout.connect(self._on_refresh_timer_timeout)
        self._set_ranges(1.0, 1.0)
        self.apply_theme(current_theme())
        theme_notifier().theme_changed.connect(self.apply_theme)

    @Slot(object)
    def apply_theme(self, theme) -> None:
        """Background, titles, axes, legends and the best-epoch label in ``theme``; the curves keep
        their colours (chosen to read on white and on near-black)."""
        self.setBackground(theme.plot_background)
        text = theme.plot_text.name()
        for plot, y_label in ((self.loss_plot, "loss"), (self.accuracy_plot, "accuracy")):
            plot.setLabel("bottom", "epoch", color=text)
            plot.setLabel("left", y_label, color=text)
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setTextPen(pg.mkPen(theme.plot_text))
                plot.getAxis(axis).setPen(pg.mkPen(theme.plot_axis))
        self.legend.setLabelTextColor(theme.plot_text)
        for _sample, label in self.legend.items:
            label.setText(label.text)  # setLabelTextColor alone repaints nothing already there
        for line in self.best_lines:
            line.label.fill = pg.mkBrush(theme.legend_fill)
            line.label.update()

    def _add_curve(self, plot, key: str, name: str, **style) -> None:
        self.series[key] = GrowingSeries()
        curve = plot.plot(**style)
        if plot is self.loss_plot:
            self.legend.addItem(curve, name)
        curve.setClipToView(True)
        curve.setDownsampling(auto=True, method="peak")
        self.curves[key] = curve

    # ------------------------------------------------------------------ feeding

    def reset(self, total_epochs: float | None = None) -> None:
        """Empty every curve for a new run. (Not ``clear``: GraphicsLayoutWidget's ``clear``
        removes the plots themselves.)"""
        for key, series in self.series.items():
            series.clear()
            self.curves[key].setData(series.x, series.y)
        self._dirty.clear()
        self._refresh_timer.stop()
        self.total_epochs = total_epochs
        self._x_seen = self._loss_seen = 0.0
        self._set_ranges(1.0, 1.0)
        self.set_best_epoch(None)

    def add_batches(self, points) -> None:
        """``points``: a BatchPoints (designer.training.run.events)."""
        for quantity in ("loss", "accuracy"):
            self._extend(f"batch_{quantity}", points.x, getattr(points, quantity))
            self._extend(f"smoothed_{quantity}", points.x, getattr(points, f"smoothed_{quantity}"))

    def add_epoch(self, metrics: EpochMetrics) -> None:
        x = (float(metrics.epoch),)
        self._extend("train_loss", x, (metrics.train_loss,))
        self._extend("train_accuracy", x, (metrics.train_accuracy,))
        if metrics.validation_loss is not None:
            self._extend("validation_loss", x, (metrics.validation_loss,))
            self._extend("validation_accuracy", x, (metrics.validation_accuracy,))

    def _extend(self, key: str, xs, ys) -> None:
        self.series[key].extend(xs, ys)
        self._x_seen = max(self._x_seen, float(xs[-1]))
        if key.endswith("loss"):
            finite = [value for value in ys if math.isfinite(value)]
            if finite:
                self._loss_seen = max(self._loss_seen, max(finite))
        self._dirty.add(key)
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    @Slot()
    def _on_refresh_timer_timeout(self) -> None:
        """One plot's turn: the one after the last, unless only the other has new points."""
        for _ in range(2):
            quantity = self._next_quantity
            self._next_quantity = "accuracy" if quantity == "loss" else "loss"
            keys = [key for key in self._dirty if key.endswith(quantity)]
            if keys:
                self._update_curves(keys)
                break
        if self._dirty:
            self._refresh_timer.start()

    def refresh(self) -> None:
        """Hand every new point to the curves now (normally the refresh timer does it, in turns)."""
        self._refresh_timer.stop()
        self._update_curves(list(self._dirty))

    def _update_curves(self, keys) -> None:
        for key in keys:
            series = self.series[key]
            # The trainer stops on a non-finite loss, so the values need no finiteness check.
            self.curves[key].setData(series.x, series.y, skipFiniteCheck=True)
            self._dirty.discard(key)
        self._set_ranges(self._x_seen, self._loss_seen)

    def _set_ranges(self, x_seen: float, loss_seen: float) -> None:
        """Grow the axes in steps (powers of two), so they rarely move."""
        x_limit = 2.0 ** math.ceil(math.log2(max(x_seen, 0.25) * 1.02))
        if self.total_epochs:
            x_limit = min(x_limit, float(self.total_epochs))
        if x_limit != self._x_shown:
            self._x_shown = x_limit
            for plot in (self.loss_plot, self.accuracy_plot):
                plot.setXRange(0.0, x_limit, padding=0.02)
        loss_limit = 2.0 ** math.ceil(math.log2(max(loss_seen, 0.125) * 1.05))
        if loss_limit != self._loss_shown:
            self._loss_shown = loss_limit
            self.loss_plot.setYRange(0.0, loss_limit, padding=0.02)

    def set_best_epoch(self, epoch: int | None) -> None:
        self.best_epoch = epoch
        for line in self.best_lines:
            line.setVisible(epoch is not None)
            if epoch is not None:
                line.setValue(float(epoch))
                line.label.setFormat(f"best: epoch {epoch}")

    def point_count(self, key: str = "batch_loss") -> int:
        return len(self.series[key])

    # ------------------------------------------------------------------ export

    def export_image(self, path: str) -> None:
        """PNG (pyqtgraph's ImageExporter, at twice the screen size) or SVG, by the file's suffix."""
        self.refresh()
        if str(path).lower().endswith(".svg"):
            self._export_svg(str(path))
            return
        from pyqtgraph import exporters

        exporter = exporters.ImageExporter(self.ci)
        exporter.parameters()["width"] = max(1200, int(self.width() * 2))
        exporter.export(str(path))

    def _export_svg(self, path: str) -> None:
        # pyqtgraph's SVGExporter fails on the paths Qt 6 writes for curve symbols
        # ("not enough values to unpack"), so the scene is painted into Qt's own generator.
        from PySide6.QtCore import QRectF, QSize
        from PySide6.QtGui import QPainter
        from PySide6.QtSvg import QSvgGenerator

        source = self.ci.sceneBoundingRect()
        generator = QSvgGenerator()
        generator.setFileName(path)
        generator.setSize(QSize(int(source.width()), int(source.height())))
        generator.setViewBox(QRectF(0, 0, source.width(), source.height()))
        generator.setTitle("Training curves")
        painter = QPainter(generator)
        try:
            self.scene().render(painter, QRectF(0, 0, source.width(), source.height()), source)
        finally:
            painter.end()


__all__ = ["GrowingSeries", "TrainingPlots"]
