"""Analysis: shapes, counts and the FC share, computed without a forward pass."""

from __future__ import annotations

import pytest

from designer.core import TEMPLATES, Edge, Graph, analyze, chain, format_count, load_architecture


def template(name: str) -> Graph:
    return load_architecture(TEMPLATES / f"{name}.json")


def test_lenet5_classic_counts():
    analysis = analyze(template("lenet5"))
    assert analysis.valid and analysis.problems == ()
    assert analysis.total_params == 61_706
    assert analysis.fc_params == 59_134
    assert f"{analysis.fc_share:.1%}" == "95.8%"
    assert analysis.output_shape == (10,)
    shapes = {block_id: report.output_shape for block_id, report in analysis.reports.items()}
    assert shapes["conv1"] == (6, 28, 28) and shapes["avgpool2"] == (16, 5, 5)
    conv1 = analysis.reports["conv1"]
    assert (conv1.weights, conv1.biases, conv1.macs) == (150, 6, 6 * 28 * 28 * 25)
    assert analysis.reports["fc1"].params == 48_120


def test_vgg16_counts_and_fc_share():
    analysis = analyze(template("vgg16"))
    assert analysis.valid
    assert analysis.total_params == 138_357_544
    assert analysis.fc_params == 123_642_856
    assert f"{analysis.fc_share:.1%}" == "89.4%"
    assert analysis.output_shape == (1000,)
    first_fc = next(report for report in analysis.reports.values() if report.type_id == "FC")
    # The article's point: the first FC is a 7×7×512×4096 convolution.
    assert first_fc.weights == 7 * 7 * 512 * 4096 and first_fc.biases == 4096
    assert analysis.total_macs == 15_470_264_320
    assert sum(report.share for report in analysis.reports.values()) == pytest.approx(1.0)
    assert "89.4%" in analysis.headline()


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.json")), ids=lambda path: path.stem)
def test_every_template_is_valid(path):
    analysis = analyze(load_architecture(path))
    assert analysis.valid, analysis.problems or analysis.errors
    assert len(analysis.output_shape) == 1


def lenet_like() -> Graph:
    graph = Graph()
    chain(
        graph,
        [
            ("Input", {"channels": 1, "height": 28, "width": 28}),
            ("Conv2d", {"out_channels": 6, "kernel_size": 5}),
            ("ReLU", {}),
            ("MaxPool2d", {}),
            ("Conv2d", {"out_channels": 16, "kernel_size": 5}),
            ("Flatten", {}),
            ("FC", {"out_features": 10}),
        ],
    )
    return graph


def test_shape_error_lands_on_the_wrong_block_and_rest_is_analysed():
    graph = lenet_like()
    graph.add_block("ReLU", block_id="side")
    graph.connect("input1", "side")  # a second, valid branch (and a second sink)
    graph.set_param("conv2", "kernel_size", 20)  # 12×12 input: does not fit
    analysis = analyze(graph)
    conv2 = analysis.reports["conv2"]
    assert conv2.output_shape is None and "does not fit" in conv2.error and "12×12" in conv2.error
    assert conv2.blocked_by is None
    for downstream in ("flatten1", "fc1"):
        report = analysis.reports[downstream]
        assert report.error is None and report.blocked_by == "conv2" and report.output_shape is None
        assert not report.ok
    assert analysis.reports["maxpool1"].output_shape == (6, 12, 12)
    assert analysis.reports["side"].output_shape == (1, 28, 28)
    assert analysis.errors == {"conv2": conv2.error}
    assert analysis.total_params == 6 * 25 + 6  # only the analysable blocks count
    assert not analysis.valid and analysis.output_shape is None


def test_fixing_the_parameter_clears_the_error():
    graph = lenet_like()
    graph.set_param("conv2", "kernel_size", 20)
    assert not analyze(graph).valid
    graph.set_param("conv2", "kernel_size", 5)
    analysis = analyze(graph)
    assert analysis.valid and analysis.output_shape == (10,)
    assert analysis.reports["conv2"].output_shape == (16, 8, 8)


