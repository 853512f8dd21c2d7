"""`python main.py info FILE`: the headless summary a person runs first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "resources" / "templates"


def info(path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py", "info", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_info_vgg16():
    result = info(TEMPLATES / "vgg16.json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Total parameters: 138,357,544" in lines
    assert "FC layers: 123,642,856 of 138,357,544 parameters (89.4%)" in lines
    assert any(line.startswith("fc1 ") and "102,764,544" in line for line in lines)
    assert result.stderr == ""


def test_info_lenet5():
    result = info(TEMPLATES / "lenet5.json")
    assert result.returncode == 0, result.stderr
    assert "Total parameters: 61,706" in result.stdout.splitlines()
    assert "FC layers: 59,134 of 61,706 parameters (95.8%)" in result.stdout


@pytest.mark.parametrize(
    "content, fragment",
    [
        ('{"format": "network-designer/architecture", "version": 1, "blocks": [], "edges": [{"from": "a", "to": "b"}]}',
         "edges[0]"),
        ("{not json", "not valid JSON"),
        ('{"format": "network-designer/architecture", "version": 9, "blocks": [], "edges": []}', "version 9"),
    ],
)
def test_info_on_a_broken_file_exits_2_with_a_message(tmp_path, content, fragment):
    broken = tmp_path / "broken.json"
    broken.write_text(content, encoding="utf-8")
    result = info(broken)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "broken.json" in result.stderr and fragment in result.stderr
    assert result.stdout == ""


def test_info_on_a_missing_file_exits_2(tmp_path):
    result = info(tmp_path / "absent.json")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "cannot read" in result.stderr
