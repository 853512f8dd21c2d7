"""build_module: what the torch side guarantees to the trainer and the transforms."""

from __future__ import annotations

import pytest
import torch

from designer.core import TEMPLATES, Graph, analyze, chain, load_architecture, to_document
from designer.nn import BuildError, GraphModule, build_module


def tiny() -> Graph:
    graph = Graph()
    chain(
        graph,
        [
            ("Input", {"channels": 1, "height": 6, "width": 6}),
            ("Conv2d", {"out_channels": 2, "padding": 1}),
            ("BatchNorm2d", {}),
            ("ReLU", {}),
            ("FC", {"out_features": 3}),
        ],
    )
    return graph


def test_build_returns_a_module_keyed_by_block_id():
    graph = tiny()
    module = build_module(graph)
    assert isinstance(module, GraphModule) and isinstance(module, torch.nn.Module)
    assert isinstance(module.blocks["conv1"], torch.nn.Conv2d)
    assert "blocks.conv1.weight" in module.state_dict()
    assert "blocks.bn1.running_mean" in module.state_dict()
    assert module.input_shape == (1, 6, 6) and module.output_shape == (3,)
    # An FC on a C×H×W input flattens it itself (the article's point).
    assert isinstance(module.blocks["fc1"], torch.nn.Sequential)
    assert module.blocks["fc1"][-1].in_features == 2 * 6 * 6


def test_forward_returns_logits_and_can_keep_every_output():
    module = build_module(tiny()).eval()
    images = torch.randn(4, 1, 6, 6)
    logits = module(images)
    assert logits.shape == (4, 3)
    kept = module(images, keep=True)
    assert list(kept) == ["input1", "conv1", "bn1", "relu1", "fc1"]
    assert torch.equal(kept["fc1"], logits) and kept["input1"] is images


def test_gradients_reach_every_parameter_through_add_and_concat():
    graph = load_architecture(TEMPLATES / "resnet-mini.json")
    assert any(block.type_id == "Add" for block in graph)
    module = build_module(graph).train()
    loss = torch.nn.functional.cross_entropy(module(torch.randn(2, 3, 32, 32)), torch.tensor([0, 1]))
    loss.backward()
    assert all(parameter.grad is not None for parameter in module.parameters())


def second_output(graph: Graph) -> None:
    graph.add_block("Tanh", block_id="side")
    graph.connect("input1", "side")


@pytest.mark.parametrize("bad_edit, fragment", [
    (lambda graph: graph.set_param("conv1", "kernel_size", 9), "conv1"),
    (lambda graph: graph.add_block("ReLU", block_id="loose"), "not connected"),
    (second_output, "2 outputs"),
])
def test_an_invalid_design_is_refused_with_the_reason(bad_edit, fragment):
    graph = tiny()
    bad_edit(graph)
    with pytest.raises(BuildError, match=fragment):
        build_module(graph)


def test_empty_graph_is_refused():
    with pytest.raises(BuildError, match="no Input"):
        build_module(Graph())


@pytest.mark.parametrize("block_id", ["train", "eval", "forward", "keys", "type", "to", "training", "_modules",
                                      "_parameters", "float", "update", "blocks"])
def test_block_ids_that_are_module_attribute_names(block_id):
    """A person may call a block "train" or "eval"; the builder must not trip over it."""
    graph = Graph()
    graph.add_block("Input", {"channels": 1, "height": 4, "width": 4}, block_id="input")
    graph.add_block("Conv2d", {"out_channels": 2}, block_id=block_id)
    graph.add_block("FC", {"out_features": 2}, block_id="head")
    graph.connect("input", block_id)
    graph.connect(block_id, "head")
    module = build_module(graph)
    assert isinstance(module.blocks[block_id], torch.nn.Conv2d)
    assert block_id in module.blocks
    assert sum(p.numel() for p in module.parameters()) == analyze(graph).total_params
    assert module(torch.randn(2, 1, 4, 4), keep=True)[block_id].shape == (2, 2, 2, 2)
    module.train()
    module.eval()
    copy = build_module(graph)
    copy.load_state_dict(module.state_dict())


def test_building_leaves_the_graph_untouched():
    graph = load_architecture(TEMPLATES / "cifar-cnn.json")
    before = to_document(graph)
    events = []
    graph.subscribe(events.append)
    build_module(graph)
    assert to_document(graph) == before and events == []


def test_a_second_input_block_is_refused():
    graph = tiny()
    graph.add_block("Input", block_id="other")
    with pytest.raises(BuildError, match="one Input"):
        build_module(graph)


def test_deep_chain_forward_without_keep_frees_intermediates():
    graph = Graph()
    chain(graph, [("Input", {"channels": 1, "height": 4, "width": 4})] + [("ReLU", {})] * 200 + [("FC", {"out_features": 2})])
    module = build_module(graph)
    assert module(torch.randn(3, 1, 4, 4)).shape == (3, 2)
