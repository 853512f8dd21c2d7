"""View ▸ Appearance: follow the system's colour scheme (the default), or always light or dark.

The choice is saved in the window's settings; ``NETWORK_DESIGNER_COLOUR_SCHEME`` overrides it
(and then the menu is greyed out, saying so).
"""

from __future__ import annotations

import os

from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QApplication

from designer.ui.style import PREFERENCES, SCHEME_SETTING, SCHEME_VARIABLE, set_colour_scheme

CHOICES = (("system", "Follow the &System"), ("light", "&Light"), ("dark", "&Dark"))


def colour_scheme_preference(settings) -> str:
    value = settings.value(SCHEME_SETTING, "system")
    return value if value in PREFERENCES else "system"


def install_appearance_menu(window) -> None:
    """Add View ▸ Appearance to ``window`` (uses its ``menus``, ``named_actions``, ``settings``)."""
    menu = window.menus["appearance"] = window.menus["view"].addMenu("A&ppearance")
    group = QActionGroup(menu)
    chosen = colour_scheme_preference(window.settings)

    def choose(preference: str) -> None:
        window.settings.setValue(SCHEME_SETTING, preference)
        set_colour_scheme(QApplication.instance(), preference)

    for preference, text in CHOICES:
        action = menu.addAction(text)
        action.setCheckable(True)
        action.setChecked(preference == chosen)
        action.triggered.connect(lambda checked=False, preference=preference: choose(preference))
        group.addAction(action)
        window.named_actions[f"appearance_{preference}"] = action
    if os.environ.get(SCHEME_VARIABLE):
        menu.setEnabled(False)
        menu.setToolTip(f"Set by the environment variable {SCHEME_VARIABLE}")


__all__ = ["CHOICES", "colour_scheme_preference", "install_appearance_menu"]
