"""Issue 13 in the window: a folder of one's own pictures trained from the Training dock (chosen,
the design adapted, pictures decoded once and then read from the cache, skipped files reported,
class names in the confusion matrix), Cancel while decoding, and predictions for a picture dropped
on the Results tab or opened with Training ▸ Predict Image…."""

from __future__ import annotations

import re
import threading
import time

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QPushButton

from designer.core import dumps
from designer.data import FOLDER_DATASET

COLOURS = ["blue", "green", "red"]


def choose_folder(qtbot, settings, folder, monkeypatch) -> None:
    """Pick "Folder of images…" in the dataset box and ``folder`` in the folder dialog it opens."""
    asked = []

    def get_existing_directory(*_args, **_kwargs):
        asked.append(True)
        return str(folder)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(get_existing_directory))
    settings.dataset_combo.setCurrentIndex(settings.dataset_combo.findData(FOLDER_DATASET))
    assert asked, "choosing Folder of images… asks for the folder"
    assert settings.dataset_name == FOLDER_DATASET and settings.image_folder.folder == str(folder)


def drop_files(widget, paths) -> None:
    """A drag of ``paths`` entering ``widget`` (it must accept it) and dropped there. The handlers
    are called directly: the offscreen platform delivers no drag and drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    assert widget.acceptDrops()
    widget.dragEnterEvent(enter)
    assert enter.isAccepted(), "the drag of an image file is accepted"
    widget.dropEvent(QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))


def input_shape(graph) -> tuple[int, int, int]:
    block = next(block for block in graph if block.type_id == "Input")
    return block.params["channels"], block.params["height"], block.params["width"]


def test_a_folder_of_pictures_trains_from_the_dock_reads_the_cache_the_second_time_and_predicts(
        qtbot, main_window, colour_folder, monkeypatch, tiny):
    from designer.ui import dataset_prompts

    shown_dialogs = []

    class WatchedDecodingDialog(dataset_prompts.DecodingDialog):
        def showEvent(self, event):  # noqa: N802 - Qt's name
            shown_dialogs.append(self.labelText())
            super().showEvent(event)

    monkeypatch.setattr(dataset_prompts, "DecodingDialog", WatchedDecodingDialog)
    window = main_window
    window.show_graph(tiny(), None)
    panel = window.training_panel
    document = panel.document
    settings = panel.settings
    settings.epochs_spin.setValue(8)
    settings.batch_size_spin.setValue(8)
    settings.learning_rate_spin.setValue(0.003)
    settings.set_device("cpu")

    choose_folder(qtbot, settings, colour_folder, monkeypatch)
    summary = settings.image_folder.summary_label.text()
    assert "3 classes (blue, green, red)" in summary and "39 image files" in summary  # the empty file is skipped when listed
    # The tiny design has 10 outputs: the dock says so and refuses to start.
    assert panel.fit_warning.isVisible()
    assert "3 classes" in panel.fit_warning.label.text() and "10 outputs" in panel.fit_warning.label.text()
    assert not panel.start() and "Adapt input" in panel.status_label.text()

    # "Use as Input": the shape the pictures suggest (RGB, their median shorter side), one undo step.
    suggestion = settings.image_folder.suggestion
    assert suggestion is not None and suggestion[0] == 3
    undo_steps = document.undo_stack.count()
    qtbot.mouseClick(settings.image_folder.use_button, Qt.LeftButton)
    assert input_shape(document.graph) == suggestion and document.undo_stack.count() == undo_steps + 1
    qtbot.mouseClick(panel.adapt_button, Qt.LeftButton)
    assert [block for block in document.graph if block.type_id == "FC"][-1].params["out_features"] == 3
    assert not panel.fit_warning.isVisible()

    loaded = []
    panel.training.dataset_loaded.connect(loaded.append)
    assert panel.start()
    qtbot.waitUntil(lambda: not panel.running, timeout=120_000)
    result = panel.last_outcome.result
    assert result.status == "finished", result.message
    # What was decoded and skipped: 39 files through the decoder (the empty one is left out when
    # listed), 4 unusable files named in a box the person can read.
    first = loaded[0]
    assert not first.from_cache and first.decoded == 39 and first.class_names == tuple(COLOURS)
    assert first.skipped_count == 4
    box = panel.prompts.skipped_box
    assert box is not None and box.isVisible() and "4 files in the image folder could not be used" in box.text()
    assert "red/empty.jpg" in box.detailedText() and "broken.png" in box.detailedText()
    box.close()
    # The confusion matrix is labelled with the folder's class names.
    confusion = panel.results.confusion
    assert confusion.tick_labels == COLOURS
    assert confusion.matrix.shape == (3, 3) and confusion.matrix.sum() == panel.last_outcome.test_samples > 0
    assert result.test_accuracy >= 0.8, "colours are easy: the network must have learnt them"
    assert re.search(r"test accuracy \d+\.\d\d%\. Saved in .+\.$", panel.status_label.text())

    # The second run reads the decoded copy: nothing decoded, no decoding dialog shown.
    shown_dialogs.clear()
    assert panel.start()
    qtbot.waitUntil(lambda: not panel.running, timeout=120_000)
    assert panel.last_outcome.result.status == "finished"
    second = loaded[1]
    assert second.from_cache and second.decoded == 0 and second.skipped_count == 4
    assert shown_dialogs == []
    assert "read from the cache" in second.message

    # Both runs are in the Runs view, with the folder as their dataset.
    runs = window.runs_view
    assert len(runs.records) == 2 and all(record.readable for record in runs.records)
    assert all("colours" in record.dataset for record in runs.records)

    # A picture dropped on the Results tab: the prediction window shows it as the network sees it,
    # the top 3 (the folder's class names) and every FC layer's neurons.
    picture = colour_folder / "green" / "1.png"  # a palette PNG
    drop_files(panel.results, [picture])
    dialog = panel.predictions.dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.result is not None or not dialog.runner.running, timeout=30_000)
    assert dialog.result is not None, dialog.status_label.text()
    checkpoint = runs.records[0].checkpoint  # the newest run: the network the dock holds now
    check_prediction(dialog, picture, panel.trained, checkpoint)
    assert dialog.top_classes()[0][0] == "green"

    # Training ▸ Predict Image… asks for a file and shows it in the same window.
    other = colour_folder / "red" / "3.jpg"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *_args, **_kwargs: (str(other), "")))
    action = next(action for action in window.menus["training"].actions() if action.text() == "&Predict Image…")
    action.trigger()
    qtbot.waitUntil(lambda: dialog.result is not None and dialog.result["path"].endswith(other.name),
                    timeout=30_000)
    check_prediction(dialog, other, panel.trained, checkpoint)
    assert dialog.top_classes()[0][0] == "red"


def check_prediction(dialog, path, trained, checkpoint) -> None:
    """The window shows what ``predict`` computes for ``path`` with the run's checkpoint."""
    from designer.training.predictions import Predictor

    result = dialog.result
    channels, height, width = input_shape(trained.graph)
    assert result["image"].shape == (channels, height, width)
    pixmap = dialog.picture.pixmap()
    assert pixmap is not None and not pixmap.isNull()
    assert f"RGB {height}×{width} (centre crop)" in dialog.picture_caption.text()
    expected = Predictor(checkpoint).predict_files([path])[0].top
    assert [name for name, _ in dialog.top_classes()] == [name for name, _ in expected]
    assert [probability for _, probability in dialog.top_classes()] == \
        pytest.approx([probability for _, probability in expected], abs=1e-5)
    names = [label.text() for label in dialog.top_names]
    shown = [(name, bar.value() / 1000) for name, bar in zip(names, dialog.top_bars)]
    for (name, probability), (text, value) in zip(dialog.top_classes(), shown):
        assert name in text and value == pytest.approx(probability, abs=0.001)
    assert sum(probability for _, probability in dialog.top_classes()) == pytest.approx(1.0, abs=1e-4)
    fc_blocks = [block.id for block in trained.graph if block.type_id == "FC"]
    assert [block_id for block_id, _ in result["layers"]] == fc_blocks
    assert len(dialog.neurons.plots) == len(fc_blocks)
    assert len(dialog.neurons.bars[-1].opts["height"]) == 3


