"""`python main.py train --nproc N [--nnodes M --node-rank R --rdzv-endpoint HOST:PORT]`."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
LENET = ROOT / "resources" / "templates" / "lenet5.json"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gloo and SIGINT as CI runs them")


def train(*arguments, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "train", *map(str, arguments)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def history_without_times(folder: Path) -> list[dict]:
    with open(folder / "history.csv", newline="") as handle:
        return [{key: value for key, value in row.items() if key != "seconds"} for row in csv.DictReader(handle)]


def checkpoint_weights(folder: Path) -> dict:
    from designer.training import load_checkpoint

    _graph, module, _metadata = load_checkpoint(folder / "checkpoint.pt")
    return {name: tensor.numpy() for name, tensor in module.state_dict().items()}


def test_nproc_1_is_todays_run(tmp_path):
    today = train(LENET, "--epochs", "1", "--output", tmp_path / "today", "--no-download")
    one = train(LENET, "--epochs", "1", "--output", tmp_path / "one", "--no-download", "--nproc", "1")
    assert today.returncode == one.returncode == 0, one.stderr
    assert history_without_times(tmp_path / "today") == history_without_times(tmp_path / "one")
    first, second = checkpoint_weights(tmp_path / "today"), checkpoint_weights(tmp_path / "one")
    assert all(np.array_equal(first[name], second[name]) for name in first)
    assert "processes" not in one.stdout  # one process: the run happens in the command's own process


def test_nproc_2_trains_on_two_processes_and_ctrl_c_stops_both_and_still_saves(tmp_path):
    output = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-u", str(ROOT / "main.py"), "train", str(LENET), "--epochs", "50",
                                "--output", str(output), "--no-download", "--nproc", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    seen = []
    try:
        deadline = time.monotonic() + 120
        for line in process.stdout:
            seen.append(line)
            if line.split()[:2] == ["epoch", "1/50"]:
                break
            assert time.monotonic() < deadline
        process.send_signal(signal.SIGINT)  # Ctrl+C reaches this process only; the ranks hear Stop from it
        stdout, stderr = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
    stdout = "".join(seen) + stdout
    assert process.returncode == 130, (stdout, stderr)
    assert "training on 2 processes (cpu)" in stdout
    assert "stopped on request" in stdout and "Traceback" not in stderr
    assert sorted(path.name for path in output.iterdir()) == ["checkpoint.pt", "design.json", "history.csv", "history.json"]
    assert len(history_without_times(output)) >= 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_nodes_meet_at_the_rendezvous_endpoint_and_node_0_saves(tmp_path):
    """Two "computers" on this one: the same command with --nnodes 2 and each its --node-rank."""
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = [subprocess.Popen([sys.executable, str(ROOT / "main.py"), "train", str(LENET), "--epochs", "1",
                               "--output", str(tmp_path / f"node{rank}"), "--no-download", "--nproc", "1",
                               "--nnodes", "2", "--node-rank", str(rank), "--rdzv-endpoint", endpoint,
                               # two "computers" sharing this one's CPUs
                               "--threads-per-process", str(max(1, (os.cpu_count() or 1) // 2))],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
             for rank in (0, 1)]
    try:
        outputs = [node.communicate(timeout=180) for node in nodes]
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
    assert [node.returncode for node in nodes] == [0, 0], outputs
    assert "training on 2 processes (cpu)" in outputs[0][0]
    assert (tmp_path / "node0" / "checkpoint.pt").is_file()
    assert not (tmp_path / "node1").exists()  # only process 0's node writes
    assert "node 0 saves history and checkpoint" in outputs[1][0]


@pytest.mark.parametrize("arguments, words", [
    (["--nnodes", "2"], "rendezvous endpoint"),
    (["--nnodes", "2", "--node-rank", "5", "--rdzv-endpoint", "127.0.0.1:29500"], "node rank"),
    (["--nproc", "2", "--rdzv-endpoint", "nowhere"], "HOST:PORT"),
])
def test_a_launch_that_cannot_work_exits_2_before_anything_starts(tmp_path, arguments, words):
    completed = train(LENET, "--output", tmp_path / "run", "--no-download", *arguments)
    assert completed.returncode == 2 and words in completed.stderr
    assert "Traceback" not in completed.stderr and not (tmp_path / "run").exists()
