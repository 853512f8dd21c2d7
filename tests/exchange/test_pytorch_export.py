"""`python main.py export --format pytorch`: a folder a person runs without this program."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from designer.core import Graph, analyze, chain, load_architecture
from designer.exchange.pytorch_code import (DISTRIBUTED_SOURCE, attribute_names, class_name, export_pytorch,
                                            export_state_dict, model_source)
from designer.exchange.weights import Weights, untrained
from designer.nn import build_module

from designer.core import template_paths

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "resources" / "datasets" / "mnist-sample"
TEMPLATE_PATHS = {path.stem: path for path in template_paths()}

EXPORT_FILES = {"model.py", "train.py", "data.py", "distributed.py", "README.md"}

# Runs in the export folder with `python -I -S`: loads model.py from the file, the weights from
# weights.pt, and writes the outputs on the saved inputs and the parameter count.
MODEL_CHECK = """
import importlib.util, json
assert importlib.util.find_spec("designer") is None, "designer is importable here"
import torch
spec = importlib.util.spec_from_file_location("model", "model.py")
model_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(model_module)
assert not any(name == "designer" or name.startswith("designer.") for name in sys.modules)
model = model_module.Model()
model.load_state_dict(torch.load("weights.pt", weights_only=True), strict=True)
model.eval()
with torch.no_grad():
    outputs = model(torch.load("inputs.pt", weights_only=True))
torch.save(outputs, "outputs.pt")
count = sum(parameter.numel() for parameter in model.parameters())
print(json.dumps({"parameters": count, "class": type(model).__name__,
                  "input_shape": list(model_module.Model.input_shape)}))
