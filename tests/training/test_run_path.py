"""The run path (``designer.training.run``): one entry point, typed events, checks before anything starts.

Runs here train a tiny network on the built-in sample in this process (``Local(own_process=False)``);
``test_service.py`` covers the training process, ``tests/ui/test_lab.py`` the window's use of both.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass

import pytest

from designer.core import Graph, chain
from designer.training import service
from designer.training.datasets import DatasetCache
from designer.training.records import TrainConfig
from designer.training.run import (BatchesDone, EpochDone, Launch, Local, RunControl, RunEnded, RunRequest,
                                   RunStarted, StatusChanged, ended_without_training, run, run_all, trained_model)

HERE = Local(own_process=False)


def tiny_graph(classes: int = 10, channels: int = 1) -> Graph:
    graph = Graph("tiny")
    chain(graph, [("Input", {"channels": channels, "height": 28, "width": 28}),
                  ("Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2}),
                  ("ReLU", {}),
                  ("FC", {"out_features": classes})])
    return graph


def config(**changes) -> TrainConfig:
    return TrainConfig(**{"dataset": "mnist-sample", "epochs": 1, "batch_size": 250, "device": "cpu",
                          "download": False, **changes})


def request(run_id: str, graph: Graph | None = None, launch=HERE, **changes) -> RunRequest:
    return RunRequest.of(graph or tiny_graph(), config(**changes), run_id=run_id, launch=launch)


def test_run_all_trains_each_request_and_every_run_ends_with_one_run_ended():
    events = []
    results = run_all([request("a"), request("b", epochs=2)], events.append)
    assert [result.run_id for result in results] == ["a", "b"]
    assert [result.status for result in results] == ["finished", "finished"]
    for run_id, epochs in (("a", 1), ("b", 2)):
        mine = [event for event in events if event.run_id == run_id]
        kinds = [type(event) for event in mine]
        assert kinds[0] is StatusChanged and kinds[-1] is RunEnded and kinds.count(RunEnded) == 1
        assert kinds.index(RunStarted) < kinds.index(BatchesDone) < kinds.index(EpochDone)
        assert kinds.count(EpochDone) == epochs
        assert mine[-1].result is results["ab".index(run_id)]
    started = next(event for event in events if isinstance(event, RunStarted))
    assert started.process_id == os.getpid()  # trained in the calling thread, as asked
    model = trained_model(request("a"), results[0])
    assert model is not None and type(model.module).__name__ == "GraphModule"
    assert model.test_accuracy == results[0].result.test_accuracy


def test_events_and_results_survive_a_pipe_unchanged():
    events = []
    result = run(request("p"), events.append)
    for event in events:
        copy = pickle.loads(pickle.dumps(event if not isinstance(event, RunEnded)
                                         else RunEnded(event.run_id, event.result.portable())))
        assert type(copy) is type(event) and copy.run_id == event.run_id
        if not isinstance(event, RunEnded):
            assert copy == event
    portable = result.portable()
    assert portable.module is None and set(portable.weights) == set(result.module.state_dict())


@pytest.mark.parametrize("changes, words", [
    ({"learning_rate": 1e39}, "the learning rate must be a positive number no larger than 3.4e+38"),
    ({"weight_decay": 1e300}, "the weight decay must be a number from 0 to 3.4e+38"),
    ({"momentum": float("nan")}, "the momentum must be in [0, 1)"),
    ({"epochs": 0}, "epochs must be a whole number from 1"),
])
def test_settings_are_checked_before_anything_starts(monkeypatch, changes, words):
    def must_not_start():
        raise AssertionError("a run with bad settings started a training process")

    monkeypatch.setattr(service, "acquire", must_not_start)
    events = []
    result = run(request("bad", launch=Local(), **changes), events.append)
    assert result.status == "failed" and result.result.failure == "config"
    assert words in result.result.message
    assert [type(event) for event in events] == [RunEnded]


def test_a_misfit_is_refused_before_the_dataset_is_read(monkeypatch):
    import designer.data

    monkeypatch.setattr(designer.data, "load_dataset", lambda *a, **k: pytest.fail("read the dataset"))
    result = run(request("misfit", tiny_graph(channels=3)))
    assert result.result.failure == "input-shape"
    assert "the Input block is 3×28×28 but MNIST sample images are 1×28×28" in result.result.message
    result = run(request("classes", tiny_graph(classes=7)))
    assert result.result.failure == "output-shape" and "it needs 10" in result.result.message


def test_a_stopped_run_stops_alone_and_a_run_stopped_before_it_begins_never_trains():
    control = RunControl()
    control.stop("second")

    def stop_first_after_its_first_epoch(event):
        if isinstance(event, EpochDone) and event.run_id == "first":
            control.stop("first")

    results = run_all([request("first", epochs=5, batch_size=100), request("second"), request("third")],
                      stop_first_after_its_first_epoch, control)
    first, second, third = results
    assert first.status == "stopped" and first.result.epochs_completed == 1
    assert "evaluated after stopping" in first.result.message and first.result.test_accuracy is not None
    assert second.status == "stopped" and second.result.epochs_completed == 0 and not second.trained
    assert third.status == "finished"


def test_when_no_training_process_can_start_the_runs_happen_in_the_calling_thread(monkeypatch):
    def refuse():
        raise OSError("[Errno 11] Resource temporarily unavailable")

    monkeypatch.setattr(service, "acquire", refuse)
    events = []
    result = run(request("fallback", launch=Local()), events.append)
    assert result.status == "finished" and result.module is not None
    assert next(event for event in events if isinstance(event, RunStarted)).process_id == os.getpid()


@dataclass(frozen=True)
class Recording(Launch):
    """A launch of a test's own: what a new back-end (torchrun, Ray) plugs in, the callers unchanged."""

    accuracy: float = 0.5

    def run_all(self, requests, emit, control):
        results = []
        for each in requests:
            result = ended_without_training(each.run_id, f"pretended to train {each.label}", None, "finished")
            emit(RunEnded(each.run_id, result))
            results.append(result)
        return results


def test_a_launch_decides_where_the_callers_do_not_change():
    events = []
    mixed = [request("here"), RunRequest.of(tiny_graph(), config(), run_id="there", label="B",
                                            launch=Recording())]
    results = run_all(mixed, events.append)
    assert [result.run_id for result in results] == ["here", "there"]
    assert results[1].result.message == "pretended to train B"
    assert [event.run_id for event in events if isinstance(event, RunEnded)] == ["here", "there"]
    with pytest.raises(ValueError):
        run_all([request("same"), request("same")])


def test_the_dataset_cache_reads_once_and_keeps_the_latest(monkeypatch):
    import designer.data

    reads = []

    class Fake:
        def __init__(self, name):
            self.name = name

    monkeypatch.setattr(designer.data, "load_dataset", lambda name, folder, **_: reads.append(name) or Fake(name))
    cache = DatasetCache(keep=2)
    first = cache.get("a")
    assert cache.get("a") is first and reads == ["a"]
    cache.get("b")
    cache.get("a")  # used again: now the newest
    cache.get("c")  # "b" is the oldest and goes
    cache.get("a")
    cache.get("b")
    assert reads == ["a", "b", "c", "b"]
