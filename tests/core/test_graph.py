"""Graph rules: the edits a person makes on the canvas, the refusals and the events."""

from __future__ import annotations

import pytest

from designer.core import (
    SAME,
    BLOCK_TYPES,
    BlockAdded,
    BlockMoved,
    BlockRemoved,
    CycleError,
    DuplicateBlockError,
    DuplicateEdgeError,
    Edge,
    EdgeAdded,
    EdgeRemoved,
    Graph,
    GraphError,
    GraphReset,
    ParamChanged,
    ParameterError,
    TooManyInputsError,
    UnknownBlockError,
    UnknownBlockTypeError,
    WireError,
    chain,
)


def small_graph() -> Graph:
    graph = Graph("small")
    graph.add_block("Input", {"channels": 1, "height": 8, "width": 8}, block_id="input")
    graph.add_block("Conv2d", {"out_channels": 4, "padding": 1}, block_id="conv")
    graph.add_block("ReLU", block_id="relu")
    graph.add_block("Conv2d", {"out_channels": 4, "padding": 1}, block_id="skip")
    graph.add_block("Add", block_id="add")
    graph.add_block("FC", {"out_features": 3}, block_id="fc")
    graph.connect("input", "conv")
    graph.connect("conv", "relu")
    graph.connect("input", "skip")
    graph.connect("relu", "add", 0)
    graph.connect("skip", "add", 1)
    graph.connect("add", "fc")
    return graph


def snapshot(graph: Graph):
    return (
        [(block.id, block.type_id, dict(block.params), block.position) for block in graph],
        list(graph.edges),
    )


# ------------------------------------------------------------------ add / remove / restore


def test_add_block_fills_defaults_and_makes_readable_ids():
    graph = Graph()
    first = graph.add_block("Conv2d")
    second = graph.add_block("Conv2d", {"out_channels": 8}, position=(3, 4))
    assert (first.id, second.id) == ("conv1", "conv2")
    assert first.params == BLOCK_TYPES["Conv2d"].default_params()
    assert second.params["out_channels"] == 8 and second.params["kernel_size"] == 3
    assert second.position == (3.0, 4.0)
    assert graph.add_block("BatchNorm2d").id == "bn1"


def test_add_block_refuses_unknown_type_duplicate_and_bad_ids():
    graph = Graph()
    graph.add_block("Input", block_id="input")
    with pytest.raises(UnknownBlockTypeError, match="Conv3d"):
        graph.add_block("Conv3d")
    with pytest.raises(DuplicateBlockError, match="'input'"):
        graph.add_block("ReLU", block_id="input")
    for bad in ("", "1conv", "has space", "dot.ted", "conv1\n", "x" * 65, 7):
        with pytest.raises(GraphError):
            graph.add_block("ReLU", block_id=bad)
    with pytest.raises(ParameterError, match="no parameter 'filters'"):
        graph.add_block("Conv2d", {"filters": 3})
    with pytest.raises(GraphError, match="finite"):
        graph.add_block("ReLU", position=(float("inf"), 0))
    with pytest.raises(GraphError, match="finite"):
        graph.add_block("ReLU", position=(10**400, 0))
    assert list(graph.blocks) == ["input"]


def test_remove_then_restore_puts_block_and_edges_back_in_exact_order():
    graph = small_graph()
    before = snapshot(graph)
    for block_id in list(graph.blocks):
        removed = graph.remove_block(block_id)
        assert block_id not in graph
        assert all(block_id not in (edge.source, edge.target) for edge in graph.edges)
        graph.restore_block(removed)
        assert snapshot(graph) == before, block_id


def test_remove_several_and_restore_in_reverse_order():
    graph = small_graph()
    before = snapshot(graph)
    undo = [graph.remove_block(block_id) for block_id in ("relu", "input", "add")]
    assert list(graph.blocks) == ["conv", "skip", "fc"]
    assert graph.edges == ()
    for removed in reversed(undo):
        graph.restore_block(removed)
    assert snapshot(graph) == before


