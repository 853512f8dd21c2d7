"""The look of the window: a light and a dark theme, and the colours every view shares.

FC blocks are the point of the program (DESIGN.md), so ``FC_COLOUR`` is the one strong warm
colour in the palette; it marks FC blocks on the canvas, in the table, in the bar chart and
in the headline, in both themes, and nothing else uses a warm tone that could be confused
with it.

The theme follows the system's colour scheme (Qt 6.5+: ``QStyleHints.colorScheme``, and
``colorSchemeChanged`` while the program runs) unless a preference says otherwise: the
``NETWORK_DESIGNER_COLOUR_SCHEME`` environment variable (``light``, ``dark`` or ``system``)
or View ▸ Appearance (saved in the settings). Views that paint their own colours read
``current_theme()`` and connect to ``theme_notifier().theme_changed`` to repaint when it
changes; widgets that only use the palette follow by themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

FC_COLOUR = QColor("#E8590C")
#: colour of non-FC blocks that hold parameters (convolutions mostly) in share tints and bars
SHARE_COLOUR = QColor("#3B7DD8")
HIGHLIGHT_COLOUR = QColor("#3B7DD8")
# The light theme's values, kept as names for code that has not moved to current_theme() yet.
ERROR_COLOUR = QColor("#D32F2F")
BLOCKED_COLOUR = QColor("#9E9E9E")
TEXT_COLOUR = QColor("#1F2328")
MUTED_TEXT_COLOUR = QColor("#5F6B7A")
WINDOW_COLOUR = QColor("#F5F6F8")
BASE_COLOUR = QColor("#FFFFFF")

#: one colour per palette category (designer.core.CATEGORIES); none is warm except FC's.
#: Mid-tone colours that read on a white and on a near-black background alike.
CATEGORY_COLOURS: dict[str, QColor] = {
    "Input": QColor("#607D8B"),
    "Convolution": QColor("#3B7DD8"),
    "Activation": QColor("#8E6CC9"),
    "Pooling": QColor("#2E9E8F"),
    "Fully connected": FC_COLOUR,
    "Normalisation & regularisation": QColor("#6A9F3A"),
    "Merge": QColor("#9C5B9E"),
}

#: the environment variable that forces a scheme (tests, screenshots, a desktop Qt cannot read)
SCHEME_VARIABLE = "NETWORK_DESIGNER_COLOUR_SCHEME"
#: the settings key View ▸ Appearance writes
SCHEME_SETTING = "appearance/colour_scheme"
PREFERENCES = ("system", "light", "dark")


@dataclass(frozen=True)
class Theme:
    """Every colour a view paints itself (the rest comes from the QPalette built from it)."""

    name: str  # "light" or "dark"
    window: QColor
    base: QColor
    alternate_base: QColor
    text: QColor
    muted_text: QColor
    button: QColor
    placeholder: QColor
    disabled_text: QColor
    mid: QColor
    midlight: QColor
    dark: QColor
    link: QColor
    error: QColor
    blocked: QColor
    rule: QColor  # thin separator lines
    header_background: QColor
    header_border: QColor
    dock_title: QColor
    # canvas
    canvas_background: QColor
    block_tint_base: QColor  # a block holding no parameters; share tints start here
    block_outline: QColor
    blocked_fill: QColor
    port_fill: QColor
    port_outline: QColor
    wire: QColor
    share_track: QColor
    # table and text in FC colour
    fc_text: QColor  # FC_COLOUR adjusted to read as text on ``base``
    fc_row: QColor  # the background of an FC row
    # plots (pyqtgraph)
    plot_background: QColor
    plot_text: QColor
    plot_axis: QColor
    legend_fill: QColor
    # the training dock's highlighted boxes (notice, diagnosis)
    notice_fill: QColor
    notice_border: QColor
    panel_fill: QColor
    panel_border: QColor

    @property
    def is_dark(self) -> bool:
        return self.name == "dark"


def _alpha(colour: str, alpha: int) -> QColor:
    value = QColor(colour)
    value.setAlpha(alpha)
    return value


LIGHT = Theme(
    name="light", window=WINDOW_COLOUR, base=BASE_COLOUR, alternate_base=QColor("#F3F5F8"),
    text=TEXT_COLOUR, muted_text=MUTED_TEXT_COLOUR, button=QColor("#ECEEF1"), placeholder=QColor("#8A94A0"),
    disabled_text=QColor("#9AA3AD"), mid=QColor("#C9CFD6"), midlight=QColor("#E1E5EA"), dark=QColor("#A0A8B2"),
    link=HIGHLIGHT_COLOUR, error=ERROR_COLOUR, blocked=BLOCKED_COLOUR, rule=QColor("#D5DAE0"),
    header_background=QColor("#EDEFF2"), header_border=QColor("#D5DAE0"), dock_title=QColor("#E9ECF0"),
    canvas_background=QColor("#FBFCFD"), block_tint_base=QColor("#F4F6F8"), block_outline=QColor("#B6BEC8"),
    blocked_fill=QColor("#ECEEF1"), port_fill=QColor("#FFFFFF"), port_outline=QColor("#5F6B7A"),
    wire=QColor("#7A8694"), share_track=_alpha("#FFFFFF", 150),
    fc_text=QColor("#A63D00"), fc_row=QColor("#FBE4D8"),
    plot_background=QColor("#FFFFFF"), plot_text=QColor("#1F2328"), plot_axis=QColor("#5F6B7A"),
    legend_fill=_alpha("#FFFFFF", 200),
    notice_fill=QColor("#FFF4E5"), notice_border=QColor("#F0C27B"),
    panel_fill=QColor("#F7F9FC"), panel_border=QColor("#D8DEE6"),
)

DARK = Theme(
    name="dark", window=QColor("#202328"), base=QColor("#17191D"), alternate_base=QColor("#1D2025"),
    text=QColor("#E6E8EB"), muted_text=QColor("#9AA4B1"), button=QColor("#2B2F36"), placeholder=QColor("#6E7782"),
    disabled_text=QColor("#5E6670"), mid=QColor("#3B4048"), midlight=QColor("#31353C"), dark=QColor("#121417"),
    link=QColor("#6EA8FE"), error=QColor("#FF6B6B"), blocked=QColor("#7D848C"), rule=QColor("#3B4048"),
    header_background=QColor("#272B31"), header_border=QColor("#383D45"), dock_title=QColor("#2B2F36"),
    canvas_background=QColor("#15171A"), block_tint_base=QColor("#2A2E35"), block_outline=QColor("#4B525C"),
    blocked_fill=QColor("#23262B"), port_fill=QColor("#2A2E35"), port_outline=QColor("#9AA4B1"),
    wire=QColor("#8893A1"), share_track=_alpha("#FFFFFF", 60),
    fc_text=QColor("#FF9A5C"), fc_row=QColor("#3A2518"),
    plot_background=QColor("#17191D"), plot_text=QColor("#D5DAE0"), plot_axis=QColor("#8893A1"),
    legend_fill=_alpha("#202328", 210),
    notice_fill=QColor("#3A2E1C"), notice_border=QColor("#8A6A35"),
    panel_fill=QColor("#1D2025"), panel_border=QColor("#3B4048"),
)

THEMES = {"light": LIGHT, "dark": DARK}


class ThemeNotifier(QObject):
    #: the theme changed (a Theme); repaint what you painted with the old one
    theme_changed = Signal(object)


_state: dict = {"theme": LIGHT, "notifier": None, "preference": "system", "listening": False}


def current_theme() -> Theme:
    """The theme in use (light until ``apply_style`` decided otherwise)."""
    return _state["theme"]


def theme_notifier() -> ThemeNotifier:
    """One object for the whole program; connect to its ``theme_changed``."""
    if _state["notifier"] is None:
        _state["notifier"] = ThemeNotifier()
    return _state["notifier"]


def palette_colours() -> dict[str, str]:
    """The current theme as {name: "#rrggbb"}, for style sheets and rich text."""
    theme = current_theme()
    return {name: hex_colour(value) for name, value in vars(theme).items() if isinstance(value, QColor)}


def system_scheme() -> str:
    """"dark" or "light" as the desktop reports it (Qt 6.5+); "light" when it says nothing."""
    hints = QGuiApplication.styleHints() if QGuiApplication.instance() is not None else None
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None and scheme() == Qt.ColorScheme.Dark:
        return "dark"
    return "light"


def preferred_scheme(preference: str | None = None) -> str:
    """The scheme to use: the environment variable, else ``preference``, else the system's."""
    chosen = (os.environ.get(SCHEME_VARIABLE) or preference or "system").strip().lower()
    if chosen not in PREFERENCES:
        chosen = "system"
    return system_scheme() if chosen == "system" else chosen


