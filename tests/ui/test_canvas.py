"""The canvas, driven the way a user drives it: drops, port drags, clicks and keys."""

from __future__ import annotations

import warnings

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from designer.core import Graph, to_document
from designer.ui.canvas_items import BlockItem, PortItem
from designer.ui.layout import needs_layout, overlapping
from designer.ui.palette import block_mime_data


def view_point(canvas, scene_point: QPointF) -> QPoint:
    return canvas.mapFromScene(scene_point)


def drag(qtbot, canvas, start: QPointF, end: QPointF) -> None:
    """Press at ``start``, move in steps, release at ``end`` (scene coordinates)."""
    viewport = canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=view_point(canvas, start))
    for step in range(1, 6):
        point = start + (end - start) * (step / 5)
        qtbot.mouseMove(viewport, view_point(canvas, point))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=view_point(canvas, end))


def drop_mime_data(canvas, mime, target: QPoint) -> bool:
    """What a drag from the palette delivers to the canvas: enter, move, drop."""
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    action = Qt.DropAction.CopyAction
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the QPoint constructors
        enter = QDragEnterEvent(target, action, mime, buttons, modifiers)
        move = QDragMoveEvent(target, action, mime, buttons, modifiers)
    QApplication.sendEvent(canvas.viewport(), enter)
    QApplication.sendEvent(canvas.viewport(), move)
    drop = QDropEvent(QPointF(target), action, mime, buttons, modifiers)
    QApplication.sendEvent(canvas.viewport(), drop)
    return enter.isAccepted() and drop.isAccepted()


def small_design(document, *type_ids: str) -> list[str]:
    """A fresh design holding unwired blocks, one under the other, far apart."""
    graph = Graph("test")
    ids = [graph.add_block(type_id, None, (0.0, 200.0 * index)).id for index, type_id in enumerate(type_ids)]
    document.load(graph, None)
    return ids


def test_dropping_a_palette_block_adds_it_where_the_mouse_is(canvas, document):
    before = len(document.graph)
    target = canvas.viewport().rect().center() + QPoint(40, 30)
    drop_mime_data(canvas, block_mime_data("FC"), target)

    assert len(document.graph) == before + 1
    new_id = document.selection[0]
    block = document.graph.block(new_id)
    assert block.type_id == "FC"
    item = canvas.items_by_id[new_id]
    assert item.sceneBoundingRect().contains(canvas.mapToScene(target))
    assert document.undo_stack.count() == 1

    document.undo_stack.undo()
    assert new_id not in document.graph and new_id not in canvas.items_by_id
    document.undo_stack.redo()
    assert document.graph.block(new_id).position == block.position


def test_dragging_from_an_output_port_to_an_input_port_wires_blocks(qtbot, canvas, document):
    source, target = small_design(document, "Input", "Conv2d")
    canvas.fit_view()
    start = canvas.items_by_id[source].output_point()
    end = canvas.items_by_id[target].input_point(0)
    drag(qtbot, canvas, start, end)

    assert [(edge.source, edge.target) for edge in document.graph.edges] == [(source, target)]
    assert len(canvas.wires) == 1
    assert canvas.items_by_id[target].text_lines()[1] == "16×26×26"

    document.undo_stack.undo()
    assert document.graph.edges == () and not canvas.wires
    document.undo_stack.redo()
    assert len(canvas.wires) == 1


def test_a_refused_wire_shows_cores_reason_and_creates_nothing(qtbot, main_window, canvas, document):
    edges = document.graph.edges
    # conv1 already has its one input: a second wire into it is refused by core.
    start = canvas.items_by_id["fc3"].output_point()
    end = canvas.items_by_id["conv1"].input_point(0)
    drag(qtbot, canvas, start, end)

    assert document.graph.edges == edges
    assert len(canvas.wires) == len(edges)
    assert "already" in main_window.statusBar().currentMessage()
    assert "conv1" in main_window.statusBar().currentMessage()
    assert canvas.items_by_id["conv1"].flashing
    qtbot.waitUntil(lambda: not canvas.items_by_id["conv1"].flashing, timeout=3000)
    assert document.undo_stack.count() == 0


