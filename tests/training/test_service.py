"""The training process: real runs on the built-in MNIST sample with a tiny network.

One process is started for the module and reused, as the window does; the tests that
kill a process use their own. Events and requests are those of the run path
(``designer.training.run``), sent and received unchanged.
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
from designer.training.run import BatchesDone, EpochDone, RunEnded, RunRequest, RunStarted


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


def collect(process, graphs, settings, *, on_event=None):
    """Send one request per graph as one queue; every event that comes back, in order."""
    requests = [RunRequest.of(graph, settings, run_id=f"run{index}") for index, graph in enumerate(graphs)]
    process.start_runs(requests, 1)
    events = []
    for event in process.events():
        events.append(event)
        if on_event is not None:
            on_event(event)
    return events


def ended(events, run_id="run0"):
    return next(event.result for event in events if isinstance(event, RunEnded) and event.run_id == run_id)


def test_a_run_reports_like_the_trainer_and_sends_back_the_trained_weights(process):
    import torch

    from designer.data import load_dataset
    from designer.nn.builder import build_module
    from designer.training.evaluation import evaluate

    graph = tiny_graph()
    events = collect(process, [graph], config())
    kinds = [type(event) for event in events]
    assert kinds[-1] is RunEnded and kinds.count(RunEnded) == 1
    assert kinds.index(RunStarted) < kinds.index(BatchesDone) < kinds.index(EpochDone)
    assert {event.run_id for event in events} == {"run0"}
    started = next(event for event in events if isinstance(event, RunStarted))
    info = started.info
    assert isinstance(info, RunInfo) and info.batches_per_epoch > 0
    assert started.process_id == process.pid != os.getpid()
    points = [event.points for event in events if isinstance(event, BatchesDone)]
    assert sum(len(batch.x) for batch in points) == info.batches_per_epoch
    assert all(isinstance(batch.latest, BatchMetrics) for batch in points)
    assert sum(sum(batch.sizes) for batch in points) == info.train_samples
    assert all(seconds > 0 for batch in points for seconds in batch.seconds)
    epochs = [event.metrics for event in events if isinstance(event, EpochDone)]
    assert len(epochs) == 1 and isinstance(epochs[0], EpochMetrics)

    result = ended(events)
    outcome, weights, normalisation = result.outcome, result.weights, result.normalisation
    assert result.module is None, "a torch module never crosses the pipe"
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

    def stop_after_first_points(event):
        if isinstance(event, BatchesDone):
            process.stop_run("run0")

    events = collect(process, [tiny_graph()], config(epochs=50, batch_size=32), on_event=stop_after_first_points)
    outcome = ended(events).outcome
    assert outcome.result.status == "stopped"
    assert outcome.result.epochs_completed < 50
    assert process.pid == pid and process.reusable

    # The stop flag belongs to the run: the next run trains in full.
    assert ended(collect(process, [tiny_graph()], config())).status == "finished"


def test_a_queue_of_runs_each_with_its_own_progress_stop_and_result(process):
    """Three runs in one queue: the second is stopped after its first epoch, the others train in full."""
    def stop_the_second(event):
        if isinstance(event, EpochDone) and event.run_id == "run1":
            process.stop_run("run1")

    events = collect(process, [tiny_graph()] * 3, config(epochs=3, batch_size=64), on_event=stop_the_second)
    order = [event.run_id for event in events if isinstance(event, RunEnded)]
    assert order == ["run0", "run1", "run2"]
    statuses = [ended(events, run_id).status for run_id in order]
    assert statuses == ["finished", "stopped", "finished"]
    for run_id in order:  # each run reported its own batches before its own end
        mine = [event for event in events if event.run_id == run_id]
        assert isinstance(mine[-1], RunEnded) and any(isinstance(event, BatchesDone) for event in mine)
    stopped = ended(events, "run1").result
    assert 1 <= stopped.epochs_completed < 3
    assert stopped.test_accuracy is not None and "evaluated after stopping" in stopped.message
    assert process.reusable


def test_a_bad_design_or_dataset_fails_with_the_engine_message(process):
    graph = tiny_graph()
    graph.set_param(graph.topological_order()[-1], "out_features", 7)
    result = ended(collect(process, [graph], config()))
    assert result.status == "failed" and result.result.failure == "output-shape"
    assert result.weights is None
    result = ended(collect(process, [tiny_graph()], config(dataset="mnist", data_folder="/nonexistent",
                                                           download=False)))
    assert result.result.failure == "dataset" and "built-in sample" in result.result.message
    assert process.reusable


def test_a_killed_process_ends_the_run_with_a_message_not_a_hang():
    process = service.TrainingProcess()
    try:
        process.start_runs([RunRequest.of(tiny_graph(), config(epochs=100, batch_size=32), run_id="doomed")], 1)
        with pytest.raises(service.TrainingProcessDied) as died:
            for event in process.events():
                if isinstance(event, BatchesDone):
                    os.kill(process.pid, signal.SIGKILL)
        assert "was killed (SIGKILL; the system does this when memory runs out)" in str(died.value)
        assert died.value.run_id == "doomed"
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
