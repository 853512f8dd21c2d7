"""Which trained weights fit which design: the lab matches models to the open design by architecture."""

from __future__ import annotations

from designer.core import Graph, to_document


def architecture_key(graph: Graph) -> tuple:
    """What decides which weights fit a graph: block ids, types, params and wiring (not positions)."""
    document = to_document(graph)
    blocks = tuple(sorted((block["id"], block["type"], tuple(sorted(block["params"].items())))
                          for block in document["blocks"]))
    edges = tuple(sorted((edge["from"], edge["to"], edge.get("port", 0)) for edge in document["edges"]))
    return blocks, edges


def same_architecture(first: Graph, second: Graph) -> bool:
    return architecture_key(first) == architecture_key(second)


def has_fc_layers(graph: Graph) -> bool:
    return any(block.type.fully_connected for block in graph)


__all__ = ["architecture_key", "has_fc_layers", "same_architecture"]
