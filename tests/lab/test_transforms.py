"""FC → convolution, score maps, FC head → GAP, and FC activations: the article's claims on real designs."""

import pytest
import torch

from designer.core import TEMPLATES, Graph, analyze, chain, load_architecture
from designer.nn import build_module
from designer.lab.neurons import fc_activations, top_predictions
from designer.lab.transforms import (
    NotFullyConvolutionalError,
    TransformError,
    compare_outputs,
    fc_to_conv,
    find_head,
    fully_convolutional_scores,
    replace_head_with_gap,
    tile_images,
)

TOLERANCE = 1e-4


def template(name: str) -> Graph:
    return load_architecture(TEMPLATES / f"{name}.json")


def torch_count(module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def trained(graph: Graph, steps: int = 5, seed: int = 0):
    """A module whose weights have moved away from their initial values (a few SGD steps)."""
    torch.manual_seed(seed)
    module = build_module(graph)
    channels, height, width = module.input_shape
    optimiser = torch.optim.SGD(module.parameters(), lr=0.05, momentum=0.9)
    generator = torch.Generator().manual_seed(seed)
    module.train()
    for _ in range(steps):
        images = torch.rand((8, channels, height, width), generator=generator)
        labels = torch.randint(0, module.output_shape[0], (8,), generator=generator)
        loss = torch.nn.functional.cross_entropy(module(images), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    module.eval()
    return module


def convert_and_compare(graph: Graph, batch: int = 4):
    module = trained(graph)
    state = module.state_dict()
    new_graph, new_state, report = fc_to_conv(graph, state)
    converted = build_module(new_graph)
    converted.load_state_dict(new_state, strict=True)
    images = torch.rand((batch, *module.input_shape), generator=torch.Generator().manual_seed(7))
    return module, converted, new_graph, new_state, report, compare_outputs(module, converted, images)


# ----------------------------------------------------------------------------- FC → conv


def test_lenet5_conversion_keeps_outputs_and_parameters():
    graph = template("lenet5")
    module, converted, new_graph, new_state, report, difference = convert_and_compare(graph)
    assert difference < TOLERANCE
    assert report.params_before == report.params_after == 61_706
    assert torch_count(module) == torch_count(converted) == analyze(new_graph).total_params == 61_706
    assert [block_id for block_id, _ in report.converted] == ["fc1", "fc2", "fc3"]
    assert not [block.id for block in new_graph if block.type_id == "FC"]
    fc1 = new_graph.block("fc1")
    assert fc1.type_id == "Conv2d"
    assert (fc1.params["kernel_size"], fc1.params["out_channels"], fc1.params["padding"]) == (5, 120, 0)
    assert new_graph.block("fc2").params["kernel_size"] == 1
    assert new_state["blocks.fc1.weight"].shape == (120, 16, 5, 5)
    assert new_state["blocks.fc2.weight"].shape == (84, 120, 1, 1)
    # The Tanh blocks between the FCs stay, and the sink is a Flatten so the output is still 10 classes.
    assert new_graph.block("tanh3").type_id == "Tanh"
    assert report.added == ("flatten_out",)
    assert analyze(new_graph).output_shape == (10,)
    # The original graph is untouched.
    assert graph.block("fc1").type_id == "FC"


def test_vgg_style_cifar_cnn_conversion_removes_flatten_and_keeps_dropout():
    graph = template("cifar-cnn")
    module, converted, new_graph, _, report, difference = convert_and_compare(graph, batch=2)
    assert difference < TOLERANCE
    assert report.params_before == report.params_after == torch_count(converted) == torch_count(module)
    assert report.removed == ("flatten1",)
    assert "flatten1" not in new_graph
    assert new_graph.predecessors("fc1") == ["maxpool2"]
    assert new_graph.block("fc1").params["kernel_size"] == 8
    assert new_graph.block("dropout1").type_id == "Dropout"


def test_converted_network_still_trains_with_class_outputs():
    new_graph, _, _ = fc_to_conv(template("mnist-cnn"))
    module = build_module(new_graph)
    logits = module(torch.rand(3, 1, 28, 28))
    assert logits.shape == (3, 10)
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2])).backward()


def test_vgg16_parameter_counts_are_identical():
    graph = template("vgg16")
    new_graph, state, report = fc_to_conv(graph)
    assert state is None
    assert report.params_before == report.params_after == 138_357_544
    after = analyze(new_graph)
    assert after.reports["fc1"].params == 7 * 7 * 512 * 4096 + 4096
    assert new_graph.block("fc1").params["kernel_size"] == 7
    assert after.fc_params == 0  # every FC is now a convolution


