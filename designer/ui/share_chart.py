"""The parameter panel's bar chart: each block's share of all parameters.

Its own module so that pyqtgraph is imported only when the chart is made (after the window
is on screen), not while the window starts.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtGui import QBrush

from designer.core import BLOCK_TYPES, FC_TYPES, Analysis
from designer.ui.style import CATEGORY_COLOURS, FC_COLOUR, SHARE_COLOUR, current_theme, theme_notifier


class ShareChart(pg.PlotWidget):
    """Horizontal bars: each parameter-holding block's share of all parameters, in %.

    The x axis is fixed at 0–100 % and the tick labels (block ids) change only when the set
    of blocks does, so an edit re-fills the bar rectangles and repaints nothing else: the
    axes are drawn in Python by pyqtgraph and would cost more than the rest of the panel.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background=current_theme().plot_background)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        plot = self.getPlotItem()
        plot.invertY(True)  # the first block at the top, like the table
        plot.setLabel("bottom", "% of all parameters")
        self.apply_theme(current_theme())
        theme_notifier().theme_changed.connect(self.apply_theme)
        plot.getAxis("left").setStyle(tickLength=0)
        plot.getAxis("bottom").setTicks([[(value, f"{value}") for value in range(0, 101, 20)], []])
        plot.disableAutoRange()
        plot.setXRange(0, 100, padding=0.02)
        self._fc_brush = QBrush(FC_COLOUR)
        self._category_brushes = {category: QBrush(colour) for category, colour in CATEGORY_COLOURS.items()}
        self._default_brush = QBrush(SHARE_COLOUR)
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7, pen=pg.mkPen(None), brush=self._default_brush)
        plot.addItem(self.bars)
        self.block_ids: list[str] = []
        self.shares: list[float] = []
        self._type_ids: list[str] = []

    @Slot(object)
    def apply_theme(self, theme) -> None:
        """Background and axes in ``theme``; the bars keep their colours (FC orange reads on both)."""
        self.setBackground(theme.plot_background)
        plot = self.getPlotItem()
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(theme.plot_axis))
            axis.setTextPen(pg.mkPen(theme.plot_text))
        plot.setLabel("bottom", "% of all parameters", color=theme.plot_text.name())

    def set_analysis(self, analysis: Analysis) -> None:
        reports = [report for report in analysis.reports.values() if report.params]
        block_ids = [report.block_id for report in reports]
        type_ids = [report.type_id for report in reports]
        self.shares = [report.share * 100.0 for report in reports]
        count = len(reports)
        options = {"width": np.asarray(self.shares, dtype=np.float64)}
        if block_ids != self.block_ids or type_ids != self._type_ids:
            self.block_ids, self._type_ids = block_ids, type_ids
            options.update(
                x0=np.zeros(count),
                y=np.arange(count, dtype=np.float64),
                height=0.7,
                brushes=[
                    self._fc_brush if report.type_id in FC_TYPES
                    else self._category_brushes.get(BLOCK_TYPES[report.type_id].category, self._default_brush)
                    for report in reports
                ],
            )
            plot = self.getPlotItem()
            plot.getAxis("left").setTicks([list(enumerate(block_ids)), []])
            plot.setYRange(-0.6, max(count, 1) - 0.4, padding=0)
        self.bars.setOpts(**options)
