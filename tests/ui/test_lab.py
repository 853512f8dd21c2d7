"""The FC lab menu: each of the five experiments triggered from the window, as a user would.

Runs are tiny (the built-in MNIST sample, LeNet-5, one epoch, big batches), so the whole
file takes well under a minute once torch has loaded.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys

from designer.core.paths import TEMPLATES

RUN_TIMEOUT_MS = 120_000


def wait_idle(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=RUN_TIMEOUT_MS)


def train_in_dock(qtbot, window) -> None:
    panel = window.training_panel
    assert panel.start()
    qtbot.waitUntil(lambda: not panel.running, timeout=RUN_TIMEOUT_MS)
    assert panel.trained is not None


def types_of(window) -> list[str]:
    return [block.type_id for block in window.document.graph]


def test_lab_menu_lists_five_experiments_and_does_not_load_torch():
    code = ("import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
            "from PySide6.QtWidgets import QApplication; app = QApplication([])\n"
            "from designer.ui.main_window import MainWindow\n"
            "from designer.ui.lab import install_lab\n"
            "window = MainWindow(restore_layout=False); lab = install_lab(window)\n"
            "assert lab is window.fc_lab\n"
            "print(len(lab.menu.actions()), 'torch' in sys.modules)\n")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=str(TEMPLATES.parent.parent))
    assert output.stdout.split()[-2:] == ["6", "False"], output.stderr  # five actions and one separator


def test_fc_to_conv_keeps_parameters_and_outputs_and_draws_a_score_map(lab_window, qtbot):
    window = lab_window
    before = window.document.analysis.total_params
    window.named_actions["lab_fc_to_conv"].trigger()
    dialog = window.fc_lab.dialogs["fc_to_conv"]
    assert dialog.isVisible()
    wait_idle(qtbot, dialog)

    # A preview first: the design is untouched until Apply (issue 14d).
    assert types_of(window).count("FC") == 3, dialog.status_text()
    assert "Preview" in dialog.status_text() and dialog.apply_button.isEnabled()
    assert f"{before:,} before → {before:,} after (identical)" in dialog.params_label.text()
    changes = dialog.changes_label.text()
    assert "fc1</b> FC → 120" in changes and "fc1</b> Conv → 120×1×1" in changes, changes
    dialog.apply_button.click()
    assert "FC" not in types_of(window), dialog.status_text()
    assert window.document.analysis.total_params == before
    difference = float(dialog.difference_label.text().split("= ")[1].split()[0])
    assert difference < 1e-4
    assert "fresh initialisation" in dialog.weights_label.text()
    # LeNet-5 on six digits side by side (28×168): one score column every 4 pixels.
    assert len(dialog.predicted_classes()) == (6 * 28 - 28) // 4 + 1
    assert dialog.score_item.image is not None

    window.named_actions["undo"].trigger()
    assert types_of(window).count("FC") == 3


def test_fc_to_conv_carries_the_trained_weights(lab_window, qtbot):
    window = lab_window
    train_in_dock(qtbot, window)
    window.named_actions["lab_fc_to_conv"].trigger()
    dialog = window.fc_lab.dialogs["fc_to_conv"]
    wait_idle(qtbot, dialog)
    assert "trained weights were carried over" in dialog.weights_label.text()
    assert float(dialog.difference_label.text().split("= ")[1].split()[0]) < 1e-4
    assert not any("fully convolutional" in model.label for model in window.fc_lab.models.all())
    assert dialog.apply()
    # The converted network with its weights is now a model the probes can use.
    assert any("fully convolutional" in model.label for model in window.fc_lab.models.all())


def test_gap_swap_side_by_side_run_and_shift_probe(lab_window, qtbot):
    window = lab_window
    before = window.document.analysis.total_params
    window.named_actions["lab_gap"].trigger()
    dialog = window.fc_lab.dialogs["gap"]
    wait_idle(qtbot, dialog)
    assert types_of(window).count("FC") == 3 and "GAP" not in types_of(window), "the preview changed the design"
    assert "gap</b> GAP → 16" in dialog.changes_label.text() and "fc1</b> FC → 120" in dialog.changes_label.text()
    assert dialog.apply()
    assert "GAP" in types_of(window) and types_of(window).count("FC") == 1, dialog.status_text()
    after = window.document.analysis.total_params
    assert after < before
    assert dialog.params_label.text().startswith(f"{before:,} → {after:,}")
    assert f"{100 * (before - after) / before:.1f}%" in dialog.saving_label.text()

    # Choosing the other head redoes the swap from the original FC head.
    dialog.mode_combo.setCurrentIndex(dialog.mode_combo.findData("conv1x1_gap"))
    wait_idle(qtbot, dialog)
    assert types_of(window)[-2:] == ["GAP", "FC"], "a new preview does not change the design"
    assert dialog.apply()
    assert types_of(window)[-2:] == ["Conv2d", "GAP"]
    window.named_actions["undo"].trigger()
    window.named_actions["undo"].trigger()
    assert types_of(window).count("FC") == 3

    # The design changed since the preview (two undos): a side-by-side run is of the design shown,
    # so it first previews that design again.
    assert not dialog.start_side_by_side()
    wait_idle(qtbot, dialog)
    assert dialog.start_side_by_side()
    wait_idle(qtbot, dialog)
    assert dialog.trained_labels and len(dialog.trained_labels) == 2, dialog.status_text()
    assert all(dialog.curve_points(label) == 1 for label in dialog.trained_labels)
    assert "test accuracy" in dialog.results_label.text()

    shift = window.fc_lab.dialog("shift")
    shift.samples_spin.setValue(300)
    shift.shift_spin.setValue(2)
    window.named_actions["lab_shift"].trigger()
    assert shift.isVisible() and shift.runner.running
    wait_idle(qtbot, shift)
    assert len(shift.results) == 2, shift.status_text()
    assert shift.point_count(0) == shift.point_count(1) == 5
    gap_result = next(result for result in shift.results if result["label"].startswith("GAP"))
    assert gap_result["position"].supported
    fc_result = next(result for result in shift.results if result["label"].startswith("FC"))
    assert not fc_result["position"].supported
    assert "random position" in shift.table_label.text()


def test_gap_side_by_side_run_can_be_cancelled(lab_window, qtbot):
    window = lab_window
    window.named_actions["lab_gap"].trigger()
    dialog = window.fc_lab.dialogs["gap"]
    wait_idle(qtbot, dialog)
    window.training_panel.settings.epochs_spin.setValue(50)
    assert dialog.start_side_by_side()
    assert dialog.cancel_button.isEnabled()
    qtbot.wait(300)
    dialog.cancel_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.status_text() == "Cancelled."
    assert not dialog.trained_labels
    assert dialog.train_button.isEnabled()


def test_shift_probe_without_a_trained_model_says_what_to_do(lab_window, qtbot):
    window = lab_window
    window.named_actions["lab_shift"].trigger()
    dialog = window.fc_lab.dialogs["shift"]
    assert not dialog.runner.running
    assert "No trained model" in dialog.status_text()


def test_sweep_plots_runs_with_pareto_front_and_exports_csv(lab_window, qtbot, tmp_path):
    window = lab_window
    window.named_actions["lab_sweep"].trigger()
    dialog = window.fc_lab.dialogs["sweep"]
    assert dialog.isVisible() and not dialog.runner.running
    dialog.set_settings(depths=(1,), widths=(8, 16), activation="ReLU", epochs=1)
    dialog.start_button.click()
    assert dialog.cancel_button.isEnabled()
    wait_idle(qtbot, dialog)
    assert [run.label for run in dialog.runs] == ["1×8 ReLU", "1×16 ReLU"], dialog.status_text()
    assert all(run.ok for run in dialog.runs)
    assert len(dialog.scatters["parameters"].data) == 2
    assert len(dialog.scatters["seconds"].data) == 2
    assert dialog.front_labels("parameters")
    assert dialog.fronts["parameters"].xData is not None and len(dialog.fronts["parameters"].xData) >= 1
    assert dialog.table.rowCount() == 2
    assert dialog.export_button.isEnabled()
    path = tmp_path / "sweep.csv"
    dialog.choose_csv_path = lambda: str(path)
    dialog.export_button.click()
    rows = list(csv.DictReader(path.open()))
    assert [row["label"] for row in rows] == ["1×8 ReLU", "1×16 ReLU"]
    assert any(row["pareto_parameters"] == "1" for row in rows)


def test_sweep_can_be_cancelled_and_keeps_finished_runs(lab_window, qtbot):
    window = lab_window
    window.named_actions["lab_sweep"].trigger()
    dialog = window.fc_lab.dialogs["sweep"]
    dialog.set_settings(depths=(1, 2), widths=(8, 16, 32), epochs=1)
    assert dialog.start_sweep()
    qtbot.waitUntil(lambda: len(dialog.runs) >= 1, timeout=RUN_TIMEOUT_MS)
    dialog.cancel_button.click()
    wait_idle(qtbot, dialog)
    assert "Cancelled" in dialog.status_text()
    assert 1 <= len(dialog.runs) < 6
    assert all(run.ok for run in dialog.runs), "a variant cut short is not listed"
    assert dialog.table.rowCount() == len(dialog.runs)
    assert "cancelled" in dialog.progress.format() and "training" not in dialog.progress.format()
    low, high = dialog.params_plot.getViewBox().viewRange()[1]
    assert -0.05 <= low and high <= 1.05, "the accuracy axis runs past 0…1"


def test_lab_runs_train_in_the_training_process_not_in_the_window(lab_window, qtbot, monkeypatch):
    """The side-by-side pair and a sweep's variants go to the training process as queues; the
    window's process constructs no Trainer."""
    from designer.training import service, trainer

    constructed, queues = [], []
    original_init, original_start = trainer.Trainer.__init__, service.TrainingProcess.start_runs

    def recording_init(self, *args, **kwargs):
        constructed.append(args[0].name)
        original_init(self, *args, **kwargs)

    def recording_start_runs(self, requests, *args, **kwargs):
        queues.append([request.label for request in requests])
        return original_start(self, requests, *args, **kwargs)

    monkeypatch.setattr(trainer.Trainer, "__init__", recording_init)
    monkeypatch.setattr(service.TrainingProcess, "start_runs", recording_start_runs)
    window = lab_window
    window.named_actions["lab_gap"].trigger()
    gap = window.fc_lab.dialogs["gap"]
    wait_idle(qtbot, gap)
    where = []
    gap.training.run_started.connect(lambda event: where.append(event.process_id))
    assert gap.start_side_by_side()
    wait_idle(qtbot, gap)
    assert len(gap.trained_labels) == 2, gap.status_text()

    window.named_actions["lab_sweep"].trigger()
    sweep = window.fc_lab.dialogs["sweep"]
    sweep.training.run_started.connect(lambda event: where.append(event.process_id))
    sweep.set_settings(depths=(1,), widths=(8,), activation="ReLU", epochs=1)
    assert sweep.start_sweep()
    wait_idle(qtbot, sweep)
    assert [run.label for run in sweep.runs] == ["1×8 ReLU"] and sweep.runs[0].ok, sweep.status_text()

    assert queues == [[label for label in gap.trained_labels], ["1×8 ReLU"]]
    assert len(where) == 3 and os.getpid() not in where
    assert constructed == [], "the window's process trained something itself"


