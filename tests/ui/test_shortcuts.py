"""Keyboard shortcuts: no key does two things (or one thing twice) under any platform's bindings.

Qt expands a standard key (``QKeySequence.StandardKey``) to the running platform's keys, and
the offscreen platform of the tests uses the Windows table (Redo = Ctrl+Y), so a test that only
looks at the actions it sees here misses a clash that exists under X11 only (issue 14a: Redo
plus a literal Ctrl+Shift+Z gave one action Ctrl+Shift+Z twice there, and Qt ignored the key).

Qt offers no call for another platform's bindings, so ``BINDINGS`` lists them for the standard
keys the window uses. Three of its five columns are checked against Qt itself: Windows here
(offscreen), X11 and KDE in a subprocess under Xvfb (skipped without one; CI installs it).
macOS and GNOME cannot run here; their rows follow Qt's table in qplatformtheme.cpp (GNOME is
X11 plus GNOME's own entries, none of which touch these keys). In portable text "Ctrl" is ⌘ on
macOS and "Meta" is its Control key, for standard and literal keys alike, so they compare as is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from PySide6.QtGui import QAction, QKeySequence

from designer.ui.shortcuts import SPEC_PROPERTY, expand, menu_actions, set_shortcuts, shortcut_spec, standard_key_name

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("x11_keys_probe.py")

_X11 = {
    "New": ["Ctrl+N", "New"], "Open": ["Ctrl+O", "Open"], "Save": ["Ctrl+S", "Save"],
    "SaveAs": ["Ctrl+Shift+S", "Shift+Save"], "Quit": ["Ctrl+Q", "Exit"],
    "Undo": ["Ctrl+Z", "F14", "Undo"], "Redo": ["Ctrl+Shift+Z", "Redo"],
    "Cut": ["Ctrl+X", "Shift+Del", "F20", "Cut"], "Copy": ["Ctrl+C", "Ctrl+Ins", "F16", "Copy"],
    "Paste": ["Ctrl+V", "Ctrl+Shift+Ins", "Shift+Ins", "F18", "Paste"], "Delete": ["Del", "Ctrl+D"],
    "SelectAll": ["Ctrl+A"], "ZoomIn": ["Ctrl++", "Zoom In"], "ZoomOut": ["Ctrl+-", "Zoom Out"],
    "HelpContents": ["F1", "Help"],
}
BINDINGS: dict[str, dict[str, list[str]]] = {
    "windows": {
        "New": ["Ctrl+N", "New"], "Open": ["Ctrl+O", "Open"], "Save": ["Ctrl+S", "Save"],
        "SaveAs": ["Ctrl+Shift+S", "Shift+Save"], "Quit": [],
        "Undo": ["Ctrl+Z", "Alt+Backspace", "Undo"], "Redo": ["Ctrl+Y", "Alt+Shift+Backspace", "Ctrl+Shift+Z", "Redo"],
        "Cut": ["Ctrl+X", "Shift+Del", "Cut"], "Copy": ["Ctrl+C", "Ctrl+Ins", "Copy"],
        "Paste": ["Ctrl+V", "Shift+Ins", "Paste"], "Delete": ["Del"], "SelectAll": ["Ctrl+A"],
        "ZoomIn": ["Ctrl++", "Zoom In"], "ZoomOut": ["Ctrl+-", "Zoom Out"], "HelpContents": ["F1", "Help"],
    },
    "x11": _X11,
    "kde": dict(_X11),
    "gnome": dict(_X11),
    "mac": {
        "New": ["Ctrl+N", "New"], "Open": ["Ctrl+O", "Open"], "Save": ["Ctrl+S", "Save"],
        "SaveAs": ["Ctrl+Shift+S", "Shift+Save"], "Quit": ["Ctrl+Q"],
        "Undo": ["Ctrl+Z", "Undo"], "Redo": ["Ctrl+Shift+Z", "Redo"],
        "Cut": ["Ctrl+X", "Meta+K", "Cut"], "Copy": ["Ctrl+C", "Copy"], "Paste": ["Ctrl+V", "Meta+Y", "Paste"],
        "Delete": ["Del", "Meta+D"], "SelectAll": ["Ctrl+A"], "ZoomIn": ["Ctrl++", "Zoom In"],
        "ZoomOut": ["Ctrl+-", "Zoom Out"], "HelpContents": ["Ctrl+?", "Help"],
    },
}


def window_actions(window) -> list[tuple[str, QAction]]:
    """Every action of the window, its menus (including those other parts install) and its docks."""
    found = {id(action): (path, action) for path, action in menu_actions(window.menuBar())}
    for action in window.findChildren(QAction):
        found.setdefault(id(action), (action.parent().objectName() or type(action.parent()).__name__, action))
    return list(found.values())


def _name(path: str, action: QAction) -> str:
    return f"{path} ▸ {action.text().replace('&', '')}"


def clashes(actions, scheme: str) -> list[str]:
    """Keys that reach two actions, or one action twice, under ``scheme``'s bindings."""
    table = BINDINGS[scheme]
    owners: dict[str, list[str]] = defaultdict(list)
    problems = []
    for path, action in actions:
        spec = shortcut_spec(action)
        unknown = [name for name in map(standard_key_name, spec) if name is not None and name not in table]
        if unknown:
            problems.append(f"{_name(path, action)} uses {unknown}: add their bindings to BINDINGS")
            continue
        # set_shortcuts gives each key once; keys set some other way are taken as they are,
        # repeats included (a repeat is what made Qt call Ctrl+Shift+Z ambiguous).
        keys = expand(spec, table.get) if action.property(SPEC_PROPERTY) else spec
        for key in keys:
            owners[key].append(_name(path, action))
    problems += [f"{key}: {', '.join(names)}" for key, names in owners.items() if len(names) > 1]
    return problems


