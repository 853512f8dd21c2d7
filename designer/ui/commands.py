"""Undo commands: each changes only the model (the graph); views follow its events."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from designer.core import BLOCK_TYPES, Edge, Graph

#: ids for QUndoCommand.mergeWith: consecutive edits of one parameter become one step
SET_PARAM_MERGE_ID = 1001


class AddBlock(QUndoCommand):
    def __init__(self, document, type_id: str, params: dict | None, position) -> None:
        super().__init__(f"Add {BLOCK_TYPES[type_id].label}")
        self.document = document
        self.type_id = type_id
        self.params = params
        self.position = tuple(position)
        self.block_id = document.graph.new_block_id(type_id)

    def redo(self) -> None:
        self.document.graph.add_block(self.type_id, self.params, self.position, self.block_id)

    def undo(self) -> None:
        self.document.graph.remove_block(self.block_id)


class RemoveBlock(QUndoCommand):
    def __init__(self, document, block_id: str) -> None:
        super().__init__(f"Delete {block_id}")
        self.document = document
        self.block_id = block_id
        self.removed = None

    def redo(self) -> None:
        self.removed = self.document.graph.remove_block(self.block_id)

    def undo(self) -> None:
        self.document.graph.restore_block(self.removed)


class MoveBlocks(QUndoCommand):
    def __init__(self, document, moves: dict) -> None:
        count = len(moves)
        super().__init__(f"Move {count} block{'s' if count > 1 else ''}")
        self.document = document
        self.moves = dict(moves)

    def redo(self) -> None:
        for block_id, (_, new) in self.moves.items():
            self.document.graph.move_block(block_id, new)

    def undo(self) -> None:
        for block_id, (old, _) in self.moves.items():
            self.document.graph.move_block(block_id, old)


class Connect(QUndoCommand):
    def __init__(self, document, edge: Edge) -> None:
        super().__init__(f"Wire {edge.source} → {edge.target}")
        self.document = document
        self.edge = edge

    def redo(self) -> None:
        self.document.graph.connect(self.edge.source, self.edge.target, self.edge.port)

    def undo(self) -> None:
        self.document.graph.disconnect(self.edge)


class Disconnect(QUndoCommand):
    def __init__(self, document, edge: Edge) -> None:
        super().__init__(f"Unwire {edge.source} → {edge.target}")
        self.document = document
        self.edge = edge
        self.index = 0

    def redo(self) -> None:
        self.index = self.document.graph.disconnect(self.edge)

    def undo(self) -> None:
        self.document.graph.insert_edge(self.index, self.edge)


class SetParam(QUndoCommand):
    def __init__(self, document, block_id: str, name: str, value) -> None:
        block = document.graph.block(block_id)
        super().__init__(f"Set {block_id} {name} = {value}")
        self.document = document
        self.block_id = block_id
        self.name = name
        self.old = block.params[name]
        self.new = value

    def id(self) -> int:
        return SET_PARAM_MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        # Typing "128" into a spin box is one edit, not three.
        if not isinstance(other, SetParam) or (other.block_id, other.name) != (self.block_id, self.name):
            return False
        self.new = other.new
        self.setText(f"Set {self.block_id} {self.name} = {self.new}")
        return True

    def redo(self) -> None:
        self.document.graph.set_param(self.block_id, self.name, self.new)

    def undo(self) -> None:
        self.document.graph.set_param(self.block_id, self.name, self.old)


class ReplaceGraph(QUndoCommand):
    def __init__(self, document, graph: Graph, text: str) -> None:
        super().__init__(text)
        self.document = document
        self.before = document.graph.copy()
        self.after = graph.copy()

    def redo(self) -> None:
        self.document.graph.replace_with(self.after)

    def undo(self) -> None:
        self.document.graph.replace_with(self.before)
