"""Shared test configuration: Qt runs offscreen (no display in CI)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_sessionfinish(session, exitstatus):
    """Leave Qt nothing Python-made to destroy after the interpreter is gone (see release_clipboard)."""
    import sys

    if "PySide6.QtWidgets" in sys.modules and sys.modules["PySide6.QtWidgets"].QApplication.instance():
        from designer.ui.canvas import release_clipboard

        release_clipboard()
