"""Architecture JSON v1: round trips, every invalid document named, and fuzzing of the reader."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.core import (
    BLOCK_TYPES,
    ArchitectureError,
    Graph,
    dumps,
    load_architecture,
    loads,
    save_architecture,
    template_paths,
    to_document,
)
from designer.core.fileformat import SCHEMA_PATH, parse_document

TEMPLATES = template_paths()
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def document_of(name: str) -> dict:
    return json.loads(next(path for path in TEMPLATES if path.stem == name).read_text(encoding="utf-8"))


def round_trips(graph: Graph) -> None:
    """load → save → load gives the identical document, and what is saved passes the schema."""
    first = to_document(graph)
    text = dumps(graph)
    text.encode("utf-8")  # saving must be possible
    again = loads(text)
    assert to_document(again) == first
    assert dumps(again) == text
    jsonschema.validate(first, SCHEMA)


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: path.stem)
def test_every_template_round_trips(path, tmp_path):
    graph = load_architecture(path)
    round_trips(graph)
    # The committed templates are exactly what the writer produces.
    assert dumps(graph) == path.read_text(encoding="utf-8")
    saved = tmp_path / path.name
    save_architecture(graph, saved)
    assert saved.read_bytes() == path.read_bytes()
    assert to_document(load_architecture(saved)) == to_document(graph)


def test_round_trip_keeps_positions_ports_params_name_and_description():
    graph = Graph("Ünïcode ✓ name")
    graph.description = "why this design"
    graph.add_block("Input", {"channels": 3, "height": 9, "width": 9}, (1.5, -2.25), "input")
    graph.add_block("Conv2d", {"padding": "same", "bias": False}, (10, 20), "conv")
    graph.add_block("Concat", position=(0, 100), block_id="cat")
    graph.add_block("LeakyReLU", {"negative_slope": 0}, block_id="leaky")
    graph.connect("input", "cat", 1)  # ports out of insertion order
    graph.connect("input", "conv")
    graph.connect("conv", "cat", 0)
    graph.connect("cat", "leaky")
    round_trips(graph)
    again = loads(dumps(graph))
    assert again.name == "Ünïcode ✓ name" and again.description == "why this design"
    assert again.block("input").position == (1.5, -2.25)
    assert again.block("conv").params["padding"] == "same" and again.block("conv").params["bias"] is False
    assert again.block("leaky").params["negative_slope"] == 0.0
    assert list(again.edges) == list(graph.edges)
    assert again.predecessors("cat") == ["conv", "input"]


def test_left_out_parameters_take_defaults_and_missing_pos_is_origin():
    graph = loads(
        json.dumps(
            {
                "format": "network-designer/architecture",
                "version": 1,
                "blocks": [{"id": "input", "type": "Input"}, {"id": "conv", "type": "Conv2d", "params": {}}],
                "edges": [{"from": "input", "to": "conv"}],
            }
        )
    )
    assert graph.block("conv").params == BLOCK_TYPES["Conv2d"].default_params()
    assert graph.block("input").position == (0.0, 0.0)
    assert graph.name == "Untitled"


def test_a_byte_order_mark_is_accepted():
    text = dumps(load_architecture(TEMPLATES[0]))
    assert to_document(loads(b"\xef\xbb\xbf" + text.encode("utf-8"))) == to_document(loads(text))


# ------------------------------------------------------------------ every invalid case, named


def mutate(name: str, change) -> dict:
    document = document_of(name)
    change(document)
    return document


def set_in(path, value):
    def change(document):
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def delete(path):
    def change(document):
        target = document
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


INVALID = {
    "unknown top-level key": (set_in(["colour"], "red"), ["colour", "unknown key"]),
    "unknown block key": (set_in(["blocks", 2, "colour"], "red"), ["blocks[2]", "colour"]),
    "unknown edge key": (set_in(["edges", 1, "weight"], 1), ["edges[1]", "weight"]),
    "unknown block type": (set_in(["blocks", 1, "type"], "Conv3d"), ["blocks[1]", "conv1", "Conv3d"]),
    "newer version": (set_in(["version"], 2), ["version 2", "newer"]),
    "version zero": (set_in(["version"], 0), ["version"]),
    "wrong format": (set_in(["format"], "something-else"), ["format"]),
    "missing blocks": (delete(["blocks"]), ["blocks", "missing"]),
    "missing edge end": (delete(["edges", 0, "to"]), ["edges[0]", "'to'"]),
    "duplicate id": (set_in(["blocks", 3, "id"], "conv1"), ["blocks[3]", "conv1", "already"]),
    "bad id": (set_in(["blocks", 3, "id"], "has space"), ["blocks[3].id"]),
    "id with trailing newline": (set_in(["blocks", 3, "id"], "pool\n"), ["blocks[3]", "not valid"]),
    "dangling edge": (set_in(["edges", 2, "to"], "ghost"), ["edges[2]", "ghost"]),
    "cycle": (
        lambda document: document["edges"].append({"from": "fc3", "to": "input1"}),
        ["edges[", "fc3", "input1", "takes no input"],
    ),
    "second input": (
        lambda document: document["edges"].append({"from": "input1", "to": "fc1"}),
        ["input1 → fc1", "fc1"],
    ),
    "port out of range": (set_in(["edges", 0, "port"], 3), ["edges[0]", "ports 0..0"]),
    "negative port": (set_in(["edges", 0, "port"], -1), ["edges[0].port"]),
    "unknown param": (set_in(["blocks", 1, "params", "filters"], 3), ["blocks[1]", "conv1", "filters"]),
    "param out of range": (set_in(["blocks", 1, "params", "out_channels"], 0), ["conv1", "out_channels", "at least 1"]),
    "bool for int": (set_in(["blocks", 1, "params", "out_channels"], True), ["conv1", "out_channels", "whole number"]),
    "int for bool": (set_in(["blocks", 1, "params", "bias"], 1), ["conv1", "bias", "true or false"]),
    "fraction for int": (set_in(["blocks", 1, "params", "kernel_size"], 2.5), ["conv1", "kernel_size"]),
    "bad padding word": (set_in(["blocks", 1, "params", "padding"], "valid"), ["conv1", "padding", "same"]),
    "huge number": (set_in(["blocks", 1, "params", "out_channels"], 10**400), ["conv1", "out_channels"]),
    "list param": (set_in(["blocks", 1, "params", "kernel_size"], [5, 5]), ["blocks[1].params.kernel_size"]),
    "params not object": (set_in(["blocks", 1, "params"], [1]), ["blocks[1].params"]),
    "blocks not list": (set_in(["blocks"], {"a": 1}), ["blocks"]),
    "edge not object": (set_in(["edges", 0], "input1->conv1"), ["edges[0]"]),
    "type not string": (set_in(["blocks", 1, "type"], 5), ["blocks[1].type"]),
    "name not string": (set_in(["name"], 5), ["name"]),
    "position too short": (set_in(["blocks", 0, "pos"], [1]), ["blocks[0].pos"]),
    "position not numbers": (set_in(["blocks", 0, "pos"], ["a", 1]), ["blocks[0].pos[0]"]),
    "infinite position": (set_in(["blocks", 0, "pos"], [float("inf"), 0]), ["blocks[0]", "input1", "finite"]),
    "huge position": (set_in(["blocks", 0, "pos"], [10**400, 0]), ["blocks[0]", "input1", "finite"]),
    "unpaired surrogate": (set_in(["name"], "\ud800"), ["name", "surrogate"]),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_documents_name_what_is_wrong(case):
    change, fragments = INVALID[case]
    document = mutate("lenet5", change)
    with pytest.raises(ArchitectureError) as caught:
        parse_document(document)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, (case, message)
    # The same through text, when the value can be written as JSON at all.
    try:
        text = json.dumps(document)
    except ValueError:
        return
    with pytest.raises(ArchitectureError):
        loads(text)


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"{", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        ('{"format": "caf\u00e9"}'.encode("latin-1"), "not UTF-8"),
        (b"[1, 2]", "JSON object, not list"),
        (b"null", "JSON object, not NoneType"),
        (b"[" * 100_000, "nested too deeply"),
        (b"NaN", "JSON object"),
        (("1" * 5000).encode(), "not valid JSON"),
    ],
)
def test_not_an_architecture(data, fragment):
    with pytest.raises(ArchitectureError, match=fragment):
        loads(data)


def test_load_names_the_file_and_unreadable_paths(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "network-designer/architecture", "version": 1}', encoding="utf-8")
    with pytest.raises(ArchitectureError, match=r"broken\.json: .*'blocks' is missing"):
        load_architecture(broken)
    with pytest.raises(ArchitectureError, match="cannot read"):
        load_architecture(tmp_path / "absent.json")
    with pytest.raises(ArchitectureError, match="cannot read"):
        load_architecture(tmp_path)


def test_a_failed_load_changes_nothing():
    graph = load_architecture(TEMPLATES[0])
    before = to_document(graph)
    events = []
    graph.subscribe(events.append)
    with pytest.raises(ArchitectureError):
        graph.replace_with(loads(json.dumps(mutate("lenet5", set_in(["edges", 2, "to"], "ghost")))))
    assert to_document(graph) == before and events == []


# ------------------------------------------------------------------ fuzzing

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)

INTERESTING = [
    None, True, False, 0, 1, 2, 3, -1, 0.5, 1.0, 2.5, 10**400, 1e308, float("inf"), float("nan"),
    "", "same", "x", "\ud800", "Conv2d", "Add", "Input", "input1", "conv1", "fc3", [], {}, [0, 0], [1, 2, 3],
    {"from": "input1", "to": "fc3"}, {"id": "new", "type": "ReLU"}, 65536, 65537, 1 << 20,
]
KEYS = [
    "format", "version", "name", "description", "blocks", "edges", "id", "type", "params", "pos",
    "from", "to", "port", "extra",
] + sorted({spec.name for kind in BLOCK_TYPES.values() for spec in kind.params})

VALUES = st.sampled_from(INTERESTING).map(copy.deepcopy) | JSON_VALUES  # fresh copies: never alias one list twice


def accept_or_architecture_error(load) -> None:
    try:
        graph = load()
    except ArchitectureError as error:
        assert str(error)
        return
    round_trips(graph)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES)
def test_fuzz_random_json_values(value):
    accept_or_architecture_error(lambda: parse_document(value))
    try:
        text = json.dumps(value)
    except ValueError:
        return
    accept_or_architecture_error(lambda: loads(text))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_fuzz_random_bytes(data):
    accept_or_architecture_error(lambda: loads(data))


def containers(value, path=()):
    """Every (path, container) inside a JSON value, the root included."""
    if isinstance(value, (dict, list)):
        yield path, value
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            yield from containers(child, path + (key,))


SMALL_DOCUMENTS = ["lenet5", "resnet-mini", "mnist-cnn-gap"]


@st.composite
def mutated_documents(draw):
    document = copy.deepcopy(draw(st.sampled_from([document_of(name) for name in SMALL_DOCUMENTS])))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        places = list(containers(document))
        _, container = draw(st.sampled_from(places))
        operation = draw(st.sampled_from(["drop", "replace", "insert", "param", "swap"]))
        if isinstance(container, dict):
            keys = list(container)
            if operation == "drop" and keys:
                del container[draw(st.sampled_from(keys))]
            elif operation == "replace" and keys:
                container[draw(st.sampled_from(keys))] = draw(VALUES)
            elif operation == "param" or not keys:
                # A random parameter of a random block type, with a random or in-range value.
                kind = draw(st.sampled_from(list(BLOCK_TYPES.values())))
                if kind.params:
                    spec = draw(st.sampled_from(kind.params))
                    value = draw(
                        st.sampled_from(INTERESTING).map(copy.deepcopy)  # never alias a shared list/dict
                        | st.integers(min_value=-2, max_value=70)
                        | st.floats(min_value=-0.5, max_value=1.5)
                        | st.just(spec.default)
                    )
                    target = container.setdefault("params", {}) if "type" in container else container
                    if isinstance(target, dict):
                        target[spec.name] = value
            else:
                container[draw(st.sampled_from(KEYS) | st.text(max_size=6))] = draw(VALUES)
        else:
            if operation == "drop" and container:
                del container[draw(st.integers(min_value=0, max_value=len(container) - 1))]
            elif operation == "replace" and container:
                container[draw(st.integers(min_value=0, max_value=len(container) - 1))] = draw(VALUES)
            elif operation == "swap" and len(container) > 1:
                first = draw(st.integers(min_value=0, max_value=len(container) - 1))
                second = draw(st.integers(min_value=0, max_value=len(container) - 1))
                container[first], container[second] = container[second], container[first]
            else:
                index = draw(st.integers(min_value=0, max_value=len(container)))
                element = copy.deepcopy(draw(st.sampled_from(container))) if container and draw(st.booleans()) else draw(VALUES)
                container.insert(index, element)
    return document


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_fuzz_mutated_documents(document):
    accept_or_architecture_error(lambda: parse_document(document))
    try:
        text = json.dumps(document, ensure_ascii=False)
    except ValueError:
        return
    accept_or_architecture_error(lambda: loads(text.encode("utf-8", "surrogatepass")))


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(SMALL_DOCUMENTS),
    st.lists(st.tuples(st.integers(min_value=0, max_value=10**6), st.binary(max_size=3)), min_size=1, max_size=4),
)
def test_fuzz_corrupted_text(name, edits):
    data = bytearray(next(path for path in TEMPLATES if path.stem == name).read_bytes())
    for position, replacement in edits:
        position %= len(data)
        data[position:position + len(replacement)] = replacement
    accept_or_architecture_error(lambda: loads(bytes(data)))


def test_mutation_strategy_produces_loadable_documents_too():
    """Guard against a fuzzer that only ever exercises the error path."""
    loaded = []

    @settings(max_examples=150, deadline=None, database=None)
    @given(mutated_documents())
    def collect(document):
        try:
            parse_document(document)
        except ArchitectureError:
            return
        loaded.append(document)

    collect()
    assert loaded
