"""`python main.py train`: the headless command a person runs in a terminal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from designer.training.cli import default_output_folder

ROOT = Path(__file__).resolve().parents[2]
LENET = ROOT / "resources" / "templates" / "lenet5.json"


def run_main(*arguments, timeout=120):
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "train", *map(str, arguments)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_one_epoch_on_the_built_in_sample_prints_progress_and_saves_history_and_checkpoint(tmp_path):
    output = tmp_path / "run"
    completed = run_main(LENET, "--epochs", "1", "--output", output, "--no-download", "--seed", "3")

    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert any(line.startswith("epoch 1/1  train loss ") and " val loss " in line and line.endswith(" s")
               for line in lines), completed.stdout
    assert any(line.startswith("test accuracy ") for line in lines)
    assert sorted(path.name for path in output.iterdir()) == ["checkpoint.pt", "design.json", "history.csv", "history.json"]
    document = json.loads((output / "history.json").read_text())
    assert document["config"]["seed"] == 3 and document["config"]["download"] is False
    assert document["result"]["status"] == "finished"

    from designer.training import load_checkpoint

    graph, _, metadata = load_checkpoint(output / "checkpoint.pt")
    assert graph.name == "LeNet-5"
    assert metadata.result.test_accuracy == document["result"]["test_accuracy"]


@pytest.mark.parametrize("content", ["{ not json", '{"format": "network-designer/architecture", "version": 1}'])
def test_a_broken_architecture_file_exits_2_with_a_message_and_no_traceback(tmp_path, content):
    broken = tmp_path / "broken.json"
    broken.write_text(content)
    completed = run_main(broken, "--output", tmp_path / "run")
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: broken.json: ")
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "run").exists()


def test_a_missing_file_exits_2(tmp_path):
    completed = run_main(tmp_path / "nope.json")
    assert completed.returncode == 2 and "cannot read" in completed.stderr and "Traceback" not in completed.stderr


def test_an_input_that_does_not_fit_the_dataset_exits_2_naming_both_shapes(tmp_path):
    completed = run_main(ROOT / "resources" / "templates" / "cifar-cnn.json", "--output", tmp_path / "run")
    assert completed.returncode == 2
    assert "the Input block is 3×32×32 but MNIST sample images are 1×28×28" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_missing_dataset_without_download_exits_2_saying_what_to_do(tmp_path):
    completed = run_main(LENET, "--dataset", "mnist", "--data-folder", tmp_path, "--no-download",
                         "--output", tmp_path / "run", timeout=60)
    if completed.returncode == 0:
        pytest.skip("MNIST is in this computer's cache")
    assert completed.returncode == 2
    assert "MNIST" in completed.stderr and "Traceback" not in completed.stderr


def test_bad_option_values_are_refused_by_the_parser(tmp_path):
    completed = run_main(LENET, "--epochs", "0")
    assert completed.returncode == 2 and "--epochs" in completed.stderr


@pytest.mark.parametrize("option, value, words", [
    ("--lr", "1e39", "the learning rate must be a positive number no larger than 3.4e+38"),
    ("--weight-decay", "1e300", "the weight decay must be a number from 0 to 3.4e+38"),
    ("--seed", "-1", "the seed must be a whole number from 0"),
    ("--batch-size", "99999999", "the batch size must be a whole number from 1 to 1,048,576"),
])
def test_settings_torch_would_refuse_mid_run_are_refused_before_it_starts(tmp_path, option, value, words):
    completed = run_main(LENET, option, value, "--output", tmp_path / "run")
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith("error: ") and words in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1, "one line, no traceback"
    assert "training on" not in completed.stdout and not (tmp_path / "run").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is a POSIX thing")
def test_ctrl_c_stops_after_the_current_batch_and_still_saves(tmp_path):
    output = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-u", str(ROOT / "main.py"), "train", str(LENET), "--epochs", "50",
                                "--output", str(output), "--no-download"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 90
        for line in process.stdout:
            if line.startswith("training on "):
                break
            assert time.monotonic() < deadline
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "stopping after the current batch" in stderr
    assert "stopped on request" in stdout
    assert "Traceback" not in stderr
    assert (output / "history.json").is_file() and (output / "checkpoint.pt").is_file()


def test_the_default_output_folder_is_named_after_the_file_and_the_time():
    import datetime

    folder = default_output_folder("designs/My net.json", datetime.datetime(2026, 3, 4, 5, 6, 7))
    assert folder == Path("runs") / "My-net-20260304-050607"
