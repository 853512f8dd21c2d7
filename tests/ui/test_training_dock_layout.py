"""The Training dock as a first-time user sees it at the default 1400×900 (issue 14, items c, i, n):
progress and result above the fold, feedback while the training process starts, curves whose
legend covers nothing and whose axis reads in epochs, results marked stale after an edit, and
the diagnosis box readable in the dark theme.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication

from designer.training import service
from designer.ui.style import DARK, LIGHT, set_colour_scheme

RUN_TIMEOUT_MS = 120_000


def fully_visible(widget, within) -> bool:
    """``widget`` is shown whole, inside ``within``'s visible area (not scrolled away, not clipped)."""
    if not widget.isVisible():
        return False
    if widget.visibleRegion().boundingRect().size() != widget.size():
        return False
    top_left = widget.mapTo(within, QPoint(0, 0))
    return within.rect().contains(QRect(top_left, widget.size()))


@pytest.fixture
def dock_window(main_window, qtbot):
    panel = main_window.training_panel
    panel.dock.raise_()
    panel.settings.epochs_spin.setValue(2)
    panel.settings.batch_size_spin.setValue(500)
    panel.settings.set_device("cpu")
    qtbot.waitUntil(lambda: panel.isVisible())
    yield main_window
    assert panel.shutdown(5000)


def run_to_the_end(qtbot, panel) -> None:
    assert panel.start(), panel.status_label.text()
    qtbot.waitUntil(lambda: not panel.running, timeout=RUN_TIMEOUT_MS)


def test_at_1400_by_900_progress_and_test_accuracy_are_visible_without_scrolling(dock_window, qtbot):
    window = dock_window
    assert (window.width(), window.height()) == (1400, 900)
    panel = window.training_panel
    run_to_the_end(qtbot, panel)
    QApplication.processEvents()

    result = panel.last_outcome.result
    assert result.status == "finished" and result.test_accuracy is not None
    label = panel.progress.result_label
    assert label.text() == f"Test accuracy {result.test_accuracy:.2%}"
    for widget in (panel.start_button, panel.stop_button, panel.progress.epoch_progress,
                   panel.progress.run_progress, label, panel.status_label):
        assert fully_visible(widget, panel.dock), widget
    assert panel.settings_area.verticalScrollBar().value() == 0  # nothing had to be scrolled to see them
    assert panel.progress.run_progress.value() == panel.progress.run_progress.maximum()


def test_while_the_training_process_starts_a_busy_bar_says_so(dock_window, qtbot):
    panel = dock_window.training_panel
    service.shutdown_idle()  # the first run of a session: the process must start and load PyTorch
    assert panel.start()
    bar = panel.progress.epoch_progress
    assert panel.progress.busy and (bar.minimum(), bar.maximum()) == (0, 0)  # Qt's moving "busy" bar
    assert panel.progress.speed_label.text().startswith("Starting the training process… (loading PyTorch")
    assert fully_visible(panel.progress.speed_label, panel.dock)
    qtbot.waitUntil(lambda: panel.run_info is not None, timeout=RUN_TIMEOUT_MS)
    assert not panel.progress.busy and bar.maximum() == 1000
    qtbot.waitUntil(lambda: not panel.running, timeout=RUN_TIMEOUT_MS)

    # The next run finds the process waiting: no "starting" message, a short "Preparing".
    assert panel.start()
    assert panel.progress.speed_label.text().startswith("Preparing ")
    qtbot.waitUntil(lambda: not panel.running, timeout=RUN_TIMEOUT_MS)
    assert not panel.progress.busy


def test_the_legend_sits_outside_both_plots_and_the_curves_are_bigger_than_it(dock_window, qtbot):
    plots = dock_window.training_panel.plots
    QApplication.processEvents()
    legend = plots.legend.sceneBoundingRect()
    assert [label.text for _sample, label in plots.legend.items] == [
        "training (batches)", "smoothed", "training (epochs)", "validation"]
    for plot in (plots.loss_plot, plots.accuracy_plot):
        area = plot.getViewBox().sceneBoundingRect()
        assert not area.intersects(legend), "the legend covers the curves"
        assert area.height() >= 2.5 * legend.height()
    assert plots.loss_plot.getViewBox().sceneBoundingRect().height() >= 140


def test_the_x_axis_reads_in_epochs_early_in_a_run(dock_window, qtbot):
    """Mid-run the axis once read "epoch (x0.001)" with ticks at 200 and 400."""
    plots = dock_window.training_panel.plots
    plots.reset(total_epochs=3)
    plots._set_ranges(0.2, 2.0)  # a fifth of an epoch in
    QApplication.processEvents()
    for plot in (plots.loss_plot, plots.accuracy_plot):
        axis = plot.getAxis("bottom")
        assert axis.labelString().count("epoch") == 1 and "x0.001" not in axis.labelString()
        assert not axis.autoSIPrefix
        low, high = plot.getViewBox().viewRange()[0]
        assert high < 0.6
        shown = [(spacing, [value for value in values if low <= value <= high])
                 for spacing, values in axis.tickValues(low, high, axis.width())]
        strings = [text for spacing, values in shown for text in axis.tickStrings(values, axis.scale, spacing)]
        assert strings and all(0 <= float(text) <= 0.6 for text in strings), strings  # "0.2", never "200"


def test_results_are_marked_stale_when_the_design_changes_and_not_when_a_block_moves(dock_window, qtbot):
    window = dock_window
    panel = window.training_panel
    run_to_the_end(qtbot, panel)
    results = panel.results
    assert not results.stale
    assert "Finished: finished" not in results.summary.text() and "Finished 2 epochs" in results.summary.text()

    old = window.document.graph.block("fc1").position
    window.document.move_blocks({"fc1": (old, (old[0] + 40.0, old[1] + 40.0))})
    qtbot.wait(250)
    assert not results.stale, "moving a block does not change the network"

    window.document.set_param("fc1", "out_features", 100)
    qtbot.waitUntil(lambda: results.stale, timeout=2000)
    panel.tabs.setCurrentIndex(1)
    assert fully_visible(results.stale_banner, panel.dock)
    assert results.stale_banner.text().startswith("These results are for the design as it was trained; "
                                                   "the design has changed since")
    window.named_actions["undo"].trigger()
    qtbot.waitUntil(lambda: not results.stale, timeout=2000)  # back to the design that was trained


def test_the_diagnosis_and_the_notice_follow_the_dark_theme(dock_window, styled, qtbot):
    from tests.ui.test_theme import contrast

    panel = dock_window.training_panel
    run_to_the_end(qtbot, panel)
    view = panel.diagnosis_view
    try:
        set_colour_scheme(styled, "dark")
        QApplication.processEvents()
        assert DARK.panel_fill.name() in view.label.styleSheet() and DARK.text.name() in view.label.styleSheet()
        verdict = view.verdict_colour(panel.diagnosis.verdict)
        from PySide6.QtGui import QColor

        assert contrast(QColor(verdict), DARK.panel_fill) >= 4.5
        assert verdict in view.text()
        notice = panel.fit_warning
        assert DARK.notice_fill.name() in notice.styleSheet()
        assert contrast(DARK.text, DARK.notice_fill) >= 7
        set_colour_scheme(styled, "light")
        QApplication.processEvents()
        assert LIGHT.panel_fill.name() in view.label.styleSheet()
        assert contrast(QColor(view.verdict_colour(panel.diagnosis.verdict)), LIGHT.panel_fill) >= 4.5
    finally:
        set_colour_scheme(styled, "light")
