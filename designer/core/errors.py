"""Typed errors raised by the core rules.

Every message is written for the person at the canvas: it names the block, the parameter
or the edge that is wrong and, where it can, says what would be right. A message is one
line and quotes at most a short excerpt of a bad value (DESIGN.md, convention 14): a file
may hold a 1 MB name or a 100,000-item list, and the message must stay readable.
"""

from __future__ import annotations

from typing import Any

#: The longest message an ArchitectureError carries (the file name included).
MAX_MESSAGE_CHARACTERS = 400
EXCERPT_CHARACTERS = 60


def excerpt(value: Any, limit: int = EXCERPT_CHARACTERS) -> str:
    """``repr(value)`` cut to about ``limit`` characters, never failing and never costly.

    Strings and containers are cut before ``repr`` sees them, so a 1 MB string or a list of
    100,000 items costs no more than a short one.
    """
    if isinstance(value, str):
        text = repr(value[: limit + 1])
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        kind = type(value).__name__
        return f"a {kind} of {len(value):,} item{'' if len(value) == 1 else 's'}"
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"a number of about {value.bit_length() * 0.30103:.0f} digits"
    else:
        try:
            text = repr(value)
        except Exception:  # noqa: BLE001 - a message must never fail to be made
            text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(text: str, limit: int = MAX_MESSAGE_CHARACTERS) -> str:
    """Whitespace runs (newlines too) become one space; the result is at most ``limit`` characters."""
    # Cut first: splitting a 3 MB text to collapse its whitespace would cost as much as the text.
    text = " ".join(text[: limit * 2].split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class DesignerError(Exception):
    """Base class of every error the core raises on purpose."""


class GraphError(DesignerError):
    """An edit the graph refuses (the graph is left unchanged)."""


class UnknownBlockTypeError(GraphError):
    pass


class UnknownBlockError(GraphError):
    pass


class DuplicateBlockError(GraphError):
    pass


class WireError(GraphError):
    """Base of the refusals of a wire between two blocks."""


class CycleError(WireError):
    pass


class TooManyInputsError(WireError):
    pass


class DuplicateEdgeError(WireError):
    pass


class ParameterError(GraphError):
    """A parameter value outside its type, range or choices."""


class DesignLockedError(DesignerError):
    """An edit was attempted while training runs on the design (nothing was changed)."""


class ArchitectureError(DesignerError):
    """An architecture document that cannot be loaded; nothing was built from it.

    The message is made one line of at most MAX_MESSAGE_CHARACTERS whatever the caller
    passed: a defence behind the excerpts the messages are built with.
    """

    def __init__(self, message: str = "") -> None:
        super().__init__(one_line(str(message)))
