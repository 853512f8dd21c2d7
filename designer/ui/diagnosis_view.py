"""The diagnosis under the curves: the verdict in colour, the blocks concerned as links, the advice."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QWidget

from designer.training.diagnosis import Diagnosis
from designer.ui.style import current_theme, hex_colour, theme_notifier

DIAGNOSIS_LINES = 4  # the box's height; longer advice scrolls
#: each verdict's colour in each theme: strong on the light box, bright enough on the dark one
VERDICT_COLOURS = {
    "light": {"overfitting": "#c0392b", "underfitting": "#9a6408", "healthy": "#1e8449", "too early": "#5f6b7a"},
    "dark": {"overfitting": "#ff7b72", "underfitting": "#e3b341", "healthy": "#56d364", "too early": "#9aa4b1"},
}


class DiagnosisView(QScrollArea):
    """A fixed-height box: a diagnosis of a different length must not resize the plots above it
    (re-laying out both plots froze the window for 30-40 ms at every epoch's end)."""

    #: a block link was clicked: its id
    block_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setObjectName("diagnosis")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.RichText)
        self.label.setTextInteractionFlags(Qt.LinksAccessibleByMouse)
        self.label.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.label.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred)
        self.label.linkActivated.connect(self._on_label_link_activated)
        self.diagnosis: Diagnosis | None = None
        self.setWidget(self.label)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFixedHeight(self.label.fontMetrics().lineSpacing() * DIAGNOSIS_LINES + 16)
        self.theme = current_theme()
        self.apply_theme(self.theme)
        theme_notifier().theme_changed.connect(self.apply_theme)

    @Slot(object)
    def apply_theme(self, theme) -> None:
        """The box, its text and the verdict's colour in ``theme`` (the light box stayed light in the
        dark theme, under light text)."""
        self.theme = theme
        self.label.setStyleSheet(f"#diagnosis {{ background: {hex_colour(theme.panel_fill)}; "
                                 f"color: {hex_colour(theme.text)}; "
                                 f"border: 1px solid {hex_colour(theme.panel_border)}; "
                                 f"border-radius: 4px; padding: 6px; }}")
        self.show_diagnosis(self.diagnosis)

    def verdict_colour(self, verdict: str) -> str:
        return VERDICT_COLOURS["dark" if self.theme.is_dark else "light"].get(verdict, hex_colour(self.theme.text))

    def show_diagnosis(self, diagnosis: Diagnosis | None) -> None:
        self.diagnosis = diagnosis
        if diagnosis is None:
            self.label.setText("<b>Diagnosis</b>: appears after the first epochs — training and "
                               "validation curves tell whether to shrink or grow the FC head.")
            return
        colour = self.verdict_colour(diagnosis.verdict)
        headline = diagnosis.headline
        label, _, rest = headline.partition(": ")
        if rest and label.lower() == diagnosis.verdict:
            headline = rest[0].upper() + rest[1:]  # the verdict is shown once, in colour
        parts = [f"<span style='color:{colour}; font-weight:bold'>{html.escape(diagnosis.verdict.capitalize())}"
                 f"</span> — {html.escape(headline)}"]
        if diagnosis.blocks:
            link_colour = hex_colour(self.theme.fc_text)
            links = ", ".join(f"<a href='block:{html.escape(block_id)}' style='color:{link_colour}'>"
                              f"{html.escape(block_id)}</a>" for block_id in diagnosis.blocks)
            parts.append(f"Blocks concerned: {links} (click to select)")
        if diagnosis.advice:
            items = "".join(f"<li>{html.escape(advice)}</li>" for advice in diagnosis.advice)
            parts.append(f"<ul style='margin:0; -qt-list-indent:1'>{items}</ul>")
        self.label.setText("<br>".join(parts))

    def text(self) -> str:
        return self.label.text()

    @Slot(str)
    def _on_label_link_activated(self, link: str) -> None:
        if link.startswith("block:"):
            self.block_activated.emit(link.removeprefix("block:"))


__all__ = ["DIAGNOSIS_LINES", "DiagnosisView"]
