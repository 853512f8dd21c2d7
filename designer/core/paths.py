"""Where the program's own files live."""

from pathlib import Path

#: resources/ at the top of the source tree (templates, schema, datasets, style sheet).
RESOURCES = Path(__file__).resolve().parents[2] / "resources"
TEMPLATES = RESOURCES / "templates"


def template_paths() -> list[Path]:
    return sorted(TEMPLATES.glob("*.json"))