def test_neurons_show_fc_activations_and_top_predictions(lab_window, qtbot):
    window = lab_window
    train_in_dock(qtbot, window)
    window.named_actions["lab_neurons"].trigger()
    dialog = window.fc_lab.dialogs["neurons"]
    wait_idle(qtbot, dialog)
    assert dialog.layer_count() == 3, dialog.status_text()  # LeNet-5: fc1 120, fc2 84, fc3 10
    assert [len(bars.opts["height"]) for bars in dialog.bars] == [120, 84, 10]
    assert "Top 3 predictions" in dialog.prediction_label.text()
    assert len(dialog.result["top"]) == 3
    dialog.index_spin.setValue(7)
    wait_idle(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.result["index"] == 7, timeout=RUN_TIMEOUT_MS)
    assert "#7" in dialog.status_text()


def test_where_is_the_cat_trains_and_compares_fc_augmented_fc_and_gap(lab_window, qtbot):
    """Issue 13: the FC head, the FC head trained with shift augmentation and the GAP head, three
    curves with their names, and a verdict with the measured figures."""
    window = lab_window
    dialog = window.fc_lab.dialog("shift")
    dialog.samples_spin.setValue(200)
    dialog.shift_spin.setValue(4)
    dialog.augment_spin.setValue(3)
    dialog.show()
    assert dialog.start_comparison(), dialog.status_text()
    assert dialog.cancel_button.isEnabled() and not dialog.compare_button.isEnabled()
    wait_idle(qtbot, dialog)
    labels = dialog.legend_labels()
    assert len(labels) == 3, (labels, dialog.status_text())
    assert labels[0].startswith("FC head (") and labels[2].startswith("GAP head")
    assert labels[1] == "FC head + shift augmentation (±3 px)"
    assert [dialog.point_count(index) for index in range(3)] == [9, 9, 9]
    augmented = dialog.comparison["models"][1]
    assert augmented.config.augment == "shift:3"
    assert [model.config.augment for model in dialog.comparison["models"]] == ["", "shift:3", ""]
    # The verdict quotes the three accuracies at ±3 px as the table measured them.
    assert dialog.verdict_label.isVisibleTo(dialog)
    verdict = dialog.verdict_label.text()
    assert verdict.startswith("At ±3 px the FC head keeps ")
    plain = dict(dialog.results[0]["points"])
    assert f"{(plain[3] + plain[-3]) / 2:.1%}" in verdict
    assert "FC head + shift augmentation" in dialog.table_label.text()
    assert "Done: trained on mnist-sample" in dialog.status_text()
    # The three are now the lab's models: a plain probe (the Probe button) finds them.
    lab_labels = [model.label for model in window.fc_lab.models.all()]
    assert all(label in lab_labels for label in labels)


