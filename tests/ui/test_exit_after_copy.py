"""Quitting the program after copying blocks exits cleanly (no crash after the window closed).

Run in a subprocess: the crash this guards against happened during process exit, after the
Python interpreter had finished, which no test inside the pytest process can see.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    from types import SimpleNamespace
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    from designer.ui.app import run_window
    from designer.ui.main_window import MainWindow

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[1])
    app = QApplication(sys.argv[:1])

    def copy_then_close():
        # Polled: run_window processes events once before it shows the design.
        window = next((widget for widget in app.topLevelWidgets() if isinstance(widget, MainWindow)), None)
        if window is None or len(window.document.graph) == 0:
            QTimer.singleShot(50, copy_then_close)
            return
        window.canvas.select_all()
        print("copied:", window.canvas.copy_selection(), flush=True)
        window.close()

    QTimer.singleShot(50, copy_then_close)
    QTimer.singleShot(60_000, app.quit)  # a safety net
    print("exit code:", run_window(SimpleNamespace(file=None, screenshot=None)), flush=True)
""")


def test_quitting_after_a_copy_exits_cleanly(tmp_path):
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=120)
    assert "copied: True" in result.stdout, result.stdout + result.stderr[-2000:]
    assert "exit code: 0" in result.stdout, result.stdout + result.stderr[-2000:]
    assert result.returncode == 0, f"the process ended with {result.returncode}: {result.stderr[-2000:]}"
