"""Typed errors raised by the core rules.

Every message is written for the person at the canvas: it names the block, the parameter
or the edge that is wrong and, where it can, says what would be right.
"""


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
    """An architecture document that cannot be loaded; nothing was built from it."""
