"""torch side of the program: build a module from a graph, and graph transforms.

Importing this package imports torch; designer.core never does.
"""

from designer.nn.builder import BuildError, GraphModule, build_module

__all__ = ["BuildError", "GraphModule", "build_module"]