def test_a_wire_making_a_loop_is_refused(main_window, canvas, document):
    document.disconnect(document.graph.input_edges("conv2")[0])  # conv2's input is free now
    edges = document.graph.edges
    assert canvas.wire("fc3", "conv2") is None  # conv2 feeds fc3
    assert "loop" in main_window.statusBar().currentMessage()
    assert document.graph.edges == edges and document.undo_stack.count() == 1


def test_clicking_a_wire_and_pressing_delete_unwires(qtbot, canvas, document):
    edge = next(edge for edge in document.graph.edges if edge.target == "fc1")
    wire = canvas.wires[edge]
    middle = wire.path().pointAtPercent(0.5)
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(canvas, middle))
    assert wire.isSelected()
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)

    assert edge not in document.graph.edges and edge not in canvas.wires
    assert "fc1" in document.graph  # only the wire went
    assert canvas.items_by_id["fc1"].report.error  # fc1 is now unconnected
    document.undo_stack.undo()
    assert edge in document.graph.edges and edge in canvas.wires


def test_moving_blocks_with_the_mouse_is_one_undo_step(qtbot, canvas, document):
    item = canvas.items_by_id["conv1"]
    old = document.graph.block("conv1").position
    start = item.sceneBoundingRect().center() + QPointF(-40, 0)  # away from the ports
    drag(qtbot, canvas, start, start + QPointF(60, 25))

    new = document.graph.block("conv1").position
    assert new != old
    assert (item.pos().x(), item.pos().y()) == new
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert document.graph.block("conv1").position == old
    assert (item.pos().x(), item.pos().y()) == old


def test_delete_removes_the_selection_with_its_wires(qtbot, canvas, document):
    document.set_selection(["tanh1", "avgpool1"])
    assert {item.block_id for item in canvas.scene().selectedItems() if isinstance(item, BlockItem)} == {"tanh1", "avgpool1"}
    before = to_document(document.graph)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert "tanh1" not in document.graph and "tanh1" not in canvas.items_by_id
    assert not any("tanh1" in (edge.source, edge.target) for edge in canvas.wires)
    document.undo_stack.undo()
    assert to_document(document.graph) == before
    assert len(canvas.wires) == len(document.graph.edges)


def test_copy_and_paste_duplicates_blocks_with_their_internal_wires(canvas, document):
    document.set_selection(["conv2", "tanh2"])
    blocks_before, edges_before = len(document.graph), len(document.graph.edges)
    assert canvas.copy_selection()
    pasted = canvas.paste()

    assert len(pasted) == 2 and len(document.graph) == blocks_before + 2
    assert len(document.graph.edges) == edges_before + 1
    first, second = pasted
    assert document.graph.block(first).params == document.graph.block("conv2").params
    assert document.graph.block(first).position != document.graph.block("conv2").position
    assert any(edge.source == first and edge.target == second for edge in document.graph.edges)
    assert document.selection == pasted
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert len(document.graph) == blocks_before


def test_the_clipboard_holds_an_architecture_file_and_a_bad_one_is_refused(canvas, document):
    from PySide6.QtCore import QMimeData
    from PySide6.QtWidgets import QApplication

    from designer.core import loads
    from designer.ui.canvas import CLIPBOARD_MIME_TYPE

    document.set_selection(["conv2", "tanh2"])
    assert canvas.copy_selection()
    copied = loads(QApplication.clipboard().mimeData().text())  # what a text editor gets is a design file
    assert sorted(copied.blocks) == ["conv2", "tanh2"] and len(copied.edges) == 1

    messages = []
    canvas.message.connect(messages.append)
    mime = QMimeData()
    mime.setData(CLIPBOARD_MIME_TYPE, b'{"format": "network-designer/architecture", "version": 1, '
                                      b'"blocks": [{"id": "a", "type": "Warp"}], "edges": []}')
    QApplication.clipboard().setMimeData(mime)
    before = len(document.graph)
    assert canvas.paste() == []
    assert len(document.graph) == before and document.undo_stack.count() == 0
    assert messages == ["the clipboard does not hold blocks this program can paste"]