"""


def trained_weights_for(graph: Graph, seed: int) -> Weights:
    """Random weights with BatchNorm statistics, as if trained."""
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


@pytest.mark.parametrize("template", sorted(TEMPLATE_PATHS))
def test_exported_model_gives_the_outputs_of_build_module_without_this_program(template, tmp_path, standalone):
    graph = load_architecture(TEMPLATE_PATHS[template])
    weights = trained_weights_for(graph, seed=len(template))
    folder = tmp_path / "export"
    export_pytorch(graph, folder, weights)
    assert EXPORT_FILES | {"weights.pt", "weights.json"} == {path.name for path in folder.iterdir()}
    analysis = analyze(graph)
    batch = 1 if template == "vgg16" else 2  # VGG-16 at 224×224 costs 15 GMACs per image
    inputs = torch.randn((batch, *analysis.reports[graph.inputs()[0]].output_shape),
                         generator=torch.Generator().manual_seed(1))
    torch.save(inputs, folder / "inputs.pt")

    completed = standalone(MODEL_CHECK, folder)

    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["parameters"] == analysis.total_params
    assert report["class"] == class_name(graph.name)
    with torch.no_grad():
        expected = weights.module(inputs)
    outputs = torch.load(folder / "outputs.pt", weights_only=True)
    assert outputs.shape == expected.shape
    assert torch.max(torch.abs(outputs - expected)).item() <= 1e-5


def test_trained_checkpoint_exports_its_weights_normalisation_and_settings(trained_lenet, tmp_path, main_command):
    graph, checkpoint, module, normalisation, dataset = trained_lenet
    folder = tmp_path / "lenet"

    completed = main_command("export", TEMPLATE_PATHS["lenet5"], "--format", "pytorch", "--output", folder,
                             "--checkpoint", checkpoint)

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert "trained weights from checkpoint lenet5.pt (trained on mnist-sample, test accuracy" in completed.stdout
    state = torch.load(folder / "weights.pt", weights_only=True)
    assert set(state) == set(export_state_dict(graph, module))
    assert torch.equal(state["fc1.weight"], module.blocks["fc1"][1].weight)
    record = json.loads((folder / "weights.json").read_text())
    assert record["mean"] == pytest.approx(list(normalisation.mean))
    assert record["class_names"] == list(dataset.class_names)
    settings = (folder / "train.py").read_text()
    assert "'epochs': 1," in settings and "'dataset': 'mnist-sample'," in settings


def test_exported_train_py_trains_lenet5_on_the_sample_in_an_isolated_python(tmp_path, standalone):
    folder = tmp_path / "lenet"
    export_pytorch(load_architecture(TEMPLATE_PATHS["lenet5"]), folder)
    code = ("import runpy\n"
            f"sys.argv = ['train.py', '--data', {str(SAMPLE)!r}, '--epochs', '1', '--device', 'cpu']\n"
            "runpy.run_path('train.py', run_name='__main__')\n")

    completed = standalone(code, folder, timeout=600)

    assert completed.returncode == 0, completed.stderr
    record = json.loads((folder / "trained.json").read_text())
    assert record["test_accuracy"] >= 0.80, completed.stdout
    assert f"test accuracy {record['test_accuracy']:.2%}" in completed.stdout
    assert "epoch 1/1  train loss" in completed.stdout and "val loss" in completed.stdout
    state = torch.load(folder / "trained.pt", weights_only=True)
    assert set(state) == set(export_state_dict(load_architecture(TEMPLATE_PATHS["lenet5"]),
                                               build_module(load_architecture(TEMPLATE_PATHS["lenet5"]))))


# Under torchrun each process imports train.py unchanged, runs its main(), and saves what its
# rank ended with; designer is blocked so the export must stand alone.
DDP_WORKER = """
import os, sys
sys.modules["designer"] = None
folder = sys.argv[1]
sys.path.insert(0, folder)
import torch
import train
model = train.main(sys.argv[2:])
torch.save(model.state_dict(), os.path.join(folder, f"rank{os.environ['RANK']}.pt"))
"""


def test_exported_train_py_runs_under_torchrun_with_two_processes_and_identical_weights(tmp_path, standalone):
    folder = tmp_path / "lenet"
    export_pytorch(load_architecture(TEMPLATE_PATHS["lenet5"]), folder)
    worker = tmp_path / "worker.py"
    worker.write_text(DDP_WORKER)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
               str(worker), str(folder), "--data", str(SAMPLE), "--epochs", "1", "--batch-size", "32",
               "--device", "cpu", "--save", str(folder / "trained.pt")]

    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Warning" not in completed.stderr, completed.stderr[-3000:]
    assert "2 process(es) on cpu" in completed.stdout
    assert completed.stdout.count("test accuracy") == 1  # only rank 0 prints
    record = json.loads((folder / "trained.json").read_text())
    assert record["test_accuracy"] >= 0.80, completed.stdout
    ranks = [torch.load(folder / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    saved = torch.load(folder / "trained.pt", weights_only=True)
    for key in ranks[0]:
        assert torch.equal(ranks[0][key], ranks[1][key]), key
        assert torch.equal(ranks[0][key], saved[key]), key

    # Two processes of batch 32 take the steps of one process of batch 64 (DistributedSampler's
    # interleaved shares of one seeded order; DDP averages the gradients).
    code = ("import runpy\n"
            f"sys.argv = ['train.py', '--data', {str(SAMPLE)!r}, '--epochs', '1', '--batch-size', '64', "
            f"'--device', 'cpu', '--save', 'single.pt']\n"
            "runpy.run_path('train.py', run_name='__main__')\n")
    single = standalone(code, folder, timeout=600)
    assert single.returncode == 0, single.stderr
    alone = torch.load(folder / "single.pt", weights_only=True)
    assert max(torch.max(torch.abs(alone[key] - saved[key])).item() for key in saved) <= 1e-5


def test_distributed_py_in_an_export_is_a_byte_identical_copy_and_stands_alone(tmp_path):
    folder = tmp_path / "export"
    export_pytorch(load_architecture(TEMPLATE_PATHS["resnet-mini"]), folder)
    assert (folder / "distributed.py").read_bytes() == DISTRIBUTED_SOURCE.read_bytes()
    imported = set()
    for node in ast.walk(ast.parse(DISTRIBUTED_SOURCE.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "os", "warnings", "dataclasses", "numpy", "torch"}


def test_the_same_design_and_weights_give_the_same_bytes(trained_lenet, tmp_path):
    graph, checkpoint, *_ = trained_lenet
    from designer.exchange.weights import from_checkpoint

    for folder in (tmp_path / "first", tmp_path / "second"):
        export_pytorch(graph, folder, from_checkpoint(graph, checkpoint))
    names = sorted(path.name for path in (tmp_path / "first").iterdir())
    assert names == sorted(path.name for path in (tmp_path / "second").iterdir())
    for name in names:
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes(), name


def test_generated_code_is_pep8_clean_for_every_template_and_awkward_ids(tmp_path):
    graphs = [load_architecture(path) for path in TEMPLATE_PATHS.values()] + [awkward_graph()]
    for index, graph in enumerate(graphs):
        export_pytorch(graph, tmp_path / f"export{index}")
    completed = subprocess.run([sys.executable, "-m", "flake8", "--max-line-length", "79", str(tmp_path)],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def awkward_graph() -> Graph:
    """Block ids that are keywords, nn.Module attributes, or differ only by '-' and '_'; a
    residual Add, a Concat, an FC on an image and a very long id."""
    graph = Graph("class")
    graph.add_block("Input", {"channels": 3, "height": 8, "width": 8}, (0, 0), "x")
    graph.add_block("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": "same"}, (0, 0), "train")
    graph.add_block("BatchNorm2d", {}, (0, 0), "forward")
    graph.add_block("ReLU", {}, (0, 0), "conv-1")
    graph.add_block("Conv2d", {"out_channels": 4, "kernel_size": 2, "padding": "same", "bias": False}, (0, 0),
                    "conv_1")
    graph.add_block("Add", {}, (0, 0), "class")
    graph.add_block("Concat", {}, (0, 0), "self")
    graph.add_block("LeakyReLU", {"negative_slope": 0.2}, (0, 0), "a" * 60)
    graph.add_block("AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, (0, 0), "pool")
    graph.add_block("Dropout", {"p": 0.25}, (0, 0), "drop")
    graph.add_block("FC", {"out_features": 5}, (0, 0), "torch")
    for source, target, port in (("x", "train", 0), ("train", "forward", 0), ("forward", "conv-1", 0),
                                 ("conv-1", "conv_1", 0), ("conv_1", "class", 0), ("conv-1", "class", 1),
                                 ("class", "self", 0), ("x", "self", 1), ("self", "a" * 60, 0),
                                 ("a" * 60, "pool", 0), ("pool", "drop", 0), ("drop", "torch", 0)):
        graph.connect(source, target, port)
    return graph


def test_awkward_block_ids_become_valid_python_with_the_same_outputs():
    graph = awkward_graph()
    names = attribute_names(graph)
    assert names["train"] == "train_" and names["forward"] == "forward_" and names["class"] == "class_"
    assert names["conv-1"] != names["conv_1"]
    namespace: dict = {}
    exec(compile(model_source(graph), "model.py", "exec"), namespace)
    weights = trained_weights_for(graph, seed=3)
    model = namespace["Model"]()
    model.load_state_dict(export_state_dict(graph, weights.module), strict=True)
    model.eval()
    images = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.max(torch.abs(model(images) - weights.module(images))).item() <= 1e-6
    assert namespace["Model"].__name__ == "Class"


def test_class_names_come_from_the_design_name():
    assert class_name("LeNet-5") == "LeNet5"
    assert class_name("VGG-16") == "VGG16"
    assert class_name("Small CNN (28×28, GAP head)") == "SmallCNN28x28GAPHead"
    assert class_name("3 layers") == "Net3Layers"
    assert class_name("") == "Network"
    assert class_name("none") == "NoneNet"


def test_an_output_folder_that_exists_is_refused_unless_forced(tmp_path, cli):
    folder = tmp_path / "out"
    assert cli("export", TEMPLATE_PATHS["lenet5"], "--output", folder)[0] == 0
    (folder / "model.py").write_text("# edited\n")

    code, _, err = cli("export", TEMPLATE_PATHS["lenet5"], "--output", folder)
    assert code == 2
    assert err.count("\n") == 1 and "already exists" in err and "--force" in err
    assert (folder / "model.py").read_text() == "# edited\n"

    code, _, err = cli("export", TEMPLATE_PATHS["lenet5"], "--output", folder, "--force")
    assert code == 0, err
    assert (folder / "model.py").read_text().startswith('"""LeNet-5 as a PyTorch module')
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]  # no temporary left behind


