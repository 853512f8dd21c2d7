"""Guards against a Qt binding that corrupts the interpreter.

PySide6-Essentials 6.12.0 on Python 3.11 drops a reference to ``None`` on every Qt call
that returns nothing and on every call from Qt into a Python override (each canvas item's
``paint``, each pyqtgraph repaint); after a few thousand calls — minutes of normal use — the
interpreter aborts with "deallocating None". pyproject.toml excludes that release; these
tests fail if an installed binding has the leak again.
"""

import sys

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsRectItem, QGraphicsScene, QGraphicsView, QLabel

pytestmark = pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12 on")


def test_qt_calls_do_not_leak_references_to_none(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
        label.setVisible(False)
    # Only a loss is fatal (None gets freed); references gained elsewhere are harmless.
    drift = sys.getrefcount(None) - before
    assert drift > -100, f"the Qt binding lost {-drift} references to None in 4,000 calls"


class _PaintedItem(QGraphicsRectItem):
    def paint(self, painter, option, widget=None):
        super().paint(painter, option, widget)


def test_python_paint_overrides_do_not_leak_references_to_none(qtbot):
    scene = QGraphicsScene()
    scene.addItem(_PaintedItem(QRectF(0, 0, 50, 50)))
    view = QGraphicsView(scene)
    qtbot.addWidget(view)
    view.resize(200, 200)
    view.show()
    qtbot.waitExposed(view)
    before = sys.getrefcount(None)
    for _ in range(1000):
        view.viewport().repaint()
    drift = sys.getrefcount(None) - before
    assert drift > -100, f"the Qt binding lost {-drift} references to None in 1,000 repaints"
