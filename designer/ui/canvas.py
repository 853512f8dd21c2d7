"""The canvas: a QGraphicsView that draws the document's graph and edits it through the document.

It keeps a block-id → item map built from the graph's events (DESIGN.md 1) and never changes
the graph itself: every gesture ends in one call on ``DesignDocument`` (one undo step).
On ``analysis_changed`` only the items whose label or report changed repaint.
"""

from __future__ import annotations

import shiboken6

from PySide6.QtCore import QMimeData, QPointF, QRectF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QPainter, QPen, QTransform
from PySide6.QtWidgets import QApplication, QGraphicsPathItem, QGraphicsScene, QGraphicsView

from designer.core import (
    BLOCK_TYPES,
    BlockAdded,
    BlockMoved,
    BlockRemoved,
    DesignerError,
    Edge,
    EdgeAdded,
    EdgeRemoved,
    Graph,
    GraphReset,
    dumps,
    loads,
    summary_label,
)
from designer.ui.canvas_items import BlockItem, PortItem, WireItem, wire_path
from designer.ui.document import DesignDocument
from designer.ui.layout import BLOCK_HEIGHT, BLOCK_WIDTH, auto_layout
from designer.ui.style import HIGHLIGHT_COLOUR, current_theme, theme_notifier

#: what the palette drags: the block type id as UTF-8
BLOCK_MIME_TYPE = "application/x-network-designer-block"
#: what Copy puts on the clipboard: the copied blocks and their wires as an architecture file
CLIPBOARD_MIME_TYPE = "application/x-network-designer-blocks+json"

PASTE_OFFSET = 40.0
FLASH_MILLISECONDS = 700
ZOOM_STEP = 1.15
MIN_ZOOM, MAX_ZOOM = 0.08, 4.0
SCENE_MARGIN = 400.0
#: files dropped on the canvas that the window opens: designs, and ONNX models to import
OPENABLE = (".json", ".onnx")



def release_clipboard() -> None:
    """Before Qt shuts down, turn copied blocks on the clipboard into plain text.

    The QMimeData that Copy hands the clipboard is a Python-made object, and Qt's clipboard
    outlives the interpreter: destroying that object at process exit crashes the program
    (a segmentation fault after the window has closed). ``setText`` makes Qt create data of
    its own; the design's JSON stays on the clipboard as text.
    """
    clipboard = QApplication.clipboard()
    mime = clipboard.mimeData()
    if mime is not None and mime.hasFormat(CLIPBOARD_MIME_TYPE):
        clipboard.setText(mime.text())