@pytest.mark.parametrize(
    "params, shape",
    [
        ({"kernel_size": 3, "padding": 0}, (4, 14, 10)),
        ({"kernel_size": 3, "padding": 1}, (4, 16, 12)),
        ({"kernel_size": 4, "padding": "same"}, (4, 16, 12)),
        ({"kernel_size": 3, "stride": 2, "padding": 1}, (4, 8, 6)),
        ({"kernel_size": 5, "stride": 3}, (4, 4, 3)),
    ],
)
def test_conv_shapes(params, shape):
    graph = Graph()
    chain(graph, [("Input", {"channels": 2, "height": 16, "width": 12}), ("Conv2d", {"out_channels": 4, **params})])
    assert analyze(graph).output_shape == shape


def test_same_padding_needs_stride_one():
    graph = Graph()
    chain(graph, [("Input", {}), ("Conv2d", {"padding": "same", "stride": 2})])
    assert "stride 1" in analyze(graph).reports["conv1"].error


@pytest.mark.parametrize(
    "type_id, params, shape",
    [
        ("MaxPool2d", {}, (3, 5, 5)),
        ("AvgPool2d", {"kernel_size": 3, "stride": 1, "padding": 1}, (3, 11, 11)),
        ("MaxPool2d", {"kernel_size": 2, "padding": 2}, None),  # torch: padding at most half the kernel
        ("MaxPool2d", {"kernel_size": 12}, None),
        ("GAP", {}, (3,)),
        ("Flatten", {}, (363,)),
        ("BatchNorm2d", {}, (3, 11, 11)),
        ("FC", {"out_features": 7}, (7,)),
    ],
)
def test_single_input_shapes(type_id, params, shape):
    graph = Graph()
    chain(graph, [("Input", {"channels": 3, "height": 11, "width": 11}), (type_id, params)])
    report = analyze(graph).reports[graph.sinks()[0]]
    assert report.output_shape == shape
    assert (report.error is None) == (shape is not None)


def test_image_blocks_refuse_vectors():
    for type_id in ("Conv2d", "MaxPool2d", "BatchNorm2d", "GAP"):
        graph = Graph()
        chain(graph, [("Input", {}), ("Flatten", {}), (type_id, {})])
        report = analyze(graph).reports[graph.sinks()[0]]
        assert "C×H×W" in report.error, type_id


def branches(first: dict, second: dict, merge: str) -> Graph:
    graph = Graph()
    graph.add_block("Input", {"channels": 3, "height": 8, "width": 8}, block_id="input")
    graph.add_block("Conv2d", first, block_id="left")
    graph.add_block("Conv2d", second, block_id="right")
    graph.add_block(merge, block_id="merge")
    graph.connect("input", "left")
    graph.connect("input", "right")
    graph.connect("left", "merge", 0)
    graph.connect("right", "merge", 1)
    return graph


def test_add_and_concat_shapes():
    same = {"out_channels": 4, "padding": 1}
    assert analyze(branches(same, same, "Add")).output_shape == (4, 8, 8)
    assert analyze(branches(same, {"out_channels": 6, "padding": 1}, "Concat")).output_shape == (10, 8, 8)
    error = analyze(branches(same, {"out_channels": 6, "padding": 1}, "Add")).reports["merge"].error
    assert "4×8×8" in error and "6×8×8" in error
    error = analyze(branches(same, {"out_channels": 4}, "Concat")).reports["merge"].error
    assert "sizes must match" in error


