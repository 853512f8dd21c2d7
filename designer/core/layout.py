"""Automatic layout of a design: layered top to bottom, branches side by side.

Pure Python on ``designer.core.Graph`` (no Qt), so it is cheap to test, runs before a
loaded graph is shown and lays out imported models headless. A block's position is the
top-left corner of its canvas item.

Layers come from the longest path from an input, so every wire points downwards. A long
chain (VGG-16 has 39 blocks) would be a column far taller than any window, unreadable once
fitted; so the layers are set in newspaper columns, as many as make the whole roughly the
shape of the view it will be shown in.
"""

from __future__ import annotations

import math

from designer.core.graph import Graph

#: size of a block item on the canvas (canvas_items uses the same figures)
BLOCK_WIDTH = 190.0
BLOCK_HEIGHT = 64.0
#: distance between the left edges of two blocks in one layer
HORIZONTAL_PITCH = 225.0
#: distance between the top edges of two consecutive layers
VERTICAL_PITCH = 100.0
#: extra space between two newspaper columns, so they read as separate columns
COLUMN_GAP = 70.0
#: shape (width / height) of a typical canvas view
DEFAULT_ASPECT = 1.7
#: a single column longer than this is laid out again on load (templates are stored as one)
LONGEST_READABLE_COLUMN = 8


def layers(graph: Graph) -> list[list[str]]:
    """Block ids grouped by longest-path depth; within a layer, ordered to keep wires short."""
    depth: dict[str, int] = {}
    for block_id in graph.topological_order():
        predecessors = graph.predecessors(block_id)
        depth[block_id] = 1 + max((depth[source] for source in predecessors), default=-1)
    grouped: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for block_id in graph.topological_order():
        grouped[depth[block_id]].append(block_id)

    # One barycentre pass: a block sits under the average slot of the blocks feeding it,
    # which keeps the two arms of a residual branch side by side instead of crossed.
    slot: dict[str, float] = {}
    for layer in grouped:
        order = {block_id: index for index, block_id in enumerate(layer)}
        layer.sort(key=lambda block_id: (_barycentre(graph, block_id, slot), order[block_id]))
        for index, block_id in enumerate(layer):
            slot[block_id] = index - (len(layer) - 1) / 2
    return grouped


def _barycentre(graph: Graph, block_id: str, slot: dict[str, float]) -> float:
    sources = [slot[source] for source in graph.predecessors(block_id) if source in slot]
    return sum(sources) / len(sources) if sources else math.inf


def rows_per_column(layer_count: int, widest_layer: int, aspect: float = DEFAULT_ASPECT) -> int:
    """How many layers go in one column so the layout's shape comes closest to ``aspect``."""
    if layer_count <= LONGEST_READABLE_COLUMN:
        return max(layer_count, 1)  # a short network reads best as one column
    best_rows, best_error = layer_count, math.inf
    for rows in range(1, layer_count + 1):
        columns = math.ceil(layer_count / rows)
        width = columns * (widest_layer * HORIZONTAL_PITCH) + (columns - 1) * COLUMN_GAP
        height = rows * VERTICAL_PITCH
        # Compare shapes on a log scale: twice too wide is as bad as twice too tall.
        error = abs(math.log(width / height / aspect))
        # Fewer, taller columns read more like a network: prefer them on a near tie.
        if error < best_error - 0.05 or (rows > best_rows and error < best_error + 0.05):
            best_rows, best_error = rows, error
    return best_rows


def auto_layout(graph: Graph, aspect: float = DEFAULT_ASPECT) -> dict[str, tuple[float, float]]:
    """New top-left positions for every block of ``graph`` (the graph is not changed)."""
    grouped = layers(graph)
    if not grouped:
        return {}
    widest = max(len(layer) for layer in grouped)
    rows = rows_per_column(len(grouped), widest, aspect)
    positions: dict[str, tuple[float, float]] = {}
    column_left = 0.0
    for start in range(0, len(grouped), rows):
        column = grouped[start:start + rows]
        column_width = max(len(layer) for layer in column) * HORIZONTAL_PITCH
        centre = column_left + column_width / 2
        for row, layer in enumerate(column):
            for index, block_id in enumerate(layer):
                offset = (index - (len(layer) - 1) / 2) * HORIZONTAL_PITCH
                positions[block_id] = (round(centre + offset - BLOCK_WIDTH / 2), float(row * VERTICAL_PITCH))
        column_left += column_width + COLUMN_GAP
    return positions


def apply_layout(graph: Graph, aspect: float = DEFAULT_ASPECT) -> None:
    """Move the blocks of a graph that is not shown yet (a file just read)."""
    for block_id, position in auto_layout(graph, aspect).items():
        graph.move_block(block_id, position)


def overlapping(graph: Graph) -> bool:
    """True when two blocks' rectangles intersect (or all blocks share one point)."""
    boxes = sorted(block.position for block in graph)
    for index, (x, y) in enumerate(boxes):
        for other_x, other_y in boxes[index + 1:]:
            if other_x >= x + BLOCK_WIDTH:
                break
            if abs(other_y - y) < BLOCK_HEIGHT and abs(other_x - x) < BLOCK_WIDTH:
                return True
    return False


def needs_layout(graph: Graph) -> bool:
    """Should a freshly loaded design be laid out before it is shown?

    Yes when blocks overlap or all sit at the origin (a hand-written file), and when the
    design is one column too long to read when fitted in a window (how templates are stored).
    """
    if len(graph) < 2:
        return False
    if overlapping(graph):
        return True
    xs = {block.position[0] for block in graph}
    return len(xs) == 1 and len(graph) > LONGEST_READABLE_COLUMN


__all__ = [
    "BLOCK_HEIGHT",
    "BLOCK_WIDTH",
    "apply_layout",
    "auto_layout",
    "layers",
    "needs_layout",
    "overlapping",
    "rows_per_column",
]
