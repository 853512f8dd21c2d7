"""Data-parallel runs on the run path: the ``Processes`` launch (torchrun, gloo, DistributedDataParallel).

Each test starts torchrun with real worker processes on this CPU, so each takes several
seconds; the network is tiny and the data the built-in sample.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from designer.core import Graph, chain
from designer.training.records import TrainConfig
from designer.training.run import (BatchesDone, EpochDone, Local, Processes, RunControl, RunRequest, RunStarted,
                                   refusal, run, run_all)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gloo on Windows is not what CI runs")


def tiny_graph() -> Graph:
    """BatchNorm-free: its steps do not depend on how a batch is split."""
    graph = Graph("tiny")
    chain(graph, [("Input", {"channels": 1, "height": 28, "width": 28}),
                  ("Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2}),
                  ("ReLU", {}),
                  ("FC", {"out_features": 10})])
    return graph


def config(**changes) -> TrainConfig:
    # 3,600 training images (10% of the sample's 4,000 held out): 72 steps of 50, or of 2 × 25.
    return TrainConfig(**{"dataset": "mnist-sample", "epochs": 1, "batch_size": 50, "device": "cpu",
                          "download": False, "validation_fraction": 0.1, **changes})


def weights_of(result) -> dict:
    if result.module is not None:
        return {name: tensor.detach().cpu().numpy() for name, tensor in result.module.state_dict().items()}
    return result.weights


def gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/stat")
    if status.exists():
        try:
            return status.read_text().split(") ", 1)[1].startswith("Z")
        except (OSError, IndexError):
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def launcher_children() -> list[int]:
    """This process's children that are torchrun (a launch must leave none behind)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(") ", 1)[1].split()
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"torch.distributed.run" in command:
            found.append(int(entry.name))
    return found


def test_two_processes_of_batch_b_end_with_the_weights_of_one_process_of_batch_2b():
    events = []
    shared = run(RunRequest.of(tiny_graph(), config(batch_size=25), launch=Processes(2, torch_threads=1)),
                 events.append)
    single = run(RunRequest.of(tiny_graph(), config(batch_size=50), launch=Local(own_process=False)))
    assert shared.status == single.status == "finished", shared.result.message
    started = next(event for event in events if isinstance(event, RunStarted))
    assert started.info.processes == 2 and started.info.batches_per_epoch == 72  # k = 72 steps
    assert len(started.process_ids) == 2 and started.process_ids[0] == started.process_id != os.getpid()
    # The steps were the same: the weights agree, and so do the figures summed over the processes.
    ours, theirs = weights_of(shared), weights_of(single)
    assert ours.keys() == theirs.keys()
    assert max(float(np.abs(ours[name] - theirs[name]).max()) for name in ours) <= 1e-5
    shared_epoch, single_epoch = shared.result.history[0], single.result.history[0]
    assert shared_epoch.train_accuracy == pytest.approx(single_epoch.train_accuracy, abs=1e-9)
    assert shared_epoch.train_loss == pytest.approx(single_epoch.train_loss, rel=1e-5)
    assert shared_epoch.validation_accuracy == single_epoch.validation_accuracy
    assert shared.result.test_accuracy == single.result.test_accuracy
    assert shared.result.confusion_matrix == single.result.confusion_matrix
    # Batch curves come from process 0, one point per step, with the whole batch's figures.
    points = [point for event in events if isinstance(event, BatchesDone) for point in event.points.sizes]
    assert len(points) == 72 and set(points) == {50}
    assert not launcher_children()


def test_one_process_through_torchrun_is_todays_run():
    shared = run(RunRequest.of(tiny_graph(), config(), launch=Processes(1, torch_threads=1)))
    single = run(RunRequest.of(tiny_graph(), config(), launch=Local(own_process=False, torch_threads=1)))
    assert shared.status == single.status == "finished"
    ours, theirs = weights_of(shared), weights_of(single)
    assert all(np.array_equal(ours[name], theirs[name]) for name in ours)
    assert [dataclasses.replace(metrics, seconds=0) for metrics in shared.result.history] == \
        [dataclasses.replace(metrics, seconds=0) for metrics in single.result.history]


def start_long_run(control: RunControl, events: list):
    request = RunRequest.of(tiny_graph(), config(epochs=500), launch=Processes(2, torch_threads=1))
    finished = []
    thread = threading.Thread(target=lambda: finished.append(run(request, events.append, control)), daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not any(isinstance(event, EpochDone) for event in events):
        assert time.monotonic() < deadline and thread.is_alive(), "the run never got going"
        time.sleep(0.05)
    started = next(event for event in events if isinstance(event, RunStarted))
    return thread, finished, started


def test_stop_ends_every_process_and_leaves_none_behind():
    control, events = RunControl(), []
    thread, finished, started = start_long_run(control, events)
    assert all(not gone(pid) for pid in started.process_ids)
    control.stop()
    thread.join(60)
    assert not thread.is_alive()
    result = finished[0]
    assert result.status == "stopped", result.result.message
    assert "stopped on request at epoch" in result.result.message
    assert result.result.test_accuracy is not None  # the test set is still evaluated, as for any run
    assert result.weights is not None  # the network trained so far comes back
    assert all(gone(pid) for pid in started.process_ids)
    assert not launcher_children()


def test_a_process_that_dies_ends_the_run_with_a_message_naming_it():
    control, events = RunControl(), []
    thread, finished, started = start_long_run(control, events)
    victim = started.process_ids[1]
    os.kill(victim, signal.SIGKILL)
    thread.join(90)
    assert not thread.is_alive()
    result = finished[0]
    assert result.status == "failed" and result.result.failure == "process"
    message = result.result.message
    assert f"process 1 of 2 (pid {victim})" in message
    assert "SIGKILL" in message or "ended unexpectedly" in message
    assert result.weights is None and result.module is None  # nothing half-trained is passed on
    assert all(gone(pid) for pid in started.process_ids)
    assert not launcher_children()


@pytest.mark.parametrize("launch, words", [
    (Processes(0), "number of processes"),
    (Processes(2, nnodes=2), "rendezvous endpoint"),
    (Processes(2, nnodes=2, node_rank=2, rdzv_endpoint="10.0.0.1:29500"), "node rank"),
    (Processes(2, nnodes=2, rdzv_endpoint="no port"), "HOST:PORT"),
])
def test_a_launch_that_cannot_work_is_refused_before_anything_starts(launch, words):
    refused = refusal(RunRequest.of(tiny_graph(), config(), launch=launch))
    assert refused is not None and words in refused.result.message
    [result] = run_all([RunRequest.of(tiny_graph(), config(), launch=launch)])
    assert result.status == "failed" and result.result.failure == "config"


def test_an_image_folder_with_augmentation_and_a_schedule_trains_on_two_processes(colour_folder, colour_network):
    from designer.training.run import DatasetLoaded

    events = []
    folder_config = config(dataset="folder", data_folder=str(colour_folder), epochs=2, batch_size=4,
                           learning_rate=0.004, augment="shift:2,flip", schedule="step:1:0.5")
    ended = run(RunRequest.of(colour_network(), folder_config, launch=Processes(2, torch_threads=1)), events.append)
    assert ended.status == "finished", ended.result.message
    assert [metrics.learning_rate for metrics in ended.result.history] == pytest.approx([0.004, 0.002])
    loaded = [event for event in events if isinstance(event, DatasetLoaded)]
    assert len(loaded) == 1 and loaded[0].class_names == ("blue", "green", "red") and loaded[0].skipped_count == 4
    assert ended.outcome.class_names == ("blue", "green", "red") and ended.trained
    assert not launcher_children()
