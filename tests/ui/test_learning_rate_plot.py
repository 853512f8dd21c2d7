"""The Training dock's learning-rate plot: shown for a schedule, hidden for a constant rate,
fed per batch and per epoch from the run, and restored from a loaded checkpoint."""

from __future__ import annotations

import math

import numpy as np
import pytest


def _rates(panel) -> list[float]:
    return [metrics.learning_rate for metrics in panel.history]


@pytest.mark.parametrize("schedule, expected", [
    ("step:1:0.5", [0.01, 0.005, 0.0025]),
    ("cosine", [0.01 * (1 + math.cos(math.pi * epoch / 3)) / 2 for epoch in range(3)]),
])
def test_a_schedule_changes_the_historys_rate_and_the_plot_has_its_points(qtbot, make_panel, tiny, finish_run,
                                                                         tmp_path, schedule, expected):
    panel = make_panel(tiny(), epochs=3, batch_size=400, confirm_discard_changes=lambda: True)
    panel.settings.optimizer_combo.setCurrentIndex(panel.settings.optimizer_combo.findData("sgd"))
    panel.settings.learning_rate_spin.setValue(0.01)
    panel.settings.set_schedule(schedule)
    assert panel.config().schedule == schedule
    assert panel.start()
    plot = panel.learning_rate_plot
    # (the curves are laid out at the event loop's next turn when the run starts at once)
    qtbot.waitUntil(plot.isVisible, timeout=2000)  # a schedule's rate changes: the plot shows while it runs
    finish_run(panel)
    assert panel.last_outcome.result.status == "finished", panel.last_outcome.result.message
    assert _rates(panel) == pytest.approx(expected)

    plot.refresh()
    epoch_x, epoch_y = plot.epoch_curve.getData()
    assert list(epoch_x) == [1.0, 2.0, 3.0]
    # the curve's y values are what the axis shows (log10 of the rate on a log axis)
    shown = 10 ** np.asarray(epoch_y) if plot.plot_item.ctrl.logYCheck.isChecked() else np.asarray(epoch_y)
    assert list(shown) == pytest.approx(expected)
    batch_x, batch_y = plot.batch_curve.getData()
    batches_per_epoch = panel.run_info.batches_per_epoch
    assert len(batch_x) == plot.point_count() == 3 * batches_per_epoch
    batch_rates = 10 ** np.asarray(batch_y) if plot.plot_item.ctrl.logYCheck.isChecked() else np.asarray(batch_y)
    # every batch of an epoch used that epoch's rate (these schedules step per epoch)
    assert list(batch_rates[:batches_per_epoch]) == pytest.approx([expected[0]] * batches_per_epoch)
    assert list(batch_rates[-batches_per_epoch:]) == pytest.approx([expected[-1]] * batches_per_epoch)
    assert batch_x[0] > 0 and batch_x[-1] == pytest.approx(3.0)

    # A loaded checkpoint shows its run's rates again, also after a run without a schedule hid the plot.
    assert panel.save_checkpoint(tmp_path / "scheduled.pt")
    panel.settings.set_schedule("none")
    panel.settings.epochs_spin.setValue(1)  # its x range (0…1) must not hide the loaded run's epochs
    assert panel.start()
    assert not plot.isVisible(), "a constant rate: no plot taking room from the curves"
    finish_run(panel)
    assert len(set(_rates(panel))) == 1 and not plot.isVisible()
    assert panel.load_checkpoint(tmp_path / "scheduled.pt")
    assert plot.isVisible()
    plot.refresh()
    epoch_x, epoch_y = plot.epoch_curve.getData()
    assert list(epoch_x) == [1.0, 2.0, 3.0] and plot.point_count() == 0
    shown = 10 ** np.asarray(epoch_y) if plot.plot_item.ctrl.logYCheck.isChecked() else np.asarray(epoch_y)
    assert list(shown) == pytest.approx(expected)
    view_x = plot.plot_item.viewRange()[0]
    assert view_x[0] <= 1.0 and view_x[1] >= 3.0, "the loaded run's points are in view"


def test_a_one_cycle_schedule_is_plotted_batch_by_batch(qtbot, make_panel, tiny, finish_run):
    panel = make_panel(tiny(), epochs=2, batch_size=400)
    panel.settings.learning_rate_spin.setValue(0.01)
    panel.settings.set_schedule("onecycle")
    assert panel.start()
    finish_run(panel)
    plot = panel.learning_rate_plot
    plot.refresh()
    _x, y = plot.batch_curve.getData()
    rates = 10 ** np.asarray(y) if plot.plot_item.ctrl.logYCheck.isChecked() else np.asarray(y)
    peak = int(np.argmax(rates))
    # up over the first 30% of the steps, then down: a rate per batch, not per epoch
    assert 0 < peak < len(rates) - 1 and rates[peak] == pytest.approx(0.01, rel=0.05)
    assert np.all(np.diff(rates[:peak + 1]) > 0) and np.all(np.diff(rates[peak:]) < 0)
    assert rates[0] == pytest.approx(0.01 / 25, rel=0.05)
