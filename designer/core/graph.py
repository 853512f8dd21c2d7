"""The network as a directed acyclic graph of blocks: the single source of truth.

Views (canvas, inspector, parameter panel) never keep their own copy of a block's
parameters; they subscribe to the graph's events and redraw from it. Every edit method
validates first and changes nothing when it refuses, raising a typed ``GraphError``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from designer.core.blocks import BLOCK_TYPES, block_type
from designer.core.errors import (
    CycleError,
    DuplicateBlockError,
    DuplicateEdgeError,
    GraphError,
    TooManyInputsError,
    UnknownBlockError,
    WireError,
)

BLOCK_ID_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")


@dataclass
class Block:
    id: str
    type_id: str
    params: dict
    position: tuple[float, float] = (0.0, 0.0)

    @property
    def type(self):
        return BLOCK_TYPES[self.type_id]


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    port: int = 0


@dataclass(frozen=True)
class RemovedBlock:
    """What ``remove_block`` took away, enough for ``restore_block`` to put it back exactly."""

    block: Block
    index: int
    edges: tuple[tuple[int, Edge], ...]


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class BlockAdded:
    block_id: str


@dataclass(frozen=True)
class BlockRemoved:
    block_id: str


@dataclass(frozen=True)
class EdgeAdded:
    edge: Edge


@dataclass(frozen=True)
class EdgeRemoved:
    edge: Edge


@dataclass(frozen=True)
class ParamChanged:
    block_id: str
    name: str
    value: Any


@dataclass(frozen=True)
class BlockMoved:
    block_id: str
    position: tuple[float, float]


@dataclass(frozen=True)
class GraphReset:
    """Everything may have changed (a file was loaded, a transform replaced the graph)."""


GraphEvent = BlockAdded | BlockRemoved | EdgeAdded | EdgeRemoved | ParamChanged | BlockMoved | GraphReset

#: Events after which shapes and counts may differ (a move changes nothing the analysis sees).
STRUCTURAL_EVENTS = (BlockAdded, BlockRemoved, EdgeAdded, EdgeRemoved, ParamChanged, GraphReset)


class Graph:
    def __init__(self, name: str = "Untitled") -> None:
        self.name = name
        self.description = ""  # free text saved with the file; the analysis ignores it
        self._blocks: dict[str, Block] = {}
        self._edges: list[Edge] = []
        self._listeners: list[Callable[[GraphEvent], None]] = []
        self._order_cache: list[str] | None = None
        self._revision = 0

    # ------------------------------------------------------------------ observing

    def subscribe(self, listener: Callable[[GraphEvent], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[GraphEvent], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, event: GraphEvent) -> None:
        if isinstance(event, STRUCTURAL_EVENTS):
            self._revision += 1
            if not isinstance(event, ParamChanged):
                self._order_cache = None
        for listener in list(self._listeners):
            listener(event)

    @property
    def revision(self) -> int:
        """Increases on every change that can alter shapes or counts; lets views cache analysis."""
        return self._revision

    # ------------------------------------------------------------------ reading

    @property
    def blocks(self) -> dict[str, Block]:
        """Blocks by id, in insertion order. Treat as read-only: edit through the methods."""
        return self._blocks

    @property
    def edges(self) -> tuple[Edge, ...]:
        return tuple(self._edges)

    def __len__(self) -> int:
        return len(self._blocks)

    def __contains__(self, block_id: str) -> bool:
        return block_id in self._blocks

    def block(self, block_id: str) -> Block:
        try:
            return self._blocks[block_id]
        except KeyError:
            raise UnknownBlockError(f"there is no block '{block_id}'") from None

    def input_edges(self, block_id: str) -> list[Edge]:
        """Edges into a block, sorted by port."""
        return sorted((edge for edge in self._edges if edge.target == block_id), key=lambda edge: edge.port)

    def output_edges(self, block_id: str) -> list[Edge]:
        return [edge for edge in self._edges if edge.source == block_id]

    def predecessors(self, block_id: str) -> list[str]:
        return [edge.source for edge in self.input_edges(block_id)]

    def successors(self, block_id: str) -> list[str]:
        return [edge.target for edge in self._edges if edge.source == block_id]

    def sinks(self) -> list[str]:
        """Blocks nothing reads from; a trainable design has exactly one."""
        has_output = {edge.source for edge in self._edges}
        return [block_id for block_id in self._blocks if block_id not in has_output]

    def inputs(self) -> list[str]:
        return [block.id for block in self._blocks.values() if block.type_id == "Input"]

    def topological_order(self) -> list[str]:
        """Block ids with every block after its inputs; ties keep insertion order. Cached."""
        if self._order_cache is None:
            remaining = {block_id: 0 for block_id in self._blocks}
            outgoing: dict[str, list[str]] = {block_id: [] for block_id in self._blocks}
            for edge in self._edges:
                remaining[edge.target] += 1
                outgoing[edge.source].append(edge.target)
            ready = [block_id for block_id, count in remaining.items() if count == 0]
            ready.reverse()  # pop() from the end takes the earliest-inserted block first
            order: list[str] = []
            while ready:
                block_id = ready.pop()
                order.append(block_id)
                released = []
                for target in outgoing[block_id]:
                    remaining[target] -= 1
                    if remaining[target] == 0:
                        released.append(target)
                ready.extend(reversed(released))
            if len(order) != len(self._blocks):  # pragma: no cover - connect() prevents cycles
                raise CycleError("the graph contains a cycle")
            self._order_cache = order
        return list(self._order_cache)

    def new_block_id(self, type_id: str) -> str:
        """A readable id not yet used, e.g. ``conv3`` or ``fc2``."""
        stem = {"Conv2d": "conv", "MaxPool2d": "maxpool", "AvgPool2d": "avgpool", "BatchNorm2d": "bn"}.get(
            type_id, type_id.lower()
        )
        number = 1
        while f"{stem}{number}" in self._blocks:
            number += 1
        return f"{stem}{number}"

    # ------------------------------------------------------------------ editing

    def add_block(
        self,
        type_id: str,
        params: dict | None = None,
        position: Iterable[float] = (0.0, 0.0),
        block_id: str | None = None,
    ) -> Block:
        kind = block_type(type_id)
        if block_id is None:
            block_id = self.new_block_id(type_id)
        elif not isinstance(block_id, str) or not BLOCK_ID_PATTERN.fullmatch(block_id):
            # fullmatch: with match(), "$" also accepts a trailing newline ("conv1\n").
            raise GraphError(
                f"block id {block_id!r} is not valid: use letters, digits, '_' or '-', starting with a letter"
            )
        if block_id in self._blocks:
            raise DuplicateBlockError(f"there is already a block '{block_id}'")
        position = _position(position, block_id)
        block = Block(block_id, type_id, kind.normalise_params(params, block_id), position)
        self._blocks[block_id] = block
        self._emit(BlockAdded(block_id))
        return block

    def remove_block(self, block_id: str) -> RemovedBlock:
        block = self.block(block_id)
        index = list(self._blocks).index(block_id)
        touching = tuple((i, edge) for i, edge in enumerate(self._edges) if block_id in (edge.source, edge.target))
        # Edges go first so a listener never sees an edge whose end has vanished.
        for _, edge in reversed(touching):
            self._edges.remove(edge)
            self._emit(EdgeRemoved(edge))
        del self._blocks[block_id]
        self._emit(BlockRemoved(block_id))
        return RemovedBlock(block, index, touching)

    def restore_block(self, removed: RemovedBlock) -> None:
        """Undo of ``remove_block``: same id, same place in the order, same edges at the same indices."""
        block = removed.block
        if block.id in self._blocks:
            raise DuplicateBlockError(f"there is already a block '{block.id}'")
        items = list(self._blocks.items())
        items.insert(removed.index, (block.id, Block(block.id, block.type_id, dict(block.params), block.position)))
        self._blocks = dict(items)
        self._emit(BlockAdded(block.id))
        for index, edge in removed.edges:
            self._edges.insert(index, edge)
            self._emit(EdgeAdded(edge))

    def check_connect(self, source: str, target: str, port: int | None = None) -> int:
        """Raise the reason a wire ``source → target`` is refused, or return the port it would use."""
        self.block(source)
        target_block = self.block(target)
        ports = target_block.type.inputs
        if source == target:
            raise CycleError(f"a block cannot feed itself ('{source}')")
        if ports == 0:
            raise TooManyInputsError(f"'{target}' is an {target_block.type.label} block and takes no input")
        used = {edge.port: edge.source for edge in self._edges if edge.target == target}
        if any(edge.source == source and edge.target == target for edge in self._edges) and ports == 1:
            raise DuplicateEdgeError(f"'{source}' is already wired to '{target}'")
        if port is None:
            free = [candidate for candidate in range(ports) if candidate not in used]
            if not free:
                raise TooManyInputsError(
                    f"'{target}' ({target_block.type.label}) takes {ports} input{'s' if ports > 1 else ''} "
                    f"and already has {'it' if ports == 1 else 'them'}; remove a wire first"
                )
            port = free[0]
        else:
            if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port < ports:
                raise WireError(f"'{target}' has input ports 0..{ports - 1}, not {port!r}")
            if port in used:
                raise TooManyInputsError(
                    f"input {port} of '{target}' is already fed by '{used[port]}'; remove that wire first"
                )
        if self._reaches(target, source):
            raise CycleError(f"wiring '{source}' → '{target}' would make a loop: '{target}' already feeds '{source}'")
        return port

    def connect(self, source: str, target: str, port: int | None = None) -> Edge:
        port = self.check_connect(source, target, port)
        edge = Edge(source, target, port)
        self._edges.append(edge)
        self._emit(EdgeAdded(edge))
        return edge

    def insert_edge(self, index: int, edge: Edge) -> None:
        """Put back an edge at an exact index (undo of disconnect); checked like ``connect``."""
        self.check_connect(edge.source, edge.target, edge.port)
        self._edges.insert(index, edge)
        self._emit(EdgeAdded(edge))

    def disconnect(self, edge: Edge) -> int:
        """Remove an edge; returns the index it had (for undo)."""
        try:
            index = self._edges.index(edge)
        except ValueError:
            raise GraphError(f"there is no wire '{edge.source}' → '{edge.target}'") from None
        del self._edges[index]
        self._emit(EdgeRemoved(edge))
        return index

    def set_param(self, block_id: str, name: str, value: Any) -> Any:
        """Set one parameter (validated); returns the old value."""
        block = self.block(block_id)
        spec = block.type.spec_by_name.get(name)
        if spec is None:
            raise GraphError(f"{block.type.label} block '{block_id}' has no parameter '{name}'")
        value = spec.validate(value, block_id)
        old = block.params[name]
        if old == value and type(old) is type(value):
            return old
        block.params[name] = value
        self._emit(ParamChanged(block_id, name, value))
        return old

    def move_block(self, block_id: str, position: Iterable[float]) -> tuple[float, float]:
        block = self.block(block_id)
        old = block.position
        block.position = _position(position, block_id)
        self._emit(BlockMoved(block_id, block.position))
        return old

    def replace_with(self, other: "Graph") -> None:
        """Take over another graph's content (loading a file), announcing one reset."""
        self.name = other.name
        self.description = other.description
        self._blocks = {block_id: _copy_block(block) for block_id, block in other._blocks.items()}
        self._edges = list(other._edges)
        self._order_cache = None
        self._emit(GraphReset())

    def copy(self) -> "Graph":
        duplicate = Graph(self.name)
        duplicate.description = self.description
        duplicate._blocks = {block_id: _copy_block(block) for block_id, block in self._blocks.items()}
        duplicate._edges = list(self._edges)
        return duplicate

    # ------------------------------------------------------------------ helpers

    def _reaches(self, start: str, goal: str) -> bool:
        """True when ``goal`` can be reached from ``start`` along edges."""
        outgoing: dict[str, list[str]] = {}
        for edge in self._edges:
            outgoing.setdefault(edge.source, []).append(edge.target)
        stack, seen = [start], {start}
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            for target in outgoing.get(current, ()):
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        return False

    def __iter__(self) -> Iterator[Block]:
        return iter(self._blocks.values())


