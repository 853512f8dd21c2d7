"""The Runs view (issue 13): every run the dock trains is listed with its design, dataset,
settings, best validation and test accuracy, time and parameters; the selected runs' curves are
overlaid; a run's design or checkpoint opens; a run is deleted only after the person confirms."""

from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from designer.ui.runs_view import COLUMNS


def train_in_dock(qtbot, panel, *, epochs, learning_rate):
    panel.settings.epochs_spin.setValue(epochs)
    panel.settings.learning_rate_spin.setValue(learning_rate)
    assert panel.start()
    qtbot.waitUntil(lambda: not panel.running, timeout=120_000)
    assert panel.last_outcome.result.status == "finished", panel.last_outcome.result.message
    return panel.last_outcome.result


def cell(view, row, column_name) -> str:
    return view.table.item(row, COLUMNS.index(column_name)).text()


def row_of(view, name) -> int:
    return next(row for row in range(view.table.rowCount()) if view.table.item(row, 0).data(Qt.UserRole) == name)


def test_the_runs_view_lists_overlays_opens_and_deletes_the_docks_runs(qtbot, main_window, tiny, tmp_path,
                                                                       monkeypatch):
    window = main_window
    window.show_graph(tiny(), None)
    panel = window.training_panel
    panel.settings.batch_size_spin.setValue(500)
    panel.settings.set_device("cpu")
    view = window.runs_view
    runs_folder = tmp_path / "runs"  # NETWORK_DESIGNER_RUNS in these tests
    (runs_folder / "notes").mkdir(parents=True)  # not a run: listed greyed, never deleted from here

    first = train_in_dock(qtbot, panel, epochs=1, learning_rate=0.001)
    window.document.set_param("fc1", "out_features", 16)  # the second run trains another design
    second = train_in_dock(qtbot, panel, epochs=2, learning_rate=0.002)

    # Listed as soon as they are saved, newest first, the unreadable folder last.
    records = view.records
    assert [record.readable for record in records] == [True, True, False]
    newest, oldest = records[0].name, records[1].name
    assert newest.startswith("tiny-") and oldest.startswith("tiny-") and records[2].name == "notes"
    assert "2 runs; 1 folder not readable as a run" in view.message_label.text()
    for name, result, epochs, rate in ((newest, second, 2, "0.002"), (oldest, first, 1, "0.001")):
        row = row_of(view, name)
        assert cell(view, row, "Design") == "tiny"
        assert cell(view, row, "Dataset") == "mnist-sample"
        assert cell(view, row, "Test acc.") == f"{result.test_accuracy:.2%}"
        best = max(metrics.validation_accuracy for metrics in result.history)
        assert cell(view, row, "Best val.") == f"{best:.2%}"
        assert f"{epochs} epoch(s)" in cell(view, row, "Settings") and f"lr {rate}" in cell(view, row, "Settings")
        assert re.fullmatch(r"\d+:\d\d", cell(view, row, "Time"))
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", cell(view, row, "Started"))
    # the parameters of each run's own design: the first FC was narrowed between the runs
    assert cell(view, row_of(view, oldest), "Parameters") != cell(view, row_of(view, newest), "Parameters")
    assert cell(view, row_of(view, newest), "Parameters") == f"{window.document.analysis.total_params:,}"

    # Selecting both overlays their validation curves, one per run, over their own epochs.
    view.select_runs({newest, oldest})
    curves = view.curves
    assert curves.curve_count() == 2
    accuracy_x, accuracy_y = curves.curves[newest][0].getData()
    assert list(accuracy_x) == [1.0, 2.0]
    assert list(accuracy_y) == [metrics.validation_accuracy for metrics in second.history]
    loss_x, loss_y = curves.curves[oldest][1].getData()
    assert list(loss_x) == [1.0] and np.isclose(loss_y[0], first.history[0].validation_loss)
    # each overlaid run is marked in the table with a dot of its curve's colour; the others are not
    marked = [view.table.item(row, 0).data(Qt.UserRole) for row in range(view.table.rowCount())
              if not view.table.item(row, 0).icon().pixmap(10, 10).toImage().pixelColor(5, 5).alpha() == 0]
    assert sorted(marked) == sorted([newest, oldest])
    dot = view.table.item(row_of(view, newest), 0).icon().pixmap(10, 10).toImage().pixelColor(5, 5)
    pen = curves.curves[newest][0].opts["pen"]
    assert dot.name() == pen.color().name()
    assert not view.open_design_button.isEnabled(), "open one run at a time"
    view.select_runs({oldest})
    assert curves.curve_count() == 1
    assert view.table.item(row_of(view, newest), 0).icon().pixmap(10, 10).toImage().pixelColor(5, 5).alpha() == 0

    # Open design: the first run's design (fc1 of 32) as a new, unsaved design.
    assert window.document.graph.block("fc1").params["out_features"] == 16
    qtbot.mouseClick(view.open_design_button, Qt.LeftButton)
    assert window.document.graph.block("fc1").params["out_features"] == 32
    assert window.document.path is None
    # Open checkpoint: its weights, curves and results in the Training dock.
    qtbot.mouseClick(view.open_checkpoint_button, Qt.LeftButton)
    assert panel.trained is not None and panel.trained.source.endswith(f"{oldest}/checkpoint.pt")
    assert len(panel.history) == 1
    assert np.array_equal(panel.results.confusion.matrix, np.asarray(first.confusion_matrix))
    # An unreadable entry cannot be deleted or opened.
    view.select_runs({"notes"})
    assert not view.delete_button.isEnabled() and not view.open_checkpoint_button.isEnabled()

    # Delete asks first: Cancel keeps the run, Yes deletes its folder.
    answers = [QMessageBox.Cancel, QMessageBox.Yes]
    questions = []

    def question(_parent, title, text, *_args):
        questions.append((title, text))
        return answers.pop(0)

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    view.select_runs({oldest})
    qtbot.mouseClick(view.delete_button, Qt.LeftButton)
    assert len(questions) == 1 and oldest in questions[0][1] and "cannot be undone" in questions[0][1]
    assert (runs_folder / oldest).is_dir() and len(view.records) == 3
    qtbot.mouseClick(view.delete_button, Qt.LeftButton)
    assert len(questions) == 2
    assert not (runs_folder / oldest).exists() and (runs_folder / "notes").is_dir()
    assert [record.name for record in view.records] == [newest, "notes"]
    assert view.message_label.text().startswith("Deleted 1 run.")
    assert curves.curve_count() == 0