def test_gap_design_has_nothing_to_convert():
    graph = template("mnist-cnn-gap")
    new_graph, _, report = fc_to_conv(graph)
    assert not report.converted and not report.changed
    assert [block_id for block_id, _ in report.skipped] == ["fc1"]
    assert "GAP" in report.skipped[0][1]
    assert new_graph.block("fc1").type_id == "FC"


def test_non_square_input_is_skipped_with_a_reason_and_stays_equivalent():
    graph = Graph("wide")
    chain(graph, [("Input", {"channels": 1, "height": 6, "width": 10}),
                  ("Conv2d", {"out_channels": 3, "kernel_size": 3}), ("ReLU", {}), ("Flatten", {}),
                  ("FC", {"out_features": 8}), ("ReLU", {}), ("FC", {"out_features": 4})])
    module, converted, new_graph, _, report, difference = convert_and_compare(graph)
    assert difference < TOLERANCE
    assert not report.converted
    assert report.skipped[0][0] == "fc1" and "not square" in report.skipped[0][1]
    assert [block.type_id for block in new_graph] == [block.type_id for block in graph]


def test_flatten_before_dropout_and_a_join_of_two_fcs_convert_correctly():
    graph = Graph("branches")
    chain(graph, [("Input", {"channels": 2, "height": 6, "width": 6}),
                  ("Conv2d", {"out_channels": 4, "kernel_size": 3}), ("Flatten", {}), ("Dropout", {"p": 0.2})])
    graph.add_block("FC", {"out_features": 5}, block_id="left")
    graph.add_block("FC", {"out_features": 5}, block_id="right")
    graph.add_block("Add", {}, block_id="join")
    graph.add_block("Tanh", {}, block_id="squash")
    graph.add_block("FC", {"out_features": 3}, block_id="classes")
    for source, target in (("dropout1", "left"), ("dropout1", "right"), ("left", "join"), ("right", "join"),
                           ("join", "squash"), ("squash", "classes")):
        graph.connect(source, target)
    module, converted, new_graph, _, report, difference = convert_and_compare(graph)
    assert difference < TOLERANCE
    assert {block_id for block_id, _ in report.converted} == {"left", "right", "classes"}
    assert report.params_before == report.params_after
    assert analyze(new_graph).output_shape == (3,)


def test_invalid_design_is_refused_with_a_typed_error():
    graph = Graph("broken")
    graph.add_block("Input", {})
    graph.add_block("FC", {})
    with pytest.raises(TransformError):
        fc_to_conv(graph)


# ----------------------------------------------------------------------------- score maps


def test_tile_images_places_images_side_by_side():
    images = torch.arange(2 * 1 * 2 * 3, dtype=torch.uint8).reshape(2, 1, 2, 3)
    canvas = tile_images(images)
    assert canvas.shape == (1, 1, 2, 6) and canvas.dtype == torch.uint8
    assert torch.equal(canvas[0, :, :, 3:6], images[1])
    grid = tile_images(torch.ones(3, 1, 2, 2), columns=2, spacing=1)
    assert grid.shape == (1, 1, 5, 5)
    assert grid[0, 0, 2].sum() == 0 and grid[0, 0, :, 2].sum() == 0  # the gaps
    assert grid[0, 0, 3:, 3:].sum() == 0  # the empty fourth cell


def test_lenet5_score_map_on_a_wider_canvas_matches_each_digit():
    graph = template("lenet5")
    module = trained(graph)
    new_graph, new_state, _ = fc_to_conv(graph, module.state_dict())
    digits = torch.zeros(3, 1, 28, 28)
    # A blank border of 2 pixels (conv1's padding), as MNIST digits have, makes each
    # digit's window on the canvas identical to the padded digit on its own.
    digits[:, :, 2:26, 2:26] = torch.rand(3, 1, 24, 24, generator=torch.Generator().manual_seed(3))
    result = fully_convolutional_scores(new_graph, new_state, tile_images(digits))
    assert result.scores.shape == (1, 10, 1, 15)  # stride 4: (84 − 28) / 4 + 1 positions
    with torch.no_grad():
        alone = module(digits).numpy()
    for index in range(3):
        assert abs(result.scores[0, :, 0, 7 * index] - alone[index]).max() < TOLERANCE
    assert result.predictions.shape == (1, 1, 15)
    assert result.stride == 4  # so digit j (28 pixels wide) is read at column 28·j / 4 = 7·j
    assert result.graph.block("input1").params["width"] == 84


def test_score_map_needs_a_fully_convolutional_design():
    graph = template("lenet5")
    state = build_module(graph).state_dict()
    with pytest.raises(NotFullyConvolutionalError, match="fc1"):
        fully_convolutional_scores(graph, state, torch.zeros(1, 1, 28, 56))
    gap = template("mnist-cnn-gap")
    with pytest.raises(NotFullyConvolutionalError):
        fully_convolutional_scores(gap, build_module(gap).state_dict(), torch.zeros(1, 1, 28, 56))


