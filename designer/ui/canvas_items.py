"""What the canvas draws: one item per block, its ports, and one item per wire.

Items hold no parameters of their own: a ``BlockItem`` is told what to show (label and the
block's ``BlockReport``) by the canvas whenever the analysis changes, and paints from that.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem

from designer.core import BLOCK_TYPES, FC_TYPES, BlockReport, format_count, format_shape
from designer.ui.layout import BLOCK_HEIGHT, BLOCK_WIDTH
from designer.ui.style import (
    CATEGORY_COLOURS,
    FC_COLOUR,
    HIGHLIGHT_COLOUR,
    SHARE_COLOUR,
    current_theme,
    share_colour,
    text_colour_on,
)

PORT_RADIUS = 6.0
CORNER_RADIUS = 9.0
SHARE_BAR_HEIGHT = 4.0
#: a block holding at least this share of all parameters is drawn with a heavier outline
HIGH_SHARE = 0.2

#: how far a wire runs straight out of a port before it turns
WIRE_STUB = 22.0
WIRE_CORNER = 12.0
_SELECTED_WIRE_PEN = QPen(HIGHLIGHT_COLOUR, 3.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)


_WIRE_PENS: dict[str, QPen] = {}


def wire_pen() -> QPen:
    """The pen of an unselected wire in the current theme (one per theme, shared by all wires)."""
    theme = current_theme()
    pen = _WIRE_PENS.get(theme.name)
    if pen is None:
        pen = _WIRE_PENS[theme.name] = QPen(theme.wire, 2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    return pen


class PortItem(QGraphicsEllipseItem):
    """An input (top edge) or output (bottom edge) connector of a block."""

    INPUT = "input"
    OUTPUT = "output"

    def __init__(self, block: "BlockItem", kind: str, index: int, centre: QPointF) -> None:
        super().__init__(-PORT_RADIUS, -PORT_RADIUS, 2 * PORT_RADIUS, 2 * PORT_RADIUS, block)
        self.block = block
        self.kind = kind
        self.index = index
        self.setPos(centre)
        self.apply_theme()
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(2)
        self.setToolTip("drag to an input port to wire" if kind == self.OUTPUT else f"input {index + 1}")

    def shape(self) -> QPainterPath:
        # A generous hit area: a 12 px dot is hard to grab at small zoom levels.
        path = QPainterPath()
        path.addEllipse(QPointF(0, 0), PORT_RADIUS * 2, PORT_RADIUS * 2)
        return path

    def apply_theme(self) -> None:
        theme = current_theme()
        self.setBrush(QBrush(theme.port_fill))
        self.setPen(QPen(theme.port_outline, 1.5))

    def set_highlighted(self, highlighted: bool) -> None:
        self.setBrush(QBrush(HIGHLIGHT_COLOUR if highlighted else current_theme().port_fill))

    def hoverEnterEvent(self, event) -> None:
        self.set_highlighted(True)
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self.set_highlighted(False)
        super().hoverLeaveEvent(event)


class BlockItem(QGraphicsItem):
    """A rounded rectangle: label, output shape, parameter count and share, share bar."""

    def __init__(self, block_id: str, type_id: str) -> None:
        super().__init__()
        self.block_id = block_id
        self.type_id = type_id
        self.label = BLOCK_TYPES[type_id].label
        self.report: BlockReport | None = None
        self.flashing = False
        self._tooltip_stale = True
        self.wires: list[WireItem] = []
        self._rect = QRectF(0, 0, BLOCK_WIDTH, BLOCK_HEIGHT)
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.setAcceptHoverEvents(True)
        kind = BLOCK_TYPES[type_id]
        self.input_ports = [
            PortItem(self, PortItem.INPUT, index, QPointF(BLOCK_WIDTH * (index + 1) / (kind.inputs + 1), 0))
            for index in range(kind.inputs)
        ]
        self.output_port = PortItem(self, PortItem.OUTPUT, 0, QPointF(BLOCK_WIDTH / 2, BLOCK_HEIGHT))

    # ------------------------------------------------------------------ content

    @property
    def is_fc(self) -> bool:
        return self.type_id in FC_TYPES

    def set_content(self, label: str, report: BlockReport | None) -> bool:
        """Show new figures; returns False (and repaints nothing) when nothing changed."""
        if label == self.label and report == self.report:
            return False
        self.label = label
        self.report = report
        # Building the tooltip for every changed block on every keystroke costs a frame's
        # worth of time on VGG-16; it is built when the mouse reaches the block instead.
        self._tooltip_stale = True
        if self.isUnderMouse():
            self.setToolTip(self.tooltip_text())
            self._tooltip_stale = False
        self.update()
        return True

    def hoverEnterEvent(self, event) -> None:
        if self._tooltip_stale:
            self.setToolTip(self.tooltip_text())
            self._tooltip_stale = False
        super().hoverEnterEvent(event)

    def shape_text(self) -> str:
        report = self.report
        if report is None:
            return ""
        if report.error:
            return "error"
        if report.blocked_by:
            return "?"
        return format_shape(report.output_shape)

    def count_text(self) -> str:
        report = self.report
        if report is None or not report.ok:
            return ""
        if not report.params:
            return "no parameters"
        return f"{format_count(report.params)} · {report.share:.1%}"

    def text_lines(self) -> list[str]:
        """What the block shows, top to bottom (tests and the benchmark read it)."""
        return [self.label, self.shape_text(), self.count_text()]

    def tooltip_text(self) -> str:
        report = self.report
        lines = [f"<b>{self.block_id}</b> — {self.label}"]
        if report is not None:
            if report.error:
                lines.append(f"<span style='color:{current_theme().error.name()}'>{_escape(report.error)}</span>")
            elif report.blocked_by:
                lines.append(f"output unknown: fix '{_escape(report.blocked_by)}' first")
            else:
                lines.append(f"output {format_shape(report.output_shape)}")
                if report.params:
                    lines.append(
                        f"{report.params:,} parameters ({report.weights:,} weights + {report.biases:,} biases), "
                        f"{report.share:.1%} of the network"
                    )
                if report.macs:
                    lines.append(f"{report.macs:,} multiply-accumulates per image")
        return "<br>".join(lines)

    def flash(self, on: bool) -> None:
        self.flashing = on
        self.update()

    # ------------------------------------------------------------------ geometry

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-3, -3, 3, 3)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self._rect, CORNER_RADIUS, CORNER_RADIUS)
        return path

    def input_point(self, port: int) -> QPointF:
        if not self.input_ports:
            return self.scenePos() + QPointF(BLOCK_WIDTH / 2, 0)
        port = min(port, len(self.input_ports) - 1)
        return self.input_ports[port].scenePos()

    def output_point(self) -> QPointF:
        return self.output_port.scenePos()

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for wire in self.wires:
                wire.update_path()
        return super().itemChange(change, value)

    # ------------------------------------------------------------------ painting

    def apply_theme(self) -> None:
        """Repaint in the current theme (the item caches its picture)."""
        for port in [*self.input_ports, self.output_port]:
            port.apply_theme()
        self.update()

    def fill_colour(self) -> QColor:
        report = self.report
        theme = current_theme()
        if report is None or report.error:
            return theme.base
        if report.blocked_by:
            return theme.blocked_fill
        return share_colour(report.share, self.is_fc)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        report = self.report
        rect = self._rect
        theme = current_theme()
        fill = self.fill_colour()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)

        if self.flashing or (report is not None and report.error):
            pen = QPen(theme.error, 3)
        elif self.isSelected():
            pen = QPen(HIGHLIGHT_COLOUR, 3)
        elif report is not None and report.blocked_by:
            pen = QPen(theme.blocked, 1.5, Qt.PenStyle.DashLine)
        elif report is not None and (self.is_fc or report.share >= HIGH_SHARE):
            strong = FC_COLOUR if self.is_fc else SHARE_COLOUR
            pen = QPen(strong.lighter(125) if theme.is_dark else strong.darker(130), 2)
        else:
            pen = QPen(theme.block_outline, 1.2)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, CORNER_RADIUS, CORNER_RADIUS)

        # A stripe in the category colour tells block kinds apart at a glance.
        category = BLOCK_TYPES[self.type_id].category
        stripe = QPainterPath()
        stripe.addRoundedRect(QRectF(rect.left() + 1.5, rect.top() + 1.5, 6, rect.height() - 3), 3, 3)
        painter.fillPath(stripe, CATEGORY_COLOURS.get(category, theme.muted_text))

        blocked = report is not None and report.blocked_by is not None
        if blocked:
            text = theme.blocked.lighter(120) if theme.is_dark else theme.blocked.darker(140)
            muted = theme.blocked if theme.is_dark else theme.blocked.darker(120)
        else:
            text = text_colour_on(fill)
            # white text on a strong or dark fill
            muted = QColor(255, 255, 255, 190) if text.lightness() > 128 else theme.muted_text

        font, small, body = _fonts()
        painter.setFont(font)
        painter.setPen(text)
        left = rect.left() + 14
        width = rect.width() - 22
        metrics = _metrics(font)
        painter.drawText(QRectF(left, rect.top() + 3, width, 20), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(self.label, Qt.TextElideMode.ElideRight, width - 40))

        painter.setFont(small)
        painter.setPen(muted)
        painter.drawText(QRectF(left, rect.top() + 3, width, 20), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         self.block_id)

        painter.setFont(body)
        if report is not None and report.error:
            painter.setPen(theme.error)
            painter.drawText(QRectF(left, rect.top() + 21, width, 16), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             _metrics(body).elidedText(report.error, Qt.TextElideMode.ElideRight, width))
        else:
            painter.setPen(text)
            painter.drawText(QRectF(left, rect.top() + 21, width, 16), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             self.shape_text())
            painter.drawText(QRectF(left, rect.top() + 36, width, 16), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             self.count_text())

        if report is not None and report.ok and report.share > 0:
            track = QRectF(left, rect.bottom() - SHARE_BAR_HEIGHT - 4, width, SHARE_BAR_HEIGHT)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(theme.share_track)
            painter.drawRoundedRect(track, 2, 2)
            bar = QRectF(track.left(), track.top(), max(2.0, track.width() * report.share), track.height())
            strong = FC_COLOUR if self.is_fc else SHARE_COLOUR
            painter.setBrush(strong.lighter(115) if theme.is_dark else strong.darker(115))
            painter.drawRoundedRect(bar, 2, 2)


class WireItem(QGraphicsPathItem):
    """A wire from a block's output port to another block's input port."""

    def __init__(self, edge, source: BlockItem, target: BlockItem) -> None:
        super().__init__()
        self.edge = edge
        self.source = source
        self.target = target
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setPen(wire_pen())
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(0)
        self.setToolTip(f"{edge.source} → {edge.target} (click, then Delete to remove)")
        source.wires.append(self)
        target.wires.append(self)
        self.update_path()

    def apply_theme(self) -> None:
        self.setPen(_SELECTED_WIRE_PEN if self.isSelected() else wire_pen())

    def detach(self) -> None:
        for block in (self.source, self.target):
            if self in block.wires:
                block.wires.remove(self)

    def update_path(self) -> None:
        start, end = self.source.output_point(), self.target.input_point(self.edge.port)
        source_box, target_box = self.source.sceneBoundingRect(), self.target.sceneBoundingRect()
        # The lane between the two blocks' columns (or beside them when they share one).
        if target_box.left() >= source_box.right():
            lane = (source_box.right() + target_box.left()) / 2
        elif target_box.right() <= source_box.left():
            lane = (target_box.right() + source_box.left()) / 2
        else:
            lane = max(source_box.right(), target_box.right()) + 20
        self.setPath(wire_path(start, end, lane))

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(12)
        return stroker.createStroke(self.path())

    def itemChange(self, change, value):
        # Qt's own paint draws the path (no Python paint per frame); selection swaps the pen.
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.setPen(_SELECTED_WIRE_PEN if value else wire_pen())
        return super().itemChange(change, value)


def wire_path(start: QPointF, end: QPointF, lane_x: float | None = None) -> QPainterPath:
    """A wire leaving a block downwards and arriving at another from above.

    When the target lies below, a smooth S-curve. When it lies above (the next newspaper
    column of a long network), the wire runs down, along the free lane ``lane_x`` between
    the columns, and over the top into the target, so it never crosses a block.
    """
    path = QPainterPath(start)
    if end.y() >= start.y() or lane_x is None:
        bend = min(120.0, max(12.0, abs(end.y() - start.y()) / 2))
        path.cubicTo(start + QPointF(0, bend), end - QPointF(0, bend), end)
        return path
    below = start.y() + WIRE_STUB
    above = end.y() - WIRE_STUB
    corners = [QPointF(start.x(), below), QPointF(lane_x, below), QPointF(lane_x, above), QPointF(end.x(), above)]
    points = [start] + corners + [end]
    for index in range(1, len(points) - 1):
        before, corner, after = points[index - 1], points[index], points[index + 1]
        path.lineTo(_towards(corner, before, WIRE_CORNER))
        path.quadTo(corner, _towards(corner, after, WIRE_CORNER))
    path.lineTo(end)
    return path


def _towards(origin: QPointF, target: QPointF, distance: float) -> QPointF:
    """The point ``distance`` from ``origin`` on the way to ``target`` (at most halfway)."""
    delta = target - origin
    length = (delta.x() ** 2 + delta.y() ** 2) ** 0.5
    if length == 0:
        return QPointF(origin)
    step = min(distance, length / 2) / length
    return origin + delta * step


_FONTS: tuple[QFont, QFont, QFont] | None = None
_METRICS: dict[str, QFontMetricsF] = {}


def _fonts() -> tuple[QFont, QFont, QFont]:
    """Label (bold), block id (small) and body fonts, made once (after the app's font is set)."""
    global _FONTS
    if _FONTS is None:
        label = QFont()
        label.setPointSizeF(10.5)
        label.setBold(True)
        small = QFont()
        small.setPointSizeF(8.5)
        body = QFont()
        body.setPointSizeF(9.5)
        _FONTS = (label, small, body)
    return _FONTS


def _metrics(font: QFont) -> QFontMetricsF:
    key = font.key()
    if key not in _METRICS:
        _METRICS[key] = QFontMetricsF(font)
    return _METRICS[key]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
