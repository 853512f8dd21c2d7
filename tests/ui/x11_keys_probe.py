"""Run by test_shortcuts.py under a real X server (Xvfb, QT_QPA_PLATFORM=xcb); not a test itself.

``bindings``: print this platform's bindings of the standard keys named on the command line.
``redo``: open the window, make one edit, undo it, then press Ctrl+Shift+Z (and Ctrl+Y) —
with xdotool when ``--xdotool`` is given (real X key events through the X server), else with
QTest — and print what happened to the design as JSON. Qt's warnings go to stderr, where the
test looks for "Ambiguous shortcut".
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile


def print_bindings(names: list[str]) -> None:
    from PySide6.QtGui import QKeySequence
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    portable = QKeySequence.SequenceFormat.PortableText
    result = {name: [sequence.toString(portable)
                     for sequence in QKeySequence.keyBindings(getattr(QKeySequence.StandardKey, name))]
              for name in names}
    print(json.dumps({"platform": app.platformName(), "bindings": result}))


def wait(app, milliseconds: int) -> None:
    from PySide6.QtCore import QDeadlineTimer, QEventLoop

    deadline = QDeadlineTimer(milliseconds)
    while not deadline.hasExpired():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def press(app, window, keys: str, use_xdotool: bool) -> None:
    if use_xdotool:
        # XTEST key events to the focused window, as a keyboard would send them (no window
        # manager runs under Xvfb, so the window was given the focus by Qt itself).
        subprocess.run(["xdotool", "key", "--clearmodifiers", keys], check=True, timeout=10)
    else:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        modifiers = Qt.KeyboardModifier.ControlModifier
        if "shift" in keys:
            modifiers |= Qt.KeyboardModifier.ShiftModifier
        key = Qt.Key.Key_Z if keys.endswith("z") else Qt.Key.Key_Y
        QTest.keyClick(window.canvas, key, modifiers)
    wait(app, 400)


def redo_probe(use_xdotool: bool) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    folder = tempfile.mkdtemp()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)
    app = QApplication(sys.argv[:1])
    from designer.core import load_architecture
    from designer.core.paths import TEMPLATES
    from designer.ui.main_window import MainWindow

    window = MainWindow(settings=QSettings(f"{folder}/window.ini", QSettings.Format.IniFormat), restore_layout=False)
    window.show()
    window.show_graph(load_architecture(TEMPLATES / "lenet5.json"), None)
    window.activateWindow()
    window.canvas.setFocus()
    wait(app, 800)
    document = window.document
    results = {"platform": app.platformName(), "redo_keys": [key.toString() for key in
                                                             window.named_actions["redo"].shortcuts()]}
    for value, keys in ((77, "ctrl+shift+z"), (88, "ctrl+y")):
        document.set_param("fc1", "out_features", value)
        document.undo_stack.undo()
        before = document.graph.block("fc1").params["out_features"]
        press(app, window, keys, use_xdotool)
        results[keys] = {"before": before, "after": document.graph.block("fc1").params["out_features"]}
        document.undo_stack.clear()
    print(json.dumps(results))
    sys.stdout.flush()
    document.undo_stack.setClean()
    window.close()


if __name__ == "__main__":
    if sys.argv[1] == "bindings":
        print_bindings(sys.argv[2:])
    else:
        redo_probe("--xdotool" in sys.argv)
