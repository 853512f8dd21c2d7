"""Pieces every FC-lab dialog shares: the dialog base and plot styling, in the current theme.

Every plot a dialog draws is styled from ``designer.ui.style.current_theme()`` and restyled
when the theme changes (``LabDialog.apply_theme``): background, titles, axes and legends. A
dialog with colours of its own (text items on a plot, a table in rich text) repaints them in
``apply_theme`` too.
"""

from __future__ import annotations

import html

import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from designer.ui.style import FC_COLOUR, current_theme, hex_colour, theme_notifier
from designer.ui.tasks import TaskRunner

#: one colour per model in overlaid plots; the first is the FC colour (the FC-head model).
#: Mid-tones that read on the white and on the near-black plot background alike.
SERIES_COLOURS = (hex_colour(FC_COLOUR), "#3B7DD8", "#2E9E8F", "#8E6CC9", "#6A9F3A", "#C2487A", "#607D8B")
#: one marker per model as well, so that curves on top of each other stay told apart
SERIES_SYMBOLS = ("o", "s", "t", "d", "star", "t1", "p")
#: success and failure in text, per theme (the light theme's dark green is unreadable on black)
GOOD_COLOURS = {"light": "#1e8449", "dark": "#56d364"}


def series_colour(index: int) -> str:
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]


def series_symbol(index: int) -> str:
    return SERIES_SYMBOLS[index % len(SERIES_SYMBOLS)]


def good_colour(theme=None) -> str:
    theme = theme or current_theme()
    return GOOD_COLOURS["dark" if theme.is_dark else "light"]


def style_plot(plot: pg.PlotItem, title: str, bottom: str, left: str) -> pg.PlotItem:
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot._lab_labels = {"title": title, "bottom": bottom, "left": left}
    for axis in ("left", "bottom"):
        plot.getAxis(axis).enableAutoSIPrefix(False)  # "accuracy (x0.001)" reads badly
    theme_plot(plot, current_theme())
    plot.setMenuEnabled(False)
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")
    return plot


def set_plot_title(plot: pg.PlotItem, title: str) -> None:
    """A title in the theme's text colour, kept for when the theme changes."""
    labels = getattr(plot, "_lab_labels", None)
    if labels is not None:
        labels["title"] = title
    plot.setTitle(title, color=hex_colour(current_theme().plot_text), size="10pt" if len(title) > 60 else "11pt")


def theme_plot(plot: pg.PlotItem, theme) -> None:
    """Title, axis labels, ticks and legend of one plot in ``theme``."""
    text, axis_colour = hex_colour(theme.plot_text), hex_colour(theme.plot_axis)
    labels = getattr(plot, "_lab_labels", {})
    if labels.get("title"):
        plot.setTitle(labels["title"], color=text, size="10pt" if len(labels["title"]) > 60 else "11pt")
    for axis in ("left", "bottom"):
        if labels.get(axis):
            plot.setLabel(axis, labels[axis], color=text)
        plot.getAxis(axis).setTextPen(text)
        plot.getAxis(axis).setPen(axis_colour)
    if plot.legend is not None:
        theme_legend(plot.legend, theme)


def theme_legend(legend: pg.LegendItem, theme) -> None:
    legend.setLabelTextColor(theme.plot_text)
    for _sample, label in legend.items:
        label.setText(label.text)  # setLabelTextColor alone repaints nothing already there
    legend.setBrush(pg.mkBrush(theme.legend_fill))
    legend.setPen(pg.mkPen(theme.panel_border))


def add_legend(plot: pg.PlotItem, offset=(-10, -10)) -> pg.LegendItem:
    theme = current_theme()
    return plot.addLegend(offset=offset, labelTextColor=theme.plot_text, brush=pg.mkBrush(theme.legend_fill),
                          pen=pg.mkPen(theme.panel_border))


def change_table(before, after, before_ids, after_ids, theme=None) -> str:
    """Rich text: the blocks a change takes out (``before_ids`` of graph ``before``) beside those
    it puts in (``after_ids`` of ``after``), each with its type, output shape and parameters —
    what a person checks before applying it."""
    from designer.core import analyze
    from designer.core.blocks import format_shape

    theme = theme or current_theme()
    muted = hex_colour(theme.muted_text)

    def rows(graph, ids) -> list[str]:
        analysis = analyze(graph)
        lines = []
        for block_id in ids:
            if block_id not in graph:
                continue
            block, report = graph.block(block_id), analysis.reports.get(block_id)
            shape = format_shape(report.output_shape) if report is not None else "?"
            params = f"{report.params:,}" if report is not None else "?"
            lines.append(f"<b>{html.escape(block_id)}</b> {html.escape(block.type.label)} → {shape}"
                         f" <span style='color:{muted}'>· {params} parameters</span>")
        return lines or [f"<span style='color:{muted}'>nothing</span>"]

    left, right = rows(before, before_ids), rows(after, after_ids)
    return ("<table cellspacing=0 cellpadding=2><tr><th align=left>before (what goes)</th><th width=16></th>"
            "<th align=left>after (what comes)</th></tr>"
            f"<tr><td valign=top>{'<br>'.join(left)}</td><td></td><td valign=top>{'<br>'.join(right)}</td></tr>"
            "</table>")


def muted_label(text: str) -> QLabel:
    """An explanatory line in the theme's muted colour (the style sheet's ``mutedNote``)."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setObjectName("mutedNote")
    return label


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
        self._status_error = False
        self.layout_ = QVBoxLayout(self)
        self.theme = current_theme()
        #: (plot widget, its plot items): restyled with the theme (``themed``)
        self._themed: list[tuple[QWidget, list[pg.PlotItem]]] = []
        theme_notifier().theme_changed.connect(self._on_theme_changed)

    @property
    def document(self):
        return self.lab.window.document

    def themed(self, widget, *plots: pg.PlotItem):
        """Paint ``widget`` (a PlotWidget or GraphicsLayoutWidget) and ``plots`` in the theme from now on."""
        self._themed.append((widget, list(plots)))
        widget.setBackground(self.theme.plot_background)
        for plot in plots:
            theme_plot(plot, self.theme)
        return widget

    def add_themed_plot(self, widget, plot: pg.PlotItem) -> None:
        """A plot made later inside a widget already ``themed`` (one per FC layer, say)."""
        for themed_widget, plots in self._themed:
            if themed_widget is widget:
                plots.append(plot)
        theme_plot(plot, self.theme)

    @Slot(object)
    def _on_theme_changed(self, theme) -> None:
        self.apply_theme(theme)

    def apply_theme(self, theme) -> None:
        """Repaint in ``theme``; dialogs with colours of their own extend this."""
        self.theme = theme
        for widget, plots in self._themed:
            widget.setBackground(theme.plot_background)
            for plot in plots:
                theme_plot(plot, theme)
        self.set_status(self.status_label.text(), self._status_error)

    def set_status(self, text: str, error: bool = False) -> None:
        self._status_error = error
        self.status_label.setStyleSheet(f"color: {hex_colour(self.theme.error)};" if error else "")
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
