"""Guards against a Qt binding that corrupts the interpreter.

PySide6-Essentials 6.12.0 on Python 3.11 drops a reference to ``None`` on every Qt call
that returns nothing; after a few thousand calls (minutes of normal use) the interpreter
aborts with "deallocating None". pyproject.toml excludes that release; this test fails if
an installed binding has the leak again.
"""

import sys

import pytest
from PySide6.QtWidgets import QLabel


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12 on")
def test_qt_calls_do_not_leak_references_to_none(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
        label.setVisible(False)
    drift = sys.getrefcount(None) - before
    assert abs(drift) < 100, f"the Qt binding lost {-drift} references to None in 4,000 calls"