def test_where_is_the_cat_comparison_can_be_cancelled(lab_window, qtbot):
    window = lab_window
    window.training_panel.settings.epochs_spin.setValue(50)
    dialog = window.fc_lab.dialog("shift")
    dialog.show()
    assert dialog.start_comparison()
    qtbot.waitUntil(lambda: dialog.progress.format().startswith("training 1/3"), timeout=RUN_TIMEOUT_MS)
    dialog.cancel_button.click()
    wait_idle(qtbot, dialog)
    assert "Cancelled before the three variants had trained" in dialog.status_text()
    assert dialog.comparison is None and not dialog.verdict_label.isVisibleTo(dialog)
    assert dialog.compare_button.isEnabled() and dialog.run_button.isEnabled()
    assert not any("shift augmentation" in model.label for model in window.fc_lab.models.all())


def test_where_is_the_cat_comparison_needs_an_fc_head(lab_window, qtbot):
    from designer.core import load_architecture

    window = lab_window
    graph = load_architecture(TEMPLATES / "lenet5.json")
    for block_id in [block.id for block in graph if block.type.fully_connected]:
        graph.remove_block(block_id)
    window.document.replace_graph(graph, "no FC")
    dialog = window.fc_lab.dialog("shift")
    assert not dialog.start_comparison()
    assert "Cannot compare: the design has no FC layer" in dialog.status_text()