@pytest.mark.parametrize("scheme", sorted(BINDINGS))
def test_no_key_is_bound_twice_under_any_platform(main_window, scheme):
    actions = window_actions(main_window)
    assert len([action for _, action in actions if action.shortcuts()]) >= 15  # the training menu's are in
    assert clashes(actions, scheme) == []


def test_the_check_finds_a_clash_that_exists_under_one_platform_only(main_window):
    # Ctrl+D is Delete's second key under X11, KDE and GNOME only.
    duplicate = QAction("Duplicate", main_window)
    set_shortcuts(duplicate, "Ctrl+D")
    main_window.menus["edit"].addAction(duplicate)
    actions = window_actions(main_window)
    assert clashes(actions, "windows") == [] and clashes(actions, "mac") == []
    for scheme in ("x11", "kde", "gnome"):
        assert clashes(actions, scheme) == ["Ctrl+D: Edit ▸ Delete, Edit ▸ Duplicate"]


def test_the_redo_that_failed_under_x11_would_be_caught():
    # What the window did before: Redo's own keys plus a literal Ctrl+Shift+Z, unmerged.
    x11_keys = BINDINGS["x11"]["Redo"] + ["Ctrl+Shift+Z"]
    assert len(x11_keys) != len(set(x11_keys))
    # What set_shortcuts gives: each key once, under every platform.
    for table in BINDINGS.values():
        keys = expand(["StandardKey.Redo", "Ctrl+Shift+Z", "Ctrl+Y"], table.get)
        assert len(keys) == len(set(keys)) and {"Ctrl+Shift+Z", "Ctrl+Y"} <= set(keys)


def test_redo_and_undo_keys_here(main_window):
    redo = [key.toString() for key in main_window.named_actions["redo"].shortcuts()]
    undo = [key.toString() for key in main_window.named_actions["undo"].shortcuts()]
    assert "Ctrl+Z" in undo and {"Ctrl+Shift+Z", "Ctrl+Y"} <= set(redo) and len(redo) == len(set(redo))


def test_the_windows_column_is_what_qt_says_here(qapp):
    if qapp.platformName() != "offscreen":
        pytest.skip("the offscreen platform uses Qt's Windows key bindings")
    here = {name: [sequence.toString(QKeySequence.SequenceFormat.PortableText)
                   for sequence in QKeySequence.keyBindings(getattr(QKeySequence.StandardKey, name))]
            for name in BINDINGS["windows"]}
    assert here == BINDINGS["windows"]


def _under_xvfb(arguments: list[str], extra_env: dict | None = None) -> subprocess.CompletedProcess:
    if shutil.which("xvfb-run") is None:
        pytest.skip("needs Xvfb (Debian: xvfb, xauth)")
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", PYTHONPATH=str(ROOT), **(extra_env or {}))
    for name in ("XDG_CURRENT_DESKTOP", "KDE_SESSION_VERSION", "DESKTOP_SESSION"):
        if name not in (extra_env or {}):
            env.pop(name, None)
    return subprocess.run(["xvfb-run", "-a", sys.executable, str(PROBE), *arguments], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("scheme, env", [("x11", {}), ("kde", {"XDG_CURRENT_DESKTOP": "KDE", "KDE_SESSION_VERSION": "5"})])
def test_the_x11_and_kde_columns_are_what_qt_says_under_x11(scheme, env):
    result = _under_xvfb(["bindings", *BINDINGS[scheme]], env)
    assert result.returncode == 0, result.stderr[-2000:]
    reported = json.loads(result.stdout.strip().splitlines()[-1])
    assert reported["platform"] == "xcb"
    assert reported["bindings"] == BINDINGS[scheme]


@pytest.mark.parametrize("driver", ["qtest", "xdotool"])
def test_ctrl_shift_z_and_ctrl_y_redo_under_x11(driver):
    if driver == "xdotool" and shutil.which("xdotool") is None:
        pytest.skip("needs xdotool (Debian: xdotool)")
    result = _under_xvfb(["redo"] + (["--xdotool"] if driver == "xdotool" else []))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Ambiguous shortcut" not in result.stderr
    reported = json.loads(result.stdout.strip().splitlines()[-1])
    assert reported["platform"] == "xcb"
    assert reported["ctrl+shift+z"] == {"before": 120, "after": 77}
    assert reported["ctrl+y"] == {"before": 77, "after": 88}
