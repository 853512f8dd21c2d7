"""The block palette: every block type in the registry, grouped by category, with a filter.

Built entirely from ``designer.core.BLOCK_TYPES`` (DESIGN.md 4): a new block type appears
here without touching this file. Entries are dragged onto the canvas as
``BLOCK_MIME_TYPE`` data holding the type id, or activated (double-click / Enter), which
asks the window to add the block.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QKeyEvent, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from designer.core import BLOCK_TYPES, CATEGORIES, FC_TYPES, BlockType
from designer.ui.style import CATEGORY_COLOURS, FC_COLOUR, MUTED_TEXT_COLOUR, current_theme, hex_colour, theme_notifier

#: MIME type of a palette drag; the payload is the block type id in UTF-8
BLOCK_MIME_TYPE = "application/x-network-designer-block"

_TYPE_ID_ROLE = Qt.ItemDataRole.UserRole + 1


def block_mime_data(type_id: str) -> QMimeData:
    """The data a palette drag carries (also what the canvas should accept on drop)."""
    data = QMimeData()
    data.setData(BLOCK_MIME_TYPE, type_id.encode("utf-8"))
    data.setText(type_id)
    return data


def type_id_from_mime(data: QMimeData) -> str | None:
    """The block type id in ``data``, or None when it is not a known palette drag."""
    if data is None or not data.hasFormat(BLOCK_MIME_TYPE):
        return None
    type_id = bytes(data.data(BLOCK_MIME_TYPE)).decode("utf-8", errors="replace")
    return type_id if type_id in BLOCK_TYPES else None


def category_icon(category: str, size: int = 12) -> QIcon:
    """A small rounded square in the category's colour; drawn, so no resource files needed."""
    colour = CATEGORY_COLOURS.get(category, MUTED_TEXT_COLOUR)
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawRoundedRect(1, 1, size - 2, size - 2, 3, 3)
    painter.end()
    return QIcon(pixmap)


def _squeezed(text: str) -> str:
    """Letters and digits only, case-folded: "nn.Linear", "fully_connected" and "fullyConnected" meet."""
    return "".join(character for character in text.casefold() if character.isalnum())


def _matches(block: BlockType, needle: str) -> bool:
    """The filter: label, type id, description, or one of the catalogue's aliases (PyTorch, Keras, MATLAB names)."""
    if not needle:
        return True
    haystack = "\n".join((block.label, block.id, block.description, *block.aliases)).casefold()
    if needle in haystack:
        return True
    squeezed = _squeezed(needle)
    return bool(squeezed) and any(squeezed in _squeezed(name) for name in (block.label, block.id, *block.aliases))


class BlockTree(QTreeWidget):
    """The tree of block types; drags carry ``BLOCK_MIME_TYPE`` data."""

    #: Enter pressed on a block entry (double-click is handled by itemActivated)
    enter_pressed = Signal(QTreeWidgetItem)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setColumnCount(1)
        self.setRootIsDecorated(True)
        self.setIndentation(14)
        self.setUniformRowHeights(True)
        self.setIconSize(QSize(12, 12))
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setExpandsOnDoubleClick(True)

    def mimeTypes(self) -> list[str]:
        return [BLOCK_MIME_TYPE]

    def mimeData(self, items) -> QMimeData | None:
        for item in items:
            type_id = item.data(0, _TYPE_ID_ROLE)
            if type_id:
                return block_mime_data(type_id)
        return None

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # itemActivated on Enter is platform-dependent; make it reliable.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            item = self.currentItem()
            if item is not None and item.data(0, _TYPE_ID_ROLE):
                self.enter_pressed.emit(item)
                event.accept()
                return
        super().keyPressEvent(event)


