"""The automatic layout lives in ``designer.core.layout`` (pure Python; the ONNX importer lays
out designs headless with it). Re-exported here for the window's modules."""

from designer.core.layout import (BLOCK_HEIGHT, BLOCK_WIDTH, apply_layout, auto_layout, layers, needs_layout,
                                  overlapping, rows_per_column)

__all__ = ["BLOCK_HEIGHT", "BLOCK_WIDTH", "apply_layout", "auto_layout", "layers", "needs_layout", "overlapping",
           "rows_per_column"]
