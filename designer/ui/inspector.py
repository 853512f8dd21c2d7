"""The inspector: what the selected block is, what it outputs and costs, and its settings.

The editors are generated from the block type's ``ParamSpec``s (DESIGN.md 4). They never
keep their own copy of a value (DESIGN.md 1): every change goes to
``DesignDocument.set_param`` (one undo command; consecutive edits of one parameter merge),
and the widgets are refreshed from the graph's ``ParamChanged`` events with their signals
blocked, so undo/redo moves the widgets without pushing new commands.
"""

from __future__ import annotations

import html
import math
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QLabel,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from designer.core import (
    FC_TYPES,
    SAME,
    BlockAdded,
    BlockRemoved,
    GraphReset,
    ParamChanged,
    ParameterError,
    ParamSpec,
    format_count,
    format_shape,
)
from designer.ui.document import DesignDocument, DesignLockedError
from designer.ui.shortcuts import REDO_KEYS, UNDO_KEYS, key_combinations
from designer.ui.style import CATEGORY_COLOURS, FC_COLOUR, current_theme, hex_colour, theme_notifier

_INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int

HINT_NOTHING = (
    "Select a block on the canvas to see its output shape and cost and to edit its settings.\n\n"
    "Drag blocks in from the palette on the left."
)
HINT_LOCKED = "Training is running on this design; stop it to edit."


def stride_follows_kernel(spec: ParamSpec, block_type) -> bool:
    """A pooling stride: 0 means "the kernel size" (PyTorch's default for pooling)."""
    return (spec.name == "stride" and spec.kind == "int" and spec.minimum == 0
            and "kernel_size" in block_type.spec_by_name)


def same_as_kernel_text(kernel: int) -> str:
    """What a stride of 0 reads as in its spin box."""
    return f"same as kernel ({kernel})"


def hint_for_many(count: int) -> str:
    return f"{count} blocks selected.\n\nSelect a single block to edit its settings."


