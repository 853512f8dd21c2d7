"""The open design: graph + undo stack + selection + file path, shared by every view.

Views read the graph and the analysis from here and edit only through the methods below,
each of which pushes one undo command that changes only the model (DESIGN.md 1–2). They
learn about changes from the signals, never by keeping their own copies.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from designer.core import Analysis, DesignLockedError, Edge, Graph, GraphReset, analyze
from designer.core.graph import STRUCTURAL_EVENTS
from designer.core.paths import TEMPLATES
from designer.ui import commands

#: the name of a design nobody has named yet (File ▸ New)
UNTITLED = "Untitled"


def is_shipped_template(path: Path | str | None) -> bool:
    """True for a file in the program's templates folder (never saved over from the window)."""
    if path is None:
        return False
    try:
        return Path(path).resolve().parent == TEMPLATES.resolve()
    except OSError:
        return False



class DesignDocument(QObject):
    #: any graph event (designer.core.graph events), forwarded as is
    graph_changed = Signal(object)
    #: a fresh ``Analysis`` after any change that can alter shapes or counts
    analysis_changed = Signal(object)
    #: the selected block ids (list[str]) changed
    selection_changed = Signal(list)
    #: the file path or the unsaved-changes mark changed
    title_changed = Signal()
    #: editing locked (training runs) or unlocked
    locked_changed = Signal(bool)

    def __init__(self, graph: Graph | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.graph = graph if graph is not None else Graph()
        self.undo_stack = QUndoStack(self)
        self.path: Path | None = None
        self._selection: list[str] = []
        self._locked = False
        self._suspended = 0
        self._analysis: Analysis | None = None
        self._analysis_revision = -1
        self.graph.subscribe(self._on_graph_event)
        self.undo_stack.cleanChanged.connect(self._on_undo_clean_changed)

    # ------------------------------------------------------------------ state

    @property
    def analysis(self) -> Analysis:
        if self._analysis is None or self._analysis_revision != self.graph.revision:
            self._analysis = analyze(self.graph)
            self._analysis_revision = self.graph.revision
        return self._analysis

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    @property
    def selection(self) -> list[str]:
        return list(self._selection)

    def set_selection(self, block_ids) -> None:
        block_ids = [block_id for block_id in block_ids if block_id in self.graph]
        if block_ids != self._selection:
            self._selection = block_ids
            self.selection_changed.emit(list(block_ids))

    @property
    def locked(self) -> bool:
        return self._locked

    def set_locked(self, locked: bool) -> None:
        if locked != self._locked:
            self._locked = locked
            self.locked_changed.emit(locked)

    def display_name(self) -> str:
        return self.path.name if self.path else f"{self.graph.name}"

    # ------------------------------------------------------------------ edits (undoable)

    def _check_unlocked(self) -> None:
        if self._locked:
            raise DesignLockedError("training is running on this design; stop it to edit")

    def push(self, command) -> None:
        self._check_unlocked()
        self.undo_stack.push(command)

    @contextmanager
    def macro(self, text: str):
        """One gesture = one undo step; analysis is announced once at the end."""
        self._check_unlocked()
        self.undo_stack.beginMacro(text)
        self._suspended += 1
        try:
            yield
        finally:
            self._suspended -= 1
            self.undo_stack.endMacro()
            self._announce_analysis()

    def add_block(self, type_id: str, params: dict | None = None, position=(0.0, 0.0)) -> str:
        command = commands.AddBlock(self, type_id, params, position)
        self.push(command)
        return command.block_id

    def remove_blocks(self, block_ids) -> None:
        block_ids = [block_id for block_id in block_ids if block_id in self.graph]
        if not block_ids:
            return
        with self.macro(f"Delete {len(block_ids)} block{'s' if len(block_ids) > 1 else ''}"):
            for block_id in block_ids:
                self.push(commands.RemoveBlock(self, block_id))
        self.set_selection([])

    def move_blocks(self, moves: dict) -> None:
        """``moves``: block id → (old position, new position); one undo step."""
        moves = {block_id: positions for block_id, positions in moves.items() if positions[0] != positions[1]}
        if moves:
            self.push(commands.MoveBlocks(self, moves))

    def connect_blocks(self, source: str, target: str, port: int | None = None) -> Edge:
        """Raises core's ``WireError`` (and changes nothing) when the wire is refused."""
        self._check_unlocked()
        port = self.graph.check_connect(source, target, port)
        command = commands.Connect(self, Edge(source, target, port))
        self.push(command)
        return command.edge

    def disconnect(self, edge: Edge) -> None:
        self.push(commands.Disconnect(self, edge))

    def set_param(self, block_id: str, name: str, value) -> None:
        """Raises core's ``ParameterError`` (and changes nothing) for a bad value."""
        self._check_unlocked()
        block = self.graph.block(block_id)
        value = block.type.spec_by_name[name].validate(value, block_id)
        if block.params[name] == value and type(block.params[name]) is type(value):
            return
        self.push(commands.SetParam(self, block_id, name, value))

    def replace_graph(self, graph: Graph, text: str) -> None:
        """An undoable whole-graph change (a transform such as FC → conv)."""
        self.push(commands.ReplaceGraph(self, graph, text))

    # ------------------------------------------------------------------ files (not undoable)

    def load(self, graph: Graph, path: Path | None) -> None:
        """Show a newly opened design: the undo history starts afresh."""
        self._check_unlocked()
        self.set_selection([])
        self.undo_stack.clear()
        self.graph.replace_with(graph)
        self.path = Path(path) if path else None
        self.undo_stack.setClean()
        self.title_changed.emit()

    def name_for_file(self, path: Path | str) -> str:
        """The design's name once saved as ``path``.

        A design nobody named ("Untitled", empty) takes the file's stem, and so does one whose
        name came from its previous file's stem (it follows a Save As to a new name). A name a
        person or a template gave ("LeNet-5") stays: it says what the network is.
        """
        name = self.graph.name.strip()
        from_file = {UNTITLED, ""} | ({self.path.stem} if self.path is not None else set())
        return Path(path).stem if name in from_file else self.graph.name

    def mark_saved(self, path: Path) -> None:
        self.path = Path(path)
        self.undo_stack.setClean()
        self.title_changed.emit()

    # ------------------------------------------------------------------ events

    def _on_graph_event(self, event) -> None:
        if isinstance(event, GraphReset):
            self._selection = [block_id for block_id in self._selection if block_id in self.graph]
        self.graph_changed.emit(event)
        if isinstance(event, STRUCTURAL_EVENTS) and not self._suspended:
            self._announce_analysis()

    def _announce_analysis(self) -> None:
        self.analysis_changed.emit(self.analysis)

    def _on_undo_clean_changed(self, clean: bool) -> None:
        self.title_changed.emit()


__all__ = ["DesignDocument", "DesignLockedError", "UNTITLED", "is_shipped_template"]
