"""Image folders, augmentation and schedules through the run path: the command line, the trainer, the runs folder."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from designer.core import save_architecture
from designer.training import TrainConfig, Trainer
from designer.training.records import RESIZE_MODES, TrainingCallback
from designer.training.run import (DatasetLoaded, DecodingProgress, RunControl, RunRequest, StatusChanged, refusal,
                                   run)

ROOT = Path(__file__).resolve().parents[2]


def folder_config(folder, **settings) -> TrainConfig:
    values = dict(dataset="folder", data_folder=str(folder), epochs=6, batch_size=8, learning_rate=3e-3,
                  device="cpu", download=False)
    values.update(settings)
    return TrainConfig(**values)


def test_the_resize_modes_are_the_decoders():
    from designer.data.image_decode import RESIZE_MODES as DECODER_MODES

    assert RESIZE_MODES == DECODER_MODES


def test_the_command_line_trains_a_generated_image_folder_and_the_second_run_reads_the_cache(
        tmp_path, colour_folder, colour_network):
    design = tmp_path / "colours.json"
    save_architecture(colour_network(), design)

    def train(output, *extra):
        return subprocess.run([sys.executable, str(ROOT / "main.py"), "train", str(design), "--dataset", "folder",
                               "--data-folder", str(colour_folder), "--epochs", "6", "--batch-size", "8",
                               "--lr", "0.003", "--output", str(output), *extra],
                              capture_output=True, text=True, timeout=180, cwd=tmp_path)

    first = train(tmp_path / "first", "--augment", "flip", "--schedule", "cosine", "--resize", "letterbox")
    assert first.returncode == 0, first.stderr
    # What was skipped is counted and named, and the classes are the folder names.
    assert "3 classes (blue, green, red)" in first.stdout
    assert "skipped 4 files that cannot be used: " in first.stdout and "red/empty.jpg (empty file" in first.stdout
    assert "decoded into the cache" in first.stdout and "read from the cache" not in first.stdout
    assert "reading images:" in first.stderr  # the progress line
    history = json.loads((tmp_path / "first" / "history.json").read_text())
    assert history["config"]["augment"] == "flip" and history["config"]["resize"] == "letterbox"
    assert history["run"]["class_names"] == ["blue", "green", "red"]
    assert history["design"] == {"name": "colours", "parameters": 1763, "file": "design.json"}
    rates = [epoch["learning_rate"] for epoch in history["result"]["history"]]
    assert rates == pytest.approx([0.003 * (1 + math.cos(math.pi * epoch / 6)) / 2 for epoch in range(6)])
    assert history["result"]["test_accuracy"] >= 0.9
    assert sorted(path.name for path in (tmp_path / "first").iterdir()) == \
        ["checkpoint.pt", "design.json", "history.csv", "history.json"]

    second = train(tmp_path / "second", "--resize", "letterbox")
    assert second.returncode == 0, second.stderr
    assert "read from the cache" in second.stdout and "its decoded copy in the cache" in second.stdout
    # Another resize mode is another target: decoded again.
    third = train(tmp_path / "third", "--epochs", "1")
    assert "decoded into the cache" in third.stdout


def test_a_misfit_or_a_missing_folder_is_refused_before_anything_is_decoded(tmp_path, colour_folder, colour_network):
    request = RunRequest.of(colour_network(classes=10), folder_config(colour_folder))
    refused = refusal(request)
    assert refused is not None and refused.result.failure == "output-shape"
    assert "image folder colours has 3 classes" in refused.result.message
    no_folder = refusal(RunRequest.of(colour_network(), folder_config(colour_folder, data_folder=None)))
    assert no_folder.result.failure == "dataset" and "--data-folder DIR" in no_folder.result.message
    two_channels = refusal(RunRequest.of(colour_network(channels=2), folder_config(colour_folder)))
    assert two_channels.result.failure == "dataset" and "1 (grey) or 3 (RGB)" in two_channels.result.message
    bad = refusal(RunRequest.of(colour_network(), folder_config(colour_folder, augment="spin:3", schedule="linear")))
    assert bad.result.failure == "config"
    assert "augmentation: unknown augmentation 'spin'" in bad.result.message and "unknown schedule" in bad.result.message
    assert not (tmp_path / "cache" / "network-designer").exists()  # nothing was decoded


def test_the_run_path_reports_decoding_the_folder_and_what_was_skipped(colour_folder, colour_network):
    events = []
    ended = run(RunRequest.of(colour_network(), folder_config(colour_folder, epochs=1)), events.append)
    assert ended.status == "finished", ended.result.message
    decoding = [event for event in events if isinstance(event, DecodingProgress)]
    assert decoding and decoding[-1].done == decoding[-1].total == 39  # 36 pictures and 3 broken ones
    (loaded,) = [event for event in events if isinstance(event, DatasetLoaded)]
    assert loaded.class_names == ("blue", "green", "red") and loaded.skipped_count == 4
    assert "red/empty.jpg (empty file (0 bytes))" in loaded.skipped and not loaded.from_cache
    assert any(isinstance(event, StatusChanged) and "image folder" in event.text for event in events)
    assert ended.outcome.class_names == ("blue", "green", "red")

    events.clear()
    again = run(RunRequest.of(colour_network(), folder_config(colour_folder, epochs=1)), events.append)
    (loaded,) = [event for event in events if isinstance(event, DatasetLoaded)]
    assert loaded.from_cache and loaded.decoded == 0  # nothing decoded the second time
    # Same seed, same cached pixels: the same run (but for its time).
    assert [(m.train_loss, m.validation_loss) for m in again.result.history] == \
        [(m.train_loss, m.validation_loss) for m in ended.result.history]


def test_stopping_while_the_folder_is_read_ends_the_run_stopped(colour_folder, colour_network):
    control = RunControl()

    def emit(event) -> None:
        if isinstance(event, StatusChanged):
            control.stop()

    ended = run(RunRequest.of(colour_network(), folder_config(colour_folder)), emit, control)
    assert ended.status == "stopped" and "reading the image folder was cancelled" in ended.result.message


class _Inputs:
    """Every batch the network sees, with whether it was training (forward pre-hook)."""

    def __init__(self) -> None:
        self.training: list[torch.Tensor] = []
        self.evaluation: list[torch.Tensor] = []

    def hook(self, module, arguments) -> None:
        (self.training if module.training else self.evaluation).append(arguments[0].detach().clone())


def _spied_run(monkeypatch, graph, config):
    import designer.training.trainer as trainer_module
    from designer.nn import build_module as original

    spy = _Inputs()

    def build_and_spy(graph):
        module = original(graph)
        module.register_forward_pre_hook(spy.hook)
        return module

    monkeypatch.setattr(trainer_module, "build_module", build_and_spy)
    trainer = Trainer(graph, config)
    result = trainer.run()
    assert result.status == "finished", result.message
    return trainer, spy


def test_augmentation_changes_the_training_batches_and_never_the_validation_or_test_images(
        monkeypatch, tiny_mnist_graph):
    config = TrainConfig(epochs=1, batch_size=500, device="cpu", validation_fraction=0.1, seed=5)
    _plain_trainer, plain = _spied_run(monkeypatch, tiny_mnist_graph(), config)
    trainer, augmented = _spied_run(monkeypatch, tiny_mnist_graph(),
                                    TrainConfig(**{**config.to_dict(), "augment": "shift:3,flip"}))

    # The same images in the same order (same seed), each batch moved or mirrored.
    assert len(plain.training) == len(augmented.training) == 8  # 3,600 images in batches of 500
    for before, after in zip(plain.training, augmented.training):
        assert before.shape == after.shape and not torch.equal(before, after)
    # Validation and test go through evaluation: exactly the stored images, normalised, in both runs.
    assert len(plain.evaluation) == len(augmented.evaluation) > 0
    for before, after in zip(plain.evaluation, augmented.evaluation):
        assert torch.equal(before, after)
    # The last evaluation is the test set (1,000 images in batches of 500): the stored pixels, normalised.
    test = trainer.normalisation.apply(torch.from_numpy(trainer.dataset.test_images))
    assert torch.allclose(torch.cat(augmented.evaluation[-2:]), test, atol=1e-5)


def test_augmentation_is_seeded_by_the_run_and_differs_between_processes(tiny_mnist_graph):
    from designer.training.trainer import _augmenter

    config = TrainConfig(augment="shift:4", seed=3)
    batch = torch.arange(2 * 28 * 28, dtype=torch.uint8).reshape(2, 1, 28, 28).repeat(8, 1, 1, 1)
    first, again = _augmenter(config, batch.shape, 0), _augmenter(config, batch.shape, 0)
    other_rank = _augmenter(config, batch.shape, 1)
    assert torch.equal(first.apply_to(batch), again.apply_to(batch))
    assert not torch.equal(_augmenter(config, batch.shape, 0).apply_to(batch), other_rank.apply_to(batch))
    assert _augmenter(TrainConfig(), batch.shape, 0) is None


class _Rates(TrainingCallback):
    def __init__(self) -> None:
        self.batches: list[float] = []

    def on_batch_end(self, metrics) -> None:
        self.batches.append(metrics.learning_rate)


@pytest.mark.parametrize("schedule, expected", [
    ("step:2:0.5", lambda epoch: 0.01 * 0.5 ** (epoch // 2)),
    ("cosine", lambda epoch: 0.01 * (1 + math.cos(math.pi * epoch / 4)) / 2),
    ("none", lambda epoch: 0.01),
])
def test_the_trainer_steps_each_epoch_schedule_and_the_history_records_it(tiny_mnist_graph, schedule, expected):
    rates = _Rates()
    config = TrainConfig(epochs=4, batch_size=1000, device="cpu", learning_rate=0.01, schedule=schedule)
    result = Trainer(tiny_mnist_graph(), config, [rates]).run()
    assert [metrics.learning_rate for metrics in result.history] == pytest.approx([expected(e) for e in range(4)])
    per_epoch = len(rates.batches) // 4
    assert rates.batches[::per_epoch] == pytest.approx([expected(e) for e in range(4)])


def test_one_cycle_changes_the_rate_every_batch_from_lr_over_25_to_the_peak_and_down(tiny_mnist_graph):
    rates = _Rates()
    config = TrainConfig(epochs=3, batch_size=400, device="cpu", learning_rate=0.01, schedule="onecycle")
    result = Trainer(tiny_mnist_graph(), config, [rates]).run()
    steps = len(rates.batches)
    assert steps == 27  # 9 batches of the 3,600 training images, 3 epochs

    def cosine(start, end, share):
        return end + (start - end) / 2 * (1 + math.cos(math.pi * share))

    top = 0.3 * steps - 1  # the step at which the rise ends (torch's OneCycleLR)
    expected = [cosine(0.01 / 25, 0.01, step / top) if step <= top else
                cosine(0.01, 0.01 / 25 / 1e4, (step - top) / (steps - 1 - top)) for step in range(steps)]
    assert rates.batches == pytest.approx(expected, rel=1e-6)
    assert result.history[-1].learning_rate == rates.batches[-1]


def test_plateau_lowers_the_rate_when_the_validation_loss_stops_falling(tiny_mnist_graph):
    config = TrainConfig(epochs=6, batch_size=1000, device="cpu", learning_rate=0.5, optimizer="sgd",
                         schedule="plateau:0:0.5")
    result = Trainer(tiny_mnist_graph(), config).run()
    rates = [metrics.learning_rate for metrics in result.history]
    losses = [metrics.validation_loss for metrics in result.history]
    best, expected = math.inf, [0.5]
    for loss in losses[:-1]:  # patience 0: every epoch that does not beat the best halves the rate
        improved = loss < best * (1 - 1e-4)
        best = min(best, loss)
        expected.append(expected[-1] * (1 if improved else 0.5))
    assert rates == pytest.approx(expected)


def test_a_reflect_crop_larger_than_the_images_is_refused_with_a_message(tiny_mnist_graph):
    result = Trainer(tiny_mnist_graph(), TrainConfig(epochs=1, device="cpu", augment="crop:40:reflect")).run()
    assert result.status == "failed" and result.failure == "config"
    assert "crop:40:reflect needs images larger than 40 pixels, not 28×28" in result.message


def test_a_saved_run_folder_appears_whole_and_is_read_back_without_torch(tmp_path, tiny_mnist_graph):
    from designer.training.run_folder import new_run_folder, save_run
    from designer.training.run_history import list_runs, read_run

    graph = tiny_mnist_graph()
    config = TrainConfig(epochs=2, batch_size=1000, device="cpu", augment="flip")
    trainer = Trainer(graph, config)
    result = trainer.run()
    folder = new_run_folder(tmp_path / "runs", "tiny net!")
    assert folder.name.startswith("tiny-net-")
    save_run(folder, graph, config, result, trainer.info, module=trainer.module,
             normalisation=trainer.normalisation, class_names=trainer.dataset.class_names)
    assert [path.name for path in (tmp_path / "runs").iterdir()] == [folder.name]  # no temporary left
    record = read_run(folder)
    assert record.readable and record.design_name == "tiny" and record.dataset == "mnist-sample"
    assert record.settings == config.summary() and "augment flip" in record.settings
    assert record.test_accuracy == result.test_accuracy and record.epochs == (1, 2)
    assert record.best_validation_accuracy == max(metrics.validation_accuracy for metrics in result.history)
    assert record.checkpoint is not None and record.design is not None
    assert new_run_folder(tmp_path / "runs", "tiny net!", record.created).name.endswith("-2")  # same second
    assert [entry.name for entry in list_runs(tmp_path / "runs")] == [folder.name]

    code = ("import sys; from designer.training.run_history import list_runs; "
            f"runs = list_runs({str(tmp_path / 'runs')!r}); assert runs[0].readable; "
            "assert 'torch' not in sys.modules, 'torch was loaded'")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr


def test_broken_and_foreign_folders_in_the_runs_folder_are_listed_as_unreadable(tmp_path):
    from designer.training.run_history import RunDeletionError, delete_run, list_runs

    runs = tmp_path / "runs"
    for name, text in (("not-json", "{"), ("foreign", '{"format": "something/else"}'),
                       ("newer", '{"format": "network-designer/history", "version": 99, "result": {}}'),
                       ("damaged", '{"format": "network-designer/history", "version": 1, "result": {"x": 1}}'),
                       ("list", "[1, 2]")):
        (runs / name).mkdir(parents=True)
        (runs / name / "history.json").write_text(text)
    (runs / "photos").mkdir()
    (runs / "notes.txt").write_text("not a folder")
    (runs / ".half-written.123.tmp").mkdir()
    records = {record.name: record for record in list_runs(runs)}
    assert sorted(records) == ["damaged", "foreign", "list", "newer", "not-json", "photos"]
    assert all(not record.readable and record.problem for record in records.values())
    assert "not valid JSON" in records["not-json"].problem and "newer version" in records["newer"].problem
    assert "no history.json" in records["photos"].problem
    with pytest.raises(RunDeletionError, match="not a run folder"):
        delete_run(records["photos"])
    assert (runs / "photos").is_dir()
    assert list_runs(tmp_path / "nowhere") == []


def test_the_settings_of_an_older_checkpoint_take_the_new_defaults_and_bad_ones_are_noted():
    from designer.training.checkpoint_checks import sane_config

    config, notes = sane_config({"epochs": 3})
    assert config.augment == "" and config.schedule == "" and config.resize == "crop" and notes == []
    config, notes = sane_config({"augment": "spin", "schedule": 5, "resize": "zoom"})
    assert (config.augment, config.schedule, config.resize) == ("", "", "crop") and len(notes) == 3


@pytest.fixture
def tiny_mnist_graph():
    def make():
        from designer.core import Graph, chain

        graph = Graph("tiny")
        chain(graph, [("Input", {"channels": 1, "height": 28, "width": 28}),
                      ("Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2}), ("ReLU", {}),
                      ("FC", {"out_features": 10})])
        return graph

    return make
