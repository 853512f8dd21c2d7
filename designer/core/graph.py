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
    excerpt,
)

BLOCK_ID_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")
_NUMBERED_ID = re.compile(r"(.*?)([0-9]+)")


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
_STRUCTURAL_TYPES = frozenset(STRUCTURAL_EVENTS)


class Graph:
    def __init__(self, name: str = "Untitled") -> None:
        self.name = name
        self.description = ""  # free text saved with the file; the analysis ignores it
        self._blocks: dict[str, Block] = {}
        self._edges: list[Edge] = []
        # Edges into / out of each block, in edge-list order. Kept up to date by appends
        # (connect, the loader's many connects) and rebuilt after the rarer insertions and
        # removals, so checking a wire costs what the block's own wires cost, not all edges.
        self._incoming: dict[str, list[Edge]] | None = {}
        self._outgoing: dict[str, list[Edge]] | None = {}
        self._listeners: list[Callable[[GraphEvent], None]] = []
        self._order_cache: list[str] | None = None
        self._revision = 0
        self._free_number_hints: dict[str, int] = {}  # id stem → the lowest number that may be free

    # ------------------------------------------------------------------ observing

    def subscribe(self, listener: Callable[[GraphEvent], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[GraphEvent], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, event: GraphEvent) -> None:
        # Exact types (events are final): a set lookup, not isinstance over six classes; loading
        # a file emits one event per block and per wire.
        kind = type(event)
        if kind in _STRUCTURAL_TYPES:
            self._revision += 1
            if kind is not ParamChanged:
                self._order_cache = None
        if self._listeners:
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
            raise UnknownBlockError(f"there is no block {excerpt(block_id)}") from None

    def input_edges(self, block_id: str) -> list[Edge]:
        """Edges into a block, sorted by port."""
        return sorted(self._incoming_map().get(block_id, ()), key=lambda edge: edge.port)

    def output_edges(self, block_id: str) -> list[Edge]:
        return list(self._outgoing_map().get(block_id, ()))

    def predecessors(self, block_id: str) -> list[str]:
        return [edge.source for edge in self.input_edges(block_id)]

    def successors(self, block_id: str) -> list[str]:
        return [edge.target for edge in self._outgoing_map().get(block_id, ())]

    def sinks(self) -> list[str]:
        """Blocks nothing reads from; a trainable design has exactly one."""
        has_output = {edge.source for edge in self._edges}
        return [block_id for block_id in self._blocks if block_id not in has_output]

    def inputs(self) -> list[str]:
        return [block.id for block in self._blocks.values() if block.type_id == "Input"]

    def topological_order(self) -> list[str]:
        """Block ids with every block after its inputs; ties keep insertion order. Cached."""
        if self._order_cache is None:
            order = _kahn_order(self._blocks, self._edges)
            if len(order) != len(self._blocks):  # pragma: no cover - connect() prevents cycles
                raise CycleError("the graph contains a cycle")
            self._order_cache = order
        return list(self._order_cache)

    def first_loop_edge(self) -> int | None:
        """Index in ``edges`` of the first edge that closes a loop, or None when there is none.

        "First" as if the edges had been connected one by one in order: the smallest ``k``
        such that edges ``0..k`` contain a loop. The loader connects a whole file's edges
        with ``cycles=False`` and asks this once, so loading costs one topological sort
        (a binary search over prefixes only when there is a loop) instead of a graph search
        per edge.
        """
        order = _kahn_order(self._blocks, self._edges)
        if len(order) == len(self._blocks):
            self._order_cache = order  # what topological_order would compute next (the analysis)
            return None
        low, high = 0, len(self._edges) - 1  # the prefix ending at `high` is known to loop
        while low < high:
            middle = (low + high) // 2
            if len(_kahn_order(self._blocks, self._edges[: middle + 1])) == len(self._blocks):
                low = middle + 1
            else:
                high = middle
        return high

    def new_block_id(self, type_id: str) -> str:
        """A readable id not yet used, e.g. ``conv3`` or ``fc2``."""
        stem = block_type(type_id).id_prefix
        # Every number below the hint is known to be taken, so adding block after block costs
        # no rescan from 1 (that made building a 100,000-block chain quadratic).
        number = self._free_number_hints.get(stem, 1)
        while f"{stem}{number}" in self._blocks:
            number += 1
        self._free_number_hints[stem] = number
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
            self._forget_adjacency()
            self._emit(EdgeRemoved(edge))
        del self._blocks[block_id]
        self._forget_adjacency()
        numbered = _NUMBERED_ID.fullmatch(block_id)
        if numbered is not None and numbered.group(1) in self._free_number_hints:
            stem, number = numbered.group(1), int(numbered.group(2))
            self._free_number_hints[stem] = min(self._free_number_hints[stem], number)
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
            self._forget_adjacency()
            self._emit(EdgeAdded(edge))

    def check_connect(self, source: str, target: str, port: int | None = None, *, cycles: bool = True) -> int:
        """Raise the reason a wire ``source → target`` is refused, or return the port it would use.

        ``cycles=False`` leaves out the loop check (a search of the graph): only for a caller
        that adds many edges and then asks ``first_loop_edge`` once, as the file loader does.
        """
        if source not in self._blocks:
            self.block(source)  # raises, naming it
        target_block = self._blocks.get(target) or self.block(target)
        ports = BLOCK_TYPES[target_block.type_id].inputs
        if source == target:
            raise CycleError(f"a block cannot feed itself ('{source}')")
        if ports == 0:
            raise TooManyInputsError(f"'{target}' is an {target_block.type.label} block and takes no input")
        into_target = self._incoming_map().get(target)
        if not into_target and port is None and not cycles:
            return 0  # the loader's common case: a free block, its first port, loops checked later
        into_target = into_target or ()
        used = {edge.port: edge.source for edge in into_target}
        if ports == 1 and any(edge.source == source for edge in into_target):
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
        if cycles and self._reaches(target, source):
            raise CycleError(loop_message(source, target))
        return port

    def connect(self, source: str, target: str, port: int | None = None, *, cycles: bool = True) -> Edge:
        """Add a wire; ``cycles=False`` as in ``check_connect`` (the caller checks loops once after)."""
        port = self.check_connect(source, target, port, cycles=cycles)
        edge = Edge(source, target, port)
        self._edges.append(edge)
        if self._incoming is not None and self._outgoing is not None:
            self._incoming.setdefault(target, []).append(edge)
            self._outgoing.setdefault(source, []).append(edge)
        self._emit(EdgeAdded(edge))
        return edge

    def insert_edge(self, index: int, edge: Edge) -> None:
        """Put back an edge at an exact index (undo of disconnect); checked like ``connect``."""
        self.check_connect(edge.source, edge.target, edge.port)
        self._edges.insert(index, edge)
        self._forget_adjacency()
        self._emit(EdgeAdded(edge))

    def disconnect(self, edge: Edge) -> int:
        """Remove an edge; returns the index it had (for undo)."""
        try:
            index = self._edges.index(edge)
        except ValueError:
            raise GraphError(f"there is no wire '{edge.source}' → '{edge.target}'") from None
        del self._edges[index]
        self._forget_adjacency()
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
        self._forget_adjacency()
        self._free_number_hints = {}
        self._emit(GraphReset())

    def copy(self) -> "Graph":
        duplicate = Graph(self.name)
        duplicate.description = self.description
        duplicate._blocks = {block_id: _copy_block(block) for block_id, block in self._blocks.items()}
        duplicate._edges = list(self._edges)
        duplicate._forget_adjacency()
        return duplicate

    # ------------------------------------------------------------------ helpers

    def _forget_adjacency(self) -> None:
        self._incoming = self._outgoing = None

    def _build_adjacency(self) -> None:
        incoming: dict[str, list[Edge]] = {}
        outgoing: dict[str, list[Edge]] = {}
        for edge in self._edges:
            incoming.setdefault(edge.target, []).append(edge)
            outgoing.setdefault(edge.source, []).append(edge)
        self._incoming, self._outgoing = incoming, outgoing

    def _incoming_map(self) -> dict[str, list[Edge]]:
        if self._incoming is None:
            self._build_adjacency()
        return self._incoming

    def _outgoing_map(self) -> dict[str, list[Edge]]:
        if self._outgoing is None:
            self._build_adjacency()
        return self._outgoing

    def _reaches(self, start: str, goal: str) -> bool:
        """True when ``goal`` can be reached from ``start`` along edges."""
        outgoing = self._outgoing_map()
        stack, seen = [start], {start}
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            for edge in outgoing.get(current, ()):
                if edge.target not in seen:
                    seen.add(edge.target)
                    stack.append(edge.target)
        return False

    def __iter__(self) -> Iterator[Block]:
        return iter(self._blocks.values())


def loop_message(source: str, target: str) -> str:
    """Why the wire ``source → target`` is refused when it would close a loop."""
    return f"wiring '{source}' → '{target}' would make a loop: '{target}' already feeds '{source}'"


def _kahn_order(blocks: dict, edges: list[Edge]) -> list[str]:
    """Kahn's topological sort; shorter than ``blocks`` exactly when ``edges`` hold a loop.

    Ties keep insertion order (the order analysis reports and the layer table show).
    """
    remaining = dict.fromkeys(blocks, 0)
    outgoing: dict[str, list[str]] = {}
    for edge in edges:
        remaining[edge.target] += 1
        outgoing.setdefault(edge.source, []).append(edge.target)
    ready = [block_id for block_id, count in remaining.items() if count == 0]
    ready.reverse()  # pop() from the end takes the earliest-inserted block first
    order: list[str] = []
    while ready:
        block_id = ready.pop()
        order.append(block_id)
        released = []
        for target in outgoing.get(block_id, ()):
            remaining[target] -= 1
            if remaining[target] == 0:
                released.append(target)
        ready.extend(reversed(released))
    return order


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