def _position(position: Iterable[float], block_id: str) -> tuple[float, float]:
    """Two finite floats, or ``GraphError`` (a file may hold 1e999 or a 400-digit int)."""
    try:
        x, y = position
        result = (float(x), float(y))
    except OverflowError:
        result = (math.inf, math.inf)
    except (TypeError, ValueError):
        raise GraphError(f"{block_id}: a position is two numbers, not {position!r:.60}") from None
    if not all(math.isfinite(value) for value in result):
        raise GraphError(f"{block_id}: a position must be two finite numbers")
    return result


def _copy_block(block: Block) -> Block:
    return Block(block.id, block.type_id, dict(block.params), block.position)


def chain(graph: Graph, type_ids_and_params: Iterable[tuple[str, dict]], spacing: float = 90.0) -> list[str]:
    """Append blocks one below the other, each wired to the previous one; returns their ids.

    Used by templates, tests and graph transforms to build straight networks tersely.
    """
    ids: list[str] = []
    previous = graph.sinks()[-1] if len(graph) else None
    y = max((block.position[1] for block in graph), default=-spacing)
    for type_id, params in type_ids_and_params:
        y += spacing
        block = graph.add_block(type_id, params, (0.0, y))
        if previous is not None:
            graph.connect(previous, block.id)
        previous = block.id
        ids.append(block.id)
    return ids
