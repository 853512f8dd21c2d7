"""Where datasets live on disk: the per-user cache and the built-in sample."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APPLICATION_FOLDER = "network-designer"


def user_cache_root() -> Path:
    """The platform's per-user cache folder (what platformdirs would say, without the dependency)."""
    home = Path.home()
    if sys.platform == "win32":
        local_app_data = os.environ.get("LOCALAPPDATA")
        return Path(local_app_data) if local_app_data else home / "AppData" / "Local"
    if sys.platform == "darwin":
        return home / "Library" / "Caches"
    # The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    xdg_cache_home = os.environ.get("XDG_CACHE_HOME", "")
    return Path(xdg_cache_home) if os.path.isabs(xdg_cache_home) else home / ".cache"


def default_datasets_cache() -> Path:
    """<cache>/network-designer/datasets; each dataset gets a sub-folder named after it."""
    return user_cache_root() / APPLICATION_FOLDER / "datasets"


def builtin_datasets_folder() -> Path:
    """resources/datasets of this checkout (designer/data/ is two levels below the root)."""
    return Path(__file__).resolve().parents[2] / "resources" / "datasets"
