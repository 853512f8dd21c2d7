"""The diagnosis under the curves: the verdict in colour, the blocks concerned as links, the advice."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QWidget

from designer.training.diagnosis import Diagnosis
from designer.ui.style import FC_COLOUR

DIAGNOSIS_LINES = 6  # the box's height; longer advice scrolls
VERDICT_COLOURS = {"overfitting": "#c0392b", "underfitting": "#b9770e", "healthy": "#1e8449",
                   "too early": "#5f6b7a"}


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
        self.label.setStyleSheet("#diagnosis { background: #f7f9fc; border: 1px solid #d8dee6; "
                                 "border-radius: 4px; padding: 6px; }")
        self.label.linkActivated.connect(self._on_label_link_activated)
        self.setWidget(self.label)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFixedHeight(self.label.fontMetrics().lineSpacing() * DIAGNOSIS_LINES + 16)
        self.show_diagnosis(None)

    def show_diagnosis(self, diagnosis: Diagnosis | None) -> None:
        if diagnosis is None:
            self.label.setText("<b>Diagnosis</b>: appears after the first epochs — training and "
                               "validation curves tell whether to shrink or grow the FC head.")
            return
        colour = VERDICT_COLOURS.get(diagnosis.verdict, "#333")
        headline = diagnosis.headline
        label, _, rest = headline.partition(": ")
        if rest and label.lower() == diagnosis.verdict:
            headline = rest[0].upper() + rest[1:]  # the verdict is shown once, in colour
        parts = [f"<span style='color:{colour}; font-weight:bold'>{html.escape(diagnosis.verdict.capitalize())}"
                 f"</span> — {html.escape(headline)}"]
        if diagnosis.blocks:
            links = ", ".join(f"<a href='block:{html.escape(block_id)}' style='color:{FC_COLOUR.name()}'>"
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
