"""The training engine on tiny data: what a person (or the window) would notice."""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from designer.core import Graph, chain
from designer.data import DatasetError
from designer.training import Normalisation, TrainConfig, Trainer, evaluate, predict, stratified_split
from designer.training.records import RunInfo

sys.path.insert(0, str(Path(__file__).parent))  # the support module beside this file, in any import mode
from test_trainer_support import Recorder, tiny_dataset, tiny_graph  # noqa: E402


def train(graph=None, dataset=None, callbacks=(), **settings):
    config = TrainConfig(**{"epochs": 2, "batch_size": 16, "learning_rate": 0.01, "device": "cpu", **settings})
    trainer = Trainer(graph or tiny_graph(), config, callbacks, dataset=dataset or tiny_dataset())
    return trainer, trainer.run()


def test_a_run_learns_reports_every_batch_and_epoch_and_ends_with_test_figures():
    recorder = Recorder()
    trainer, result = train(callbacks=[recorder], epochs=3)

    assert result.status == "finished", result.message
    assert result.failure is None
    info = recorder.of("start")[0]
    assert isinstance(info, RunInfo)
    assert (info.train_samples, info.validation_samples, info.test_samples) == (135, 15, 60)
    assert info.batches_per_epoch == math.ceil(135 / 16)
    batches = recorder.of("batch")
    assert len(batches) == 3 * info.batches_per_epoch
    assert [metrics.step for metrics in batches] == list(range(1, len(batches) + 1))
    assert all(type(metrics.loss) is float and 0 <= metrics.accuracy <= 1 for metrics in batches)
    epochs = recorder.of("epoch")
    assert [metrics.epoch for metrics in epochs] == [1, 2, 3]
    assert result.history == epochs
    assert result.epochs_completed == 3
    assert result.test_accuracy > 0.9, "the bands are easy to tell apart"
    assert sum(map(sum, result.confusion_matrix)) == 60
    assert len(result.confusion_matrix) == 3
    assert recorder.events[-1] == ("finished", result), "on_finished comes last, once"
    assert "test accuracy" in result.message


def test_the_trained_module_and_its_normalisation_are_available_for_prediction():
    dataset = tiny_dataset()
    trainer, result = train(dataset=dataset, epochs=3)
    assert isinstance(trainer.normalisation, Normalisation)
    assert len(trainer.normalisation.mean) == 1 and 0 < trainer.normalisation.mean[0] < 1

    again = evaluate(trainer.module, dataset.test_images, dataset.test_labels,
                     normalisation=trainer.normalisation, num_classes=3)
    assert again.accuracy == result.test_accuracy
    assert again.confusion_matrix == result.confusion_matrix
    probabilities = predict(trainer.module, dataset.test_images, normalisation=trainer.normalisation)
    assert probabilities.shape == (60, 3)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert np.mean(probabilities.argmax(axis=1) == dataset.test_labels) == pytest.approx(result.test_accuracy)
    single = predict(trainer.module, dataset.test_images[0], normalisation=trainer.normalisation)
    assert single.shape == (1, 3)


def test_a_stop_requested_at_batch_3_ends_the_run_before_batch_4():
    class StopAtThree(Recorder):
        def __init__(self, trainer_box):
            super().__init__()
            self.trainer_box = trainer_box

        def on_batch_end(self, metrics):
            super().on_batch_end(metrics)
            if metrics.batch == 3:
                # From another thread, as the window's stop button does.
                requester = threading.Thread(target=self.trainer_box[0].request_stop)
                requester.start()
                requester.join()

    box = []
    recorder = StopAtThree(box)
    trainer = Trainer(tiny_graph(), TrainConfig(epochs=5, batch_size=8, device="cpu"), [recorder],
                      dataset=tiny_dataset())
    box.append(trainer)
    result = trainer.run()

    assert result.status == "stopped"
    assert len(recorder.of("batch")) == 3
    assert recorder.of("epoch") == []
    assert result.epochs_completed == 0
    assert "stopped on request at epoch 1, batch 4" in result.message
    assert result.test_accuracy is None, "returning promptly matters more than a test figure"
    assert recorder.of("finished") == [result]
    # The window can still ask for the test figures of the weights it got.
    assert 0 <= trainer.evaluate_test().accuracy <= 1


def test_a_stop_requested_before_the_run_trains_nothing():
    recorder = Recorder()
    trainer = Trainer(tiny_graph(), TrainConfig(device="cpu"), [recorder], dataset=tiny_dataset())
    trainer.request_stop()
    result = trainer.run()
    assert result.status == "stopped"
    assert recorder.of("batch") == []