def test_concat_of_vectors_and_mixed():
    graph = Graph()
    graph.add_block("Input", {"channels": 2, "height": 3, "width": 3}, block_id="input")
    graph.add_block("FC", {"out_features": 5}, block_id="a")
    graph.add_block("Flatten", block_id="b")
    graph.add_block("Concat", block_id="cat")
    graph.add_block("Concat", block_id="mixed")
    graph.connect("input", "a")
    graph.connect("input", "b")
    graph.connect("a", "cat")
    graph.connect("b", "cat")
    graph.connect("cat", "mixed")
    graph.connect("input", "mixed")
    analysis = analyze(graph)
    assert analysis.reports["cat"].output_shape == (23,)
    assert "two images or two vectors" in analysis.reports["mixed"].error


def test_merge_with_one_input_is_not_connected():
    graph = Graph()
    graph.add_block("Input", block_id="input")
    graph.add_block("Add", block_id="add")
    graph.add_block("ReLU", block_id="relu")
    graph.connect("input", "add")
    graph.connect("add", "relu")
    analysis = analyze(graph)
    assert "needs 2 inputs" in analysis.reports["add"].error
    assert analysis.reports["relu"].blocked_by == "add"


def test_multiple_sinks_is_a_problem():
    graph = lenet_like()
    graph.add_block("FC", {"out_features": 3}, block_id="head2")
    graph.connect("flatten1", "head2")
    analysis = analyze(graph)
    assert set(analysis.sinks) == {"fc1", "head2"}
    assert any("2 outputs" in problem and "head2" in problem for problem in analysis.problems)
    assert not analysis.valid and analysis.output_shape is None
    # Every block is still analysed.
    assert analysis.reports["head2"].output_shape == (3,)


def test_no_input_second_input_and_unconnected_blocks():
    graph = Graph()
    graph.add_block("ReLU", block_id="relu")
    analysis = analyze(graph)
    assert any("no Input" in problem for problem in analysis.problems)
    assert "not connected" in analysis.reports["relu"].error
    graph = lenet_like()
    graph.add_block("Input", block_id="other")
    analysis = analyze(graph)
    assert "one Input" in analysis.reports["other"].error
    assert analysis.reports["input1"].ok
    assert analyze(Graph()).output_shape is None


def test_bias_off_and_batchnorm_counts():
    graph = Graph()
    chain(
        graph,
        [
            ("Input", {"channels": 3, "height": 4, "width": 4}),
            ("Conv2d", {"out_channels": 5, "bias": False}),
            ("BatchNorm2d", {}),
            ("FC", {"out_features": 2, "bias": False}),
        ],
    )
    reports = analyze(graph).reports
    assert (reports["conv1"].weights, reports["conv1"].biases) == (5 * 3 * 9, 0)
    assert (reports["bn1"].weights, reports["bn1"].biases) == (5, 5)
    assert (reports["fc1"].weights, reports["fc1"].biases) == (5 * 2 * 2 * 2, 0)
    assert reports["fc1"].activations == 2 and reports["conv1"].activations == 5 * 2 * 2


def test_analysis_follows_removal_and_reconnection():
    graph = lenet_like()
    removed = graph.remove_block("maxpool1")
    analysis = analyze(graph)
    assert analysis.reports["conv2"].error == "not connected: needs an input"
    graph.restore_block(removed)
    assert analyze(graph).valid
    graph.disconnect(Edge("conv2", "flatten1", 0))
    graph.connect("conv2", "flatten1")
    assert analyze(graph).valid


def test_format_count():
    assert format_count(61_706) == "61.7k"
    assert format_count(138_357_544) == "138.4M"
    assert format_count(999) == "999"
    assert format_count(2_500_000_000) == "2.5G"


def test_reports_are_ordinary_frozen_block_reports():
    import dataclasses

    from designer.core import BlockReport

    report = analyze(lenet_like()).reports["conv1"]
    assert isinstance(report, BlockReport)
    assert report == BlockReport("conv1", "Conv2d", (6, 24, 24), 150, 6, 6 * 24 * 24 * 25, share=report.share)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.weights = 0
    assert dataclasses.replace(report, weights=0).params == 6
    assert list(analyze(lenet_like()).reports) == lenet_like().topological_order()
