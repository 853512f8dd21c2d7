"""Sweeps on both back-ends: K training processes on this computer, or Ray tasks; and the command.

The Ray tests start a Ray instance limited to 2 CPUs (several seconds each).
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
from pathlib import Path

import pytest

from designer.cli import main
from designer.core import load_architecture
from designer.core.paths import TEMPLATES
from designer.lab.sweep import SweepSpec, run_sweep
from designer.training.records import TrainConfig
from designer.training.run import Local, Ray, RunControl, RunStarted

LENET = TEMPLATES / "lenet5.json"
SPEC = SweepSpec(depths=(0, 1), widths=(8, 16), activation="ReLU", epochs=1)  # 3 variants
CONFIG = TrainConfig(dataset="mnist-sample", epochs=1, batch_size=100, device="cpu", download=False, seed=3)

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the [cluster] extra is not installed")


def table(runs) -> list[tuple]:
    """What must not depend on the back-end: everything but the times (and the front over time)."""
    from designer.lab.sweep import pareto_runs

    front = {run.label for run in pareto_runs(runs, "parameters")}
    return [(run.label, run.parameters, run.macs, run.accuracy, run.error, run.label in front) for run in runs]


def gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/stat")
    if not status.exists():
        return True
    try:
        return status.read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


@needs_ray
def test_local_processes_and_ray_tasks_give_the_same_table_for_the_same_seeds():
    graph = load_architecture(LENET)
    local_events = []
    local = run_sweep(graph, SPEC, CONFIG, launch=Local(parallel=2, torch_threads=1), emit=local_events.append)
    ray_events = []
    on_ray = run_sweep(graph, SPEC, CONFIG, launch=Ray(local_cpus=2, cpus_per_run=1), emit=ray_events.append)
    assert len(local) == 3 and all(run.ok for run in local), [run.error for run in local]
    assert table(local) == table(on_ray)
    # Two training processes here; Ray's workers elsewhere; neither is this process.
    local_pids = {event.process_id for event in local_events if isinstance(event, RunStarted)}
    ray_pids = {event.process_id for event in ray_events if isinstance(event, RunStarted)}
    assert len(local_pids) == 2 and os.getpid() not in local_pids | ray_pids and not local_pids & ray_pids
    import ray

    assert not ray.is_initialized()  # the instance started for the sweep was shut down


@needs_ray
def test_stop_cancels_the_ray_tasks_and_leaves_nothing_running():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # a cluster that outlives the sweep
    try:
        graph = load_architecture(LENET)
        spec = SweepSpec(depths=(1,), widths=(8, 16, 32), activation="ReLU", epochs=200)  # 3 long variants
        control, events, finished = RunControl(), [], []
        thread = threading.Thread(target=lambda: finished.append(
            run_sweep(graph, spec, CONFIG, emit=events.append, control=control, launch=Ray(cpus_per_run=1))))
        thread.start()
        deadline = time.monotonic() + 120
        while len({event.run_id for event in events if isinstance(event, RunStarted)}) < 2:
            assert time.monotonic() < deadline and thread.is_alive(), "the tasks never started"
            time.sleep(0.1)
        pids = {event.process_id for event in events if isinstance(event, RunStarted)}
        control.stop()
        thread.join(60)
        assert not thread.is_alive()
        assert finished == [[]]  # every variant was cut short: none is a result
        assert ray.is_initialized()  # the caller's cluster is left as it was

        def idle() -> bool:
            return ray.available_resources().get("CPU", 0) == ray.cluster_resources().get("CPU")

        deadline = time.monotonic() + 30
        while not (all(gone(pid) for pid in pids) and idle()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(gone(pid) for pid in pids)  # the workers that trained were ended
        assert idle()  # no task holds a CPU: nothing is left running, nothing waits to run
    finally:
        ray.shutdown()


def test_without_ray_the_message_gives_the_pip_command(monkeypatch, tmp_path, capsys):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == "ray" else real_find_spec(name, *rest))
    code = main(["sweep", str(LENET), "--backend", "ray", "--epochs", "1", "--output", str(tmp_path / "out")])
    assert code == 2
    assert "pip install 'network-designer[cluster]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    # The same words from the run path itself, for a caller of the API.
    results = run_sweep(load_architecture(LENET), SPEC, CONFIG, launch=Ray())
    assert [run.error for run in results] == [results[0].error] * 3
    assert "pip install 'network-designer[cluster]'" in results[0].error


def test_the_sweep_command_prints_the_table_and_writes_csv_and_json(tmp_path, capsys):
    output = tmp_path / "sweep"
    code = main(["sweep", str(LENET), "--depths", "0,1", "--widths", "8,16", "--activation", "relu",
                 "--epochs", "1", "--batch-size", "100", "--device", "cpu", "--parallel", "2",
                 "--threads-per-run", "1", "--output", str(output)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    for words in ("3 variants", "2 training processes", "classifier only", "1×8 ReLU", "1×16 ReLU",
                  "Pareto front, accuracy vs parameters:", "Pareto front, accuracy vs training time:"):
        assert words in printed
    lines = (output / "sweep.csv").read_text().splitlines()
    assert lines[0].startswith("label,parameters,macs,validation_accuracy") and len(lines) == 4
    record = json.loads((output / "sweep.json").read_text())
    assert record["format"] == "network-designer/sweep" and record["threads_per_run"] == 1
    assert [run["label"] for run in record["runs"]] == ["classifier only", "1×8 ReLU", "1×16 ReLU"]
    assert all(0 < run["validation_accuracy"] <= 1 for run in record["runs"])
    assert record["pareto_parameters"] and record["settings"]["epochs"] == 1
    assert sorted(os.listdir(output)) == ["sweep.csv", "sweep.json"]  # no temporary file left


@pytest.mark.parametrize("arguments, words", [
    (["--depths", "0,x"], "not a whole number"),
    (["--activation", "softmax"], "choose one of"),
    (["--depths", "17"], "depths must be"),
    (["--ray-address", "10.0.0.1:6379"], "--ray-address needs --backend ray"),
    (["--lr", "1e39"], "learning rate"),
])
def test_bad_sweep_settings_exit_2_with_one_line(tmp_path, capsys, arguments, words):
    try:
        code = main(["sweep", str(LENET), "--output", str(tmp_path / "out"), *arguments])
    except SystemExit as exit:  # refused by the parser
        code = exit.code
    assert code == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
