"""Checkpoints that were altered, damaged or hold odd contents (issue 14, defects 6 and 7; issue 10, 7.1).

A checkpoint carries a SHA-256 of its contents; a changed byte is refused. Weights that are
not finite are refused; other floating-point precisions are converted with a note; settings
that cannot be right take their defaults with a note. The file is written through
designer.core.atomic, so it gets the usual permissions and never half a file.
"""

from __future__ import annotations

import os
import pickle
import stat
import zipfile
from pathlib import Path

import pytest
import torch

from designer.core import load_architecture, TEMPLATES
from designer.nn import build_module
from designer.training import CheckpointError, TrainConfig, load_checkpoint, save_checkpoint
from designer.training.checkpoint_checks import checksum_record


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    graph = load_architecture(TEMPLATES / "lenet5.json")
    torch.manual_seed(0)
    module = build_module(graph)
    path = tmp_path_factory.mktemp("checkpoints") / "lenet.pt"
    save_checkpoint(path, graph, module, TrainConfig(epochs=2), class_names=[str(digit) for digit in range(10)])
    return path, module


def rewritten(source: Path, target: Path, change, *, reseal: bool = True) -> Path:
    document = torch.load(source, weights_only=True)
    change(document)
    if reseal:
        document["checksum"] = checksum_record(document)
    torch.save(document, target)
    return target


def refusal(path: Path) -> str:
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 500
    return message


# ------------------------------------------------------------------ 6. a malicious pickle


class RunsAProgram:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


class CallsEval:
    def __reduce__(self):
        return (eval, ("print('this must never run')",))


@pytest.mark.parametrize("make", [
    lambda path: torch.save({"format": "network-designer/checkpoint", "x": RunsAProgram()}, path),
    lambda path: torch.save(CallsEval(), path),
    lambda path: torch.save({"state_dict": {"w": torch.zeros(1)}, "hook": CallsEval()}, path),
], ids=["os.system", "eval", "beside tensors"])
def test_a_malicious_pickle_is_refused_without_torchs_advice(tmp_path, capfd, make):
    path = tmp_path / "evil.pt"
    make(path)
    message = refusal(path)
    assert "holds objects that Network Designer never writes" in message and "was not loaded" in message
    for advice in ("weights_only", "Re-running", "torch.load", "add_safe_globals", "trust"):
        assert advice not in message, message
    assert "this must never run" not in capfd.readouterr().out


def test_a_plain_pickle_or_garbage_is_not_a_checkpoint_and_quotes_no_torch_advice(tmp_path):
    (tmp_path / "plain.pt").write_bytes(pickle.dumps({"a": 1}))
    (tmp_path / "noise.pt").write_bytes(b"\x00\x01garbage" * 50)
    for name in ("plain.pt", "noise.pt"):
        message = refusal(tmp_path / name)
        assert "not a Network Designer checkpoint, or it is damaged" in message
        assert "weights_only" not in message and "Re-running" not in message


# ------------------------------------------------------------------ 7. checksum


def tensor_data_offset(path: Path) -> int:
    """Where the first tensor's bytes start in the file (torch stores them uncompressed)."""
    with zipfile.ZipFile(path) as archive:
        entry = next(info for info in archive.infolist() if "/data/" in info.filename)
    with open(path, "rb") as handle:
        handle.seek(entry.header_offset + 26)
        name_length, extra_length = int.from_bytes(handle.read(2), "little"), int.from_bytes(handle.read(2), "little")
    return entry.header_offset + 30 + name_length + extra_length


def test_one_flipped_byte_in_the_weights_is_refused(saved, tmp_path):
    source, _ = saved
    data = bytearray(source.read_bytes())
    data[tensor_data_offset(source) + 5] ^= 0x10
    damaged = tmp_path / "flipped.pt"
    damaged.write_bytes(bytes(data))
    assert not torch.equal(torch.load(damaged, weights_only=True)["state_dict"]["blocks.conv1.weight"],
                           torch.load(source, weights_only=True)["state_dict"]["blocks.conv1.weight"])
    message = refusal(damaged)
    assert "damaged" in message and "checksum" in message and "not loaded" in message


def test_a_changed_setting_or_weight_without_a_new_checksum_is_refused(saved, tmp_path):
    source, _ = saved
    for name, change in {
        "settings": lambda document: document["config"].update(epochs=3),
        "weights": lambda document: document["state_dict"]["blocks.fc1.1.bias"].add_(1e-6),
        "architecture": lambda document: document["architecture"].update(name="Other"),
        "renamed tensor": lambda document: document["state_dict"].update(
            {"blocks.fc9.bias": document["state_dict"].pop("blocks.fc1.1.bias")}),
    }.items():
        message = refusal(rewritten(source, tmp_path / f"{name}.pt", change, reseal=False))
        assert "no longer match the checksum" in message, name


def test_a_damaged_checksum_record_is_refused(saved, tmp_path):
    source, _ = saved
    message = refusal(rewritten(source, tmp_path / "record.pt", lambda document: document.update(checksum="x"),
                                reseal=False))
    assert "checksum record is damaged" in message


