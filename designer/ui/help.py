"""Help ▸ Getting Started and Help ▸ Keyboard Shortcuts: two small pages inside the window.

The shortcuts page is generated from the window's menus each time it opens (every menu,
including the ones other parts of the program install), so it always says what the keys
really do on this platform; only the mouse gestures, which are no actions, are written here.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from designer.ui.shortcuts import shortcut_rows
from designer.ui.style import FC_COLOUR, hex_colour

#: what the canvas does with the mouse and keys that are no menu commands
CANVAS_GESTURES = (
    ("Drag a palette entry onto the canvas", "add that block where it is dropped"),
    ("Double-click or Enter on a palette entry", "add the block in the middle of the view"),
    ("Drag from a block's bottom port to another's top port", "wire them"),
    ("Click a wire, then Delete", "remove the wire"),
    ("Mouse wheel", "zoom around the pointer"),
    ("Middle button drag, or Space + drag", "pan"),
    ("Drag on empty canvas", "select several blocks"),
    ("Undo / Redo keys while an inspector field has focus", "undo / redo the design (a half-typed "
     "value is put back first)"),
)


def getting_started_html() -> str:
    fc = hex_colour(FC_COLOUR)
    return f"""
<h2>Getting started</h2>
<p>Network Designer shows, at every edit, what each block of a convolutional network outputs
and costs, and how much of the network sits in its <b style='color:{fc}'>fully connected
(FC) layers</b>.</p>

<h3>1. Add blocks</h3>
<p>The <b>Blocks</b> palette on the left lists every block by category; type in its filter
box to find one. Drag a block onto the canvas, or double-click it (Enter also works) to
place it in the middle of the view. <i>File ▸ Templates</i> opens ready-made networks
(LeNet-5, VGG-16, small CNNs with an FC or a GAP head).</p>

<h3>2. Wire them</h3>
<p>Drag from a block's output port (the dot at its bottom) to another block's input port
(at its top). A wire that would make a loop, or a second input into a one-input block, is
refused, and the status bar says why. Select a block to edit its settings in the
<b>Inspector</b> on the right; a block whose input does not fit is outlined in red with the
reason. Every edit can be undone.</p>

<h3>3. Read the FC share</h3>
<p>Each block shows its output shape, its parameter count and its share of all parameters;
FC blocks are <span style='color:{fc}'>orange</span>. The <b>Parameters</b> panel at the
bottom has the headline (“FC layers hold … of all parameters”), a table of every layer
with shapes, parameters and multiply-accumulates (MACs), and a bar chart of the shares.
The status bar repeats the totals.</p>

<h3>4. Train</h3>
<p>Open the <b>Training</b> tab beside the Parameters panel, choose a dataset (the built-in
MNIST sample needs no download) and press <b>Start</b> (<i>Training ▸ Start Training</i>).
<i>Adapt input to dataset</i> fixes the Input block and the classifier for the dataset in one
step. Curves show loss and accuracy as it learns; under them a diagnosis says whether the
network over- or underfits and what to change. The <b>Results</b> tab has the test accuracy,
the confusion matrix and the misclassified images.</p>

<h3>5. Test the FC claims in the FC Lab</h3>
<p>The <b>FC Lab</b> menu turns the classic statements about FC layers into experiments on
your design: an FC layer is a convolution covering its whole input (<i>FC → Convolution</i>);
global average pooling can replace the FC head with far fewer parameters (<i>FC Head →
GAP</i>); an FC head is thrown off when the object moves in the image (<i>Where Is the
Cat?</i>); FC depth and width trade accuracy for size and time (<i>Depth × Width Sweep</i>);
and <i>Which FC Neurons Fire</i> shows the FC activations for one test image. Experiments
that need a trained model take it from the Training dock (its last run or a loaded
checkpoint).</p>

<p>Help ▸ Keyboard Shortcuts lists every key the window knows.</p>
"""


def shortcuts_html(menu_bar) -> str:
    rows = shortcut_rows(menu_bar)
    parts = ["<h2>Keyboard shortcuts</h2>",
             "<table cellspacing='0' cellpadding='4' width='100%'>",
             "<tr><th align='left'>Menu</th><th align='left'>Command</th><th align='left'>Keys</th></tr>"]
    for path, command, keys in rows:
        parts.append(f"<tr><td>{html.escape(path)}</td><td>{html.escape(command)}</td>"
                     f"<td><b>{html.escape(keys)}</b></td></tr>")
    parts.append("</table><h3>On the canvas</h3><table cellspacing='0' cellpadding='4' width='100%'>")
    for gesture, effect in CANVAS_GESTURES:
        parts.append(f"<tr><td><b>{html.escape(gesture)}</b></td><td>{html.escape(effect)}</td></tr>")
    parts.append("</table>")
    return "".join(parts)


class HelpPage(QDialog):
    """A small, non-modal window with one page of rich text."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.resize(620, 640)

    def set_text(self, text: str) -> None:
        self.browser.setHtml(text)

    def plain_text(self) -> str:
        return self.browser.toPlainText()


__all__ = ["CANVAS_GESTURES", "HelpPage", "getting_started_html", "shortcuts_html"]
