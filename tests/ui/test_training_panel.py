"""The training dock with real runs on the built-in MNIST sample and a tiny network.

Each run is kept short (LeNet-5 or smaller, one or a few epochs, big batches), so the
whole file takes seconds once torch has loaded.
"""

from __future__ import annotations

import csv
import os
import re
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from designer.core import DesignerError
from designer.ui.document import DesignLockedError


@pytest.mark.parametrize("own_process", [True, False], ids=["process", "thread"])
def test_start_shows_curve_points_and_stop_ends_the_worker_within_a_second(qtbot, make_panel, finish_run,
                                                                            own_process):
    from designer.training.run import Local

    panel = make_panel(epochs=50, batch_size=32)  # long enough that Stop lands mid-run
    panel.launch = Local(own_process=own_process)  # the training process (the default) or the worker thread
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert panel.running
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()

    qtbot.waitUntil(lambda: panel.plots.point_count("batch_loss") >= 3, timeout=60_000)
    panel.plots.refresh()  # the curves take new points a few times a second; do it now
    curve_x, curve_y = panel.plots.curves["batch_loss"].getData()
    assert curve_x.dtype == np.float64 and len(curve_x) >= 3 and np.all(np.isfinite(curve_y))
    assert panel.plots.point_count("smoothed_loss") == panel.plots.point_count("batch_loss")
    # The progress line is repainted a few times a second, not on every batch update.
    progress = panel.progress
    qtbot.waitUntil(lambda: "samples/s" in progress.speed_label.text(), timeout=2000)
    # Which epoch depends on how fast this machine is today; the bar says which, of how many.
    assert re.fullmatch(r"epoch \d+/50 — batch \d+/\d+", progress.epoch_progress.format())
    assert "left" in progress.run_progress.format() and "samples/s" in progress.speed_label.text()
    if own_process:
        assert panel.training.process_id not in (None, os.getpid())
    else:
        assert panel.training.process_id == os.getpid()

    clicked = time.perf_counter()
    qtbot.mouseClick(panel.stop_button, Qt.LeftButton)
    assert panel.training.wait(1000), "the worker did not stop within a second"
    assert time.perf_counter() - clicked < 1.0
    finish_run(panel)
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    assert not panel.document.locked
    result = panel.last_outcome.result
    assert result.status == "stopped" and "Stopped" in panel.status_label.text()
    # The trained network is here, in the window's process, whichever side trained it.
    assert panel.trained is not None and panel.trained.result is result
    assert type(panel.trained.module).__name__ == "GraphModule"


def test_worker_signals_reach_the_widgets_in_the_gui_thread(qtbot, make_panel, monkeypatch, tiny, finish_run):
    import threading

    from designer.ui.training_plots import TrainingPlots

    threads = set()
    original = TrainingPlots.add_batches

    def recording_add_batches(plots, points):  # a plain method the slot calls, not the slot
        threads.add(threading.current_thread() is threading.main_thread())
        original(plots, points)

    monkeypatch.setattr(TrainingPlots, "add_batches", recording_add_batches)
    panel = make_panel(tiny(), epochs=1, batch_size=100)
    panel.start()
    finish_run(panel)
    assert threads == {True}


def test_editing_is_locked_while_training_and_unlocked_after(qtbot, make_panel, finish_run):
    panel = make_panel(epochs=1, batch_size=500)
    document = panel.document
    panel.start()
    assert document.locked
    with pytest.raises(DesignLockedError):
        document.set_param("fc1", "out_features", 64)
    with pytest.raises(DesignLockedError):
        document.add_block("ReLU")
    with pytest.raises(DesignerError):  # one except branch catches every refused edit
        document.add_block("ReLU")
    assert not panel.settings.dataset_combo.isEnabled() and not panel.settings.epochs_spin.isEnabled()
    finish_run(panel)
    assert not document.locked
    document.set_param("fc1", "out_features", 64)
    assert document.graph.block("fc1").params["out_features"] == 64

    # A second run starts from empty curves, in the same plots.
    points = panel.plots.point_count()
    assert points > 0
    panel.start()
    assert panel.plots.point_count() == 0
    assert panel.plots.loss_plot in panel.plots.ci.items and panel.plots.accuracy_plot in panel.plots.ci.items
    finish_run(panel)
    assert panel.plots.point_count() == points


def test_a_finished_run_shows_diagnosis_results_and_saves_a_checkpoint(qtbot, make_panel, tmp_path, tiny, finish_run):
    panel = make_panel(tiny(), epochs=2, batch_size=400, confirm_discard_changes=lambda: True)
    assert panel.start()
    finish_run(panel)
    outcome = panel.last_outcome
    assert outcome.result.status == "finished", outcome.result.message
    assert len(panel.history) == 2
    assert panel.plots.point_count("validation_loss") == 2 and panel.plots.point_count("train_accuracy") == 2
    assert panel.plots.best_lines[0].isVisible()
    assert panel.diagnosis is not None and panel.diagnosis.verdict in panel.diagnosis_view.text().lower()

    # results: test accuracy, confusion matrix with counts, misclassified images
    assert "Test accuracy" in panel.results.summary.text()
    matrix = panel.results.confusion.matrix
    assert matrix.shape == (10, 10) and matrix.sum() == outcome.test_samples == 1000
    assert any(item.toPlainText() for item in panel.results.confusion.count_items)
    assert len(panel.results.mistake_cells) == len(outcome.misclassified_images) > 0
    wrong = outcome.misclassified_true != outcome.misclassified_predicted
    assert wrong.all()

    # exports
    panel.export_history(tmp_path / "history.csv")
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    panel.plots.export_image(str(tmp_path / "curves.png"))
    panel.plots.export_image(str(tmp_path / "curves.svg"))
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert "<svg" in (tmp_path / "curves.svg").read_text()[:2000]

    # checkpoint round trip: the design comes back into the document, the weights are kept
    assert panel.results.save_button.isEnabled()
    assert panel.save_checkpoint(tmp_path / "tiny.pt")
    panel.document.set_param(next(iter(panel.document.graph.blocks)), "channels", 3)
    assert panel.load_checkpoint(tmp_path / "tiny.pt")
    assert panel.document.graph.block(next(iter(panel.document.graph.blocks))).params["channels"] == 1
    assert panel.trained.source.endswith("tiny.pt")
    assert len(panel.history) == 2