def test_restore_refuses_an_id_taken_meanwhile():
    graph = small_graph()
    removed = graph.remove_block("fc")
    graph.add_block("ReLU", block_id="fc")
    with pytest.raises(DuplicateBlockError):
        graph.restore_block(removed)


def test_disconnect_and_insert_edge_restore_the_exact_index():
    graph = small_graph()
    before = list(graph.edges)
    edge = Edge("input", "skip", 0)
    index = graph.disconnect(edge)
    assert index == 2 and edge not in graph.edges
    graph.insert_edge(index, edge)
    assert list(graph.edges) == before
    with pytest.raises(GraphError, match="no wire"):
        graph.disconnect(Edge("fc", "input", 0))


def test_unknown_block_is_named():
    graph = small_graph()
    with pytest.raises(UnknownBlockError, match="'nope'"):
        graph.block("nope")
    with pytest.raises(UnknownBlockError, match="'nope'"):
        graph.connect("nope", "fc")
    with pytest.raises(UnknownBlockError):
        graph.remove_block("nope")


# ------------------------------------------------------------------ connect refusals


def test_connect_refuses_a_cycle_and_changes_nothing():
    graph = Graph()
    graph.add_block("Input", block_id="input")
    graph.add_block("Concat", block_id="cat")
    graph.add_block("ReLU", block_id="relu")
    graph.connect("input", "cat", 0)
    graph.connect("cat", "relu")
    before = snapshot(graph)
    events = []
    graph.subscribe(events.append)
    with pytest.raises(CycleError, match="loop"):
        graph.connect("relu", "cat")  # port 1 is free, but cat already feeds relu
    with pytest.raises(CycleError):
        graph.check_connect("relu", "cat", 1)
    assert snapshot(graph) == before and events == []


def test_connect_refuses_a_long_cycle():
    graph = Graph()
    ids = chain(graph, [("Input", {}), ("ReLU", {}), ("Add", {})] + [("ReLU", {})] * 20)
    with pytest.raises(CycleError, match=f"'{ids[2]}' already feeds '{ids[-1]}'"):
        graph.connect(ids[-1], ids[2])
    graph.connect(ids[1], ids[2])  # the free port takes a block upstream instead


def test_connect_refuses_self_loop():
    graph = small_graph()
    with pytest.raises(CycleError, match="itself"):
        graph.connect("relu", "relu")
    with pytest.raises(CycleError):
        graph.connect("add", "add", 1)


def test_connect_refuses_second_input_into_one_input_block():
    graph = small_graph()
    with pytest.raises(TooManyInputsError, match="'relu'"):
        graph.connect("skip", "relu")
    with pytest.raises(TooManyInputsError, match="already fed by 'conv'"):
        graph.connect("skip", "relu", 0)
    with pytest.raises(DuplicateEdgeError):
        graph.connect("conv", "relu")


def test_connect_refuses_third_input_into_two_input_block():
    graph = small_graph()
    graph.add_block("ReLU", block_id="extra")
    graph.connect("input", "extra")
    with pytest.raises(TooManyInputsError, match="'add'"):
        graph.connect("extra", "add")


def test_input_takes_no_input():
    graph = small_graph()
    graph.add_block("Input", block_id="second")
    with pytest.raises(TooManyInputsError, match="takes no input"):
        graph.connect("second", "input")
    with pytest.raises(TooManyInputsError, match="takes no input"):
        graph.connect("relu", "second")


