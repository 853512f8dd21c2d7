"""Where to put the labels of scattered points so that they stay inside the plot and do not overlap.

Pure geometry in screen pixels (y grows downwards), no Qt: the sweep's scatter plots hand in
their points and label sizes after every change of range or size and move the labels there.

A greedy placement, as cartographers' simplest rule does it: points in order of x, each label
takes the first of a few places around its point (right, left, above, below, then the corners
further out) that lies inside the plot and touches neither an earlier label nor any point; when
none is free, the place inside the plot that overlaps least. For the dozens of points a sweep
has, that is instant, and it never moves a label that did not need to move.
"""

from __future__ import annotations

from dataclasses import dataclass

#: pixels between a point's centre and its label
GAP = 6.0


@dataclass(frozen=True)
class Box:
    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def overlap(self, other: "Box") -> float:
        """The area both boxes cover (0 when they only touch)."""
        width = min(self.right, other.right) - max(self.left, other.left)
        height = min(self.bottom, other.bottom) - max(self.top, other.top)
        return width * height if width > 0 and height > 0 else 0.0

    def inside(self, bounds: "Box") -> bool:
        return (self.left >= bounds.left and self.top >= bounds.top and self.right <= bounds.right
                and self.bottom <= bounds.bottom)

    def moved_inside(self, bounds: "Box") -> "Box":
        left = min(max(self.left, bounds.left), max(bounds.left, bounds.right - self.width))
        top = min(max(self.top, bounds.top), max(bounds.top, bounds.bottom - self.height))
        return Box(left, top, self.width, self.height)


def _candidates(x: float, y: float, width: float, height: float, radius: float) -> list[Box]:
    near = radius + GAP
    half_width, half_height = width / 2, height / 2
    return [
        Box(x + near, y - half_height, width, height),  # right
        Box(x - near - width, y - half_height, width, height),  # left
        Box(x - half_width, y - near - height, width, height),  # above
        Box(x - half_width, y + near, width, height),  # below
        Box(x + near * 0.7, y - near * 0.7 - height, width, height),  # above right
        Box(x - near * 0.7 - width, y - near * 0.7 - height, width, height),  # above left
        Box(x + near * 0.7, y + near * 0.7, width, height),  # below right
        Box(x - near * 0.7 - width, y + near * 0.7, width, height),  # below left
        Box(x + near, y - near - height * 1.5, width, height),  # further out: right, two rows up
        Box(x + near, y + near + height * 0.5, width, height),  # right, two rows down
        Box(x - near - width, y - near - height * 1.5, width, height),
        Box(x - near - width, y + near + height * 0.5, width, height),
    ]


def place_labels(points: list[tuple[float, float]], sizes: list[tuple[float, float]], bounds: Box,
                 radius: float = 5.0) -> list[Box]:
    """One box per point (same order): where its label goes, in the same pixels as ``points``."""
    if len(points) != len(sizes):
        raise ValueError("one size per point")
    markers = [Box(x - radius, y - radius, 2 * radius, 2 * radius) for x, y in points]
    placed: dict[int, Box] = {}
    for index in sorted(range(len(points)), key=lambda index: (points[index][0], points[index][1])):
        x, y = points[index]
        width, height = sizes[index]
        best, best_cost = None, None
        for rank, box in enumerate(_candidates(x, y, width, height, radius)):
            box = box if box.inside(bounds) else box.moved_inside(bounds)
            cost = sum(box.overlap(other) for other in placed.values())
            cost += sum(box.overlap(marker) for marker in markers)
            if cost == 0:
                best = box
                break
            if best_cost is None or cost < best_cost - 1e-9 or (cost == best_cost and rank == 0):
                best, best_cost = box, cost
        placed[index] = best
    return [placed[index] for index in range(len(points))]


__all__ = ["Box", "GAP", "place_labels"]