def test_a_loss_that_blows_up_fails_at_once_naming_epoch_batch_and_learning_rate():
    recorder = Recorder()
    trainer, result = train(callbacks=[recorder], optimizer="sgd", learning_rate=1e30, epochs=3)

    assert result.status == "failed"
    assert result.failure == "non-finite-loss"
    assert result.message.startswith("the loss became ")
    assert "lower the learning rate (now 1e+30) or add BatchNorm" in result.message
    bad_batch = int(result.message.split("batch ")[1].split(":")[0])
    assert "at epoch 1, batch" in result.message
    # Every reported batch came before the bad one, and nothing ran after it.
    assert [metrics.batch for metrics in recorder.of("batch")] == list(range(1, bad_batch))
    assert all(math.isfinite(metrics.loss) for metrics in recorder.of("batch"))
    assert result.test_accuracy is None
    assert recorder.of("finished") == [result]


def test_the_same_seed_gives_identical_metrics_and_another_seed_does_not():
    def run(seed):
        recorder = Recorder()
        _, result = train(callbacks=[recorder], seed=seed, epochs=2)
        return [metrics.loss for metrics in recorder.of("batch")], result

    losses_first, first = run(seed=7)
    losses_second, second = run(seed=7)
    losses_other, other = run(seed=8)
    assert losses_first == losses_second
    strip = lambda history: [(m.train_loss, m.train_accuracy, m.validation_loss, m.validation_accuracy)
                             for m in history]
    assert strip(first.history) == strip(second.history)
    assert (first.test_loss, first.test_accuracy, first.confusion_matrix) == \
        (second.test_loss, second.test_accuracy, second.confusion_matrix)
    assert losses_first != losses_other


def test_a_run_leaves_the_callers_random_state_alone():
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    train(epochs=1)
    assert torch.equal(torch.get_rng_state(), before)


def test_an_input_shape_that_does_not_fit_the_dataset_is_refused_naming_both_shapes():
    recorder = Recorder()
    trainer, result = train(graph=tiny_graph(channels=3, size=10), callbacks=[recorder])
    assert result.status == "failed"
    assert result.failure == "input-shape"
    assert result.message == ("the Input block is 3×10×10 but tiny images are 1×8×8; set the Input to 1×8×8 "
                              "or use 'adapt input to dataset'")
    assert recorder.of("start") == [] and recorder.of("finished") == [result]


def test_a_named_dataset_is_checked_against_the_input_before_it_is_loaded(monkeypatch):
    import designer.training.trainer as trainer_module

    def must_not_load(*args, **kwargs):
        raise AssertionError("a misfit should be refused before any download")

    monkeypatch.setattr(trainer_module, "load_dataset", must_not_load)
    result = Trainer(tiny_graph(channels=3, size=32, outputs=10),
                     TrainConfig(dataset="fashion-mnist", device="cpu")).run()
    assert result.failure == "input-shape"
    assert "the Input block is 3×32×32 but Fashion-MNIST images are 1×28×28; set the Input to 1×28×28" \
        in result.message


def test_an_output_that_is_not_one_score_per_class_is_refused():
    _, result = train(graph=tiny_graph(outputs=5))
    assert result.failure == "output-shape"
    assert "outputs 5" in result.message and "3 classes" in result.message


def test_a_dataset_that_cannot_be_found_fails_with_the_datasets_message(monkeypatch):
    import designer.training.trainer as trainer_module

    def missing(*args, **kwargs):
        raise DatasetError("MNIST: train-images-idx3-ubyte.gz not found in /nowhere. Place the four IDX files …")

    monkeypatch.setattr(trainer_module, "load_dataset", missing)
    recorder = Recorder()
    result = Trainer(tiny_graph(size=28, outputs=10), TrainConfig(dataset="mnist", download=False, device="cpu"),
                     [recorder]).run()
    assert result.status == "failed" and result.failure == "dataset"
    assert result.message.startswith("MNIST: train-images-idx3-ubyte.gz not found")
    assert recorder.of("finished") == [result]


def test_a_design_that_cannot_be_built_fails_with_the_builders_message():
    graph = Graph("broken")
    chain(graph, [("Input", {"channels": 1, "height": 8, "width": 8}),
                  ("Conv2d", {"out_channels": 4, "kernel_size": 11}),
                  ("FC", {"out_features": 3})])
    _, result = train(graph=graph)
    assert result.status == "failed" and result.failure == "design"
    assert "cannot be built" in result.message


