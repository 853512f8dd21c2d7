"""ONNX export and import: every template out and back in, raw-pixel models, models from elsewhere,
and the files a person should never get a traceback for."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from designer.core import BLOCK_TYPES, analyze, load_architecture, template_paths
from designer.exchange.errors import ExchangeError
from designer.exchange.onnx_export import export_onnx
from designer.exchange.onnx_import import import_onnx, write_import
from designer.exchange.weights import Weights
from designer.nn import build_module

TEMPLATE_PATHS = {path.stem: path for path in template_paths()}


def random_weights(graph, seed: int) -> Weights:
    """Random weights with BatchNorm statistics, as if trained (no normalisation)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the builder's own initialisation keeps the outputs of a sane size
        module = build_module(graph)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            # BatchNorm starts as an identity; give it statistics, as training would.
            if name.endswith(("running_mean", "bias")) and tensor.dim() == 1:
                tensor.add_(torch.rand(tensor.shape, generator=generator) * 0.2 - 0.1)
            elif name.endswith("running_var") or (name.endswith("weight") and tensor.dim() == 1):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
    return Weights(module.eval(), trained=True, source="a test")


def session(path: Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """template name → (graph, weights, .onnx path); each template exported once for this module."""
    folder = tmp_path_factory.mktemp("onnx")
    cache = {}

    def get(template: str):
        if template not in cache:
            graph = load_architecture(TEMPLATE_PATHS[template])
            weights = random_weights(graph, seed=len(template))
            path = folder / f"{template}.onnx"
            export_onnx(graph, path, weights)
            cache[template] = graph, weights, path
        return cache[template]

    return get


def batch_for(template: str) -> int:
    return 1 if template == "vgg16" else 2  # VGG-16 at 224×224: 15 GMACs per image


@pytest.mark.parametrize("template", sorted(TEMPLATE_PATHS))
def test_every_template_exports_and_onnxruntime_matches_torch(template, exported):
    graph, weights, path = exported(template)
    model = onnx.load(str(path), load_external_data=False)
    assert [value.name for value in model.graph.input] == ["images"]
    assert [value.name for value in model.graph.output] == ["logits"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert model.opset_import[0].version == 18
    names = {node.name for node in model.graph.node}
    for block in graph:
        if block.type_id != "Input":
            assert block.id in names, f"no ONNX node is named after {block.id}"
    assert sum(node.op_type == "Dropout" for node in model.graph.node) == \
        sum(block.type_id == "Dropout" for block in graph)
    assert not any(entry.key.startswith("pkg.") for node in model.graph.node for entry in node.metadata_props)

    shape = analyze(graph).reports[graph.inputs()[0]].output_shape
    images = torch.randn((batch_for(template), *shape), generator=torch.Generator().manual_seed(5))
    actual = session(path).run(None, {"images": images.numpy()})[0]
    with torch.no_grad():
        expected = weights.module(images).numpy()
    assert np.max(np.abs(actual - expected)) <= 1e-4


@pytest.mark.parametrize("template", sorted(TEMPLATE_PATHS))
def test_import_round_trip_reproduces_the_analysis_and_the_outputs(template, exported, tmp_path):
    graph, weights, path = exported(template)

    result = import_onnx(path)

    original, imported = analyze(graph), analyze(result.graph)
    assert imported.valid
    assert (imported.total_params, imported.total_macs, imported.fc_params) == \
        (original.total_params, original.total_macs, original.fc_params)
    assert result.graph.name == graph.name
    input_id = graph.inputs()[0]
    assert imported.reports[result.graph.inputs()[0]].output_shape == original.reports[input_id].output_shape
    for block_id, report in original.reports.items():
        if block_id == input_id:
            continue
        assert block_id in imported.reports, f"{block_id} did not come back"
        mine = imported.reports[block_id]
        assert (mine.type_id, mine.output_shape, mine.params, mine.macs) == \
            (report.type_id, report.output_shape, report.params, report.macs), block_id
    assert len(imported.reports) == len(original.reports)
    assert result.max_difference is not None and result.max_difference <= 1e-5

    shape = original.reports[input_id].output_shape
    images = torch.randn((batch_for(template), *shape), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        assert torch.max(torch.abs(result.module(images) - weights.module(images))).item() <= 1e-5

    if template != "vgg16":  # a 550 MB checkpoint adds nothing the small ones do not show
        design, checkpoint = tmp_path / "design.json", tmp_path / "weights.pt"
        write_import(result, design, checkpoint)
        from designer.training.checkpoint import load_checkpoint

        loaded_graph, module, _ = load_checkpoint(checkpoint)
        assert analyze(load_architecture(design)).total_params == original.total_params
        with torch.no_grad():
            assert torch.max(torch.abs(module(images) - weights.module(images))).item() <= 1e-5


def test_trained_lenet_takes_raw_uint8_pixels_and_predicts_like_its_checkpoint(trained_lenet, tmp_path,
                                                                               main_command):
    graph, checkpoint, module, normalisation, dataset = trained_lenet
    path = tmp_path / "lenet.onnx"

    completed = main_command("export", TEMPLATE_PATHS["lenet5"], "--output", path, "--checkpoint", checkpoint)

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert "input 'images': uint8 N×1×28×28, raw pixel values 0-255" in completed.stdout
    model = onnx.load(str(path))
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    assert json.loads(metadata["normalisation"])["mean"] == pytest.approx(list(normalisation.mean))
    assert "raw pixel values 0-255" in metadata["input"]
    assert json.loads(metadata["class_names"]) == list(dataset.class_names)
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.UINT8

    from designer.training.evaluation import predict

    images = dataset.test_images
    assert images.dtype == np.uint8 and images.shape == (1000, 1, 28, 28)
    scores = session(path).run(None, {"images": images})[0]
    expected = predict(module, images, normalisation=normalisation)
    # Equal predictions; a tie within float rounding (top two probabilities 1e-5 apart) may go
    # either way on another CPU, so only those may differ.
    top_two = np.sort(expected, axis=1)[:, -2:]
    decided = top_two[:, 1] - top_two[:, 0] > 1e-5
    assert decided.sum() >= 995
    assert np.array_equal(scores.argmax(axis=1)[decided], expected.argmax(axis=1)[decided])

    # ... and back: the import recovers the normalisation and the class names.
    result = import_onnx(path)
    assert result.normalisation.mean == pytest.approx(normalisation.mean, rel=1e-5)
    assert result.normalisation.std == pytest.approx(normalisation.std, rel=1e-5)
    assert result.class_names == tuple(dataset.class_names)
    again = predict(result.module, images, normalisation=result.normalisation)
    assert np.array_equal(again.argmax(axis=1)[decided], expected.argmax(axis=1)[decided])


def test_export_prints_no_warnings_or_exporter_progress(main_command, tmp_path):
    completed = main_command("export", TEMPLATE_PATHS["resnet-mini"], "--format", "onnx", "--output",
                             tmp_path / "resnet.onnx")

    assert completed.returncode == 0
    assert completed.stderr == ""
    lines = completed.stdout.splitlines()
    assert len(lines) == 5, completed.stdout
    assert lines[0].startswith(f"wrote {tmp_path / 'resnet.onnx'} (ONNX opset 18, ")
    text = completed.stdout.replace(str(tmp_path), "")  # the test's folder name holds "warnings"
    assert not any(word in text for word in ("torch.onnx", "Warning", "warn", "✅"))


def test_import_command_writes_design_and_checkpoint_that_train_and_export_read(exported, tmp_path, cli):
    _, _, path = exported("mnist-cnn")
    design, checkpoint = tmp_path / "design.json", tmp_path / "design.pt"

    code, out, err = cli("import", path, "--output", design, "--weights", checkpoint)

    assert code == 0, err
    assert err == ""
    assert "12 ONNX nodes → 12 blocks" in out
    assert "421,642 parameters" in out
    assert "checked with onnxruntime: outputs match" in out
    assert sorted(item.name for item in tmp_path.iterdir()) == ["design.json", "design.pt"]
    code, out, err = cli("export", design, "--output", tmp_path / "again", "--checkpoint", checkpoint)
    assert code == 0, err
    assert "trained weights from checkpoint design.pt" in out
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared test machine thrashes with more
    try:
        code, out, err = cli("train", design, "--epochs", "1", "--output", tmp_path / "run", "--no-download")
    finally:
        torch.set_num_threads(threads)
    assert code == 0, err


# --------------------------------------------------------------------------- models from elsewhere


def make_model(nodes, initializers, input_shape=(None, 3, 8, 8), input_type=TensorProto.FLOAT, opset=18,
               output="out", output_rank=2):
    inputs = [helper.make_tensor_value_info("x", input_type, ["N", *input_shape[1:]])]
    outputs = [helper.make_tensor_value_info(output, TensorProto.FLOAT, [f"d{index}" for index in range(output_rank)])]
    graph = helper.make_graph(nodes, "elsewhere", inputs, outputs,
                              [numpy_helper.from_array(np.asarray(value, dtype=value.dtype), name)
                               for name, value in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def weights(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 0.3


def test_a_hand_written_model_with_pad_batchnorm_matmul_and_dynamic_reshape_imports(tmp_path):
    rng = np.random.default_rng(0)
    initializers = {
        "pads": np.array([0, 0, 0, 0, 0, 0, 1, 1], dtype=np.int64),
        "conv_w": weights(4, 3, 2, 2), "conv_b": weights(4, seed=1),
        "scale": weights(4, seed=2), "shift": weights(4, seed=3), "mean": weights(4, seed=4),
        "var": (rng.random(4) + 0.5).astype(np.float32),
        "c2_w": weights(4, 4, 3, 3, seed=5),
        "zero": np.array([0], dtype=np.int64), "minus_one": np.array([-1], dtype=np.int64),
        "mm_w": weights(4 * 4 * 4 * 2, 6, seed=6), "mm_b": weights(6, seed=7),
    }
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["padded"], name="/features/Pad"),
        helper.make_node("Conv", ["padded", "conv_w", "conv_b"], ["c1"], kernel_shape=[2, 2], name="/features/Conv"),
        helper.make_node("BatchNormalization", ["c1", "scale", "shift", "mean", "var"], ["b1"], epsilon=1e-3),
        helper.make_node("LeakyRelu", ["b1"], ["a1"], alpha=0.1),
        helper.make_node("Conv", ["a1", "c2_w"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Identity", ["c2"], ["c2i"]),
        helper.make_node("Sigmoid", ["c2i"], ["s1"]),
        helper.make_node("Concat", ["c2", "s1"], ["cat"], axis=1),
        helper.make_node("Shape", ["cat"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Concat", ["batch", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["cat", "target"], ["flat"]),
        helper.make_node("MatMul", ["flat", "mm_w"], ["mm"]),
        helper.make_node("Add", ["mm", "mm_b"], ["out"]),
    ]
    path = tmp_path / "hand.onnx"
    onnx.save(make_model(nodes, initializers), path)

    result = import_onnx(path)

    types = [block.type_id for block in result.graph]
    assert types == ["Input", "Conv2d", "BatchNorm2d", "LeakyReLU", "Conv2d", "Sigmoid", "Concat", "Flatten", "FC"]
    assert result.graph.block(result.graph.topological_order()[1]).params["padding"] == "same"
    assert result.max_difference is not None and result.max_difference <= 1e-5
    assert any("epsilon 0.001" in note for note in result.notes)


def test_uint8_input_with_cast_div_sub_becomes_the_normalisation_and_gap_is_recognised(tmp_path):
    initializers = {"scale": np.array(255.0, dtype=np.float32),
                    "mean": np.array([0.5, 0.25, 0.1], dtype=np.float32).reshape(1, 3, 1, 1),
                    "w": weights(5, 3, 3, 3), "fc_w": weights(7, 5, seed=1), "fc_b": weights(7, seed=2),
                    "c3_w": weights(2, 3, 1, 1, seed=3)}
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["xf", "scale"], ["x01"]),
        helper.make_node("Sub", ["x01", "mean"], ["xn"]),
        helper.make_node("Conv", ["xn", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
        helper.make_node("Flatten", ["g"], ["gf"]),
        helper.make_node("Gemm", ["gf", "fc_w", "fc_b"], ["out"], transB=1, alpha=0.5),
    ]
    path = tmp_path / "uint8.onnx"
    onnx.save(make_model(nodes, initializers, input_type=TensorProto.UINT8), path)

    result = import_onnx(path)

    assert [block.type_id for block in result.graph] == ["Input", "Conv2d", "ReLU", "GAP", "FC"]
    assert result.normalisation.mean == pytest.approx((0.5, 0.25, 0.1))
    assert result.normalisation.std == pytest.approx((1.0, 1.0, 1.0))
    assert result.max_difference <= 1e-5


def test_a_model_from_the_torchscript_exporter_imports(tmp_path):
    from torch import nn

    network = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 13 * 13, 10))
    path = tmp_path / "sequential.onnx"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network.eval(), (torch.zeros(1, 1, 28, 28),), str(path), dynamo=False,
                          input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "n"}})

    result = import_onnx(path)

    assert [block.type_id for block in result.graph] == ["Input", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "FC"]
    images = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.max(torch.abs(result.module(images) - network(images))).item() <= 1e-5


# --------------------------------------------------------------------------- bad inputs


def lstm_model():
    hidden = 4
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["seq"], name="to_sequence"),
             helper.make_node("LSTM", ["seq", "W", "R"], ["", "out"], hidden_size=hidden, name="lstm1")]
    initializers = {"shape": np.array([8, -1, 24], dtype=np.int64), "W": weights(1, 4 * hidden, 24),
                    "R": weights(1, 4 * hidden, hidden, seed=1)}
    return make_model(nodes, initializers, input_shape=(None, 3, 8, 8), output_rank=3)


def loop_model():
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Relu", ["value_in"], ["value_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("value_in", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("value_out", TensorProto.FLOAT, ["N", 3, 8, 8])])
    nodes = [helper.make_node("Loop", ["count", "", "x"], ["out"], body=body, name="repeat")]
    return make_model(nodes, {"count": np.array(3, dtype=np.int64)}, output_rank=4)