def test_port_range_is_checked():
    graph = Graph()
    graph.add_block("Input", block_id="input")
    graph.add_block("Add", block_id="add")
    graph.add_block("ReLU", block_id="relu")
    for bad in (2, -1, True, 1.0, "0"):
        with pytest.raises(WireError):
            graph.check_connect("input", "add", bad)
    with pytest.raises(WireError, match="0..0"):
        graph.connect("input", "relu", 1)
    # The same source may feed both ports of a merge (x + x).
    assert graph.connect("input", "add", 1).port == 1
    assert graph.connect("input", "add").port == 0
    assert graph.input_edges("add") == [Edge("input", "add", 0), Edge("input", "add", 1)]
    assert graph.predecessors("add") == ["input", "input"]


def test_check_connect_returns_the_free_port_and_changes_nothing():
    graph = Graph()
    graph.add_block("Input", block_id="input")
    graph.add_block("Concat", block_id="cat")
    graph.connect("input", "cat", 0)
    assert graph.check_connect("input", "cat") == 1
    assert len(graph.edges) == 1


# ------------------------------------------------------------------ parameters


def test_set_param_validates_and_returns_old_value():
    graph = small_graph()
    assert graph.set_param("conv", "out_channels", 32) == 4
    assert graph.block("conv").params["out_channels"] == 32
    assert graph.set_param("conv", "padding", SAME) == 1
    assert graph.block("conv").params["padding"] == "same"
    assert graph.set_param("conv", "kernel_size", 5.0) == 3
    assert type(graph.block("conv").params["kernel_size"]) is int


@pytest.mark.parametrize(
    "block_id, name, value, message",
    [
        ("conv", "out_channels", True, "whole number"),  # bool is an int in Python, not a size
        ("conv", "out_channels", 0, "at least 1"),
        ("conv", "out_channels", 70000, "at most 65536"),
        ("conv", "out_channels", 2.5, "whole number"),
        ("conv", "out_channels", "8", "whole number"),
        ("conv", "out_channels", float("nan"), "whole number"),
        ("conv", "out_channels", 10**400, "at most"),
        ("conv", "padding", "valid", '"same"'),
        ("conv", "padding", "SAME", '"same"'),
        ("conv", "padding", -1, "at least 0"),
        ("conv", "bias", 1, "true or false"),
        ("conv", "bias", "true", "true or false"),
        ("fc", "out_features", False, "whole number"),
        ("input", "channels", 0, "at least 1"),
    ],
)
def test_set_param_refuses_bad_values(block_id, name, value, message):
    graph = small_graph()
    before = snapshot(graph)
    events = []
    graph.subscribe(events.append)
    with pytest.raises(ParameterError, match=message) as caught:
        graph.set_param(block_id, name, value)
    assert f"'{name}'" in str(caught.value) and block_id in str(caught.value)
    assert snapshot(graph) == before and events == []


def test_float_parameters():
    graph = Graph()
    graph.add_block("Dropout", block_id="drop")
    graph.add_block("LeakyReLU", block_id="leaky")
    graph.set_param("drop", "p", 0)
    assert graph.block("drop").params["p"] == 0.0 and type(graph.block("drop").params["p"]) is float
    for bad in (True, 1.0, -0.1, float("inf"), "0.5", 10**400):
        with pytest.raises(ParameterError):
            graph.set_param("drop", "p", bad)
    with pytest.raises(ParameterError, match="at most 1"):
        graph.set_param("leaky", "negative_slope", 1.5)


def test_set_param_unknown_name():
    graph = small_graph()
    with pytest.raises(GraphError, match="no parameter 'filters'"):
        graph.set_param("conv", "filters", 3)


# ------------------------------------------------------------------ events


def test_every_edit_announces_itself():
    graph = Graph()
    events = []
    graph.subscribe(events.append)
    graph.add_block("Input", block_id="input")
    graph.add_block("ReLU", block_id="relu")
    edge = graph.connect("input", "relu")
    graph.set_param("input", "channels", 3)
    graph.set_param("input", "channels", 3)  # no change, no event
    graph.move_block("relu", (10, 20))
    graph.disconnect(edge)
    graph.connect("input", "relu")
    removed = graph.remove_block("input")
    graph.restore_block(removed)
    graph.replace_with(small_graph())
    assert events == [
        BlockAdded("input"),
        BlockAdded("relu"),
        EdgeAdded(edge),
        ParamChanged("input", "channels", 3),
        BlockMoved("relu", (10.0, 20.0)),
        EdgeRemoved(edge),
        EdgeAdded(edge),
        EdgeRemoved(edge),  # edges leave before their block
        BlockRemoved("input"),
        BlockAdded("input"),  # and come back after it
        EdgeAdded(edge),
        GraphReset(),
    ]


