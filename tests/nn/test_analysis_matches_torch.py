"""The analysis promises what torch delivers: every shape and every parameter count.

Checked on every template and on a few hundred random valid graphs (chains and DAGs with
Add/Concat branches, every block type, random parameters).
"""

from __future__ import annotations

import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from designer.core import BLOCK_TYPES, SAME, Graph, analyze, load_architecture, template_paths
from designer.nn import build_module

torch.set_num_threads(2)


def torch_parameter_count(module: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def assert_matches(graph: Graph, batch: int = 2) -> dict[str, torch.Tensor]:
    analysis = analyze(graph)
    assert analysis.valid, (analysis.problems, analysis.errors)
    module = build_module(graph).eval()
    assert torch_parameter_count(module) == analysis.total_params
    for block_id, report in analysis.reports.items():
        submodule = module.blocks[block_id]
        assert torch_parameter_count(submodule) == report.params, block_id
        bias = getattr(submodule, "bias", None) if not isinstance(submodule, torch.nn.Sequential) else submodule[-1].bias
        if isinstance(bias, torch.Tensor):
            assert bias.numel() == report.biases, block_id
    channels, height, width = analysis.reports[graph.inputs()[0]].output_shape
    with torch.no_grad():
        outputs = module(torch.randn(batch, channels, height, width), keep=True)
    assert set(outputs) == set(analysis.reports)
    for block_id, report in analysis.reports.items():
        assert tuple(outputs[block_id].shape) == (batch,) + report.output_shape, block_id
    assert tuple(outputs[analysis.sinks[0]].shape[1:]) == analysis.output_shape
    return outputs


SMALL_TEMPLATES = [path for path in template_paths() if path.stem != "vgg16"]


@pytest.mark.parametrize("path", SMALL_TEMPLATES, ids=lambda path: path.stem)
def test_template_matches_torch(path):
    assert_matches(load_architecture(path))


def test_vgg16_matches_torch():
    graph = load_architecture(template_paths()[0].parent / "vgg16.json")
    analysis = analyze(graph)
    module = build_module(graph).eval()
    assert torch_parameter_count(module) == analysis.total_params == 138_357_544
    fc_params = sum(torch_parameter_count(module.blocks[block_id]) for block_id, block in graph.blocks.items()
                    if block.type_id == "FC")
    assert fc_params == analysis.fc_params == 123_642_856
    started = time.perf_counter()
    with torch.no_grad():
        outputs = module(torch.randn(1, 3, 224, 224), keep=True)
    elapsed = time.perf_counter() - started
    for block_id, report in analysis.reports.items():
        assert tuple(outputs[block_id].shape) == (1,) + report.output_shape, block_id
    assert tuple(outputs[analysis.sinks[0]].shape) == (1, 1000)
    assert elapsed < 30  # a sanity bound, not a benchmark (that is tests/benchmarks)


# ------------------------------------------------------------------ random valid graphs

ONE_INPUT_TYPES = [type_id for type_id, kind in BLOCK_TYPES.items() if kind.inputs == 1]
MERGE_TYPES = [type_id for type_id, kind in BLOCK_TYPES.items() if kind.inputs == 2]


def random_params(draw, type_id: str) -> dict:
    booleans = st.booleans()
    if type_id == "Conv2d":
        return {
            "out_channels": draw(st.integers(1, 6)),
            "kernel_size": draw(st.integers(1, 5)),
            "stride": draw(st.integers(1, 3)),
            "padding": draw(st.sampled_from([0, 1, 2, SAME])),
            "bias": draw(booleans),
        }
    if type_id in ("MaxPool2d", "AvgPool2d"):
        return {"kernel_size": draw(st.integers(1, 4)), "stride": draw(st.integers(0, 3)),
                "padding": draw(st.integers(0, 2))}
    if type_id == "FC":
        return {"out_features": draw(st.integers(1, 12)), "bias": draw(booleans)}
    if type_id == "LeakyReLU":
        return {"negative_slope": draw(st.floats(0.0, 1.0))}
    if type_id == "Dropout":
        return {"p": draw(st.floats(0.0, 0.99))}
    return {}


def keep_if_valid(graph: Graph, block_id: str) -> bool:
    """Keep a new block only when the analysis accepts it; otherwise take it away again."""
    if analyze(graph).reports[block_id].ok:
        return True
    graph.remove_block(block_id)
    return False


@st.composite
def valid_graphs(draw) -> Graph:
    graph = Graph("random")
    graph.add_block(
        "Input",
        {"channels": draw(st.integers(1, 3)), "height": draw(st.integers(4, 16)), "width": draw(st.integers(4, 16))},
        block_id="input",
    )
    produced = ["input"]
    for _ in range(draw(st.integers(1, 10))):
        if draw(st.integers(0, 3)) == 0 and len(produced) > 1:
            type_id = draw(st.sampled_from(MERGE_TYPES))
            sources = [draw(st.sampled_from(produced)), draw(st.sampled_from(produced))]
        else:
            type_id = draw(st.sampled_from(ONE_INPUT_TYPES))
            # Mostly extend the latest block (deep chains); sometimes branch off an earlier one.
            sources = [produced[-1] if draw(st.booleans()) else draw(st.sampled_from(produced))]
        block = graph.add_block(type_id, random_params(draw, type_id))
        for port, source in enumerate(sources):
            graph.connect(source, block.id, port)
        if keep_if_valid(graph, block.id):
            produced.append(block.id)
    # Join every loose end into one output: flatten images, then concatenate vectors.
    while len(graph.sinks()) > 1:
        ends = graph.sinks()[:2]
        joined = []
        for end in ends:
            if len(analyze(graph).reports[end].output_shape) == 3:
                flat = graph.add_block(draw(st.sampled_from(["Flatten", "GAP", "FC"])), {})
                graph.connect(end, flat.id)
                end = flat.id
            joined.append(end)
        merge = graph.add_block("Concat")
        graph.connect(joined[0], merge.id, 0)
        graph.connect(joined[1], merge.id, 1)
    return graph


def test_random_valid_graphs_match_torch():
    seen_types: set[str] = set()
    sizes: list[int] = []

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(valid_graphs())
    def check(graph):
        assert_matches(graph)
        seen_types.update(block.type_id for block in graph)
        sizes.append(len(graph))

    check()
    assert seen_types == set(BLOCK_TYPES), set(BLOCK_TYPES) - seen_types
    assert len(sizes) >= 300 and max(sizes) >= 8


@pytest.mark.parametrize(
    "graph_steps",
    [
        # Hand-picked edge cases of the formulas: even kernels with "same", pools with padding.
        [("Conv2d", {"kernel_size": 4, "padding": SAME, "out_channels": 2})],
        [("Conv2d", {"kernel_size": 2, "padding": SAME, "out_channels": 3, "bias": False})],
        [("MaxPool2d", {"kernel_size": 3, "stride": 2, "padding": 1})],
        [("AvgPool2d", {"kernel_size": 4, "stride": 3, "padding": 2})],
        [("Conv2d", {"kernel_size": 5, "stride": 3, "padding": 2}), ("FC", {"out_features": 1})],
        [("Flatten", {}), ("Flatten", {}), ("FC", {"out_features": 4}), ("Dropout", {"p": 0.0})],
        [("GAP", {}), ("FC", {"out_features": 2, "bias": False})],
    ],
)
def test_edge_cases_match_torch(graph_steps):
    from designer.core import chain

    graph = Graph()
    chain(graph, [("Input", {"channels": 2, "height": 7, "width": 9})] + graph_steps)
    assert_matches(graph)