def run_import(arguments, capsys):
    from designer.cli import main

    code = main(["import", *map(str, arguments)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("kind", ["lstm", "loop"])
def test_unsupported_operators_are_listed_and_nothing_is_written(kind, tmp_path, capsys):
    path = tmp_path / f"{kind}.onnx"
    onnx.save(lstm_model() if kind == "lstm" else loop_model(), path)

    code, out, err = run_import([path, "--output", tmp_path / "design.json", "--weights", tmp_path / "w.pt"],
                                capsys)

    assert code == 2
    assert err.count("\n") == 1
    expected = "LSTM (node 'lstm1')" if kind == "lstm" else "Loop (node 'repeat')"
    assert expected in err and "operators no block stands for" in err
    assert sorted(item.name for item in tmp_path.iterdir()) == [path.name]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "json", "missing"])
def test_damaged_files_are_a_one_line_error(damage, exported, tmp_path, capsys):
    _, _, good = exported("lenet5")
    path = tmp_path / "model.onnx"
    if damage == "truncated":
        content = good.read_bytes()
        path.write_bytes(content[:len(content) // 2])
    elif damage == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "json":
        path.write_text(TEMPLATE_PATHS["lenet5"].read_text())

    code, out, err = run_import([path, "--output", tmp_path / "design.json"], capsys)

    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert not (tmp_path / "design.json").exists()


def test_existing_outputs_are_refused_without_force(exported, tmp_path, capsys):
    _, _, path = exported("lenet5")
    design = tmp_path / "design.json"
    design.write_text("mine")

    code, _, err = run_import([path, "--output", design], capsys)
    assert code == 2 and "already exists" in err and "--force" in err
    assert design.read_text() == "mine"

    code, _, err = run_import([path, "--output", design, "--force"], capsys)
    assert code == 0, err
    assert load_architecture(design).name == "LeNet-5"


def test_onnx_output_that_exists_is_refused_without_force(tmp_path, capsys):
    from designer.cli import main

    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    assert main(["export", str(TEMPLATE_PATHS["lenet5"]), "--output", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert target.read_bytes() == b"old"


@pytest.mark.parametrize("command,missing", [("export", "onnxscript"), ("import", "onnx")])
def test_a_missing_onnx_package_names_the_pip_command(command, missing, exported, tmp_path, monkeypatch, capsys):
    from designer.cli import main

    _, _, model = exported("lenet5")
    monkeypatch.setitem(__import__("sys").modules, missing, None)
    source = TEMPLATE_PATHS["lenet5"] if command == "export" else model
    target = tmp_path / ("out.onnx" if command == "export" else "design.json")

    assert main([command, str(source), "--output", str(target)]) == 2

    err = capsys.readouterr().err
    assert f"needs {missing}" in err and "pip install 'network-designer[onnx]'" in err
    assert not target.exists()


def test_an_import_that_would_not_reproduce_the_model_is_refused(exported, tmp_path, monkeypatch):
    _, _, path = exported("lenet5")
    from designer.exchange import onnx_mapping

    # A mapping mistake (here: a transposed FC weight) must not pass as a good import.
    original = onnx_mapping.Converter._fc

    def wrong(self, node, weight, bias, output):
        return original(self, node, weight * 1.5, bias, output)

    monkeypatch.setattr(onnx_mapping.Converter, "_fc", wrong)
    with pytest.raises(ExchangeError, match="does not reproduce the model"):
        import_onnx(path)


def every_block_type_graph():
    """Every block type of the catalogue, odd ids, a residual Add, a Concat with the input, an
    even kernel with "same" padding, padded average pooling, Dropout before an FC on an image."""
    from designer.core import Graph

    graph = Graph("Every block")
    graph.add_block("Input", {"channels": 3, "height": 12, "width": 12}, (0, 0), "x")
    specs = [("train", "Conv2d", {"out_channels": 4, "kernel_size": 2, "padding": "same"}),
             ("class", "BatchNorm2d", {}), ("conv-1", "GELU", {}),
             ("conv_1", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1, "bias": False}),
             ("sum", "Add", {}), ("leaky", "LeakyReLU", {"negative_slope": 0.2}), ("joined", "Concat", {}),
             ("avg", "AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}), ("squash", "Sigmoid", {}),
             ("pool", "MaxPool2d", {"kernel_size": 2}), ("drop", "Dropout", {"p": 0.3}),
             ("head", "FC", {"out_features": 16}), ("tanh", "Tanh", {}), ("relu", "ReLU", {}),
             ("flat", "Flatten", {}), ("out", "FC", {"out_features": 5, "bias": False})]
    for block_id, type_id, params in specs:
        graph.add_block(type_id, params, (0, 0), block_id)
    for source, target, port in (("x", "train", 0), ("train", "class", 0), ("class", "conv-1", 0),
                                 ("conv-1", "conv_1", 0), ("conv_1", "sum", 0), ("conv-1", "sum", 1),
                                 ("sum", "leaky", 0), ("leaky", "joined", 0), ("x", "joined", 1),
                                 ("joined", "avg", 0), ("avg", "squash", 0), ("squash", "pool", 0),
                                 ("pool", "drop", 0), ("drop", "head", 0), ("head", "tanh", 0), ("tanh", "relu", 0),
                                 ("relu", "flat", 0), ("flat", "out", 0)):
        graph.connect(source, target, port)
    return graph


def test_every_block_type_survives_an_export_import_round_trip(tmp_path):
    graph = every_block_type_graph()
    assert {block.type_id for block in graph} == set(BLOCK_TYPES) - {"GAP"}  # GAP: the templates have it
    weights = random_weights(graph, seed=11)
    path = tmp_path / "every.onnx"

    export = export_onnx(graph, path, weights)
    result = import_onnx(path)

    assert export.opset == 20  # GELU is an operator from opset 20 on
    original, imported = analyze(graph), analyze(result.graph)
    for block_id, report in original.reports.items():
        if block_id != "x":
            mine = imported.reports[block_id]
            assert (mine.type_id, mine.output_shape, mine.params) == (report.type_id, report.output_shape,
                                                                      report.params), block_id
    assert result.graph.block("train").params["padding"] == "same"
    assert result.graph.block("drop").params["p"] == pytest.approx(0.3)
    assert result.graph.block("leaky").params["negative_slope"] == pytest.approx(0.2)
    assert [edge.source for edge in result.graph.input_edges("sum")] == ["conv_1", "conv-1"]
    images = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.max(torch.abs(result.module(images) - weights.module(images))).item() <= 1e-5