def test_force_never_replaces_a_folder_that_is_not_an_export(tmp_path, cli):
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work")

    code, _, err = cli("export", TEMPLATE_PATHS["lenet5"], "--output", folder, "--force")

    assert code == 2
    assert "not an earlier export" in err
    assert (folder / "thesis.txt").read_text() == "years of work"


def test_a_checkpoint_that_does_not_fit_the_design_is_refused_and_nothing_is_written(trained_lenet, tmp_path, cli):
    _, checkpoint, *_ = trained_lenet
    for output in (tmp_path / "code", tmp_path / "model.onnx"):
        code, _, err = cli("export", TEMPLATE_PATHS["mnist-cnn"], "--output", output, "--checkpoint", checkpoint)
        assert code == 2
        assert "do not fit the design" in err and err.count("\n") == 1
        assert not output.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_a_changed_activation_is_a_misfit_even_though_the_tensors_would_load(trained_lenet):
    graph, checkpoint, *_ = trained_lenet
    from designer.exchange.errors import ExchangeError
    from designer.exchange.weights import from_checkpoint

    changed = graph.copy()
    changed.remove_block("tanh1")
    changed.add_block("ReLU", {}, (0, 0), "tanh1")
    changed.connect("conv1", "tanh1")
    changed.connect("tanh1", "avgpool1")
    with pytest.raises(ExchangeError, match="'tanh1' is Tanh there but ReLU in the design"):
        from_checkpoint(changed, checkpoint)


