"""Saving: where the dialog opens, shipped templates are never overwritten, the design's name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from designer.core import load_architecture
from designer.core.paths import TEMPLATES
from designer.ui import main_window as main_window_module
from designer.ui.main_window import MainWindow


@pytest.fixture
def save_dialog(monkeypatch):
    """Stands in for QFileDialog.getSaveFileName: records the suggestion, answers ``answer``."""
    calls = {"suggestions": [], "answer": ""}

    def get_save_file_name(parent, caption, suggestion, filters):
        calls["suggestions"].append(suggestion)
        return calls["answer"], filters

    monkeypatch.setattr(main_window_module.QFileDialog, "getSaveFileName", staticmethod(get_save_file_name))
    return calls



def _inside_templates(path: str) -> bool:
    return Path(path).resolve().parent == TEMPLATES.resolve()


def test_the_save_dialog_for_a_template_opens_outside_the_templates_folder(main_window, save_dialog):
    # The fixture opened the LeNet-5 template; so does the command line with a template's path.
    main_window.show_graph(load_architecture(TEMPLATES / "lenet5.json"), TEMPLATES / "lenet5.json")
    assert main_window.document.path is None  # a template opens as a new design
    MainWindow.choose_save_path(main_window)
    suggestion = save_dialog["suggestions"][-1]
    assert not _inside_templates(suggestion)
    assert Path(suggestion).name == "LeNet-5.json"
    assert Path(suggestion).parent == Path(main_window._last_folder())


def test_the_save_dialog_opens_in_the_last_folder_used(main_window, save_dialog, tmp_path, isolated_settings, qtbot):
    folder = tmp_path / "my designs"
    folder.mkdir()
    main_window.dialogs.save_path = str(folder / "first.json")
    assert main_window.save()
    main_window.new_file()
    MainWindow.choose_save_path(main_window)
    assert Path(save_dialog["suggestions"][-1]) == folder / "Untitled.json"
    # ... and in the next session too (QSettings).
    second = MainWindow(settings=isolated_settings)
    qtbot.addWidget(second)
    MainWindow.choose_save_path(second)
    assert Path(save_dialog["suggestions"][-1]).parent == folder


def test_opening_a_template_by_its_path_then_saving_asks_where(main_window, tmp_path):
    before = (TEMPLATES / "vgg16.json").read_bytes()
    assert main_window.open_path(TEMPLATES / "vgg16.json")
    assert main_window.document.path is None
    assert str((TEMPLATES / "vgg16.json").resolve()) not in main_window.recent_files()
    main_window.document.set_param("fc1", "out_features", 10)
    main_window.dialogs.save_path = None  # the user cancels the dialog
    assert not main_window.save()
    assert (TEMPLATES / "vgg16.json").read_bytes() == before


def test_saving_into_the_templates_folder_is_refused(main_window):
    target = TEMPLATES / "lenet5.json"
    before = target.read_bytes()
    main_window.document.set_param("fc1", "out_features", 10)
    main_window.dialogs.save_path = str(target)
    assert not main_window.save()
    assert target.read_bytes() == before
    title, text = main_window.dialogs.errors[-1]
    assert "templates folder" in text and "another folder" in text
    assert main_window.document.modified
    main_window.dialogs.save_path = str(TEMPLATES / "new-one.json")
    assert not main_window.save()
    assert not (TEMPLATES / "new-one.json").exists()


def _saved_name(path: Path) -> str:
    return json.loads(path.read_text(encoding="utf-8"))["name"]


def test_an_untitled_design_takes_the_file_name(main_window, tmp_path):
    main_window.new_file()
    assert main_window.document.graph.name == "Untitled"
    main_window.dialogs.save_path = str(tmp_path / "mynet.json")
    assert main_window.save_as()
    assert _saved_name(tmp_path / "mynet.json") == "mynet"
    # A name that came from a file name follows the next Save As ...
    main_window.dialogs.save_path = str(tmp_path / "mynet-v2.json")
    assert main_window.save_as()
    assert _saved_name(tmp_path / "mynet-v2.json") == "mynet-v2"
    assert _saved_name(tmp_path / "mynet.json") == "mynet"


def test_a_named_design_keeps_its_name(main_window, tmp_path):
    main_window.dialogs.save_path = str(tmp_path / "mine.json")  # the LeNet-5 template, saved
    assert main_window.save()
    assert _saved_name(tmp_path / "mine.json") == "LeNet-5"


def test_a_failed_save_leaves_the_name_alone(main_window, tmp_path):
    main_window.new_file()
    (tmp_path / "a file").write_text("not a folder")
    main_window.dialogs.save_path = str(tmp_path / "a file" / "x.json")
    assert not main_window.save()
    assert main_window.document.graph.name == "Untitled"
