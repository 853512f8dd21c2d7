"""The training dock with its training process: crashes, downloads, a process that cannot start.

Downloads come from a slow HTTP server on this machine (the dataset mirror setting points
the training process at it), so the progress dialog and its Cancel are exercised end to end
without the internet.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from designer.core import load_architecture, to_document
from designer.core.paths import TEMPLATES
from designer.data.loading import MIRROR_VARIABLE
from designer.training import service

RUN_TIMEOUT_MS = 60_000


@pytest.fixture
def fresh_training_process(monkeypatch, tmp_path):
    """Settings for the training process (it reads them when it starts): a private cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    service.shutdown_idle()
    yield monkeypatch
    service.shutdown_idle()  # the next test's process starts with the usual settings


def test_a_killed_training_process_ends_the_run_with_a_message_and_the_design_untouched(qtbot, make_panel, finish_run):
    panel = make_panel(load_architecture(TEMPLATES / "lenet5.json"), epochs=100, batch_size=32)
    before = to_document(panel.document.graph)
    assert panel.start()
    qtbot.waitUntil(lambda: panel.plots.point_count("batch_loss") >= 1, timeout=RUN_TIMEOUT_MS)
    os.kill(panel.training.process_id, signal.SIGKILL)  # what the system does when memory runs out
    finish_run(panel)
    result = panel.last_outcome.result
    assert result.status == "failed" and result.failure == "process"
    text = panel.status_label.text()
    assert "training process was killed" in text and "design is untouched" in text and "batch size" in text
    assert to_document(panel.document.graph) == before
    assert not panel.document.locked and panel.start_button.isEnabled()

    # The next run gets a new process and trains normally.
    panel.settings.epochs_spin.setValue(1)
    panel.settings.batch_size_spin.setValue(500)
    assert panel.start()
    finish_run(panel)
    assert panel.last_outcome.result.status == "finished"


def test_a_download_shows_progress_and_cancel_stops_the_run_leaving_nothing(qtbot, make_panel, tiny, finish_run,
                                                                             slow_mirror, fresh_training_process,
                                                                             tmp_path):
    fresh_training_process.setenv(MIRROR_VARIABLE, slow_mirror)
    panel = make_panel(tiny())
    panel.settings.set_dataset("mnist")
    assert panel.start()
    dialog = panel.prompts.download_dialog
    assert dialog is not None and dialog.isVisible()
    assert "Downloading MNIST" in dialog.labelText()
    qtbot.waitUntil(lambda: dialog.value() > 0, timeout=RUN_TIMEOUT_MS)
    assert " of " in dialog.labelText() and "MB" in dialog.labelText()

    cancel_button = dialog.findChild(QPushButton)
    assert cancel_button is not None and cancel_button.text() == "Cancel"
    cancelled = time.perf_counter()
    qtbot.mouseClick(cancel_button, Qt.LeftButton)
    finish_run(panel)
    assert time.perf_counter() - cancelled < 5
    result = panel.last_outcome.result
    assert result.status == "stopped" and "download cancelled" in result.message
    assert panel.prompts.download_dialog is None and not dialog.isVisible()
    cache = tmp_path / "cache" / "network-designer" / "datasets" / "mnist"
    assert not cache.exists() or not any(cache.iterdir()), "a partial download was left behind"
    assert not panel.document.locked


def test_an_unreachable_mirror_shows_the_dataset_message_and_offers_the_sample(qtbot, make_panel, tiny,
                                                                                finish_run, fresh_training_process):
    fresh_training_process.setenv(MIRROR_VARIABLE, "http://127.0.0.1:1/")  # nothing listens on port 1
    panel = make_panel(tiny())
    panel.settings.set_dataset("mnist")
    assert panel.start()
    finish_run(panel)
    result = panel.last_outcome.result
    assert result.status == "failed" and result.failure == "dataset"
    box = panel.prompts.dataset_error_box
    assert box is not None and box.isVisible()
    assert "could not be downloaded (is the computer offline?)" in box.text()
    assert "built-in MNIST sample" in box.informativeText()


def test_when_no_process_can_start_the_run_happens_in_the_window_process(qtbot, make_panel, tiny, finish_run,
                                                                         monkeypatch):
    def refuse():
        raise OSError("[Errno 11] Resource temporarily unavailable")

    monkeypatch.setattr(service, "acquire", refuse)
    panel = make_panel(tiny())
    assert panel.start()
    finish_run(panel)
    assert panel.last_outcome.result.status == "finished"
    assert panel.trained is not None