def test_loading_a_checkpoint_keeps_unsaved_changes_when_the_person_cancels(qtbot, make_panel, tmp_path, tiny, finish_run):
    panel = make_panel(tiny(), epochs=1, confirm_discard_changes=lambda: False)
    panel.start()
    finish_run(panel)
    panel.save_checkpoint(tmp_path / "tiny.pt")
    first_fc = [block for block in panel.document.graph if block.type_id == "FC"][0]
    panel.document.set_param(first_fc.id, "out_features", 77)
    assert not panel.load_checkpoint(tmp_path / "tiny.pt")
    assert panel.document.graph.block(first_fc.id).params["out_features"] == 77


def test_adapt_input_to_dataset_is_one_undo_step(qtbot, make_panel, tiny):
    panel = make_panel(tiny(channels=3, size=32, classes=5))
    document = panel.document
    warning = panel.fit_warning
    assert warning.isVisible()
    assert "3×32×32" in warning.label.text() and "5 outputs" in warning.label.text()
    assert not panel.start(), "a misfit design must not start"
    assert "Adapt input" in panel.status_label.text()

    qtbot.mouseClick(panel.adapt_button, Qt.LeftButton)
    input_block = next(block for block in document.graph if block.type_id == "Input")
    last_fc = [block for block in document.graph if block.type_id == "FC"][-1]
    assert (input_block.params["channels"], input_block.params["height"], input_block.params["width"]) == (1, 28, 28)
    assert last_fc.params["out_features"] == 10
    assert not warning.isVisible()
    assert document.analysis.output_shape == (10,)

    document.undo_stack.undo()
    assert (input_block.params["channels"], input_block.params["height"]) == (3, 32)
    assert last_fc.params["out_features"] == 5
    assert warning.isVisible()

    # Changing the dataset re-checks: CIFAR-10 fits the original 3×32×32 input.
    panel.settings.set_dataset("cifar10")
    assert "5 outputs" in warning.label.text() and "Input block" not in warning.label.text()


def test_a_missing_dataset_shows_its_message_and_offers_the_sample(qtbot, make_panel, tmp_path, tiny, finish_run):
    panel = make_panel(tiny(channels=3, size=32))
    panel.settings.set_dataset("cifar10")
    panel.settings.set_data_folder(str(tmp_path))  # an empty folder the person picked
    panel.settings.allow_download = False  # offline: never touch the network in tests
    panel.start()
    finish_run(panel)
    result = panel.last_outcome.result
    assert result.status == "failed" and result.failure == "dataset"
    box = panel.prompts.dataset_error_box
    assert box is not None and box.isVisible()
    assert "CIFAR-10" in box.text() and "built-in MNIST sample" in box.informativeText()
    sample_button = next(button for button in box.buttons() if "sample" in button.text())
    sample_button.click()
    assert panel.settings.dataset_name == "mnist-sample" and panel.settings.data_folder is None
    assert not panel.document.locked


def test_diagnosis_links_select_the_block(qtbot, make_panel):
    from designer.training.diagnosis import Diagnosis

    panel = make_panel()
    panel.diagnosis_view.show_diagnosis(Diagnosis("overfitting", "Overfitting: test.", ["Use GAP."], ["fc1"]))
    assert "block:fc1" in panel.diagnosis_view.text()
    panel.diagnosis_view.label.linkActivated.emit("block:fc1")
    assert panel.document.selection == ["fc1"]


def test_opening_the_panel_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys; from PySide6.QtWidgets import QApplication; app = QApplication([]); "
            "from designer.core import load_architecture; from designer.core.paths import TEMPLATES; "
            "from designer.ui.document import DesignDocument; from designer.ui.training_panel import TrainingPanel; "
            "panel = TrainingPanel(DesignDocument(load_architecture(TEMPLATES / 'lenet5.json'))); panel.show(); "
            "app.processEvents(); print('torch' in sys.modules); "
            # Widgets go before the application, as in run_window; left to interpreter shutdown,
            # pyqtgraph's items may be torn down after Qt's and crash the script itself.
            "del panel")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_settings_torch_would_refuse_are_refused_before_a_run_with_the_run_paths_message(qtbot, make_panel,
                                                                                         monkeypatch):
    from designer.training.records import TrainConfig

    panel = make_panel()
    monkeypatch.setattr(panel.settings, "config", lambda: TrainConfig(learning_rate=1e39, device="cpu"))
    assert not panel.start()
    assert not panel.running and not panel.document.locked
    assert panel.status_label.text() == ("Cannot start: the learning rate must be a positive number no larger than "
                                         "3.4e+38 (the largest float32), not 1e+39.")