def test_canvas_and_document_selection_follow_each_other(canvas, document):
    canvas.items_by_id["fc2"].setSelected(True)
    assert document.selection == ["fc2"]
    document.set_selection(["conv1", "fc1"])
    assert sorted(canvas.selected_block_ids()) == ["conv1", "fc1"]


def test_rubber_band_selects_several_blocks(qtbot, canvas, document):
    boxes = [canvas.items_by_id[name].sceneBoundingRect() for name in ("input1", "conv1")]
    start = boxes[0].topLeft() - QPointF(15, 15)
    end = boxes[1].bottomRight() + QPointF(15, 5)
    drag(qtbot, canvas, start, end)
    assert {"input1", "conv1"} <= set(document.selection)


def test_an_invalid_block_is_outlined_and_blocks_below_it_are_unknown(main_window, canvas, document):
    document.set_param("conv2", "kernel_size", 30)
    item = canvas.items_by_id["conv2"]
    assert item.report.error and "does not fit" in item.report.error
    assert item.report.error in item.tooltip_text()
    assert item.text_lines()[1] == "error"
    downstream = canvas.items_by_id["fc1"]
    assert downstream.report.blocked_by == "conv2" and downstream.text_lines()[1] == "?"
    assert "conv2" in main_window.status_text() and "does not fit" in main_window.status_text()


def test_only_items_whose_figures_changed_are_repainted(canvas, document):
    assert canvas._refresh_items(document.analysis) == 0  # nothing changed since the last analysis
    repainted = []
    for item in canvas.items_by_id.values():
        item.update = lambda *args, item=item: repainted.append(item.block_id)
    document.set_param("fc3", "out_features", 20)
    # fc3's own figures change, and every share changes with the total; blocks without
    # parameters (Tanh, pooling) show the same text and are left alone.
    assert "fc3" in repainted and "conv1" in repainted
    assert not {"tanh1", "avgpool1", "input1"} & set(repainted)
    assert canvas.items_by_id["fc3"].text_lines()[0] == "FC 20"


def test_loaded_designs_with_overlapping_blocks_are_laid_out(main_window, tmp_path, document):
    graph = Graph("stacked")
    first = graph.add_block("Input").id
    second = graph.add_block("Conv2d").id
    third = graph.add_block("FC").id
    graph.connect(first, second)
    graph.connect(second, third)
    assert needs_layout(graph)
    main_window.show_graph(graph, None)
    assert not overlapping(document.graph)
    ys = [document.graph.block(block_id).position[1] for block_id in (first, second, third)]
    assert ys == sorted(ys) and len(set(ys)) == 3


def test_auto_layout_action_is_one_undo_step(main_window, document):
    graph = Graph("manual")
    ids = [graph.add_block(type_id, None, (300.0 * index, 0.0)).id for index, type_id in enumerate(("Input", "Conv2d"))]
    graph.connect(*ids)
    main_window.show_graph(graph, None)
    main_window.named_actions["auto_layout"].trigger()
    assert document.graph.block(ids[1]).position[1] > document.graph.block(ids[0]).position[1]
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert document.graph.block(ids[1]).position == (300.0, 0.0)


def test_wheel_zooms_and_fit_shows_everything(canvas):
    canvas.fit_view()
    zoom = canvas.zoom()
    canvas.zoom_in()
    assert canvas.zoom() > zoom
    canvas.fit_view()
    visible = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    for item in canvas.items_by_id.values():
        assert visible.contains(item.sceneBoundingRect())


def test_ports_match_the_block_types(canvas, document):
    add_id = document.add_block("Add", None, (600.0, 0.0))
    add_item = canvas.items_by_id[add_id]
    assert len(add_item.input_ports) == 2
    assert all(port.kind == PortItem.INPUT for port in add_item.input_ports)
    assert canvas.items_by_id["input1"].input_ports == []
