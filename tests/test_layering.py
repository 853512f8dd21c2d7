"""Dependencies point one way: ui → lab → training, data, nn → core.

The non-UI packages never import Qt (they run headless and in worker code), and importing
designer.core never imports torch (the window must open before torch has loaded).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DESIGNER = ROOT / "designer"
QT_MODULES = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6")
PACKAGES = ("designer.core", "designer.nn", "designer.data", "designer.training", "designer.lab",
            "designer.exchange")


def modules_after_import(package: str) -> list[str]:
    code = f"import json, sys; import {package}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def is_top(module: str, names) -> bool:
    return module.split(".")[0] in names


@pytest.mark.parametrize("package", PACKAGES)
def test_package_does_not_import_qt(package):
    folder = DESIGNER / package.split(".")[1]
    if not (folder / "__init__.py").is_file():
        pytest.skip(f"{package} does not exist yet")
    loaded = [module for module in modules_after_import(package) if is_top(module, QT_MODULES)]
    assert loaded == [], f"importing {package} loaded {loaded}"


def test_core_does_not_import_torch():
    loaded = modules_after_import("designer.core")
    assert [module for module in loaded if is_top(module, ("torch",))] == []
    assert [module for module in loaded if is_top(module, QT_MODULES)] == []


def test_core_summary_and_file_reading_do_not_import_torch():
    """`python main.py info` goes through exactly these; it must stay light."""
    code = (
        "import sys; from designer.core import load_architecture, TEMPLATES;"
        "from designer.core.summary import summary_text;"
        "summary_text(load_architecture(TEMPLATES / 'lenet5.json'));"
        "print(any(m.split('.')[0] == 'torch' for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module", "__import__"
        ):
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
    return names


def test_no_file_outside_ui_imports_qt_statically():
    offenders = []
    for path in sorted(DESIGNER.rglob("*.py")):
        relative = path.relative_to(DESIGNER)
        if relative.parts[0] == "ui":
            continue
        for name in imported_modules(path):
            if is_top(name, QT_MODULES):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_core_imports_nothing_from_the_outer_layers():
    offenders = []
    for path in sorted((DESIGNER / "core").rglob("*.py")):
        for name in imported_modules(path):
            if name.startswith(("designer.nn", "designer.data", "designer.training", "designer.ui", "torch")):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_nothing_outside_the_training_package_constructs_a_trainer():
    """Every run goes down the run path (designer.training.run), which builds the Trainer where it trains."""
    offenders = []
    for path in sorted(DESIGNER.rglob("*.py")):
        if path.relative_to(DESIGNER).parts[0] == "training":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Trainer":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("module", ["designer.training.run", "designer.training.fit", "designer.training.datasets",
                                    "designer.training.normalisation",
                                    "designer.lab.sweep", "designer.lab.compare", "designer.lab.models"])
def test_what_the_window_uses_before_a_run_does_not_load_torch(module):
    """The dock checks and builds requests, the sweep window finds the head, in the GUI thread:
    torch must load in the training process (or a worker thread), never there."""
    loaded = modules_after_import(module)
    assert [name for name in loaded if is_top(name, ("torch",))] == []
    assert [name for name in loaded if is_top(name, QT_MODULES)] == []


def test_a_runs_events_and_results_unpickle_without_torch():
    """The window reads them from the training process; a sweep must not load torch there."""
    code = ("import pickle, sys, numpy as np\n"
            "from designer.training.normalisation import Normalisation\n"
            "from designer.training.records import TrainResult, RunInfo\n"
            "from designer.training.run import RunEnded, RunResult, RunOutcome, RunStarted\n"
            "result = RunResult('a', RunOutcome(TrainResult('finished', 'ok', 1, 1, 0.1, 0.9, [[1]], 1.0), "
            "RunInfo('cpu', 1, 1, 1, 1, 1, ('0',)), ('0',), np.zeros((1, 1, 2, 2), np.uint8)), "
            "{'w': np.zeros(3)}, Normalisation((0.5,), (0.2,)))\n"
            "blob = pickle.dumps([RunEnded('a', result), RunStarted('a', result.outcome.info, 1)])\n"
            "for name in [m for m in sys.modules if m.startswith('designer')]: del sys.modules[name]\n"
            "pickle.loads(blob); print(any(m.split('.')[0] == 'torch' for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