def test_cancel_while_decoding_stops_the_run_and_leaves_the_design_and_the_cache_alone(
        qtbot, make_panel, colour_folder, colour_network, monkeypatch, tmp_path):
    from designer.data import folder as folder_module
    from designer.training.run import Local

    # Decoding in the worker thread (the same code as in the training process), slowed down so
    # that Cancel lands half-way through.
    decode = folder_module.decode_image
    decoded = []

    def slow_decode(*args, **kwargs):
        time.sleep(0.1)
        decoded.append(threading.get_ident())
        return decode(*args, **kwargs)

    monkeypatch.setattr(folder_module, "decode_image", slow_decode)
    panel = make_panel(colour_network(), epochs=1, batch_size=8)
    panel.launch = Local(own_process=False)
    choose_folder(qtbot, panel.settings, colour_folder, monkeypatch)
    document = panel.document
    undo_state = (document.undo_stack.count(), document.undo_stack.index())
    design_text = dumps(document.graph)
    assert panel.start()
    qtbot.waitUntil(lambda: panel.prompts.decoding_dialog is not None
                    and panel.prompts.decoding_dialog.maximum() > 0, timeout=30_000)
    dialog = panel.prompts.decoding_dialog
    assert "Decoding images into the cache" in dialog.labelText()
    qtbot.waitUntil(dialog.isVisible, timeout=3000)  # shown once decoding has lasted half a second
    cancel = next(button for button in dialog.findChildren(QPushButton) if button.text() == "Cancel")
    cancel.click()
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    count_at_stop = len(decoded)
    result = panel.last_outcome.result
    assert result.status == "stopped", result.message
    assert count_at_stop < 40, "Cancel stopped the decoding before the end"
    assert panel.prompts.decoding_dialog is None
    assert panel.status_label.text() == "Reading the image folder was cancelled; nothing was trained"
    # The design is untouched and editable again; no results, no checkpoint, no run saved.
    assert dumps(document.graph) == design_text
    assert (document.undo_stack.count(), document.undo_stack.index()) == undo_state
    assert not document.locked and panel.start_button.isEnabled()
    assert panel.trained is None and panel.results.confusion.matrix.size == 0
    runs = tmp_path / "runs"
    assert not runs.exists() or list(runs.iterdir()) == [], "nothing was trained: no run folder"
    # No cache: a cancelled decode leaves nothing that looks like one.
    cache = tmp_path / "cache" / "network-designer" / "datasets" / "image-folders"
    left = [entry.name for entry in cache.iterdir()] if cache.exists() else []
    assert [name for name in left if not name.startswith(".")] == []
    time.sleep(0.3)
    assert len(decoded) <= count_at_stop + 8, "no decoding goes on after the run ended"