def test_a_checkpoint_without_a_checksum_still_loads_and_says_so(saved, tmp_path):
    source, module = saved
    old = rewritten(source, tmp_path / "old.pt", lambda document: document.pop("checksum"), reseal=False)
    _, loaded, metadata = load_checkpoint(old)
    assert any("without a checksum" in note for note in metadata.notes)
    probe = torch.randn(2, 1, 28, 28)
    module.eval()
    assert torch.equal(module(probe), loaded(probe))


def test_a_good_checkpoint_has_no_notes(saved):
    _, _, metadata = load_checkpoint(saved[0])
    assert metadata.notes == ()


# ------------------------------------------------------------------ 7. odd weights


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_weights_that_are_not_finite_are_refused(saved, tmp_path, value):
    def poison(document):
        document["state_dict"]["blocks.fc2.weight"][0, 0] = value

    message = refusal(rewritten(saved[0], tmp_path / "nan.pt", poison))
    assert "NaN or infinite" in message and "blocks.fc2.weight" in message and "not loaded" in message


def test_float64_weights_are_converted_with_a_note(saved, tmp_path):
    def widen(document):
        document["state_dict"] = {key: value.double() for key, value in document["state_dict"].items()}

    _, loaded, metadata = load_checkpoint(rewritten(saved[0], tmp_path / "wide.pt", widen))
    assert all(parameter.dtype == torch.float32 for parameter in loaded.parameters())
    assert any("float64" in note and "converted to float32" in note for note in metadata.notes), metadata.notes
    module = saved[1].eval()
    probe = torch.randn(2, 1, 28, 28)
    assert torch.allclose(module(probe), loaded(probe))


def test_float64_weights_beyond_float32_are_refused(saved, tmp_path):
    def huge(document):
        state = {key: value.double() for key, value in document["state_dict"].items()}
        state["blocks.fc3.bias"][0] = 1e300
        document["state_dict"] = state

    assert "after conversion to float32" in refusal(rewritten(saved[0], tmp_path / "huge.pt", huge))


def test_integer_weights_are_refused(saved, tmp_path):
    def integers(document):
        document["state_dict"]["blocks.fc1.1.weight"] = document["state_dict"]["blocks.fc1.1.weight"].to(torch.int32)

    assert "wrong type" in refusal(rewritten(saved[0], tmp_path / "int.pt", integers))


# ------------------------------------------------------------------ 7. odd settings


def test_garbage_settings_take_their_defaults_with_a_note(saved, tmp_path):
    def garble(document):
        document["config"].update(epochs="many", batch_size=10**30, learning_rate=float("nan"), optimizer=["x"],
                                  seed=-5, device="quantum", momentum=2.0, dataset="x" * 100_000)

    _, _, metadata = load_checkpoint(rewritten(saved[0], tmp_path / "settings.pt", garble))
    config = metadata.config
    defaults = TrainConfig()
    assert (config.epochs, config.batch_size, config.learning_rate, config.optimizer) == \
           (defaults.epochs, defaults.batch_size, defaults.learning_rate, defaults.optimizer)
    assert len(metadata.notes) == 6 and "and 3 more settings" in metadata.notes[-1]
    assert "setting 'epochs' was 'many', not a whole number from 1 to 1,000,000" in metadata.notes[1]
    assert all(len(note) < 200 for note in metadata.notes)


def test_a_good_setting_survives_beside_a_bad_one(saved, tmp_path):
    def garble(document):
        document["config"].update(batch_size=-1)

    _, _, metadata = load_checkpoint(rewritten(saved[0], tmp_path / "partly.pt", garble))
    assert metadata.config.epochs == 2 and metadata.config.batch_size == TrainConfig().batch_size


@pytest.mark.parametrize("normalisation", [
    {"mean": [float("nan")], "std": [1.0]}, {"mean": [0.1], "std": [0.0]}, {"mean": [0.1, 0.2], "std": [1.0, 1.0]},
])
def test_impossible_input_statistics_are_refused(saved, tmp_path, normalisation):
    message = refusal(rewritten(saved[0], tmp_path / "stats.pt",
                                lambda document: document.update(normalisation=normalisation)))
    assert "training record inside is damaged" in message


# ------------------------------------------------------------------ issue 10, 7.1: written through core.atomic


def test_a_checkpoint_gets_the_usual_permissions(tmp_path):
    graph = load_architecture(TEMPLATES / "lenet5.json")
    previous = os.umask(0o022)
    try:
        save_checkpoint(tmp_path / "fresh.pt", graph, build_module(graph))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "fresh.pt").stat().st_mode) == 0o644
    shared = tmp_path / "shared.pt"
    shared.write_bytes(b"old")
    shared.chmod(0o664)
    save_checkpoint(shared, graph, build_module(graph))
    assert stat.S_IMODE(shared.stat().st_mode) == 0o664


def test_a_failed_save_keeps_the_old_checkpoint(saved, tmp_path, monkeypatch):
    graph = load_architecture(TEMPLATES / "lenet5.json")
    target = tmp_path / "keep.pt"
    target.write_bytes(saved[0].read_bytes())

    def broken_save(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(CheckpointError, match="No space left"):
        save_checkpoint(target, graph, build_module(graph))
    assert target.read_bytes() == saved[0].read_bytes()
    assert [path.name for path in tmp_path.iterdir()] == ["keep.pt"]
