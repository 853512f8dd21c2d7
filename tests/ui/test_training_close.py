"""Closing the window while training runs stops and joins the worker; the process exits cleanly
and takes its training process with it.

Run in a subprocess: "QThread: Destroyed while thread is still running" is printed by Qt
(and then the process aborts) only as the interpreter tears down, which a test inside
the pytest process could never see.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from designer.core import load_architecture
    from designer.core.paths import TEMPLATES
    from designer.ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    window = MainWindow(settings=QSettings(sys.argv[1], QSettings.Format.IniFormat), restore_layout=False)
    window.show()
    window.show_graph(load_architecture(TEMPLATES / "lenet5.json"), None)
    panel = window.training_panel
    panel.settings.epochs_spin.setValue(100)
    panel.settings.batch_size_spin.setValue(32)
    panel.settings.set_device("cpu")
    state = {"closed_mid_run": False}

    def close_after_first_batch():
        # Polled in the GUI thread: the first batch update has reached the curves.
        if panel.plots.point_count() == 0:
            QTimer.singleShot(5, close_after_first_batch)
            return
        state["closed_mid_run"] = panel.running and panel.training.runner.thread.isRunning()
        print(f"closing after {panel.plots.point_count()} batch points; training process "
              f"{panel.training.process_id}", flush=True)
        window.close()

    assert panel.start(), panel.status_label.text()
    close_after_first_batch()
    QTimer.singleShot(120_000, app.quit)  # a safety net; the test fails on the message below
    code = app.exec()
    print(f"closed mid-run: {state['closed_mid_run']}; still running: {panel.running}; exec: {code}", flush=True)
""")


def test_closing_the_window_mid_run_stops_the_worker_and_exits_cleanly(tmp_path):
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "settings.ini")], cwd=ROOT,
                            env=environment, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "QThread: Destroyed" not in result.stderr
    assert "closing after" in result.stdout, result.stdout + result.stderr[-2000:]
    assert "closed mid-run: True; still running: False; exec: 0" in result.stdout, result.stdout
    # The training process ended with the window, not left behind.
    pid = int(result.stdout.split("training process ")[1].split()[0])
    deadline = time.monotonic() + 10
    while _exists(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _exists(pid), f"the training process {pid} outlived the window"


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False
