"""Limits of the file format (issue 14, defects 1, 2, 9): short messages, linear loading, capped reads.

Timing is a benchmark (tests/benchmarks/bench_analysis.py); these tests check the behaviour
behind it: which work loading does, what messages look like, what a huge or special file gets.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.core import ArchitectureError, BLOCK_TYPES, CycleError, Graph, analyze, dumps, loads
from designer.core import fileformat
from designer.core.errors import MAX_MESSAGE_CHARACTERS
from designer.core.fileformat import MAX_FILE_BYTES, load_architecture, max_blocks, max_edges, parse_document

ROOT = Path(__file__).resolve().parents[2]
FORMAT = {"format": "network-designer/architecture", "version": 1}


def document(blocks=(), edges=(), **top) -> dict:
    return {**FORMAT, **top, "blocks": list(blocks), "edges": list(edges)}


def chain_document(count: int) -> dict:
    blocks = [{"id": "input", "type": "Input", "params": {"channels": 1, "height": 4, "width": 4}}]
    blocks += [{"id": f"relu{index}", "type": "ReLU"} for index in range(1, count)]
    edges = [{"from": blocks[index]["id"], "to": blocks[index + 1]["id"]} for index in range(count - 1)]
    return document(blocks, edges)


def refusal(value) -> str:
    with pytest.raises(ArchitectureError) as caught:
        parse_document(value)
    return str(caught.value)


# ------------------------------------------------------------------ 1. messages stay short

HUGE = "x" * 1_000_000

HUGE_CASES = {
    "1 MB name": (document(name=HUGE), ["name", "1,000,000 characters", "200"]),
    "1 MB description": (document(description=HUGE), ["description", "10,000"]),
    "100,001 blocks": (document([{"id": f"b{index}", "type": "ReLU"} for index in range(100_001)]),
                       ["blocks", "100,001", "100,000"]),
    "200,001 edges": (document([], [{"from": "a", "to": "b"}] * 200_001), ["edges", "200,001", "200,000"]),
    "list as name": (document(name=list(range(100_000))), ["name", "must be text", "a list"]),
    "1 MB format": (dict(document(), format=HUGE), ["format", "not a Network Designer"]),
    "1 MB unknown key": (dict(document(), **{HUGE: 1}), ["unknown key", "xxx"]),
    "1 MB block id": (document([{"id": HUGE, "type": "ReLU"}]), ["blocks[0].id", "not a valid id"]),
    "1 MB block type": (document([{"id": "a", "type": HUGE}]), ["blocks[0]", "unknown block type"]),
    "1 MB parameter name": (document([{"id": "a", "type": "ReLU", "params": {HUGE: 1}}]),
                            ["blocks[0]", "has no parameter"]),
    "1 MB parameter value": (document([{"id": "a", "type": "Conv2d", "params": {"padding": HUGE}}]),
                             ["blocks[0]", "padding"]),
    "1 MB edge end": (document([{"id": "a", "type": "Input"}], [{"from": "a", "to": HUGE}]),
                      ["edges[0]", "there is no block"]),
    "list of 100,000 as position": (document([{"id": "a", "type": "Input", "pos": [0] * 100_000}]),
                                    ["blocks[0].pos", "100,000 items"]),
    "huge block as edge": (document([], [{"from": "a", "to": "b", "x": [HUGE] * 3}]), ["edges[0]", "unknown key"]),
}


@pytest.mark.parametrize("case", list(HUGE_CASES))
def test_a_message_is_one_short_line_naming_the_place(case):
    value, fragments = HUGE_CASES[case]
    message = refusal(value)
    assert len(message) <= MAX_MESSAGE_CHARACTERS and "\n" not in message, (case, len(message))
    for fragment in fragments:
        assert fragment in message, (case, message)


def test_the_file_name_prefix_keeps_the_message_short(tmp_path):
    path = tmp_path / ("n" * 200 + ".json")
    path.write_text(json.dumps(document(name=HUGE)), encoding="utf-8")
    with pytest.raises(ArchitectureError) as caught:
        load_architecture(path)
    assert len(str(caught.value)) <= MAX_MESSAGE_CHARACTERS


def test_info_prints_one_short_line_for_a_huge_bad_file(tmp_path):
    path = tmp_path / "many.json"
    path.write_text(json.dumps(document([{"id": f"b{index}", "type": "ReLU"} for index in range(100_001)])))
    result = subprocess.run([sys.executable, "main.py", "info", str(path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert len(result.stderr) < 500 and result.stderr.count("\n") == 1, result.stderr[:1000]
    assert "100,001 blocks" in result.stderr


# ------------------------------------------------------------------ 2. the schema, fast and exact


def test_the_limits_are_in_the_schema():
    assert (max_blocks(), max_edges()) == (100_000, 200_000)
    # Two inputs is the most any block takes, so the edge limit is all a full design needs.
    assert max(kind.inputs for kind in BLOCK_TYPES.values()) * max_blocks() == max_edges()


ITEM_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, 1.0, 2.5, -1.0, float("inf"),
                                                                       float("nan"), 1e400])
    | st.sampled_from(["", "a", "conv1", "1bad", "x y", "ok\n", "_id-2", "a" * 64, "a" * 65, "ReLU"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(["a", "b"]), children,
                                                                       max_size=2),
    max_leaves=5,
)
BLOCK_KEYS = ["id", "type", "params", "pos", "extra"]
EDGE_KEYS = ["from", "to", "port", "extra"]


@st.composite
def items(draw, keys):
    base = ({"id": "conv1", "type": "Conv2d", "params": {"out_channels": 4}, "pos": [0, 1]} if "id" in keys
            else {"from": "a", "to": "b", "port": 1})
    item = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()):
            item.pop(key, None)
        else:
            item[key] = draw(ITEM_VALUES)
    if draw(st.integers(0, 9)) == 0:
        return draw(ITEM_VALUES)
    return item


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items(BLOCK_KEYS), items(EDGE_KEYS))
def test_the_fast_rules_agree_with_the_schema(block, edge):
    properties = json.loads(fileformat.SCHEMA_PATH.read_text(encoding="utf-8"))["properties"]
    block_rules, edge_rules = fileformat._rules()
    block_valid = jsonschema.Draft202012Validator(properties["blocks"]["items"]).is_valid(block)
    edge_valid = jsonschema.Draft202012Validator(properties["edges"]["items"]).is_valid(edge)
    assert block_rules.block_ok(block) == block_valid, block
    assert edge_rules.edge_ok(edge) == edge_valid, edge


def test_schema_messages_name_the_first_bad_item():
    blocks = [{"id": f"b{index}", "type": "ReLU"} for index in range(50)]
    blocks[30]["pos"] = ["a", 1]
    blocks[40]["id"] = "has space"
    assert refusal(document(blocks)).startswith("blocks[30].pos[0]: must be a number, not text")


# ------------------------------------------------------------------ 2. loops found once, same messages


def test_loading_searches_no_path_per_edge(monkeypatch):
    """The loader checks loops with one sort for the whole file, never a search per wire."""
    def refuse(*_):
        raise AssertionError("a graph search per edge while loading")

    monkeypatch.setattr(Graph, "_reaches", refuse)
    graph = parse_document(chain_document(2_000))
    assert len(graph) == 2_000 and analyze(graph).valid


@st.composite
def wirings(draw):
    count = draw(st.integers(2, 7))
    kinds = draw(st.lists(st.sampled_from(["ReLU", "Add", "Concat", "Input"]), min_size=count, max_size=count))
    wires = draw(st.lists(st.tuples(st.integers(0, count - 1), st.integers(0, count - 1),
                                    st.none() | st.integers(0, 2)), max_size=12))
    return kinds, wires


@settings(max_examples=300, deadline=None)
@given(wirings())
def test_loading_refuses_exactly_what_wiring_one_by_one_refuses(wiring):
    kinds, wires = wiring
    blocks = [{"id": f"b{index}", "type": kind} for index, kind in enumerate(kinds)]
    edges = [{"from": f"b{source}", "to": f"b{target}", **({} if port is None else {"port": port})}
             for source, target, port in wires]
    # What the canvas does: one checked connect per wire, in file order.
    graph = Graph()
    for block in blocks:
        graph.add_block(block["type"], block_id=block["id"])
    expected = None
    for index, edge in enumerate(edges):
        try:
            graph.connect(edge["from"], edge["to"], edge.get("port"))
        except Exception as error:  # noqa: BLE001 - compared below
            expected = f"edges[{index}] ({edge['from']} → {edge['to']}): {error}"
            break
    try:
        loaded = parse_document(document(blocks, edges))
    except ArchitectureError as error:
        assert str(error) == expected
    else:
        assert expected is None
        assert loaded.edges == graph.edges


def test_after_loading_the_canvas_still_refuses_a_loop_with_the_same_message():
    loaded = chain_document(500)
    loaded["blocks"][2]["type"] = "Add"  # relu2 takes two inputs and has one
    graph = loads(json.dumps(loaded))
    with pytest.raises(CycleError, match="^wiring 'relu499' → 'relu2' would make a loop: 'relu2' already "
                                         "feeds 'relu499'$"):
        graph.check_connect("relu499", "relu2")
    assert graph.successors("relu1") == ["relu2"] and graph.predecessors("relu2") == ["relu1"]
    graph.connect("relu1", "relu2")  # the free port still takes a wire that makes no loop
    assert graph.predecessors("relu2") == ["relu1", "relu1"]


OPERATIONS = st.lists(st.tuples(st.sampled_from(["connect", "disconnect", "remove", "restore", "insert"]),
                                st.integers(0, 20), st.integers(0, 20)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(OPERATIONS)
def test_the_graph_adjacency_follows_every_edit(operations):
    graph = Graph()
    for index, kind in enumerate(["Input", "ReLU", "Add", "Concat", "ReLU", "Add"]):
        graph.add_block(kind, block_id=f"b{index}")
    removed, unwired = [], []
    for operation, first, second in operations:
        ids = list(graph.blocks)
        try:
            if operation == "connect" and ids:
                graph.connect(ids[first % len(ids)], ids[second % len(ids)])
            elif operation == "disconnect" and graph.edges:
                edge = graph.edges[first % len(graph.edges)]
                unwired.append((graph.disconnect(edge), edge))
            elif operation == "insert" and unwired:
                graph.insert_edge(min(unwired[-1][0], len(graph.edges)), unwired.pop()[1])
            elif operation == "remove" and ids:
                removed.append(graph.remove_block(ids[first % len(ids)]))
            elif operation == "restore" and removed:
                graph.restore_block(removed.pop())
        except Exception:  # noqa: BLE001 - refused edits are fine; the maps must still be right
            pass
        for block_id in graph.blocks:
            assert graph.input_edges(block_id) == sorted((edge for edge in graph.edges if edge.target == block_id),
                                                         key=lambda edge: edge.port)
            assert graph.successors(block_id) == [edge.target for edge in graph.edges if edge.source == block_id]


# ------------------------------------------------------------------ 9. what is read at all


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 2_000)
    monkeypatch.setattr(fileformat, "MAX_FILE_BYTES", 1_000)
    with pytest.raises(ArchitectureError, match=r"big\.json is 2,000 bytes, more than 1,000 bytes, the most a "
                                                r"design file may be"):
        load_architecture(path)


def test_dev_zero_is_refused_at_once():
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    with pytest.raises(ArchitectureError, match="not a regular file"):
        load_architecture("/dev/zero")
    result = subprocess.run([sys.executable, "main.py", "info", "/dev/zero"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "not a regular file" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_with_no_writer_does_not_hang(tmp_path):
    pipe = tmp_path / "design.json"
    os.mkfifo(pipe)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(_refusal_of(pipe)), daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # unblock the reader so the test run is not left hanging
        os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
        pytest.fail("reading a named pipe blocked")
    assert "not a regular file" in outcome[0]


def _refusal_of(path) -> str:
    try:
        load_architecture(path)
    except ArchitectureError as error:
        return str(error)
    return ""


def test_the_largest_design_the_schema_allows_fits_the_file_limit():
    """Work out the writer's largest file within the schema's limits: it must be readable."""
    graph = Graph("n" * 200)
    graph.description = "d" * 10_000
    # The longest record of each kind: 64-character ids, every parameter, long positions.
    longest = 0
    for type_id, kind in BLOCK_TYPES.items():
        params = {spec.name: spec.maximum if spec.maximum is not None and spec.kind != "float" else spec.default
                  for spec in kind.params}
        block = graph.add_block(type_id, params, (-123456.78901234567, -123456.78901234567),
                                f"{type_id[:2]}" + "x" * 62)
        longest = max(longest, len(json.dumps(fileformat.to_document(graph)["blocks"][-1], indent=2)) + 8)
        graph.remove_block(block.id)
    edge = {"from": "a" * 64, "to": "b" * 64, "port": 1}
    edge_bytes = len(json.dumps(edge, indent=2)) + 8
    largest = longest * max_blocks() + edge_bytes * max_edges() + 20_000
    assert largest < MAX_FILE_BYTES
    assert len(dumps(Graph())) < 1_000  # and the arithmetic is about the same writer


def test_new_ids_take_the_lowest_free_number_without_rescanning():
    graph = Graph()
    ids = [graph.add_block("Conv2d").id for _ in range(3)]
    assert ids == ["conv1", "conv2", "conv3"]
    graph.remove_block("conv2")
    assert graph.new_block_id("Conv2d") == "conv2"
    graph.add_block("Conv2d")
    assert graph.add_block("Conv2d").id == "conv4"
    graph.add_block("Conv2d", block_id="conv5")
    assert graph.new_block_id("Conv2d") == "conv6"