def mix(first: QColor, second: QColor, amount: float) -> QColor:
    """``first`` moved ``amount`` (0..1) of the way towards ``second``."""
    amount = min(1.0, max(0.0, amount))
    return QColor(
        round(first.red() + (second.red() - first.red()) * amount),
        round(first.green() + (second.green() - first.green()) * amount),
        round(first.blue() + (second.blue() - first.blue()) * amount),
    )


def tint(colour: QColor, amount: float) -> QColor:
    """A light version of ``colour`` (amount 0 = white, 1 = the colour itself)."""
    return mix(QColor("#FFFFFF"), colour, amount)


def share_colour(share: float, is_fc: bool) -> QColor:
    """Fill colour for a block holding ``share`` (0..1) of the network's parameters.

    The square root spreads the small shares apart (a 1.7 % conv is still visibly tinted
    next to a 0 % ReLU) while a 74 % FC block reaches nearly the full colour. FC blocks start
    at a clear orange even when small, because being FC is itself the thing to notice.
    """
    share = min(1.0, max(0.0, float(share)))
    strength = share ** 0.5
    base = current_theme().block_tint_base
    if is_fc:
        return mix(base, FC_COLOUR, 0.35 + 0.65 * strength)
    return mix(base, SHARE_COLOUR, 0.85 * strength)


