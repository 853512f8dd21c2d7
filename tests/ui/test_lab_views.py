"""The FC lab as a new user meets it (issue 14, items d, e, l, n): previews that change nothing
until applied, a shift probe whose every model can be told apart, sweep labels that stay
readable, and lab windows in the dark theme.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools

from PySide6.QtWidgets import QApplication

from designer.core import to_document
from designer.lab.sweep import SweepRun
from designer.ui.lab.label_placement import Box, place_labels
from designer.ui.style import DARK, set_colour_scheme

RUN_TIMEOUT_MS = 120_000


def wait_idle(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=RUN_TIMEOUT_MS)


def train_in_dock(qtbot, window):
    panel = window.training_panel
    assert panel.start()
    qtbot.waitUntil(lambda: not panel.running, timeout=RUN_TIMEOUT_MS)
    assert panel.trained is not None
    return panel.trained


# ---------------------------------------------------------------------------------- d: previews


def test_opening_fc_to_conv_and_gap_changes_nothing_and_a_sweep_then_trains_the_design_shown(lab_window, qtbot):
    window = lab_window
    document = window.document
    before, steps = to_document(document.graph), document.undo_stack.count()
    for name in ("lab_fc_to_conv", "lab_gap"):
        window.named_actions[name].trigger()
        dialog = window.fc_lab.dialogs[name.removeprefix("lab_")]
        wait_idle(qtbot, dialog)
        assert dialog.apply_button.isEnabled(), dialog.status_text()
        assert "Preview" in dialog.status_text()
    assert to_document(document.graph) == before and document.undo_stack.count() == steps
    assert not document.modified

    window.named_actions["lab_sweep"].trigger()
    sweep = window.fc_lab.dialogs["sweep"]
    sweep.set_settings(depths=(1,), widths=(8,), epochs=1)
    started = []
    sweep.training.start = lambda requests: started.extend(requests) or False  # look, do not train
    sweep.start_sweep()
    assert started and started[0].design["blocks"][0] == before["blocks"][0]
    kept = {block["id"] for block in started[0].design["blocks"]}
    assert {"conv1", "conv2"} <= kept and "gap" not in kept  # the FC design the person sees, re-headed


def test_apply_is_one_undo_step_and_refuses_a_design_changed_since_the_preview(lab_window, qtbot):
    window = lab_window
    document = window.document
    window.named_actions["lab_gap"].trigger()
    dialog = window.fc_lab.dialogs["gap"]
    wait_idle(qtbot, dialog)
    document.set_param("fc1", "out_features", 100)  # an edit after the preview
    assert not dialog.apply(), "applied a preview of another design"
    assert "changed since the preview" in dialog.status_text() or dialog.runner.running
    wait_idle(qtbot, dialog)
    assert document.graph.block("fc1").params["out_features"] == 100  # the edit is still there
    steps = document.undo_stack.count()
    assert dialog.apply()
    assert document.undo_stack.count() == steps + 1
    assert "GAP" in [block.type_id for block in document.graph]
    window.named_actions["undo"].trigger()
    assert document.graph.block("fc1").params["out_features"] == 100


# ---------------------------------------------------------------------------------- e: shift probe


def test_every_model_of_the_shift_probe_is_named_and_told_apart(lab_window, qtbot):
    window = lab_window
    trained = train_in_dock(qtbot, window)
    models = window.fc_lab.models
    # The same network under another name (one entry, both names), and an exact copy of it (its own
    # entry, same curve): what made "4 models, 2 curves" before.
    models.add(dataclasses.replace(trained, label="kept by the lab"))
    models.add(dataclasses.replace(trained, label="a copy", module=copy.deepcopy(trained.module)))
    shift = window.fc_lab.dialog("shift")
    assert shift.samples_spin.maximum() == 1000, "the built-in sample has 1,000 test images"
    shift.samples_spin.setValue(300)
    shift.shift_spin.setValue(2)
    window.named_actions["lab_shift"].trigger()
    wait_idle(qtbot, shift)

    labels = shift.legend_labels()
    assert len(labels) == len(shift.curves) == 2, labels
    assert labels[0].endswith("(training dock) = kept by the lab")
    assert labels[1] == f"a copy (same curve as {shift.results[0]['label']})"
    assert "(same curve as" in shift.table_label.text()
    curves = list(shift.curves.values())
    assert len({curve.opts["symbol"] for curve in curves}) == 2
    assert len({curve.opts["pen"].color().name() for curve in curves}) == 2
    assert curves[0].opts["symbolSize"] > curves[1].opts["symbolSize"]  # the one beneath still shows
    legend = shift.legend.sceneBoundingRect()
    assert not shift.plot.getViewBox().sceneBoundingRect().intersects(legend)


def test_the_shift_probe_offers_no_more_test_images_than_the_dataset_has(lab_window):
    shift = lab_window.fc_lab.dialog("shift")
    assert shift.samples_spin.maximum() == 1000
    shift.samples_spin.setValue(5000)
    assert shift.samples_spin.value() == 1000


# ---------------------------------------------------------------------------------- l: sweep labels


def typical_sweep() -> list[SweepRun]:
    """Six variants as a 1-epoch sweep of LeNet-5 gives them: close accuracies, close times."""
    figures = [("0× ReLU", 2_570, 0.842, 2.1), ("1×32 ReLU", 13_194, 0.871, 2.3),
               ("1×128 ReLU", 52_874, 0.882, 2.4), ("2×32 ReLU", 14_250, 0.868, 2.4),
               ("2×128 ReLU", 69_386, 0.884, 2.6), ("3×128 ReLU", 85_898, 0.879, 2.8)]
    return [SweepRun(label, parameters, parameters * 2, accuracy, seconds)
            for label, parameters, accuracy, seconds in figures]


def test_sweep_labels_stay_inside_the_plots_and_never_overlap(lab_window, qtbot):
    window = lab_window
    window.named_actions["lab_sweep"].trigger()
    dialog = window.fc_lab.dialogs["sweep"]
    qtbot.waitExposed(dialog)
    dialog.runs = typical_sweep()
    dialog._refresh()
    for _ in range(5):
        QApplication.processEvents()
    for key in ("parameters", "seconds"):
        boxes, area = dialog.label_boxes(key)
        assert len(boxes) == 6
        for box in boxes:
            assert area.contains(box), f"{key}: a label is cut at the plot's edge"
        for first, second in itertools.combinations(boxes, 2):
            assert not first.intersects(second), f"{key}: two labels overlap"


def test_the_placement_keeps_labels_off_each_other_off_the_points_and_inside():
    bounds = Box(0, 0, 300, 200)
    points = [(290.0, 100.0), (290.0, 108.0), (150.0, 5.0), (10.0, 195.0), (150.0, 100.0), (152.0, 103.0)]
    sizes = [(70.0, 16.0)] * len(points)
    boxes = place_labels(points, sizes, bounds, radius=5)
    for box in boxes:
        assert box.inside(bounds)
    for first, second in itertools.combinations(boxes, 2):
        assert first.overlap(second) == 0
    markers = [Box(x - 5, y - 5, 10, 10) for x, y in points]
    assert all(box.overlap(marker) == 0 for box in boxes for marker in markers)


# ---------------------------------------------------------------------------------- n: dark lab windows


def test_the_lab_windows_follow_the_dark_theme(lab_window, styled, qtbot):
    from tests.ui.test_theme import contrast, dark

    window = lab_window
    window.named_actions["lab_gap"].trigger()
    window.named_actions["lab_sweep"].trigger()
    dialogs = [window.fc_lab.dialog(name) for name in ("gap", "sweep", "shift", "fc_to_conv", "neurons")]
    wait_idle(qtbot, dialogs[0])
    dialogs[1].runs = typical_sweep()
    dialogs[1]._refresh()
    try:
        set_colour_scheme(styled, "dark")
        QApplication.processEvents()
        for dialog in dialogs:
            for widget, plots in dialog._themed:
                assert dark(widget.backgroundBrush().color()), type(dialog).__name__
                for plot in plots:
                    axis = plot.getAxis("left").textPen().color()
                    assert contrast(axis, DARK.plot_background) >= 7, type(dialog).__name__
        gap = dialogs[0]
        assert "color: #56d364" in gap.saving_label.styleSheet()
        sweep_labels = [text for text, _point in dialogs[1].labels["parameters"].values()]
        assert sweep_labels and all(text.color.name() == DARK.plot_text.name() for text in sweep_labels)
        assert gap.status_label.styleSheet() == "" or DARK.error.name() in gap.status_label.styleSheet()
    finally:
        set_colour_scheme(styled, "light")