def test_conv1x1_gap_head_gives_a_class_map_without_its_gap():
    graph, _ = replace_head_with_gap(template("mnist-cnn"), "conv1x1_gap")
    module = build_module(graph)
    result = fully_convolutional_scores(graph, module.state_dict(), torch.rand(2, 1, 28, 56))
    assert result.scores.shape == (2, 10, 7, 14)
    # Averaging the map over positions gives the GAP head's output on the same canvas.
    wide = graph.copy()
    wide.set_param("input1", "width", 56)
    wide_module = build_module(wide)
    wide_module.load_state_dict(module.state_dict())
    wide_module.eval()
    images = torch.rand(2, 1, 28, 56, generator=torch.Generator().manual_seed(1))
    mapped = fully_convolutional_scores(graph, module.state_dict(), images).scores.mean(axis=(2, 3))
    with torch.no_grad():
        assert abs(wide_module(images).numpy() - mapped).max() < TOLERANCE


# ----------------------------------------------------------------------------- FC head → GAP


@pytest.mark.parametrize("name", ["lenet5", "mnist-cnn", "cifar-cnn"])
@pytest.mark.parametrize("mode", ["gap_fc", "conv1x1_gap"])
def test_gap_head_counts_match_analysis_and_torch(name, mode):
    graph = template(name)
    new_graph, report = replace_head_with_gap(graph, mode)
    assert report.params_before == analyze(graph).total_params == torch_count(build_module(graph))
    assert report.params_after == analyze(new_graph).total_params == torch_count(build_module(new_graph))
    assert report.saving_percent == pytest.approx(100 * (report.params_before - report.params_after)
                                                  / report.params_before)
    assert report.head_params_before - report.head_params_after == report.saving
    assert analyze(new_graph).output_shape == (10,)
    assert build_module(new_graph)(torch.rand(2, *build_module(graph).input_shape)).shape == (2, 10)


def test_gap_head_on_lenet5_and_vgg16_numbers():
    new_graph, report = replace_head_with_gap(template("lenet5"), "gap_fc")
    assert report.removed == ("fc1", "tanh3", "fc2", "tanh4", "fc3")
    assert [new_graph.block(block_id).type_id for block_id in report.added] == ["GAP", "FC"]
    assert report.head_params_before == 59_134
    assert report.head_params_after == 16 * 10 + 10
    assert report.params_after == 61_706 - 59_134 + 170
    vgg, vgg_report = replace_head_with_gap(template("vgg16"), "gap_fc")
    assert vgg_report.params_before == 138_357_544
    assert vgg_report.params_after == 138_357_544 - 123_642_856 + 512 * 1000 + 1000
    assert vgg_report.saving_percent == pytest.approx(89.0, abs=0.1)


def test_find_head_and_bad_mode():
    info = find_head(template("cifar-cnn"))
    assert (info.trunk_end, info.trunk_shape, info.classes) == ("maxpool2", (64, 8, 8), 10)
    assert info.head == ("flatten1", "fc1", "relu5", "dropout1", "fc2")
    with pytest.raises(TransformError, match="mode"):
        replace_head_with_gap(template("lenet5"), "gap")


# ----------------------------------------------------------------------------- inspection


def test_fc_activations_after_their_activation_and_logits_last():
    graph = template("lenet5")
    module = trained(graph)
    image = torch.rand(1, 28, 28)
    layers = fc_activations(module, graph, image)
    assert [block_id for block_id, _ in layers] == ["fc1", "fc2", "fc3"]
    assert [values.shape for _, values in layers] == [(120,), (84,), (10,)]
    with torch.no_grad():
        outputs = module(image.unsqueeze(0), keep=True)
    assert abs(layers[0][1] - outputs["tanh3"][0].numpy()).max() == 0
    assert abs(layers[2][1] - outputs["fc3"][0].numpy()).max() == 0
    assert module.training is False


def test_top_predictions():
    logits = torch.tensor([0.0, 3.0, 1.0, 2.0])
    top = top_predictions(logits, 2, ["a", "b", "c", "d"])
    assert [name for name, _ in top] == ["b", "d"]
    assert top[0][1] == pytest.approx(torch.softmax(logits, 0)[1].item())
    assert [name for name, _ in top_predictions(logits.unsqueeze(0), 10)] == ["1", "3", "2", "0"]


def test_compare_outputs_refuses_different_shapes():
    first = build_module(template("lenet5"))
    second = build_module(replace_head_with_gap(template("lenet5"))[0])
    assert compare_outputs(first, first, torch.rand(2, 1, 28, 28)) == 0.0
    second.blocks["fc_out"] = torch.nn.Linear(16, 3)
    with pytest.raises(TransformError, match="shape"):
        compare_outputs(first, second, torch.rand(2, 1, 28, 28))
