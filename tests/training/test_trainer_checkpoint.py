"""Checkpoints: one file with the design and its weights; anything else is a CheckpointError."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from designer.core import DesignerError, Graph, chain, load_architecture, TEMPLATES
from designer.nn import build_module
from designer.training import (CheckpointError, TrainConfig, Trainer, load_checkpoint, predict,
                               save_checkpoint)

sys.path.insert(0, str(Path(__file__).parent))
from test_trainer_support import tiny_dataset, tiny_graph  # noqa: E402

from designer.training.checkpoint_checks import checksum_record  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    dataset = tiny_dataset()
    graph = tiny_graph()
    trainer = Trainer(graph, TrainConfig(epochs=1, batch_size=16, device="cpu"), dataset=dataset)
    result = trainer.run()
    path = tmp_path_factory.mktemp("checkpoint") / "model.pt"
    save_checkpoint(path, graph, trainer.module, trainer.config, result, trainer.normalisation, dataset.class_names)
    return trainer, result, dataset, path


def test_a_checkpoint_loads_back_into_a_model_with_identical_outputs(trained):
    trainer, result, dataset, path = trained
    graph, module, metadata = load_checkpoint(path)

    assert graph.topological_order() == trainer.graph.topological_order()
    assert {block.id: block.params for block in graph} == {block.id: block.params for block in trainer.graph}
    assert not module.training
    images = torch.from_numpy(dataset.test_images)
    trainer.module.eval()
    with torch.no_grad():
        expected = trainer.module(trainer.normalisation.apply(images))
        actual = module(metadata.normalisation.apply(images))
    assert torch.equal(expected, actual)
    assert (predict(module, dataset.test_images, normalisation=metadata.normalisation) ==
            predict(trainer.module, dataset.test_images, normalisation=trainer.normalisation)).all()
    assert metadata.config == trainer.config
    assert metadata.result == result
    assert metadata.normalisation == trainer.normalisation
    assert metadata.class_names == dataset.class_names
    assert metadata.torch_version == torch.__version__


def test_a_template_with_batchnorm_keeps_its_running_statistics(tmp_path):
    graph = Graph("bn")
    chain(graph, [("Input", {"channels": 1, "height": 8, "width": 8}),
                  ("Conv2d", {"out_channels": 4, "kernel_size": 3}),
                  ("BatchNorm2d", {}),
                  ("ReLU", {}),
                  ("FC", {"out_features": 3})])
    module = build_module(graph)
    module.train()
    module(torch.randn(16, 1, 8, 8) * 3 + 1)  # moves the running mean and variance
    save_checkpoint(tmp_path / "bn.pt", graph, module)
    _, loaded, metadata = load_checkpoint(tmp_path / "bn.pt")
    module.eval()
    probe = torch.randn(4, 1, 8, 8)
    assert torch.equal(module(probe), loaded(probe))
    assert metadata.config is None and metadata.result is None and metadata.normalisation is None


def test_saving_twice_replaces_the_file_and_leaves_no_temporary_files(trained, tmp_path):
    trainer, result, dataset, _ = trained
    path = tmp_path / "model.pt"
    for _ in range(2):
        save_checkpoint(path, trainer.graph, trainer.module, trainer.config, result, trainer.normalisation)
    assert [entry.name for entry in tmp_path.iterdir()] == ["model.pt"]


def _rewrite(path: Path, target: Path, change, *, reseal: bool = True) -> Path:
    """A changed copy; resealed with a matching checksum, as a deliberately crafted file would be,
    so that the checks behind the checksum are what is tested."""
    document = torch.load(path, weights_only=True)
    change(document)
    if reseal and "checksum" in document:
        document["checksum"] = checksum_record(document)
    torch.save(document, target)
    return target


class Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize("make, words", [
    (lambda tmp, good: tmp / "missing.pt", "no such file"),
    (lambda tmp, good: (tmp / "random.pt").write_bytes(b"\x00\x01garbage" * 50) and tmp / "random.pt",
     "not a Network Designer checkpoint, or it is damaged"),
    (lambda tmp, good: (tmp / "cut.pt").write_bytes(good.read_bytes()[:2000]) and tmp / "cut.pt",
     "damaged"),
    (lambda tmp, good: (tmp / "arch.json").write_bytes((TEMPLATES / "lenet5.json").read_bytes()) and tmp / "arch.json",
     "damaged"),
    (lambda tmp, good: torch.save({"weight": torch.zeros(2)}, tmp / "foreign.pt") or tmp / "foreign.pt",
     "not a Network Designer checkpoint"),
    (lambda tmp, good: torch.save(torch.zeros(3), tmp / "tensor.pt") or tmp / "tensor.pt",
     "not a Network Designer checkpoint"),
    (lambda tmp, good: torch.save({"format": "network-designer/checkpoint", "x": Evil()}, tmp / "evil.pt")
     or tmp / "evil.pt", "could run code"),
    (lambda tmp, good: _rewrite(good, tmp / "newer.pt", lambda d: d.update(version=2)), "newer version"),
    (lambda tmp, good: _rewrite(good, tmp / "arch.pt", lambda d: d["architecture"].update(blocks="x")),
     "architecture inside is invalid"),
    (lambda tmp, good: _rewrite(good, tmp / "noweights.pt", lambda d: d.pop("state_dict")),
     "weights are missing"),
    (lambda tmp, good: _rewrite(good, tmp / "extra.pt", lambda d: d["state_dict"].update(extra=torch.ones(1))),
     "do not fit the architecture"),
    (lambda tmp, good: _rewrite(good, tmp / "size.pt",
                                lambda d: d["state_dict"].update({key: torch.zeros(1) for key in
                                                                  list(d["state_dict"])[:1]})),
     "do not fit the architecture"),
    (lambda tmp, good: _rewrite(good, tmp / "record.pt", lambda d: d.update(normalisation={"mean": [0.1]})),
     "training record inside is damaged"),
])
def test_a_broken_or_foreign_file_raises_checkpoint_error_only(trained, tmp_path, capsys, make, words):
    path = make(tmp_path, trained[3])
    with pytest.raises(CheckpointError, match=words) as caught:
        load_checkpoint(path)
    assert isinstance(caught.value, DesignerError)
    assert "this must never run" not in capsys.readouterr().out


def test_a_checkpoint_of_a_real_template_round_trips(tmp_path):
    graph = load_architecture(TEMPLATES / "lenet5.json")
    module = build_module(graph)
    save_checkpoint(tmp_path / "lenet.pt", graph, module)
    loaded_graph, loaded, _ = load_checkpoint(tmp_path / "lenet.pt")
    assert loaded_graph.name == graph.name
    module.eval()
    probe = torch.randn(2, 1, 28, 28)
    assert torch.equal(module(probe), loaded(probe))
