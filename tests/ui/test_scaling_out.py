"""The window's ways of scaling out: the Training dock's "Processes: N" and the sweep's "Run on"."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

RUN_TIMEOUT_MS = 120_000


def gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/stat")
    if not status.exists():
        return True
    try:
        return status.read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


@pytest.mark.skipif(sys.platform == "win32", reason="gloo as CI runs it")
def test_the_dock_trains_on_two_processes_with_curves_stop_and_results(qtbot, make_panel, finish_run):
    from designer.training.run import Processes, RunStarted

    panel = make_panel(epochs=200, batch_size=64)
    assert panel.settings.processes == 1  # the default: one process, today's run
    panel.settings.processes_spin.setValue(2)
    started = []
    panel.training.run_started.connect(started.append)
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert isinstance(panel.training.requests[0].launch, Processes)
    qtbot.waitUntil(lambda: len(panel.history) >= 1, timeout=RUN_TIMEOUT_MS)
    assert panel.plots.point_count("batch_loss") >= 1
    assert "2 processes" in panel.status_label.text() or panel.run_info.processes == 2
    [event] = [event for event in started if isinstance(event, RunStarted)]
    assert len(event.process_ids) == 2 and os.getpid() not in event.process_ids

    qtbot.mouseClick(panel.stop_button, Qt.LeftButton)
    finish_run(panel)
    result = panel.last_outcome.result
    assert result.status == "stopped" and "stopped on request" in result.message
    assert panel.trained is not None and panel.trained.result is result  # rank 0's network, rebuilt here
    assert result.test_accuracy is not None
    assert panel.last_outcome.misclassified_images is not None  # process 0 found them for the Results tab
    qtbot.waitUntil(lambda: all(gone(pid) for pid in event.process_ids), timeout=10_000)
    assert panel.start_button.isEnabled() and panel.settings.processes_spin.isEnabled()


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the [cluster] extra is not installed")
def test_the_sweep_window_runs_its_variants_as_ray_tasks(lab_window, qtbot):
    lab_window.named_actions["lab_sweep"].trigger()
    dialog = lab_window.fc_lab.dialogs["sweep"]
    assert dialog.run_on_combo.currentData() == "local" and not dialog.ray_address_edit.isEnabled()
    dialog.set_settings(depths=(1,), widths=(8, 16), activation="ReLU", epochs=1)
    dialog.set_run_on("ray", "")  # no address: a Ray instance on this computer, for this sweep
    assert dialog.ray_address_edit.isEnabled()
    assert dialog.start_sweep()
    assert not dialog.run_on_combo.isEnabled()
    assert "Ray tasks" in dialog.status_text()
    qtbot.waitUntil(lambda: not dialog.runner.running, timeout=RUN_TIMEOUT_MS)
    # Side by side on the cluster: listed as they end.
    assert sorted(run.label for run in dialog.runs) == ["1×16 ReLU", "1×8 ReLU"], dialog.status_text()
    assert all(run.ok for run in dialog.runs) and dialog.table.rowCount() == 2
    assert dialog.run_on_combo.isEnabled()
    import ray

    assert not ray.is_initialized()  # shut down after the sweep


def test_without_ray_the_sweep_window_says_how_to_install_it(lab_window, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == "ray" else real_find_spec(name, *rest))
    lab_window.named_actions["lab_sweep"].trigger()
    dialog = lab_window.fc_lab.dialogs["sweep"]
    dialog.set_settings(depths=(1,), widths=(8,), epochs=1)
    dialog.set_run_on("ray", "10.0.0.1:6379")
    assert not dialog.start_sweep()
    assert "pip install 'network-designer[cluster]'" in dialog.status_text()
    assert not dialog.runner.running
