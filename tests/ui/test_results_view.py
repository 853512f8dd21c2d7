"""The Results tab: showing it must not resize the window's docks (issue 14j)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from designer.training.records import TrainResult
from designer.training.run import RunOutcome

CLASS_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def fake_outcome(mistakes: int = 40) -> RunOutcome:
    """What a finished run hands the results view (made up, so no training is needed)."""
    rng = np.random.default_rng(0)
    matrix = [[int(value) for value in row] for row in rng.integers(0, 50, (10, 10))]
    result = TrainResult("finished", "finished 3 epochs", 3, 3, 0.25, 0.933, matrix, 3.0)
    return RunOutcome(result, None, CLASS_NAMES,
                      rng.integers(0, 255, (mistakes, 1, 28, 28), dtype=np.uint8),
                      rng.integers(0, 10, mistakes), rng.integers(0, 10, mistakes),
                      rng.random(mistakes).astype(np.float32), 1000)


def settle():
    for _ in range(5):
        QApplication.processEvents()


def dock_widths(window) -> dict[str, int]:
    return {name: dock.width() for name, dock in window.docks.items() if dock.isVisible()}


@pytest.mark.parametrize("look", ["plain Qt", "the program's style"])
def test_switching_to_results_leaves_the_docks_alone(request, main_window, look):
    if look != "plain Qt":
        request.getfixturevalue("styled")
    main_window.resize(1400, 900)
    panel = main_window.training_panel
    main_window.docks["training"].raise_()
    panel.results.show_outcome(fake_outcome())
    settle()
    before = dock_widths(main_window)
    assert before["palette"] > 200 and before["inspector"] > 200

    panel.tabs.setCurrentWidget(panel.results)
    settle()
    assert dock_widths(main_window) == before
    panel.tabs.setCurrentIndex(0)
    settle()
    assert dock_widths(main_window) == before


def test_misclassified_images_are_laid_out_without_clipping(qtbot, styled):
    from designer.ui.results_view import ResultsView

    view = ResultsView()
    qtbot.addWidget(view)
    view.resize(520, 400)
    view.show()
    view.show_outcome(fake_outcome(12))
    settle()
    viewport = view.mistakes_area.viewport()
    for cell in view.mistake_cells:
        right = cell.mapTo(viewport, cell.rect().topRight()).x()
        assert right <= viewport.width()
    assert view.mistakes_grid.columnCount() >= 2
