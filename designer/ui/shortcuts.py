"""Keyboard shortcuts: set them without duplicates, remember how they were asked for, list them.

Qt expands a ``QKeySequence.StandardKey`` to the platform's own keys at run time (Redo is
Ctrl+Y on Windows, Ctrl+Shift+Z under X11, ⌘⇧Z on macOS). Adding a literal key next to a
standard one can therefore give one action the same key twice on one platform only, and Qt
then calls every press of it ambiguous and does nothing (issue 14a). ``set_shortcuts`` drops
such repeats and records what was asked for (``shortcut_spec``), so a test can expand the
same request under every platform's bindings and look for clashes there too.

The Help ▸ Keyboard shortcuts page is made by ``shortcut_rows`` from the window's actual
actions, so it cannot drift from what the keys do.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar

#: the dynamic property holding an action's requested keys ("StandardKey.Redo", "Ctrl+Y", ...)
SPEC_PROPERTY = "shortcut_spec"
_STANDARD_PREFIX = "StandardKey."
_PORTABLE = QKeySequence.SequenceFormat.PortableText
_NATIVE = QKeySequence.SequenceFormat.NativeText

KeySpec = QKeySequence.StandardKey | str

#: what Edit ▸ Undo and Redo answer to. Redo is Ctrl+Y on Windows and Ctrl+Shift+Z elsewhere;
#: both work everywhere (``expand`` keeps the one the platform already binds from repeating).
UNDO_KEYS = ("StandardKey.Undo",)
REDO_KEYS = ("StandardKey.Redo", "Ctrl+Shift+Z", "Ctrl+Y")


def spec_text(key: KeySpec) -> str:
    """How one requested key is written in the spec: "StandardKey.Redo" or "Ctrl+Y"."""
    if isinstance(key, QKeySequence.StandardKey):
        return _STANDARD_PREFIX + key.name
    if key.startswith(_STANDARD_PREFIX):
        return key
    return QKeySequence(key).toString(_PORTABLE)


def standard_key_name(text: str) -> str | None:
    """"StandardKey.Redo" → "Redo"; a literal key → None."""
    return text[len(_STANDARD_PREFIX):] if text.startswith(_STANDARD_PREFIX) else None


def expand(spec, bindings=None) -> list[str]:
    """The key sequences (portable text, in order, each once) that ``spec`` asks for.

    ``bindings(name)`` gives a standard key's sequences; by default the running platform's
    (``QKeySequence.keyBindings``), i.e. what an action set from this spec responds to.
    """
    result: list[str] = []
    for text in spec:
        name = standard_key_name(text)
        if name is None:
            candidates = [text]
        elif bindings is None:
            standard = getattr(QKeySequence.StandardKey, name)
            candidates = [sequence.toString(_PORTABLE) for sequence in QKeySequence.keyBindings(standard)]
        else:
            candidates = list(bindings(name))
        result.extend(candidate for candidate in candidates if candidate and candidate not in result)
    return result


def set_shortcuts(action: QAction, *keys: KeySpec) -> None:
    """Give ``action`` every key of ``keys`` (standard keys expanded for this platform), each once."""
    spec = [spec_text(key) for key in keys]
    action.setShortcuts([QKeySequence(text) for text in expand(spec)])
    action.setProperty(SPEC_PROPERTY, spec)


def key_combinations(spec) -> set:
    """The single key presses (``QKeyCombination``) that ``spec`` gives on this platform."""
    return {QKeySequence(text)[0] for text in expand([spec_text(key) for key in spec])
            if QKeySequence(text).count() == 1}


def shortcut_spec(action: QAction) -> list[str]:
    """What ``action``'s keys were asked as; an action set elsewhere counts as its literal keys."""
    spec = action.property(SPEC_PROPERTY)
    if spec:
        return [str(item) for item in spec]
    return [sequence.toString(_PORTABLE) for sequence in action.shortcuts() if not sequence.isEmpty()]


def _clean_text(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def menu_actions(menu_bar: QMenuBar) -> list[tuple[str, QAction]]:
    """Every action reachable from the menu bar, with its menu path ("Edit", "View ▸ Panels")."""
    found: list[tuple[str, QAction]] = []

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.isSeparator():
                continue
            if action.menu() is not None:
                walk(action.menu(), f"{path} ▸ {_clean_text(action.text())}")
            else:
                found.append((path, action))

    for top in menu_bar.actions():
        if top.menu() is not None:
            walk(top.menu(), _clean_text(top.text()))
    return found


def on_common_keyboards(sequence: QKeySequence) -> bool:
    """False for keys most keyboards lack (F13–F35, the dedicated Undo, Copy, Help… keys).

    Qt binds those too (Undo is also F14, the Sun keyboard's Undo key, under X11); they work,
    but listing them would bury the keys people actually press.
    """
    return not sequence.isEmpty() and all(
        sequence[index].key().value < Qt.Key.Key_F13.value for index in range(sequence.count()))


def shortcut_rows(menu_bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu path, command, keys as this platform shows them) for each menu command with keys."""
    rows = []
    for path, action in menu_actions(menu_bar):
        keys = [sequence.toString(_NATIVE) for sequence in action.shortcuts() if on_common_keyboards(sequence)]
        if keys:
            rows.append((path, _clean_text(action.text()), ", ".join(keys)))
    return rows


__all__ = [
    "REDO_KEYS",
    "UNDO_KEYS",
    "key_combinations",
    "SPEC_PROPERTY",
    "expand",
    "menu_actions",
    "on_common_keyboards",
    "set_shortcuts",
    "shortcut_rows",
    "shortcut_spec",
    "spec_text",
    "standard_key_name",
]