def test_refused_edits_announce_nothing():
    graph = small_graph()
    events = []
    graph.subscribe(events.append)
    for attempt in (
        lambda: graph.connect("fc", "input"),
        lambda: graph.connect("relu", "conv"),
        lambda: graph.add_block("Nope"),
        lambda: graph.add_block("ReLU", block_id="conv"),
        lambda: graph.set_param("conv", "stride", 0),
    ):
        with pytest.raises(GraphError):
            attempt()
    assert events == []


def test_unsubscribe_and_revision():
    graph = Graph()
    events = []
    graph.subscribe(events.append)
    graph.unsubscribe(events.append)
    graph.unsubscribe(events.append)  # twice is harmless
    start = graph.revision
    graph.add_block("Input", block_id="input")
    assert events == []
    after_add = graph.revision
    assert after_add > start
    graph.move_block("input", (1, 1))
    assert graph.revision == after_add  # a move changes nothing the analysis sees
    graph.set_param("input", "width", 10)
    assert graph.revision > after_add


# ------------------------------------------------------------------ order


def is_topological(graph: Graph, order: list[str]) -> bool:
    position = {block_id: index for index, block_id in enumerate(order)}
    return sorted(order) == sorted(graph.blocks) and all(
        position[edge.source] < position[edge.target] for edge in graph.edges
    )


def test_topological_order_puts_every_block_after_its_inputs():
    graph = Graph()
    # Inserted in an order that is not topological.
    for block_id, type_id in (("fc", "FC"), ("add", "Add"), ("b", "ReLU"), ("a", "ReLU"), ("input", "Input")):
        graph.add_block(type_id, block_id=block_id)
    graph.connect("add", "fc")
    graph.connect("a", "add")
    graph.connect("b", "add")
    graph.connect("input", "a")
    graph.connect("input", "b")
    order = graph.topological_order()
    assert is_topological(graph, order)
    assert order[0] == "input" and order[-1] == "fc"
    # Unconnected blocks keep insertion order.
    loose = Graph()
    for type_id in ("ReLU", "Tanh", "GAP"):
        loose.add_block(type_id)
    assert loose.topological_order() == list(loose.blocks)


def test_topological_order_follows_edits():
    graph = small_graph()
    assert is_topological(graph, graph.topological_order())
    graph.disconnect(Edge("add", "fc", 0))
    graph.remove_block("add")
    graph.add_block("Concat", block_id="cat")
    graph.connect("cat", "fc")
    graph.connect("relu", "cat")
    graph.connect("skip", "cat")
    order = graph.topological_order()
    assert is_topological(graph, order) and order.index("cat") < order.index("fc")
    order.append("junk")  # the returned list is a copy
    assert "junk" not in graph.topological_order()


def test_sinks_inputs_copy_and_chain():
    graph = small_graph()
    assert graph.sinks() == ["fc"] and graph.inputs() == ["input"]
    assert graph.successors("input") == ["conv", "skip"]
    duplicate = graph.copy()
    duplicate.set_param("conv", "out_channels", 9)
    assert graph.block("conv").params["out_channels"] == 4
    assert snapshot(duplicate)[1] == snapshot(graph)[1]
    ids = chain(graph, [("ReLU", {}), ("FC", {"out_features": 2})])
    assert graph.predecessors(ids[0]) == ["fc"] and graph.sinks() == [ids[1]]