class ParameterEditor(QObject):
    """One widget for one ``ParamSpec``; speaks model values (ints, floats, bools, "same")."""

    #: the user changed the widget: (parameter name, model value)
    edited = Signal(str, object)

    def __init__(self, spec: ParamSpec, parent: QWidget, key_filter: QObject | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.widget = self._make_widget(parent)
        if spec.help:
            self.widget.setToolTip(spec.help)
        if key_filter is not None and isinstance(self.widget, QAbstractSpinBox):
            self.widget.installEventFilter(key_filter)

    def _make_widget(self, parent: QWidget) -> QWidget:
        spec = self.spec
        if spec.kind in ("int", "padding"):
            widget = QSpinBox(parent)
            minimum = int(spec.minimum) if spec.minimum is not None else -_INT_LIMIT + 1
            maximum = int(spec.maximum) if spec.maximum is not None else _INT_LIMIT
            if spec.kind == "padding":
                # One step below the smallest number is "same" (Qt's special value text).
                minimum -= 1
                widget.setSpecialValueText(SAME)
            widget.setRange(minimum, min(maximum, _INT_LIMIT))
            widget.setGroupSeparatorShown(maximum >= 10_000)
            widget.setAccelerated(True)
            widget.valueChanged.connect(self._on_spin_value_changed)
        elif spec.kind == "float":
            widget = QDoubleSpinBox(parent)
            minimum = spec.minimum if spec.minimum is not None else -1e9
            maximum = spec.maximum if spec.maximum is not None else 1e9
            widget.setDecimals(3)
            widget.setRange(minimum, maximum)
            widget.setSingleStep(0.01 if maximum - minimum <= 1 else 0.1)
            widget.valueChanged.connect(self._on_double_value_changed)
        elif spec.kind == "bool":
            widget = QCheckBox(parent)
            widget.toggled.connect(self._on_check_toggled)
        elif spec.kind == "choice":
            widget = QComboBox(parent)
            widget.addItems(list(spec.choices))
            widget.currentTextChanged.connect(self._on_combo_text_changed)
        else:  # pragma: no cover - a catalogue error
            raise ValueError(f"no editor for parameter kind {spec.kind!r}")
        if isinstance(widget, QAbstractSpinBox):
            widget.setMinimumWidth(110)
            # A wheel over an unfocused spin box in a scrolling panel must scroll the panel.
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return widget

    def value(self) -> Any:
        widget, spec = self.widget, self.spec
        if spec.kind == "padding":
            return SAME if widget.value() == widget.minimum() else widget.value()
        if spec.kind == "int":
            return widget.value()
        if spec.kind == "float":
            return widget.value()
        if spec.kind == "bool":
            return widget.isChecked()
        return widget.currentText()

    def show_value(self, value: Any) -> None:
        """Show the model's value without emitting ``edited``."""
        if self._shows(value):
            return  # leave a half-typed entry alone (cursor, selection) when it already matches
        widget, spec = self.widget, self.spec
        blocked = widget.blockSignals(True)
        try:
            if spec.kind == "padding":
                widget.setValue(widget.minimum() if value == SAME else int(value))
            elif spec.kind == "int":
                widget.setValue(int(value))
            elif spec.kind == "float":
                widget.setValue(float(value))
            elif spec.kind == "bool":
                widget.setChecked(bool(value))
            else:
                widget.setCurrentText(str(value))
        finally:
            widget.blockSignals(blocked)

    def _shows(self, value: Any) -> bool:
        current = self.value()
        if self.spec.kind == "float":
            return isinstance(value, (int, float)) and math.isclose(current, value, abs_tol=1e-9)
        return current == value and (current == SAME) == (value == SAME)

    @Slot(int)
    def _on_spin_value_changed(self, value: int) -> None:
        self.edited.emit(self.spec.name, self.value())

    @Slot(float)
    def _on_double_value_changed(self, value: float) -> None:
        self.edited.emit(self.spec.name, self.value())

    @Slot(bool)
    def _on_check_toggled(self, checked: bool) -> None:
        self.edited.emit(self.spec.name, checked)

    @Slot(str)
    def _on_combo_text_changed(self, text: str) -> None:
        self.edited.emit(self.spec.name, text)


class DesignUndoInFields(QObject):
    """Lets the Undo and Redo keys typed in a spin box undo and redo the design.

    A spin box's line edit claims those keys for its own text history, so Ctrl+Z in a focused
    field did nothing to the design (issue 14g). Every acceptable value typed is already in the
    design (keyboard tracking: one merged undo step per parameter), so the design's history
    holds all the field's history too, and the keys go to the window's Undo/Redo instead.
    Only a half-typed entry (empty, "-", out of range) is not in the design yet: then Undo
    puts the field back to the design's value and leaves the design alone.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._keys = key_combinations(UNDO_KEYS) | key_combinations(REDO_KEYS)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) \
                or not isinstance(watched, QAbstractSpinBox) or event.keyCombination() not in self._keys:
            return False
        half_typed = not watched.hasAcceptableInput()
        if kind == QEvent.Type.ShortcutOverride:
            if half_typed:
                event.accept()  # the key press comes to the field (below) instead of the window
            else:
                event.ignore()  # not claimed: the window's Undo/Redo action takes the key
            return True
        if half_typed:
            watched.interpretText()  # an unacceptable text falls back to the last value
            watched.selectAll()
        # Otherwise no action took the key (nothing left to undo, or an inspector on its own):
        # the line edit's own undo would change the value, i.e. edit the design unasked.
        return True


def _label(parent: QWidget, *, word_wrap: bool = True, selectable: bool = False) -> QLabel:
    label = QLabel(parent)
    label.setWordWrap(word_wrap)
    label.setTextFormat(Qt.TextFormat.RichText)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class InspectorPanel(QWidget):
    """Shows the single selected block and edits its parameters through the document."""

    def __init__(self, document: DesignDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._block_id: str | None = None
        self._type_id: str | None = None
        self._editors: dict[str, ParameterEditor] = {}
        self._undo_keys = DesignUndoInFields(self)

        self._stack = QStackedWidget(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)

        self._hint_label = QLabel(self)
        self._hint_label.setWordWrap(True)
        self._hint_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self._stack.addWidget(self._hint_label)

        self._scroll = QScrollArea(self)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._stack.addWidget(self._scroll)
        self._build_block_page()

        document.selection_changed.connect(self._on_document_selection_changed)
        document.graph_changed.connect(self._on_document_graph_changed)
        document.analysis_changed.connect(self._on_document_analysis_changed)
        document.locked_changed.connect(self._on_document_locked_changed)
        theme_notifier().theme_changed.connect(self._on_theme_changed)
        self._on_document_locked_changed(document.locked)
        self._on_theme_changed(current_theme())

    @Slot(object)
    def _on_theme_changed(self, theme) -> None:
        muted = f"color: {hex_colour(theme.muted_text)};"
        self._hint_label.setStyleSheet(f"{muted} padding: 24px 16px;")
        self._description_label.setStyleSheet(muted)
        self._note_label.setStyleSheet(muted)
        self._locked_label.setStyleSheet(f"{muted} font-style: italic;")
        self._rule.setStyleSheet(f"color: {hex_colour(theme.rule)};")
        self._edit_error_label.setStyleSheet(f"color: {hex_colour(theme.error)};")
        self._show_selection()  # the rich texts below carry colours of their own

    def _build_block_page(self) -> None:
        page = QWidget(self._scroll)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)

        self._title_label = _label(page, selectable=True)
        title_font = self._title_label.font()
        title_font.setPointSizeF(title_font.pointSizeF() * 1.35)
        title_font.setBold(True)
        self._title_label.setFont(title_font)
        self._type_label = _label(page)
        self._description_label = _label(page)
        for widget in (self._title_label, self._type_label, self._description_label):
            layout.addWidget(widget)

        facts = QFormLayout()
        facts.setContentsMargins(0, 6, 0, 0)
        facts.setHorizontalSpacing(12)
        facts.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self._shape_value = _label(page, selectable=True)
        self._params_value = _label(page, selectable=True)
        self._macs_value = _label(page, selectable=True)
        facts.addRow("Output shape", self._shape_value)
        facts.addRow("Parameters", self._params_value)
        facts.addRow("MACs", self._macs_value)
        layout.addLayout(facts)

        self._status_label = _label(page, selectable=True)
        layout.addWidget(self._status_label)
        self._note_label = _label(page)
        layout.addWidget(self._note_label)

        self._rule = QFrame(page)
        self._rule.setFrameShape(QFrame.Shape.HLine)
        layout.addWidget(self._rule)
        self._settings_heading = QLabel("Settings", page)
        heading_font = self._settings_heading.font()
        heading_font.setBold(True)
        self._settings_heading.setFont(heading_font)
        layout.addWidget(self._settings_heading)

        self._editor_area = QWidget(page)
        self._editor_form = QFormLayout(self._editor_area)
        self._editor_form.setContentsMargins(0, 0, 0, 0)
        self._editor_form.setHorizontalSpacing(12)
        self._editor_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        layout.addWidget(self._editor_area)

        self._edit_error_label = _label(page, selectable=True)
        self._edit_error_label.hide()
        layout.addWidget(self._edit_error_label)
        self._locked_label = QLabel(HINT_LOCKED, page)
        self._locked_label.setWordWrap(True)
        self._locked_label.hide()
        layout.addWidget(self._locked_label)
        layout.addStretch(1)
        self._scroll.setWidget(page)

    # ------------------------------------------------------------------ queries (tests, window)

    @property
    def block_id(self) -> str | None:
        """The block shown, or None while the hint is shown."""
        return self._block_id

    def editor(self, name: str) -> QWidget:
        """The widget editing parameter ``name`` of the shown block."""
        return self._editors[name].widget

    def editor_names(self) -> list[str]:
        return list(self._editors)

    def hint_text(self) -> str:
        return self._hint_label.text() if self._block_id is None else ""

    def error_text(self) -> str:
        """The shown block's analysis problem (core's message), or ""."""
        return self._status_label.property("plain_text") or ""

    def edit_error_text(self) -> str:
        """The message of the last refused edit, or "" (cleared by the next accepted one)."""
        return self._edit_error_label.text() if not self._edit_error_label.isHidden() else ""

    def output_shape_text(self) -> str:
        return self._shape_value.property("plain_text") or ""

    def note_text(self) -> str:
        """The explanatory note (for an FC block: the convolution it equals), or ""."""
        return self._note_label.text() if not self._note_label.isHidden() else ""

    def params_text(self) -> str:
        return self._params_value.property("plain_text") or ""

    # ------------------------------------------------------------------ editing

    def apply_value(self, name: str, value: Any) -> bool:
        """Send one edit to the document; on refusal show why and put the model's value back."""
        if self._block_id is None:
            return False
        try:
            self.document.set_param(self._block_id, name, value)
        except (ParameterError, DesignLockedError) as error:
            self._show_edit_error(str(error))
            self._refresh_editor(name)
            return False
        self._show_edit_error("")
        return True

    @Slot(str, object)
    def _on_editor_edited(self, name: str, value: Any) -> None:
        self.apply_value(name, value)

    def _show_edit_error(self, message: str) -> None:
        self._edit_error_label.setText(html.escape(message))
        self._edit_error_label.setVisible(bool(message))

    # ------------------------------------------------------------------ showing

    def _show_selection(self) -> None:
        selection = [block_id for block_id in self.document.selection if block_id in self.document.graph]
        block_id = selection[0] if len(selection) == 1 else None
        if block_id is None:
            self._block_id = None
            self._type_id = None
            self._clear_editors()
            self._hint_label.setText(hint_for_many(len(selection)) if selection else HINT_NOTHING)
            self._stack.setCurrentWidget(self._hint_label)
            return
        block = self.document.graph.block(block_id)
        if block_id != self._block_id:
            self._show_edit_error("")
        if (block_id, block.type_id) != (self._block_id, self._type_id):
            self._block_id = block_id
            self._type_id = block.type_id
            self._build_editors()
        self._refresh_header()
        self._refresh_editors()
        self._refresh_analysis()
        self._stack.setCurrentWidget(self._scroll)

    def _clear_editors(self) -> None:
        for editor in self._editors.values():
            editor.widget.deleteLater()
            editor.deleteLater()
        self._editors.clear()
        while self._editor_form.rowCount():
            self._editor_form.removeRow(0)

    def _build_editors(self) -> None:
        self._clear_editors()
        block_type = self.document.graph.block(self._block_id).type
        for spec in block_type.params:
            editor = ParameterEditor(spec, self._editor_area, self._undo_keys)
            editor.edited.connect(self._on_editor_edited)
            self._editors[spec.name] = editor
            label = QLabel(spec.display_label, self._editor_area)
            if spec.help:
                label.setToolTip(spec.help)
            self._editor_form.addRow(label, editor.widget)
        has_settings = bool(block_type.params)
        self._settings_heading.setText("Settings" if has_settings else "Settings: none (this block has nothing to set)")

    def _refresh_editors(self) -> None:
        for name in self._editors:
            self._refresh_editor(name)

    def _refresh_editor(self, name: str) -> None:
        if self._block_id is None or name not in self._editors:
            return
        block = self.document.graph.block(self._block_id)
        if name == "kernel_size" and "stride" in self._editors \
                and stride_follows_kernel(self._editors["stride"].spec, block.type):
            # "Stride 0" meant nothing to a newcomer; the spin box says what 0 stands for.
            self._editors["stride"].widget.setSpecialValueText(same_as_kernel_text(block.params["kernel_size"]))
        self._editors[name].show_value(block.params[name])

    def _refresh_header(self) -> None:
        block = self.document.graph.block(self._block_id)
        block_type = block.type
        muted = current_theme().muted_text
        colour = FC_COLOUR if block.type_id in FC_TYPES else CATEGORY_COLOURS.get(block_type.category, muted)
        self._title_label.setText(html.escape(block.id))
        self._type_label.setText(
            f"<span style='color:{hex_colour(colour)}; font-weight:600'>{html.escape(block_type.label)}</span>"
            f"<span style='color:{hex_colour(muted)}'> · {html.escape(block_type.category)}"
            f" · type {html.escape(block_type.id)}</span>"
        )
        self._description_label.setText(html.escape(block_type.description))
        self._description_label.setVisible(bool(block_type.description))

    def _refresh_analysis(self) -> None:
        if self._block_id is None:
            return
        analysis = self.document.analysis
        report = analysis.reports.get(self._block_id)
        if report is None:
            return
        is_fc = report.type_id in FC_TYPES
        if report.error:
            self._set_plain(self._shape_value, "?", "?")
            self._set_status(f"Error: {report.error}", is_error=True)
        elif report.blocked_by:
            self._set_plain(self._shape_value, "?", "?")
            self._set_status(f"Shape unknown until '{report.blocked_by}' is fixed.", is_error=False)
        else:
            shape = format_shape(report.output_shape)
            self._set_plain(self._shape_value, shape, f"<b>{shape}</b>")
            self._set_status("", is_error=False)
        if report.params:
            plain = f"{report.params:,} ({report.share:.1%} of the network)"
            breakdown = f"{report.weights:,} weights + {report.biases:,} biases" if report.biases else ""
            colour = hex_colour(FC_COLOUR) if is_fc else "inherit"
            rich = (
                f"<b style='color:{colour}'>{report.params:,}</b> "
                f"<span style='color:{colour}'>({report.share:.1%} of the network)</span>"
            )
            if breakdown:
                rich += f"<br><span style='color:{hex_colour(current_theme().muted_text)}'>{breakdown}</span>"
            self._set_plain(self._params_value, plain, rich)
        else:
            self._set_plain(self._params_value, "0", "0")
        macs = f"{report.macs:,} ({format_count(report.macs)})" if report.macs else "0"
        self._set_plain(self._macs_value, macs, html.escape(macs))
        self._note_label.setText(self._fc_note(report))
        self._note_label.setVisible(bool(self._note_label.text()))

    def _fc_note(self, report) -> str:
        """For an FC block: the article's point that it is a convolution covering its whole input."""
        if report.type_id not in FC_TYPES or not report.ok:
            return ""
        sources = self.document.graph.predecessors(self._block_id)
        if len(sources) != 1:
            return ""
        source = self.document.analysis.reports.get(sources[0])
        if source is None or source.output_shape is None or len(source.output_shape) != 3:
            return ""
        channels, height, width = source.output_shape
        outputs = report.output_shape[0]
        return (
            f"Same as a {height}×{width} “valid” convolution over the {channels}×{height}×{width} input "
            f"with {outputs:,} filters: every neuron sees the whole input."
        )

    @staticmethod
    def _set_plain(label: QLabel, plain: str, rich: str) -> None:
        label.setProperty("plain_text", plain)
        label.setText(rich)

    def _set_status(self, message: str, is_error: bool) -> None:
        self._status_label.setProperty("plain_text", message if is_error else "")
        if not message:
            self._status_label.hide()
            self._status_label.setText("")
            return
        theme = current_theme()
        colour = theme.error if is_error else theme.muted_text
        self._status_label.setText(f"<span style='color:{hex_colour(colour)}'>{html.escape(message)}</span>")
        self._status_label.show()

    # ------------------------------------------------------------------ document signals

    @Slot(list)
    def _on_document_selection_changed(self, block_ids: list) -> None:
        self._show_selection()

    @Slot(object)
    def _on_document_graph_changed(self, event) -> None:
        if isinstance(event, ParamChanged):
            if event.block_id == self._block_id:
                self._refresh_editor(event.name)
        elif isinstance(event, (GraphReset, BlockRemoved, BlockAdded)):
            # The shown block may be gone (undo of an add, a loaded file, a transform) or back.
            self._show_selection()

    @Slot(object)
    def _on_document_analysis_changed(self, analysis) -> None:
        if self._block_id is not None:
            self._refresh_analysis()

    @Slot(bool)
    def _on_document_locked_changed(self, locked: bool) -> None:
        self._editor_area.setEnabled(not locked)
        self._locked_label.setVisible(locked)


__all__ = [
    "HINT_NOTHING",
    "DesignUndoInFields",
    "InspectorPanel",
    "ParameterEditor",
    "hint_for_many",
    "same_as_kernel_text",
    "stride_follows_kernel",
]
