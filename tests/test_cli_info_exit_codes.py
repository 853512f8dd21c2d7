"""`info` on a design that reads but is not valid, where data comes from, and the top-level help
(issue 14, defects 12 and 13)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LENET = json.loads((ROOT / "resources" / "templates" / "lenet5.json").read_text())
SAMPLE = ROOT / "resources" / "datasets" / "mnist-sample"


def run(*arguments) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *map(str, arguments)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def lenet_with(change) -> dict:
    document = copy.deepcopy(LENET)
    change(document)
    return document


def kernel_too_large(document):
    document["blocks"][1]["params"]["kernel_size"] = 40


def add_of_mismatched_shapes(document):
    document["blocks"].append({"id": "sum", "type": "Add"})
    document["edges"] += [{"from": "conv1", "to": "sum", "port": 0}, {"from": "conv2", "to": "sum", "port": 1}]


def no_input(document):
    document["blocks"] = document["blocks"][1:]
    document["edges"] = document["edges"][1:]


def two_outputs(document):
    document["blocks"].append({"id": "spare", "type": "ReLU"})
    document["edges"].append({"from": "fc2", "to": "spare"})


@pytest.mark.parametrize("change, reason", [
    (kernel_too_large, "conv1: kernel 40×40 does not fit the 28×28 input"),
    (add_of_mismatched_shapes, "sum: Add needs equal shapes"),
    (no_input, "the design has no Input block"),
    (two_outputs, "the design has 2 outputs (fc3, spare)"),
], ids=["kernel larger than its input", "Add of mismatched shapes", "no Input", "two outputs"])
def test_info_on_an_invalid_design_prints_the_table_and_the_problems_then_exits_1(tmp_path, change, reason):
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(lenet_with(change)))
    result = run("info", path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Total parameters:" in result.stdout and "fc1 " in result.stdout  # the table is still there
    assert result.stderr.startswith("error: wrong.json: the design is not valid: ")
    assert reason in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_info_on_a_valid_design_still_exits_0_and_lists_where_data_comes_from():
    result = run("info", ROOT / "resources" / "templates" / "lenet5.json")
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert "Data for `train --dataset NAME`:" in lines
    assert f"  mnist-sample   the built-in sample ({SAMPLE})" in lines
    assert any(line.startswith("  cifar10 ") for line in lines)


def test_info_for_one_dataset_and_a_folder(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    for path in SAMPLE.glob("*idx*"):
        (folder / path.name).write_bytes(path.read_bytes())
    result = run("info", ROOT / "resources" / "templates" / "lenet5.json", "--dataset", "mnist-sample",
                 "--data-folder", folder)
    assert result.returncode == 0
    assert result.stdout.splitlines()[-2:] == [f"Data for `train --dataset NAME` (trying {folder} first):",
                                               f"  mnist-sample  your folder ({folder})"]


def test_the_top_level_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert any(line.startswith("  info FILE ") for line in lines)
    assert any(line.startswith("  train FILE ") for line in lines)
