"""The torchinfo-style text table, and atomic saves that never lose a person's file."""

from __future__ import annotations

import os

import pytest

from designer.core import TEMPLATES, Graph, chain, load_architecture, save_architecture
from designer.core.atomic import write_bytes_atomically, write_text_atomically
from designer.core.summary import COLUMNS, summary_rows, summary_text


def test_summary_of_lenet5():
    text = summary_text(load_architecture(TEMPLATES / "lenet5.json"))
    lines = text.splitlines()
    assert lines[0] == "LeNet-5"
    header = lines[2].split()
    assert header[:2] == ["Layer", "Type"]
    row = next(line for line in lines if line.startswith("fc1 "))
    assert "FC 120" in row and "48,120" in row and "78.0%" in row and "48,000" in row
    conv_row = next(line for line in lines if line.startswith("conv1 "))
    assert "Conv 5×5, 6" in conv_row and "6×28×28" in conv_row
    assert "Total parameters: 61,706" in lines
    assert "FC layers: 59,134 of 61,706 parameters (95.8%)" in lines
    assert not any(line.startswith("Problem") for line in lines)


def test_summary_of_vgg16():
    text = summary_text(load_architecture(TEMPLATES / "vgg16.json"))
    assert "Total parameters: 138,357,544" in text
    assert "FC layers: 123,642,856 of 138,357,544 parameters (89.4%)" in text


def test_summary_shows_errors_blocked_blocks_and_problems():
    graph = Graph("broken")
    chain(graph, [("Input", {"height": 4, "width": 4}), ("Conv2d", {"kernel_size": 9}), ("FC", {})])
    graph.add_block("ReLU", block_id="loose")
    graph.connect("input1", "loose")
    rows = {row[0]: row for row in summary_rows(graph)}
    assert rows["conv1"][2].startswith("error: kernel 9×9 does not fit")
    assert rows["fc1"][2] == "? (after conv1)"
    assert all(len(row) == len(COLUMNS) for row in rows.values())
    text = summary_text(graph)
    assert "Problem: the design has 2 outputs" in text


def test_empty_graph_summary():
    text = summary_text(Graph("empty"))
    assert "Total parameters: 0" in text and "(0.0%)" in text and "no Input" in text


# ------------------------------------------------------------------ atomic save


def test_save_writes_and_overwrites(tmp_path):
    target = tmp_path / "sub" / "design.json"
    graph = load_architecture(TEMPLATES / "lenet5.json")
    save_architecture(graph, target)
    first = target.read_text(encoding="utf-8")
    graph.set_param("fc1", "out_features", 100)
    save_architecture(graph, target)
    assert target.read_text(encoding="utf-8") != first
    assert load_architecture(target).block("fc1").params["out_features"] == 100
    assert [path.name for path in target.parent.iterdir()] == ["design.json"]  # no temporary left


def test_failing_replace_leaves_the_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "design.json"
    target.write_text("old content", encoding="utf-8")

    def refuse(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        save_architecture(load_architecture(TEMPLATES / "lenet5.json"), target)
    assert target.read_text(encoding="utf-8") == "old content"
    assert [path.name for path in tmp_path.iterdir()] == ["design.json"]


def test_failing_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "design.json"
    target.write_bytes(b"old")

    def broken_fsync(descriptor):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_bytes_atomically(target, b"new")
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["design.json"]


def test_interrupted_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    target = tmp_path / "design.json"
    target.write_text("old", encoding="utf-8")

    def interrupted(source, destination):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomically(target, "new")
    assert target.read_text(encoding="utf-8") == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["design.json"]


def test_atomic_save_gives_a_new_file_the_usual_permissions_and_keeps_an_old_files(tmp_path):
    import os
    import stat

    from designer.core.atomic import write_text_atomically

    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.json"
        write_text_atomically(fresh, "{}")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        shared = tmp_path / "shared.json"
        shared.write_text("old")
        shared.chmod(0o664)
        write_text_atomically(shared, "new")
        assert stat.S_IMODE(shared.stat().st_mode) == 0o664
        assert shared.read_text() == "new"
    finally:
        os.umask(umask)