def test_a_read_only_output_folder_is_a_one_line_error_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    import os
    import tempfile

    from designer.cli import main

    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        if os.access(parent, os.W_OK):  # root ignores permissions: make the file system refuse instead
            def refuse(*arguments, **options):
                raise PermissionError(13, "Permission denied")

            monkeypatch.setattr(tempfile, "mkdtemp", refuse)
            monkeypatch.setattr(tempfile, "mkstemp", refuse)
        for output in (parent / "code", parent / "model.onnx"):
            assert main(["export", str(TEMPLATE_PATHS["lenet5"]), "--output", str(output)]) == 2
            error = capsys.readouterr().err
            assert error.startswith("error: cannot write in ") and "Permission denied" in error
            assert error.count("\n") == 1
    finally:
        parent.chmod(0o755)
    assert list(parent.iterdir()) == []


def test_a_bad_design_file_is_exit_2(tmp_path, cli):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = cli("export", bad, "--output", tmp_path / "out")
    assert code == 2 and "not valid JSON" in err
    assert not (tmp_path / "out").exists()


def test_an_invalid_design_cannot_be_exported(tmp_path):
    graph = Graph("broken")
    chain(graph, [("Input", {}), ("Conv2d", {"kernel_size": 50})])
    from designer.exchange.errors import ExchangeError

    with pytest.raises(ExchangeError, match="cannot be built"):
        export_pytorch(graph, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_untrained_export_says_so_and_has_no_weights(tmp_path, cli):
    code, out, err = cli("export", TEMPLATE_PATHS["mnist-cnn-gap"], "--output", tmp_path / "gap")
    assert code == 0, err
    assert "weights: none" in out and "--checkpoint" in out
    assert {path.name for path in (tmp_path / "gap").iterdir()} == EXPORT_FILES
    assert "random weights" in (tmp_path / "gap" / "README.md").read_text()
    assert untrained(load_architecture(TEMPLATE_PATHS["mnist-cnn-gap"])).trained is False


def test_the_generated_readme_names_the_commands():
    text = Path(ROOT / "designer" / "exchange" / "templates" / "README.md").read_text()
    assert "python -m torch.distributed.run --nproc_per_node 2 train.py --data DIR" in text


def test_the_onnx_extra_is_part_of_the_test_extra_and_the_templates_are_installed():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = project["project"]["optional-dependencies"]
    assert {requirement.split(">")[0] for requirement in extras["onnx"]} == {"onnx", "onnxscript", "onnxruntime"}
    assert "network-designer[onnx]" in extras["test"]
    assert "templates/*" in project["tool"]["setuptools"]["package-data"]["designer.exchange"]


def test_import_into_a_read_only_folder_is_a_one_line_error(tmp_path, monkeypatch, cli):
    import os
    import tempfile

    model = tmp_path / "model.onnx"
    from designer.exchange.onnx_export import export_onnx

    export_onnx(load_architecture(TEMPLATE_PATHS["lenet5"]), model)
    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        if os.access(parent, os.W_OK):  # root ignores permissions: make the file system refuse instead
            def refuse(*arguments, **options):
                raise PermissionError(13, "Permission denied")

            monkeypatch.setattr(tempfile, "mkstemp", refuse)
        code, _, err = cli("import", model, "--output", parent / "design.json", "--weights", parent / "w.pt")
        assert code == 2
        assert err.startswith("error: cannot write in ") and "Permission denied" in err and err.count("\n") == 1
    finally:
        parent.chmod(0o755)
    assert list(parent.iterdir()) == []


def test_the_commands_and_exchange_modules_load_nothing_heavy_until_used():
    code = ("import sys, designer.cli, designer.exchange.cli, designer.exchange.onnx_import, "
            "designer.exchange.onnx_export, designer.exchange.pytorch_code, designer.exchange.weights\n"
            "designer.cli.build_command_parser()\n"
            "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime', 'onnxscript', 'PySide6') if m in sys.modules))")
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
