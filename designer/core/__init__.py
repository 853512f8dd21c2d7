"""Pure-Python heart of the program: block catalogue, graph, analysis, file format.

Imports neither Qt nor torch, so the window can open before torch has loaded.
"""

from designer.core.analysis import Analysis, BlockReport, analyze, format_count
from designer.core.blocks import (
    ACTIVATION_TYPES,
    BLOCK_TYPES,
    CATEGORIES,
    ELEMENTWISE_TYPES,
    FC_TYPES,
    SAME,
    VECTOR_TYPES,
    BlockType,
    ParamSpec,
    Shape,
    block_type,
    format_shape,
    is_fully_connected,
    summary_label,
    types_in_category,
)
from designer.core.errors import (
    ArchitectureError,
    CycleError,
    DesignerError,
    DesignLockedError,
    DuplicateBlockError,
    DuplicateEdgeError,
    GraphError,
    ParameterError,
    TooManyInputsError,
    UnknownBlockError,
    UnknownBlockTypeError,
    WireError,
)
from designer.core.fileformat import dumps, load_architecture, loads, save_architecture, to_document
from designer.core.graph import (
    Block,
    BlockAdded,
    BlockMoved,
    BlockRemoved,
    Edge,
    EdgeAdded,
    EdgeRemoved,
    Graph,
    GraphReset,
    ParamChanged,
    RemovedBlock,
    chain,
)
from designer.core.paths import RESOURCES, TEMPLATES, template_paths

__all__ = ["ACTIVATION_TYPES", "Analysis", "ArchitectureError", "BLOCK_TYPES", "Block", "BlockAdded", "BlockMoved",
           "BlockRemoved", "BlockReport", "BlockType", "CATEGORIES", "CycleError", "DesignLockedError",
           "DesignerError", "DuplicateBlockError", "DuplicateEdgeError", "ELEMENTWISE_TYPES", "Edge", "EdgeAdded",
           "EdgeRemoved", "FC_TYPES", "Graph", "GraphError", "GraphReset", "ParamChanged", "ParamSpec",
           "ParameterError", "RESOURCES", "RemovedBlock", "SAME", "Shape", "TEMPLATES", "TooManyInputsError",
           "UnknownBlockError", "UnknownBlockTypeError", "VECTOR_TYPES", "WireError", "analyze", "block_type",
           "chain", "dumps", "format_count", "format_shape", "is_fully_connected", "load_architecture", "loads",
           "save_architecture", "summary_label", "template_paths", "to_document", "types_in_category"]
