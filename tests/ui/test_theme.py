"""The light and dark themes: the window follows the system's scheme, plots and canvas included."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from designer.ui import style
from designer.ui.style import DARK, FC_COLOUR, LIGHT, SCHEME_VARIABLE, apply_style, current_theme, set_colour_scheme


def luminance(colour: QColor) -> float:
    """WCAG relative luminance."""
    def channel(value: int) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4
    return 0.2126 * channel(colour.red()) + 0.7152 * channel(colour.green()) + 0.0722 * channel(colour.blue())


def contrast(first: QColor, second: QColor) -> float:
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.fixture
def themed(styled, monkeypatch):
    """``themed(scheme)``: the program's style with the scheme forced as a user would force it."""
    def force(scheme: str):
        monkeypatch.setenv(SCHEME_VARIABLE, scheme)
        apply_style(styled)
        return current_theme()
    yield force
    monkeypatch.delenv(SCHEME_VARIABLE, raising=False)
    set_colour_scheme(styled, "light")


def settle():
    for _ in range(3):
        QApplication.processEvents()


def dark(colour: QColor) -> bool:
    return luminance(colour) < 0.05


def light(colour: QColor) -> bool:
    return luminance(colour) > 0.5


def views(window):
    panel = window.training_panel
    return {
        "canvas": window.canvas.backgroundBrush().color(),
        "share chart": window.parameter_panel.chart.backgroundBrush().color(),
        "training curves": panel.plots.backgroundBrush().color(),
        "confusion matrix": panel.results.confusion.backgroundBrush().color(),
        "window": QApplication.palette().color(QPalette.ColorRole.Window),
        "table": QApplication.palette().color(QPalette.ColorRole.Base),
    }


def test_forced_dark_gives_dark_backgrounds_and_light_text_everywhere(main_window, themed):
    theme = themed("dark")
    assert theme is DARK
    settle()
    backgrounds = views(main_window)
    assert all(dark(colour) for colour in backgrounds.values()), backgrounds
    texts = {
        "window text": QApplication.palette().color(QPalette.ColorRole.WindowText),
        "share chart axis": main_window.parameter_panel.chart.getPlotItem().getAxis("bottom").textPen().color(),
        "curves axis": main_window.training_panel.plots.loss_plot.getAxis("left").textPen().color(),
        "confusion axis": main_window.training_panel.results.confusion.getPlotItem().getAxis("left").textPen().color(),
    }
    assert all(light(colour) for colour in texts.values()), texts
    for name, colour in texts.items():
        assert contrast(colour, theme.plot_background) >= 7, name


def test_forced_light_gives_light_backgrounds(main_window, themed):
    assert themed("light") is LIGHT
    settle()
    backgrounds = views(main_window)
    assert all(light(colour) for colour in backgrounds.values()), backgrounds


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_reads_and_fc_orange_stands_out(main_window, themed, scheme):
    theme = themed(scheme)
    settle()
    assert contrast(theme.text, theme.base) >= 7
    assert contrast(theme.text, theme.window) >= 7
    assert contrast(theme.muted_text, theme.base) >= 4.5
    assert contrast(theme.error, theme.base) >= 4.5
    assert contrast(theme.fc_text, theme.fc_row) >= 4.5  # FC rows of the table
    assert contrast(FC_COLOUR, theme.canvas_background) >= 3  # an FC block on the canvas
    # The canvas: a block holding nothing, and the FC block holding most, both read.
    canvas = main_window.canvas
    relu, fc1 = canvas.items_by_id["tanh1"], canvas.items_by_id["fc1"]
    assert contrast(theme.block_outline, theme.canvas_background) >= 1.8  # its edge shows
    assert contrast(style.text_colour_on(relu.fill_colour()), relu.fill_colour()) >= 7
    assert contrast(style.text_colour_on(fc1.fill_colour()), fc1.fill_colour()) >= 3
    # The FC row of the parameter table uses the theme's FC colours.
    model = main_window.parameter_panel.model
    row = model.row_of("fc1")
    assert model.data(model.index(row, 0), Qt.ItemDataRole.BackgroundRole).color() == theme.fc_row
    assert model.data(model.index(row, 0), Qt.ItemDataRole.ForegroundRole).color() == theme.fc_text


def test_the_theme_switches_live_and_back(main_window, styled):
    set_colour_scheme(styled, "light")
    settle()
    assert all(light(colour) for colour in views(main_window).values())
    set_colour_scheme(styled, "dark")
    settle()
    assert all(dark(colour) for colour in views(main_window).values())
    assert main_window.canvas.wires and all(wire.pen().color() == DARK.wire for wire in main_window.canvas.wires.values())
    set_colour_scheme(styled, "light")
    settle()
    assert all(light(colour) for colour in views(main_window).values())


def test_the_window_follows_a_change_of_the_system_scheme(main_window, styled, monkeypatch):
    monkeypatch.delenv(SCHEME_VARIABLE, raising=False)
    set_colour_scheme(styled, "system")
    hints = QGuiApplication.styleHints()
    try:
        monkeypatch.setattr(style, "system_scheme", lambda: "dark")
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # what Qt sends when the desktop switches
        settle()
        assert current_theme() is DARK and dark(main_window.canvas.backgroundBrush().color())
        monkeypatch.setattr(style, "system_scheme", lambda: "light")
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
        settle()
        assert current_theme() is LIGHT
        # A fixed choice in View ▸ Appearance is not overridden by the system.
        main_window.named_actions["appearance_dark"].trigger()
        assert current_theme() is DARK
        assert main_window.settings.value("appearance/colour_scheme") == "dark"
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
        assert current_theme() is DARK
    finally:
        set_colour_scheme(styled, "light")
