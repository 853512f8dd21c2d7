"""The look of the window: one calm light theme and the colours every view shares.

FC blocks are the point of the program (DESIGN.md), so ``FC_COLOUR`` is the one strong warm
colour in the palette; it marks FC blocks on the canvas, in the table, in the bar chart and
in the headline, and nothing else uses a warm tone that could be confused with it.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

FC_COLOUR = QColor("#E8590C")
ERROR_COLOUR = QColor("#D32F2F")
BLOCKED_COLOUR = QColor("#9E9E9E")
#: colour of non-FC blocks that hold parameters (convolutions mostly) in share tints and bars
SHARE_COLOUR = QColor("#3B7DD8")
TEXT_COLOUR = QColor("#1F2328")
MUTED_TEXT_COLOUR = QColor("#5F6B7A")
WINDOW_COLOUR = QColor("#F5F6F8")
BASE_COLOUR = QColor("#FFFFFF")
HIGHLIGHT_COLOUR = QColor("#3B7DD8")

#: one colour per palette category (designer.core.CATEGORIES); none is warm except FC's
CATEGORY_COLOURS: dict[str, QColor] = {
    "Input": QColor("#607D8B"),
    "Convolution": QColor("#3B7DD8"),
    "Activation": QColor("#8E6CC9"),
    "Pooling": QColor("#2E9E8F"),
    "Fully connected": FC_COLOUR,
    "Normalisation & regularisation": QColor("#6A9F3A"),
    "Merge": QColor("#9C5B9E"),
}

# Where share tints start from: a near-white that still reads as a block on a white scene.
_TINT_BASE = QColor("#F4F6F8")


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
    if is_fc:
        return mix(_TINT_BASE, FC_COLOUR, 0.35 + 0.65 * strength)
    return mix(_TINT_BASE, SHARE_COLOUR, 0.85 * strength)


def text_colour_on(background: QColor) -> QColor:
    """Black or white text, whichever reads better on ``background``."""
    luminance = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return QColor("#FFFFFF") if luminance < 150 else TEXT_COLOUR


def hex_colour(colour: QColor) -> str:
    return colour.name(QColor.NameFormat.HexRgb)


_STYLE_SHEET = f"""
QToolTip {{
    color: {hex_colour(TEXT_COLOUR)};
    background: #FFFFFF;
    border: 1px solid #C9CFD6;
    padding: 4px;
}}
QLineEdit, QSpinBox, QDoubleSpinBox, QComboBox {{
    padding: 2px 4px;
}}
QHeaderView::section {{
    background: #EDEFF2;
    color: {hex_colour(MUTED_TEXT_COLOUR)};
    border: none;
    border-bottom: 1px solid #D5DAE0;
    border-right: 1px solid #E1E5EA;
    padding: 3px 6px;
    font-weight: 600;
}}
QDockWidget::title {{
    background: #E9ECF0;
    padding: 4px 6px;
}}
QTreeView::item, QTableView::item {{
    padding: 2px 0px;
}}
"""


def apply_style(app: QApplication) -> None:
    """Fusion with a light palette, a readable default font and a small style sheet."""
    app.setStyle("Fusion")
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: WINDOW_COLOUR,
        QPalette.ColorRole.WindowText: TEXT_COLOUR,
        QPalette.ColorRole.Base: BASE_COLOUR,
        QPalette.ColorRole.AlternateBase: QColor("#F3F5F8"),
        QPalette.ColorRole.Text: TEXT_COLOUR,
        QPalette.ColorRole.Button: QColor("#ECEEF1"),
        QPalette.ColorRole.ButtonText: TEXT_COLOUR,
        QPalette.ColorRole.ToolTipBase: BASE_COLOUR,
        QPalette.ColorRole.ToolTipText: TEXT_COLOUR,
        QPalette.ColorRole.PlaceholderText: QColor("#8A94A0"),
        QPalette.ColorRole.Highlight: HIGHLIGHT_COLOUR,
        QPalette.ColorRole.HighlightedText: QColor("#FFFFFF"),
        QPalette.ColorRole.Link: HIGHLIGHT_COLOUR,
        QPalette.ColorRole.Mid: QColor("#C9CFD6"),
        QPalette.ColorRole.Midlight: QColor("#E1E5EA"),
        QPalette.ColorRole.Dark: QColor("#A0A8B2"),
    }
    for role, colour in roles.items():
        palette.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#9AA3AD"))
    app.setPalette(palette)
    font = QFont(app.font())
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    app.setStyleSheet(_STYLE_SHEET)


__all__ = [
    "BLOCKED_COLOUR",
    "CATEGORY_COLOURS",
    "ERROR_COLOUR",
    "FC_COLOUR",
    "MUTED_TEXT_COLOUR",
    "SHARE_COLOUR",
    "apply_style",
    "hex_colour",
    "mix",
    "share_colour",
    "text_colour_on",
    "tint",
]
