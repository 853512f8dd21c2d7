"""The main window: editing through the inspector, files, undo, prompts, start-up cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtWidgets import QDockWidget, QMessageBox

from designer.core import load_architecture, to_document
from designer.core.paths import TEMPLATES

ROOT = Path(__file__).resolve().parents[2]


def test_window_shows_the_design_its_totals_and_the_docks(main_window):
    assert set(main_window.docks) >= {"palette", "inspector", "parameters"}
    assert all(isinstance(dock, QDockWidget) for dock in main_window.docks.values())
    assert "LeNet-5" in main_window.windowTitle()
    status = main_window.status_text()
    assert "Parameters: 61.7k" in status and "FC share: 95.8%" in status
    fc1 = main_window.canvas.items_by_id["fc1"]
    assert fc1.text_lines() == ["FC 120", "120", "48.1k · 78.0%"]


def test_editing_a_parameter_in_the_inspector_updates_canvas_status_and_headline(main_window, document):
    canvas, inspector, panel = main_window.canvas, main_window.inspector, main_window.parameter_panel
    document.set_selection(["fc1"])
    assert inspector.block_id == "fc1"
    before_headline = panel.headline_text()

    assert inspector.apply_value("out_features", 500)
    assert canvas.items_by_id["fc1"].text_lines()[0] == "FC 500"
    assert canvas.items_by_id["fc1"].text_lines()[2].startswith("200.5k")
    assert "FC share: 99.0%" in main_window.status_text()
    assert panel.headline_text() != before_headline
    assert main_window.isWindowModified()

    main_window.named_actions["undo"].trigger()
    assert canvas.items_by_id["fc1"].text_lines() == ["FC 120", "120", "48.1k · 78.0%"]
    assert "FC share: 95.8%" in main_window.status_text()
    assert panel.headline_text() == before_headline
    assert not main_window.isWindowModified()
    main_window.named_actions["redo"].trigger()
    assert canvas.items_by_id["fc1"].text_lines()[0] == "FC 500"


def test_undo_and_redo_have_the_usual_shortcuts(main_window):
    undo = [key.toString() for key in main_window.named_actions["undo"].shortcuts()]
    redo = [key.toString() for key in main_window.named_actions["redo"].shortcuts()]
    assert "Ctrl+Z" in undo and "Ctrl+Shift+Z" in redo
    assert main_window.named_actions["fit"].shortcut().toString() == "Ctrl+0"


def test_save_and_reopen_gives_the_same_design(main_window, document, tmp_path):
    document.set_param("conv1", "out_channels", 8)
    target = tmp_path / "mine.json"
    main_window.dialogs.save_path = str(target)
    assert main_window.save()  # no path yet: asks where (Save As)
    assert not main_window.isWindowModified()
    assert "mine.json" in main_window.windowTitle()
    saved = to_document(document.graph)

    main_window.new_file()
    assert len(document.graph) == 1
    assert main_window.open_path(target)
    assert to_document(document.graph) == saved
    assert document.path == target
    assert str(target.resolve()) in main_window.recent_files()
    assert json.loads(target.read_text(encoding="utf-8"))["blocks"][1]["params"]["out_channels"] == 8


def test_a_broken_file_shows_the_reason_and_leaves_the_design_alone(main_window, document, tmp_path):
    document.set_param("fc2", "out_features", 90)
    before = to_document(document.graph)
    broken = tmp_path / "broken.json"
    document_text = json.loads((TEMPLATES / "lenet5.json").read_text(encoding="utf-8"))
    document_text["edges"].append({"from": "conv1", "to": "nowhere"})
    broken.write_text(json.dumps(document_text), encoding="utf-8")

    main_window.dialogs.open_path = str(broken)
    assert not main_window.open_file()
    assert len(main_window.dialogs.errors) == 1
    title, text = main_window.dialogs.errors[0]
    assert "broken.json" in text and "nowhere" in text
    assert to_document(document.graph) == before
    assert document.modified and main_window.dialogs.unsaved_questions == 0


def test_closing_with_unsaved_changes_asks_first(main_window, document, qtbot):
    document.set_param("fc2", "out_features", 90)
    main_window.dialogs.unsaved_answer = QMessageBox.StandardButton.Cancel
    assert not main_window.close()
    assert main_window.isVisible() and main_window.dialogs.unsaved_questions == 1

    main_window.dialogs.unsaved_answer = QMessageBox.StandardButton.Discard
    assert main_window.close()
    assert main_window.dialogs.unsaved_questions == 2


def test_save_in_the_prompt_saves_before_the_new_design(main_window, document, tmp_path):
    document.set_param("fc2", "out_features", 90)
    main_window.dialogs.unsaved_answer = QMessageBox.StandardButton.Save
    main_window.dialogs.save_path = str(tmp_path / "kept.json")
    assert main_window.new_file()
    assert load_architecture(tmp_path / "kept.json").block("fc2").params["out_features"] == 90


def test_templates_menu_lists_template_names(main_window, document):
    names = [action.text() for action in main_window.menus["templates"].actions()]
    assert "VGG-16" in names and "LeNet-5" in names
    vgg = next(action for action in main_window.menus["templates"].actions() if action.text() == "VGG-16")
    vgg.trigger()
    assert document.graph.name == "VGG-16" and document.path is None
    assert "FC share: 89.4%" in main_window.status_text()


def test_dropping_a_json_file_on_the_window_opens_it(main_window, document):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(TEMPLATES / "vgg16.json"))])
    main_window.canvas.handle_drop(mime, main_window.canvas.viewport().rect().center())
    assert document.graph.name == "VGG-16"
    assert document.path is None  # a shipped template opens as a new design (Save asks where)


def test_layout_persists_through_settings(qtbot, isolated_settings):
    from designer.ui.main_window import MainWindow

    first = MainWindow(settings=isolated_settings)
    qtbot.addWidget(first)
    first.show()
    first.docks["inspector"].hide()
    first.close()
    assert isolated_settings.value("window/state") is not None

    second = MainWindow(settings=isolated_settings)
    qtbot.addWidget(second)
    second.show()
    assert second.docks["inspector"].isHidden()


def test_opening_the_window_does_not_import_torch():
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from designer.ui.main_window import MainWindow\n"
        "from PySide6.QtCore import QSettings\n"
        "import tempfile, os\n"
        "settings = QSettings(os.path.join(tempfile.mkdtemp(), 's.ini'), QSettings.Format.IniFormat)\n"
        "window = MainWindow(settings=settings)\n"
        "from designer.core import load_architecture\n"
        "from designer.core.paths import TEMPLATES\n"
        "window.show_graph(load_architecture(TEMPLATES / 'vgg16.json'), None)\n"
        "window.show(); app.processEvents()\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_screenshot_command_writes_a_png(tmp_path):
    target = tmp_path / "shot.png"
    result = subprocess.run(
        [sys.executable, "main.py", "--screenshot", str(target), str(TEMPLATES / "vgg16.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_bad_file_on_the_command_line_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "main.py", "--screenshot", str(tmp_path / "x.png"), str(bad)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 2
    assert "bad.json" in result.stderr and "not valid JSON" in result.stderr
