"""Where the window keeps its runs (``runs/<name>-<time>/``, the command line's layout).

In order: ``NETWORK_DESIGNER_RUNS`` (a folder for this session: scripts, tests); the folder
chosen in the Runs view (kept in the settings); ``runs/`` in the folder the program was
started from, when it exists — the command line writes there by default, so a window
started where ``train`` ran lists those runs next to its own; otherwise ``runs`` in the
per-user data folder (``~/.local/share/NetworkDesigner/Network Designer/runs`` on Linux),
never a new folder in whatever directory a desktop launcher happened to start the program in.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

ENVIRONMENT = "NETWORK_DESIGNER_RUNS"
SETTINGS_KEY = "runs/folder"


def _settings() -> QSettings:
    from designer.ui.main_window import default_settings

    return default_settings()


def runs_folder(settings: QSettings | None = None) -> tuple[Path, str]:
    """(the folder, why that one — for the Runs view to say)."""
    chosen = os.environ.get(ENVIRONMENT, "").strip()
    if chosen:
        return Path(chosen).expanduser(), f"set by {ENVIRONMENT}"
    stored = (settings or _settings()).value(SETTINGS_KEY, "", str)
    if stored:
        return Path(stored), "chosen here"
    here = Path.cwd() / "runs"
    if here.is_dir():
        return here, "the runs folder where the program started, where `train` writes"
    data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(data or Path.home() / ".network-designer") / "runs", "your data folder"


def set_runs_folder(folder: str | Path | None, settings: QSettings | None = None) -> None:
    """Keep ``folder`` for the next runs and sessions (None: back to the default rule)."""
    settings = settings or _settings()
    if folder:
        settings.setValue(SETTINGS_KEY, str(folder))
    else:
        settings.remove(SETTINGS_KEY)
    settings.sync()


def default_runs_folder() -> Path:
    """Where the next run is saved when the window has not said otherwise."""
    return runs_folder()[0]


__all__ = ["ENVIRONMENT", "default_runs_folder", "runs_folder", "set_runs_folder"]