@pytest.mark.parametrize("settings, words", [
    ({"epochs": 0}, "epochs"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"learning_rate": -1.0}, "learning rate"),
    ({"validation_fraction": 1.0}, "validation fraction"),
    ({"early_stopping_patience": 0}, "patience"),
    ({"device": "tpu"}, "device"),
])
def test_impossible_settings_fail_before_training_and_say_which(settings, words):
    _, result = train(**settings)
    assert result.status == "failed" and result.failure in ("config", "device")
    assert words in result.message


def test_early_stopping_keeps_the_weights_of_the_best_epoch_and_says_so():
    # Random labels: the network can only memorise, so the validation loss soon rises.
    dataset = tiny_dataset(train=200, random_labels=True, seed=3)
    trainer, result = train(dataset=dataset, graph=tiny_graph(hidden=64), epochs=30, early_stopping_patience=2,
                            learning_rate=0.02, validation_fraction=0.3)

    assert result.status == "stopped", result.message
    assert result.epochs_completed < 30
    assert result.epochs_completed == result.best_epoch + 2
    assert f"restored the weights of epoch {result.best_epoch}" in result.message
    assert result.test_accuracy is not None
    best = result.history[result.best_epoch - 1]
    assert best.validation_loss == min(metrics.validation_loss for metrics in result.history)
    # The model in hand is the best epoch's, not the last one's.
    _, validation_index = stratified_split(dataset.train_labels, 0.3, seed=0)
    check = evaluate(trainer.module, dataset.train_images[validation_index], dataset.train_labels[validation_index],
                     normalisation=trainer.normalisation, num_classes=3)
    assert check.loss == pytest.approx(best.validation_loss, rel=1e-5)


def test_without_a_validation_set_the_best_epoch_follows_the_training_loss():
    recorder = Recorder()
    _, result = train(callbacks=[recorder], validation_fraction=0.0, epochs=3)
    assert result.status == "finished"
    assert all(metrics.validation_loss is None and metrics.validation_accuracy is None
               for metrics in result.history)
    assert recorder.of("start")[0].validation_samples == 0
    losses = [metrics.train_loss for metrics in result.history]
    assert result.best_epoch == losses.index(min(losses)) + 1


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_every_optimizer_trains(optimizer):
    _, result = train(optimizer=optimizer, weight_decay=1e-4, epochs=3,
                      learning_rate=0.05 if optimizer == "sgd" else 0.01)
    assert result.status == "finished"
    assert result.history[-1].train_loss < result.history[0].train_loss


def test_the_validation_split_is_stratified_and_seeded():
    labels = np.repeat(np.arange(4), 50)
    train_index, validation_index = stratified_split(labels, 0.2, seed=5)
    assert np.bincount(labels[validation_index]).tolist() == [10, 10, 10, 10]
    assert sorted(np.concatenate([train_index, validation_index]).tolist()) == list(range(200))
    again = stratified_split(labels, 0.2, seed=5)
    assert np.array_equal(again[1], validation_index)
    assert not np.array_equal(stratified_split(labels, 0.2, seed=6)[1], validation_index)


def test_a_last_batch_of_one_image_is_folded_away_so_batchnorm_never_sees_it():
    graph = Graph("bn")
    chain(graph, [("Input", {"channels": 1, "height": 8, "width": 8}),
                  ("FC", {"out_features": 8}),
                  ("FC", {"out_features": 3})])
    dataset = tiny_dataset(train=17)
    recorder = Recorder()
    _, result = train(graph=graph, dataset=dataset, callbacks=[recorder], batch_size=8, validation_fraction=0.0,
                      epochs=1)
    assert result.status == "finished"
    assert [metrics.batch for metrics in recorder.of("batch")] == [1, 2]
    assert recorder.of("start")[0].train_samples == 17


def test_a_trainer_runs_once():
    trainer, _ = train(epochs=1)
    with pytest.raises(RuntimeError):
        trainer.run()


def test_the_records_carry_plain_python_values_only():
    recorder = Recorder()
    train(callbacks=[recorder], epochs=1)
    for _, payload in recorder.events:
        for value in (getattr(payload, name) for name in payload.__dataclass_fields__):
            assert not isinstance(value, (torch.Tensor, np.ndarray, np.generic)), (payload, value)
