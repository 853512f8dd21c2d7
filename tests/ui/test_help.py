"""Help ▸ Getting Started and Help ▸ Keyboard Shortcuts."""

from __future__ import annotations

from PySide6.QtCore import Qt

from designer.ui.shortcuts import set_shortcuts


def test_help_menu_has_getting_started_shortcuts_and_about(main_window):
    texts = [action.text().replace("&", "") for action in main_window.menus["help"].actions() if action.text()]
    assert texts == ["Getting Started", "Keyboard Shortcuts", "About Network Designer"]


def test_f1_opens_getting_started_with_the_five_steps(qtbot, main_window):
    main_window.activateWindow()
    main_window.canvas.setFocus()
    qtbot.keyClick(main_window.canvas, Qt.Key.Key_F1)
    page = main_window.help_pages["getting_started"]
    assert page.isVisible()
    text = page.plain_text()
    for heading in ("Add blocks", "Wire them", "Read the FC share", "Train", "FC Lab"):
        assert heading in text
    assert "FC layers hold" in text and "Adapt input to dataset" in text


def test_the_shortcuts_page_lists_what_the_actions_really_have(main_window):
    text = main_window.show_keyboard_shortcuts().plain_text()
    lines = text.splitlines()
    # Rows come out as menu / command / keys; the training menu is installed by another module.
    for menu, command, key in (("Edit", "Undo", "Ctrl+Z"), ("Edit", "Redo", "Ctrl+Shift+Z"),
                               ("View", "Auto Layout", "Ctrl+L"), ("Training", "Start Training", "Ctrl+T")):
        index = next(i for i in range(len(lines) - 2) if lines[i:i + 2] == [menu, command])
        assert key in lines[index + 2].split(", ")
    assert "F14" not in text  # the Sun keyboard's Undo key is bound under X11, but not listed
    assert "Mouse wheel" in text


def test_the_shortcuts_page_follows_a_changed_key(main_window):
    set_shortcuts(main_window.named_actions["auto_layout"], "Ctrl+K")
    text = main_window.show_keyboard_shortcuts().plain_text()
    assert "Ctrl+K" in text and "Ctrl+L" not in text
    assert len(main_window.help_pages) == 1  # the same page, refreshed
