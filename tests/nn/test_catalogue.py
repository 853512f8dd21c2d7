"""The block catalogue is the one place a block type is described; the torch builder the other.

Adding a block type = one ``BlockType`` in ``designer/core/blocks.py`` + one constructor in
``designer/nn/builder.py``. These tests fail when an entry lacks either, a label or a category,
and check that what the rest of the program asks of the catalogue comes from the entries.
"""

from __future__ import annotations

import pytest
import torch

from designer.core import (ACTIVATION_TYPES, BLOCK_TYPES, CATEGORIES, ELEMENTWISE_TYPES, FC_TYPES, VECTOR_TYPES,
                           Graph, analyze, is_fully_connected, summary_label, types_in_category)
from designer.nn.builder import CONSTRUCTORS, build_module


@pytest.mark.parametrize("type_id", sorted(BLOCK_TYPES))
def test_every_entry_has_a_label_a_known_category_a_description_and_a_torch_constructor(type_id):
    entry = BLOCK_TYPES[type_id]
    assert entry.label.strip(), f"{type_id} has no label"
    assert entry.category in CATEGORIES, f"{type_id}: category {entry.category!r} is not one of {CATEGORIES}"
    assert entry.description.strip(), f"{type_id} has no description"
    assert type_id in CONSTRUCTORS, f"{type_id} has no torch constructor in designer/nn/builder.py"
    assert entry.id_prefix and entry.id_prefix.isidentifier() and entry.id_prefix == entry.id_prefix.lower()
    assert summary_label(type_id, entry.default_params()).strip()
    if entry.width_param is not None:
        assert entry.spec_by_name[entry.width_param].kind == "int"


def test_the_builder_knows_no_type_the_catalogue_does_not():
    assert set(CONSTRUCTORS) == set(BLOCK_TYPES)


def test_a_new_entry_without_a_constructor_is_caught(monkeypatch):
    """What the test above does for a person who adds a block type and forgets the builder."""
    from dataclasses import replace

    monkeypatch.setitem(BLOCK_TYPES, "Swish", replace(BLOCK_TYPES["ReLU"], id="Swish", label="Swish"))
    assert set(CONSTRUCTORS) != set(BLOCK_TYPES)


@pytest.mark.parametrize("type_id", sorted(BLOCK_TYPES))
def test_every_block_builds_and_its_parameter_count_matches_torch(type_id):
    entry = BLOCK_TYPES[type_id]
    graph = Graph("one block")
    graph.add_block("Input", {"channels": 3, "height": 8, "width": 8}, (0, 0), "input")
    if entry.is_input:
        graph.add_block("Flatten", {}, (0, 90), "out")
        graph.connect("input", "out")
    else:
        graph.add_block(type_id, None, (0, 90), "block")
        for port in range(entry.inputs):
            graph.connect("input", "block", port if entry.inputs > 1 else None)
    analysis = analyze(graph)
    assert analysis.valid, analysis.errors
    module = build_module(graph)
    assert sum(parameter.numel() for parameter in module.parameters()) == analysis.total_params
    output = module(torch.zeros(2, 3, 8, 8))
    assert tuple(output.shape[1:]) == analysis.output_shape


def test_the_derived_lists_come_from_the_entries():
    assert FC_TYPES == {"FC"} and is_fully_connected("FC") and not is_fully_connected("Conv2d")
    assert not is_fully_connected("no such type")
    assert ACTIVATION_TYPES == set(types_in_category("Activation")) == {"ReLU", "LeakyReLU", "Sigmoid", "Tanh",
                                                                      "GELU"}
    assert ELEMENTWISE_TYPES == ACTIVATION_TYPES | {"Dropout"}
    assert VECTOR_TYPES == {"Flatten", "GAP"}
    assert summary_label("Conv2d", {**BLOCK_TYPES["Conv2d"].default_params(), "stride": 2}) == "Conv 3×3, 16 /2"
    assert summary_label("MaxPool2d", BLOCK_TYPES["MaxPool2d"].default_params()) == "MaxPool 2×2"
    assert summary_label("ReLU", {}) == "ReLU"
    assert BLOCK_TYPES["MaxPool2d"].stride({"kernel_size": 3, "stride": 0, "padding": 0}) == 3
    assert BLOCK_TYPES["ReLU"].stride({}) == 1


@pytest.mark.parametrize("type_id", sorted(BLOCK_TYPES))
def test_new_block_ids_start_with_the_catalogues_prefix(type_id):
    graph = Graph()
    assert graph.new_block_id(type_id) == f"{BLOCK_TYPES[type_id].id_prefix}1"