def text_colour_on(background: QColor) -> QColor:
    """Near-black or white text, whichever reads better on ``background``."""
    luminance = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return QColor("#FFFFFF") if luminance < 150 else TEXT_COLOUR


def hex_colour(colour: QColor) -> str:
    return colour.name(QColor.NameFormat.HexRgb)


def style_sheet(theme: Theme) -> str:
    colours = {name: hex_colour(value) for name, value in vars(theme).items() if isinstance(value, QColor)}
    return """
QToolTip {{
    color: {text};
    background: {base};
    border: 1px solid {mid};
    padding: 4px;
}}
QLineEdit, QSpinBox, QDoubleSpinBox, QComboBox {{
    padding: 2px 4px;
}}
QHeaderView::section {{
    background: {header_background};
    color: {muted_text};
    border: none;
    border-bottom: 1px solid {header_border};
    border-right: 1px solid {header_border};
    padding: 3px 6px;
    font-weight: 600;
}}
QDockWidget::title {{
    background: {dock_title};
    padding: 4px 6px;
}}
QTreeView::item, QTableView::item {{
    padding: 2px 0px;
}}
QLabel#mutedNote {{
    color: {muted_text};
}}
""".format(**colours)


def _palette(theme: Theme) -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: theme.window,
        QPalette.ColorRole.WindowText: theme.text,
        QPalette.ColorRole.Base: theme.base,
        QPalette.ColorRole.AlternateBase: theme.alternate_base,
        QPalette.ColorRole.Text: theme.text,
        QPalette.ColorRole.Button: theme.button,
        QPalette.ColorRole.ButtonText: theme.text,
        QPalette.ColorRole.ToolTipBase: theme.base,
        QPalette.ColorRole.ToolTipText: theme.text,
        QPalette.ColorRole.PlaceholderText: theme.placeholder,
        QPalette.ColorRole.Highlight: HIGHLIGHT_COLOUR,
        QPalette.ColorRole.HighlightedText: QColor("#FFFFFF"),
        QPalette.ColorRole.Link: theme.link,
        QPalette.ColorRole.Light: theme.midlight if theme.is_dark else QColor("#FFFFFF"),
        QPalette.ColorRole.Mid: theme.mid,
        QPalette.ColorRole.Midlight: theme.midlight,
        QPalette.ColorRole.Dark: theme.dark,
        QPalette.ColorRole.Shadow: QColor("#000000"),
        QPalette.ColorRole.BrightText: QColor("#FFFFFF"),
    }
    for role, colour in roles.items():
        palette.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, theme.disabled_text)
    return palette


def set_theme(app: QApplication, theme: Theme) -> None:
    """Switch the whole program to ``theme`` now and tell every view that paints its own."""
    _state["theme"] = theme
    app.setPalette(_palette(theme))
    app.setStyleSheet(style_sheet(theme))
    theme_notifier().theme_changed.emit(theme)


def set_colour_scheme(app: QApplication, preference: str) -> Theme:
    """``preference``: "system", "light" or "dark" (the environment variable still wins)."""
    _state["preference"] = preference if preference in PREFERENCES else "system"
    theme = THEMES[preferred_scheme(_state["preference"])]
    if theme is not current_theme() or app.styleSheet() != style_sheet(theme):
        set_theme(app, theme)
    return theme


def _on_system_scheme_changed(*_arguments) -> None:
    app = QApplication.instance()
    if app is not None:
        set_colour_scheme(app, _state["preference"])


def apply_style(app: QApplication, preference: str | None = None) -> Theme:
    """Fusion, a readable default font, and the light or dark theme (see the module's text)."""
    app.setStyle("Fusion")
    font = QFont(app.font())
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    hints = QGuiApplication.styleHints()
    if not _state["listening"] and hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(_on_system_scheme_changed)
        _state["listening"] = True
    return set_colour_scheme(app, preference or "system")


__all__ = [
    "BLOCKED_COLOUR",
    "CATEGORY_COLOURS",
    "DARK",
    "ERROR_COLOUR",
    "FC_COLOUR",
    "LIGHT",
    "MUTED_TEXT_COLOUR",
    "PREFERENCES",
    "SCHEME_SETTING",
    "SCHEME_VARIABLE",
    "SHARE_COLOUR",
    "THEMES",
    "Theme",
    "ThemeNotifier",
    "apply_style",
    "current_theme",
    "hex_colour",
    "mix",
    "palette_colours",
    "preferred_scheme",
    "set_colour_scheme",
    "set_theme",
    "share_colour",
    "system_scheme",
    "text_colour_on",
    "theme_notifier",
    "tint",
]