def test_the_decoding_progress_reaches_the_window_while_the_training_process_decodes(
        qtbot, make_panel, colour_folder, colour_network, monkeypatch):
    """The window's worker loads torch (seconds, the first time) to rebuild the trained network;
    doing that while the training process reads the folder held back every progress event, and
    so the dialog and its Cancel, until decoding was over."""
    from designer.ui import training_run

    received = []
    seen_before_torch = []

    def slow_torch_import():
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(kind == "loaded" for kind, _ in received):
            time.sleep(0.01)  # the GUI thread takes the events meanwhile, if they were sent
        seen_before_torch.append([kind for kind, _ in received])

    monkeypatch.setattr(training_run, "_load_torch", slow_torch_import)
    panel = make_panel(colour_network(), epochs=1, batch_size=8)
    choose_folder(qtbot, panel.settings, colour_folder, monkeypatch)
    panel.training.decoding_progress.connect(lambda event: received.append(("decoding", event)))
    panel.training.dataset_loaded.connect(lambda event: received.append(("loaded", event)))
    assert panel.start()
    qtbot.waitUntil(lambda: not panel.running, timeout=120_000)
    assert panel.last_outcome.result.status == "finished", panel.last_outcome.result.message
    # torch was loaded once, after the window had every event about the folder
    assert len(seen_before_torch) == 1
    assert "decoding" in seen_before_torch[0] and seen_before_torch[0][-1] == "loaded"
