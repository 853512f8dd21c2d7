"""The training process: real runs on the built-in MNIST sample with a tiny network.

One process is started for the module and reused, as the window does; the tests that
kill a process use their own.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from designer.core import Graph, chain
from designer.training import service
from designer.training.records import BatchMetrics, EpochMetrics, RunInfo, TrainConfig


def tiny_graph() -> Graph:
    graph = Graph("tiny")
    chain(graph, [("Input", {"channels": 1, "height": 28, "width": 28}),
                  ("Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2}),
                  ("ReLU", {}),
                  ("FC", {"out_features": 10})])
    return graph


def config(**changes) -> TrainConfig:
    settings = dict(dataset="mnist-sample", epochs=1, batch_size=250, device="cpu", download=False)
    settings.update(changes)
    return TrainConfig(**settings)


@pytest.fixture(scope="module")
def process():
    training = service.TrainingProcess()
    yield training
    training.shutdown()


def collect(process, graph, settings, *, on_message=None):
    process.start_run(graph, settings, 1)
    messages = []
    for kind, arguments in process.messages():
        messages.append((kind, arguments))
        if on_message is not None:
            on_message(kind, arguments)
    return messages


def test_a_run_reports_like_the_trainer_and_sends_back_the_trained_weights(process):
    import torch

    from designer.data import load_dataset
    from designer.nn.builder import build_module
    from designer.training.evaluation import evaluate

    graph = tiny_graph()
    messages = collect(process, graph, config())
    kinds = [kind for kind, _ in messages]
    assert kinds[-1] == "finished" and kinds.count("finished") == 1
    assert kinds.index("run_started") < kinds.index("batches") < kinds.index("epoch")
    info = next(arguments[0] for kind, arguments in messages if kind == "run_started")
    assert isinstance(info, RunInfo) and info.batches_per_epoch > 0
    points = [arguments[0] for kind, arguments in messages if kind == "batches"]
    assert sum(len(batch.x) for batch in points) == info.batches_per_epoch
    assert all(isinstance(batch.latest, BatchMetrics) for batch in points)
    assert sum(sum(batch.sizes) for batch in points) == info.train_samples
    assert all(seconds > 0 for batch in points for seconds in batch.seconds)
    epochs = [arguments[0] for kind, arguments in messages if kind == "epoch"]
    assert len(epochs) == 1 and isinstance(epochs[0], EpochMetrics)

    outcome, weights, normalisation = messages[-1][1]
    assert outcome.result.status == "finished" and outcome.result.test_accuracy > 0.5
    assert outcome.misclassified_images is not None and outcome.test_samples == 1000
    expected = build_module(graph).state_dict()
    assert set(weights) == set(expected)
    assert all(isinstance(array, np.ndarray) and array.shape == tuple(expected[name].shape)
               for name, array in weights.items())
    # The weights are the trained ones: rebuilt here, they score what the process reported.
    module = build_module(graph)
    module.load_state_dict({name: torch.from_numpy(array) for name, array in weights.items()})
    dataset = load_dataset("mnist-sample")
    evaluation = evaluate(module, dataset.test_images, dataset.test_labels, normalisation=normalisation,
                          num_classes=10)
    assert evaluation.accuracy == pytest.approx(outcome.result.test_accuracy, abs=1e-9)


def test_the_process_serves_one_run_after_another_and_stops_on_request(process):
    pid = process.pid

    def stop_after_first_points(kind, _arguments):
        if kind == "batches":
            process.request_stop()

    messages = collect(process, tiny_graph(), config(epochs=50, batch_size=32),
                       on_message=stop_after_first_points)
    outcome = messages[-1][1][0]
    assert outcome.result.status == "stopped"
    assert outcome.result.epochs_completed < 50
    assert process.pid == pid and process.reusable

    # The stop flag belongs to the run: the next run trains in full.
    outcome = collect(process, tiny_graph(), config())[-1][1][0]
    assert outcome.result.status == "finished"


def test_a_bad_design_or_dataset_fails_with_the_engine_message(process):
    graph = tiny_graph()
    graph.set_param(graph.topological_order()[-1], "out_features", 7)
    outcome, weights, _ = collect(process, graph, config())[-1][1]
    assert outcome.result.status == "failed" and outcome.result.failure == "output-shape"
    assert weights is None
    outcome = collect(process, tiny_graph(), config(dataset="mnist", data_folder="/nonexistent",
                                                    download=False))[-1][1][0]
    assert outcome.result.failure == "dataset" and "built-in sample" in outcome.result.message
    assert process.reusable


def test_a_killed_process_ends_the_run_with_a_message_not_a_hang():
    process = service.TrainingProcess()
    try:
        process.start_run(tiny_graph(), config(epochs=100, batch_size=32), 1)
        with pytest.raises(service.TrainingProcessDied) as died:
            for kind, _arguments in process.messages():
                if kind == "batches":
                    os.kill(process.pid, signal.SIGKILL)
        assert "was killed (SIGKILL; the system does this when memory runs out)" in str(died.value)
        assert not process.alive and not process.reusable
    finally:
        process.shutdown()


def test_the_process_ends_by_itself_when_the_window_process_goes():
    process = service.TrainingProcess()
    try:
        process._connection.close()  # what the operating system does when the parent dies
        process._process.join(30)
        assert process._process.exitcode == 0
    finally:
        process._closed = True


def test_acquire_reuses_the_idle_process_and_release_keeps_only_one():
    service.shutdown_idle()
    first = service.acquire()
    second = service.acquire()
    try:
        assert first.pid != second.pid
        service.release(first)
        service.release(second)  # one idle process is enough: this one ends
        assert first.alive
        deadline = time.monotonic() + 10
        while second._process.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not second._process.is_alive()
        again = service.acquire()
        assert again is first
        service.release(again)
    finally:
        service.shutdown_idle()
        assert not first._process.is_alive()