class PalettePanel(QWidget):
    """Filter box over the block tree. Emits ``block_activated(type_id)`` on double-click/Enter."""

    block_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter blocks…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Type part of a block's name or description, or what PyTorch, Keras or MATLAB "
                                    "call it (Linear, Dense, AdaptiveAvgPool2d…); Enter adds the first match")
        self.tree = BlockTree(self)
        self.tree.setToolTip("")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.tree, 1)

        self._category_items: dict[str, QTreeWidgetItem] = {}
        self._block_items: dict[str, QTreeWidgetItem] = {}
        self._populate()

        self.filter_edit.textChanged.connect(self._on_filter_text_changed)
        self.filter_edit.returnPressed.connect(self._on_filter_return_pressed)
        self.tree.itemActivated.connect(self._on_tree_item_activated)
        self.tree.enter_pressed.connect(self._on_tree_enter_pressed)
        theme_notifier().theme_changed.connect(self._on_theme_changed)

    @Slot(object)
    def _on_theme_changed(self, theme) -> None:
        for group in self._category_items.values():
            group.setForeground(0, theme.muted_text)
        for type_id, item in self._block_items.items():
            item.setToolTip(0, self._tooltip(BLOCK_TYPES[type_id]))

    # ------------------------------------------------------------------ building

    def _populate(self) -> None:
        header_font = self.tree.font()
        header_font.setBold(True)
        muted = QColor(current_theme().muted_text)
        # Categories in the catalogue's order; a category no block uses is left out, and a
        # block in a category not listed in CATEGORIES still shows (at the end).
        categories = list(CATEGORIES) + sorted(
            {block.category for block in BLOCK_TYPES.values()} - set(CATEGORIES)
        )
        for category in categories:
            blocks = [block for block in BLOCK_TYPES.values() if block.category == category]
            if not blocks:
                continue
            group = QTreeWidgetItem(self.tree, [category])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            group.setFont(0, header_font)
            group.setForeground(0, muted)
            group.setIcon(0, category_icon(category))
            group.setToolTip(0, category)
            self._category_items[category] = group
            for block in blocks:
                item = QTreeWidgetItem(group, [block.label])
                item.setData(0, _TYPE_ID_ROLE, block.id)
                item.setToolTip(0, self._tooltip(block))
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
                )
                if block.id in FC_TYPES:
                    item.setForeground(0, FC_COLOUR)
                self._block_items[block.id] = item
            group.setExpanded(True)

    @staticmethod
    def _tooltip(block: BlockType) -> str:
        muted = hex_colour(current_theme().muted_text)
        lines = [f"<b>{block.label}</b> <span style='color:{muted}'>({block.id})</span>"]
        if block.description:
            lines.append(block.description)
        if block.params:
            names = ", ".join(spec.display_label.lower() for spec in block.params)
            lines.append(f"<span style='color:{muted}'>Settings: {names}</span>")
        lines.append(f"<span style='color:{muted}'>Drag onto the canvas, or double-click to add.</span>")
        return "<br>".join(lines)

    def sizeHint(self) -> QSize:
        # Wide enough for the longest category name ("Normalisation & regularisation").
        return QSize(270, 520)

    # ------------------------------------------------------------------ queries (tests, window)

    def categories(self) -> list[str]:
        """Category names shown, in order."""
        return [self.tree.topLevelItem(index).text(0) for index in range(self.tree.topLevelItemCount())]

    def visible_categories(self) -> list[str]:
        return [category for category, item in self._category_items.items() if not item.isHidden()]

    def visible_type_ids(self) -> list[str]:
        """Block type ids not hidden by the filter, in display order."""
        return [type_id for type_id, item in self._block_items.items()
                if not item.isHidden() and not item.parent().isHidden()]

    def item_for(self, type_id: str) -> QTreeWidgetItem:
        return self._block_items[type_id]

    def set_filter(self, text: str) -> None:
        self.filter_edit.setText(text)

    # ------------------------------------------------------------------ handlers

    @Slot(str)
    def _on_filter_text_changed(self, text: str) -> None:
        needle = text.strip().casefold()
        for category, group in self._category_items.items():
            any_visible = False
            for index in range(group.childCount()):
                item = group.child(index)
                visible = _matches(BLOCK_TYPES[item.data(0, _TYPE_ID_ROLE)], needle)
                item.setHidden(not visible)
                any_visible = any_visible or visible
            group.setHidden(not any_visible)
            if any_visible and needle:
                group.setExpanded(True)
        visible = self.visible_type_ids()
        if needle and visible:
            self.tree.setCurrentItem(self._block_items[visible[0]])

    @Slot()
    def _on_filter_return_pressed(self) -> None:
        visible = self.visible_type_ids()
        if self.filter_edit.text().strip() and visible:
            self.block_activated.emit(visible[0])

    @Slot(QTreeWidgetItem, int)
    def _on_tree_item_activated(self, item: QTreeWidgetItem, column: int) -> None:
        self._activate(item)

    @Slot(QTreeWidgetItem)
    def _on_tree_enter_pressed(self, item: QTreeWidgetItem) -> None:
        self._activate(item)

    def _activate(self, item: QTreeWidgetItem) -> None:
        type_id = item.data(0, _TYPE_ID_ROLE)
        if type_id:
            self.block_activated.emit(type_id)


__all__ = ["BLOCK_MIME_TYPE", "BlockTree", "PalettePanel", "block_mime_data", "category_icon", "type_id_from_mime"]