class CanvasView(QGraphicsView):
    #: a message for the status bar (a refused wire, a refused drop)
    message = Signal(str)
    #: .json and .onnx files dropped on the canvas (the main window opens them)
    files_dropped = Signal(list)

    def __init__(self, document: DesignDocument, parent=None) -> None:
        self._scene = QGraphicsScene()
        super().__init__(self._scene, parent)
        self._scene.setParent(self)
        self.document = document
        self.items_by_id: dict[str, BlockItem] = {}
        self.wires: dict[Edge, WireItem] = {}
        self._syncing_selection = False
        self._press_positions: dict[str, tuple[float, float]] = {}
        self._wire_source: BlockItem | None = None
        self._wire_preview: QGraphicsPathItem | None = None
        self._wire_hover: PortItem | None = None
        self._pan_anchor: QPointF | None = None
        self._space_down = False
        self._paste_count = 0

        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setAcceptDrops(True)
        self.setBackgroundBrush(current_theme().canvas_background)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        document.graph_changed.connect(self._on_document_graph_changed)
        document.analysis_changed.connect(self._on_document_analysis_changed)
        document.selection_changed.connect(self._on_document_selection_changed)
        document.locked_changed.connect(self._on_document_locked_changed)
        self._scene.selectionChanged.connect(self._on_scene_selection_changed)
        theme_notifier().theme_changed.connect(self._on_theme_changed)
        self.rebuild()

    @Slot(object)
    def _on_theme_changed(self, theme) -> None:
        self.setBackgroundBrush(theme.canvas_background)
        self.resetCachedContent()
        for item in self.items_by_id.values():
            item.apply_theme()
        for wire in self.wires.values():
            wire.apply_theme()

    # ================================================================== model → items

    def rebuild(self) -> None:
        """Drop every item and build them again from the graph (after a reset)."""
        self._syncing_selection = True
        try:
            for wire in self.wires.values():
                wire.detach()
            self._scene.clear()
            self.items_by_id.clear()
            self.wires.clear()
            self._wire_preview = None
            for block in self.document.graph:
                self._add_block_item(block.id)
            for edge in self.document.graph.edges:
                self._add_wire_item(edge)
        finally:
            self._syncing_selection = False
        self._refresh_items(self.document.analysis)
        self._on_document_selection_changed(self.document.selection)
        self._update_scene_rect()

    def _add_block_item(self, block_id: str) -> BlockItem:
        block = self.document.graph.block(block_id)
        item = BlockItem(block_id, block.type_id)
        item.setPos(*block.position)
        if self.document.locked:
            item.setFlag(BlockItem.GraphicsItemFlag.ItemIsMovable, False)
        self._scene.addItem(item)
        self.items_by_id[block_id] = item
        return item

    def _add_wire_item(self, edge: Edge) -> None:
        wire = WireItem(edge, self.items_by_id[edge.source], self.items_by_id[edge.target])
        self._scene.addItem(wire)
        self.wires[edge] = wire

    def _remove_wire_item(self, edge: Edge) -> None:
        wire = self.wires.pop(edge, None)
        if wire is not None:
            wire.detach()
            self._scene.removeItem(wire)

    @Slot(object)
    def _on_document_graph_changed(self, event) -> None:
        if isinstance(event, GraphReset):
            self.rebuild()
        elif isinstance(event, BlockAdded):
            self._add_block_item(event.block_id)
            self._update_scene_rect()
        elif isinstance(event, BlockRemoved):
            item = self.items_by_id.pop(event.block_id, None)
            if item is not None:
                self._scene.removeItem(item)
        elif isinstance(event, EdgeAdded):
            self._add_wire_item(event.edge)
        elif isinstance(event, EdgeRemoved):
            self._remove_wire_item(event.edge)
        elif isinstance(event, BlockMoved):
            item = self.items_by_id.get(event.block_id)
            if item is not None and (item.pos().x(), item.pos().y()) != event.position:
                item.setPos(*event.position)
                self._update_scene_rect()

    @Slot(object)
    def _on_document_analysis_changed(self, analysis) -> None:
        self._refresh_items(analysis)

    def _refresh_items(self, analysis) -> int:
        """Give each item its label and report; returns how many actually changed."""
        blocks = self.document.graph.blocks
        changed = 0
        for block_id, item in self.items_by_id.items():
            block = blocks[block_id]
            if item.set_content(summary_label(block.type_id, block.params), analysis.reports.get(block_id)):
                changed += 1
        return changed

    def _update_scene_rect(self) -> None:
        bounds = self._scene.itemsBoundingRect()
        if bounds.isNull():
            bounds = QRectF(0, 0, BLOCK_WIDTH, BLOCK_HEIGHT)
        self._scene.setSceneRect(bounds.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN))

    # ================================================================== selection

    @Slot()
    def _on_scene_selection_changed(self) -> None:
        if self._syncing_selection:
            return
        selected = [item.block_id for item in self._scene.selectedItems() if isinstance(item, BlockItem)]
        order = {block_id: index for index, block_id in enumerate(self.document.graph.blocks)}
        selected.sort(key=lambda block_id: order.get(block_id, 0))
        self._syncing_selection = True
        try:
            self.document.set_selection(selected)
        finally:
            self._syncing_selection = False

    @Slot(list)
    def _on_document_selection_changed(self, block_ids: list) -> None:
        if self._syncing_selection:
            return
        wanted = set(block_ids)
        self._syncing_selection = True
        try:
            for block_id, item in self.items_by_id.items():
                item.setSelected(block_id in wanted)
            for wire in self.wires.values():
                wire.setSelected(False)
        finally:
            self._syncing_selection = False
        if len(block_ids) == 1 and block_ids[0] in self.items_by_id:
            self.ensureVisible(self.items_by_id[block_ids[0]], 40, 40)

    def selected_block_ids(self) -> list[str]:
        return [item.block_id for item in self._scene.selectedItems() if isinstance(item, BlockItem)]

    def selected_edges(self) -> list[Edge]:
        return [item.edge for item in self._scene.selectedItems() if isinstance(item, WireItem)]

    def select_all(self) -> None:
        self.document.set_selection(list(self.document.graph.blocks))

    @Slot(bool)
    def _on_document_locked_changed(self, locked: bool) -> None:
        for item in self.items_by_id.values():
            item.setFlag(BlockItem.GraphicsItemFlag.ItemIsMovable, not locked)

    # ================================================================== edits (public)

    def _edit(self, action, *arguments):
        """Run a document edit; a refusal becomes a status-bar message instead of an exception."""
        try:
            return action(*arguments)
        except DesignerError as error:  # a refused edit, or the design is locked while training
            self.message.emit(str(error))
        return None

    def add_block_at(self, type_id: str, scene_point: QPointF) -> str | None:
        """Add a block centred on ``scene_point`` (one undo step); returns its id."""
        if type_id not in BLOCK_TYPES:
            self.message.emit(f"unknown block type '{type_id}'")
            return None
        position = (round(scene_point.x() - BLOCK_WIDTH / 2), round(scene_point.y() - BLOCK_HEIGHT / 2))
        block_id = self._edit(self.document.add_block, type_id, None, position)
        if block_id is not None:
            self.document.set_selection([block_id])
        return block_id

    def add_block_in_view(self, type_id: str) -> str | None:
        """Add a block in the middle of what is visible (palette double-click)."""
        centre = self.mapToScene(self.viewport().rect().center())
        # Stagger blocks added one after another so they do not land on top of each other.
        while any(item.sceneBoundingRect().contains(centre) for item in self.items_by_id.values()):
            centre += QPointF(30, 30)
        return self.add_block_at(type_id, centre)

    def wire(self, source: str, target: str, port: int | None = None) -> Edge | None:
        """Wire ``source``'s output to ``target`` (the mouse gesture ends here).

        A refused wire creates nothing: core's reason goes to the status bar and the
        target block flashes red.
        """
        try:
            return self.document.connect_blocks(source, target, port)
        except DesignerError as error:
            self.message.emit(f"Cannot wire {source} → {target}: {error}")
            self.flash_block(target)
            return None

    def flash_block(self, block_id: str) -> None:
        item = self.items_by_id.get(block_id)
        if item is None:
            return
        item.flash(True)
        QTimer.singleShot(FLASH_MILLISECONDS, lambda: _end_flash(item))

    def delete_selection(self) -> None:
        block_ids = self.selected_block_ids()
        edges = [edge for edge in self.selected_edges() if edge.source not in block_ids and edge.target not in block_ids]
        if not block_ids and not edges:
            return
        try:
            with self.document.macro("Delete"):
                for edge in edges:
                    self.document.disconnect(edge)
                self.document.remove_blocks(block_ids)
        except DesignerError as error:
            self.message.emit(str(error))

    def copy_selection(self) -> bool:
        """Put the selected blocks and the wires between them on the clipboard, as an architecture file."""
        block_ids = self.selected_block_ids()
        if not block_ids:
            return False
        chosen = set(block_ids)
        graph = self.document.graph
        selection = Graph(graph.name)
        for block in graph:
            if block.id in chosen:
                selection.add_block(block.type_id, dict(block.params), block.position, block.id)
        for edge in graph.edges:
            if edge.source in chosen and edge.target in chosen:
                selection.connect(edge.source, edge.target, edge.port)
        text = dumps(selection)
        mime = QMimeData()
        mime.setData(CLIPBOARD_MIME_TYPE, text.encode("utf-8"))
        mime.setText(text)
        QApplication.clipboard().setMimeData(mime)
        self._paste_count = 0
        return True

    def cut_selection(self) -> None:
        if self.copy_selection():
            self.delete_selection()

    def paste(self) -> list[str]:
        """Paste copied blocks with their internal wires, offset, as one undo step."""
        mime = QApplication.clipboard().mimeData()
        if mime is None or not mime.hasFormat(CLIPBOARD_MIME_TYPE):
            return []
        try:
            # The file format's reader checks types, parameters and wires before anything is added.
            copied = loads(bytes(mime.data(CLIPBOARD_MIME_TYPE)))
        except DesignerError:
            self.message.emit("the clipboard does not hold blocks this program can paste")
            return []
        self._paste_count += 1
        offset = PASTE_OFFSET * self._paste_count
        new_ids: dict[str, str] = {}
        try:
            with self.document.macro(f"Paste {len(copied)} block{'s' if len(copied) != 1 else ''}"):
                for block in copied:
                    x, y = block.position
                    new_ids[block.id] = self.document.add_block(block.type_id, dict(block.params),
                                                                (x + offset, y + offset))
                for edge in copied.edges:
                    self.document.connect_blocks(new_ids[edge.source], new_ids[edge.target], edge.port)
        except DesignerError as error:
            # The macro is already on the stack; take the partial paste back out.
            if new_ids and self.document.undo_stack.canUndo():
                self.document.undo_stack.undo()
            self.message.emit(f"cannot paste: {error}")
            return []
        self.document.set_selection(list(new_ids.values()))
        return list(new_ids.values())

    def apply_auto_layout(self) -> None:
        """Lay the design out again (one undo step) and fit it in the view."""
        viewport = self.viewport().rect()
        aspect = viewport.width() / viewport.height() if viewport.height() > 50 else 1.7
        graph = self.document.graph
        moves = {
            block_id: (graph.block(block_id).position, position)
            for block_id, position in auto_layout(graph, aspect).items()
        }
        self._edit(self.document.move_blocks, moves)
        self.fit_view()

    # ================================================================== view

    def fit_view(self) -> None:
        bounds = self._scene.itemsBoundingRect()
        if bounds.isNull():
            return
        self.fitInView(bounds.adjusted(-30, -30, 30, 30), Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.25:  # a three-block design should not fill the screen with huge text
            self.set_zoom(1.25)
            self.centerOn(bounds.center())

    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float) -> None:
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        self.setTransform(QTransform.fromScale(zoom, zoom))

    def zoom_by(self, factor: float) -> None:
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom() * factor))
        factor = target / self.zoom()
        self.scale(factor, factor)

    def zoom_in(self) -> None:
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.zoom_by(ZOOM_STEP)
        self.setTransformationAnchor(anchor)

    def zoom_out(self) -> None:
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.zoom_by(1 / ZOOM_STEP)
        self.setTransformationAnchor(anchor)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(ZOOM_STEP ** steps)  # anchored under the mouse
        event.accept()

    # ================================================================== mouse

    def block_at(self, scene_point: QPointF) -> tuple[BlockItem | None, PortItem | None]:
        for item in self._scene.items(scene_point):
            if isinstance(item, PortItem):
                return item.block, item
            if isinstance(item, BlockItem):
                return item, None
        return None, None

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_anchor = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and not self._space_down:
            block, port = self.block_at(self.mapToScene(event.position().toPoint()))
            if port is not None and port.kind == PortItem.OUTPUT and not self.document.locked:
                self._start_wire(block)
                event.accept()
                return
        super().mousePressEvent(event)
        self._press_positions = {
            block_id: (item.pos().x(), item.pos().y()) for block_id, item in self.items_by_id.items()
        }

    def mouseMoveEvent(self, event) -> None:
        if self._pan_anchor is not None:
            delta = event.position() - self._pan_anchor
            self._pan_anchor = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            event.accept()
            return
        if self._wire_source is not None:
            self._drag_wire(self.mapToScene(event.position().toPoint()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_anchor is not None and event.button() == Qt.MouseButton.MiddleButton:
            self._pan_anchor = None
            self.viewport().unsetCursor()
            event.accept()
            return
        if self._wire_source is not None:
            self._finish_wire(self.mapToScene(event.position().toPoint()))
            event.accept()
            return
        super().mouseReleaseEvent(event)
        self._commit_moves()

    def _commit_moves(self) -> None:
        """One move gesture = one undo step: compare with the positions at the press."""
        moves = {}
        for block_id, start in self._press_positions.items():
            item = self.items_by_id.get(block_id)
            if item is None:
                continue
            end = (float(round(item.pos().x())), float(round(item.pos().y())))
            if (round(start[0]), round(start[1])) != end:
                moves[block_id] = (self.document.graph.block(block_id).position, end)
        self._press_positions = {}
        if moves:
            self._edit(self.document.move_blocks, moves)

    def _start_wire(self, source: BlockItem) -> None:
        self._wire_source = source
        preview = QGraphicsPathItem()
        pen = QPen(HIGHLIGHT_COLOUR, 2, Qt.PenStyle.DashLine)
        preview.setPen(pen)
        preview.setZValue(5)
        self._scene.addItem(preview)
        self._wire_preview = preview
        preview.setPath(wire_path(source.output_point(), source.output_point()))

    def _drag_wire(self, scene_point: QPointF) -> None:
        if self._wire_preview is not None:
            self._wire_preview.setPath(wire_path(self._wire_source.output_point(), scene_point))
        _, port = self.block_at(scene_point)
        hover = port if port is not None and port.kind == PortItem.INPUT else None
        if hover is not self._wire_hover:
            if self._wire_hover is not None and self._wire_hover.scene() is not None:
                self._wire_hover.set_highlighted(False)
            if hover is not None:
                hover.set_highlighted(True)
            self._wire_hover = hover

    def _finish_wire(self, scene_point: QPointF) -> None:
        source = self._wire_source
        self._wire_source = None
        if self._wire_preview is not None:
            self._scene.removeItem(self._wire_preview)
            self._wire_preview = None
        if self._wire_hover is not None and self._wire_hover.scene() is not None:
            self._wire_hover.set_highlighted(False)
        self._wire_hover = None
        target, port = self.block_at(scene_point)
        if target is None or target is source and port is None:
            return  # dropped on empty canvas: nothing to do
        port_index = port.index if port is not None and port.kind == PortItem.INPUT else None
        self.wire(source.block_id, target.block_id, port_index)

    # ================================================================== keyboard

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            event.accept()
            return
        if event.matches(QKeySequence.StandardKey.Delete) or event.key() == Qt.Key.Key_Backspace:
            self.delete_selection()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # ================================================================== drag and drop

    def _acceptable(self, mime: QMimeData) -> bool:
        if mime.hasFormat(BLOCK_MIME_TYPE):
            return not self.document.locked
        return any(url.toLocalFile().lower().endswith(OPENABLE) for url in mime.urls()) if mime.hasUrls() else False

    def dragEnterEvent(self, event) -> None:
        if self._acceptable(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        # QGraphicsView passes drag moves to the scene, which refuses them without a drop target.
        if self._acceptable(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        self.handle_drop(event.mimeData(), event.position().toPoint())
        event.acceptProposedAction()

    def handle_drop(self, mime: QMimeData, view_point) -> str | None:
        """A palette block lands where the mouse is; a .json or .onnx file is handed to the window."""
        if mime.hasFormat(BLOCK_MIME_TYPE):
            type_id = bytes(mime.data(BLOCK_MIME_TYPE)).decode("utf-8").strip()
            return self.add_block_at(type_id, self.mapToScene(view_point))
        paths = [url.toLocalFile() for url in mime.urls() if url.toLocalFile().lower().endswith(OPENABLE)]
        if paths:
            self.files_dropped.emit(paths)
        return None


def _end_flash(item: BlockItem) -> None:
    if shiboken6.isValid(item) and item.scene() is not None:
        item.flash(False)
