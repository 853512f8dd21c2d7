"""A run's folder, ``runs/<name>-<time>/``: what every run from the command line or the Training dock leaves.

``history.csv`` (one row per epoch), ``history.json`` (settings, run facts, the whole result,
and a few facts about the design for the Runs view), ``design.json`` (the design exactly as
trained) and ``checkpoint.pt`` (design + weights, when the run kept a network). The Runs
view (``designer.training.run_history``) reads them back without loading torch.

A new folder is written whole or not at all: its files go into a hidden temporary folder
beside it, which is renamed into place at the end, so the Runs view never lists half a run.
Into a folder that exists already (``train --output DIR``) each file is written atomically.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
from pathlib import Path

from designer.core import Graph, analyze, save_architecture
from designer.training.history import save_history_csv, save_history_json
from designer.training.records import RunInfo, TrainConfig, TrainResult

HISTORY_CSV, HISTORY_JSON, CHECKPOINT, DESIGN = "history.csv", "history.json", "checkpoint.pt", "design.json"
RUN_FILES = (HISTORY_CSV, HISTORY_JSON, DESIGN, CHECKPOINT)


def folder_stem(name: str) -> str:
    """A design or file name as a folder name: letters, digits, ``.``, ``_`` and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "run"


def new_run_folder(root: str | Path, name: str, now: datetime.datetime | None = None) -> Path:
    """``root/<name>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``… when a run of that second exists); not created."""
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{folder_stem(name)}-{stamp}"
    folder, number = base, 1
    while folder.exists():
        number += 1
        folder = base.with_name(f"{base.name}-{number}")
    return folder


def design_facts(graph: Graph) -> dict:
    """What the Runs view lists about the design, computed without torch."""
    analysis = analyze(graph)
    return {"name": graph.name, "parameters": analysis.total_params if analysis.valid else None, "file": DESIGN}


def save_run(folder: str | Path, graph: Graph, config: TrainConfig, result: TrainResult, info: RunInfo | None,
             *, module=None, normalisation=None, class_names=(), architecture: str | None = None) -> Path:
    """Write the run's files into ``folder`` (see the module docstring); returns the folder.

    ``module``: the trained network (None: no checkpoint, e.g. a run that failed). Raises
    OSError or ``CheckpointError`` when something cannot be written; a new folder is then
    left out entirely.
    """
    folder = Path(folder)
    if folder.is_dir():
        _write(folder, graph, config, result, info, module, normalisation, class_names, architecture)
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    try:
        temporary.mkdir()
        _write(temporary, graph, config, result, info, module, normalisation, class_names, architecture)
        os.rename(temporary, folder)  # the moment the run appears, whole
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)
    return folder


def _write(folder: Path, graph, config, result, info, module, normalisation, class_names, architecture) -> None:
    save_history_csv(result.history, folder / HISTORY_CSV)
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    save_history_json(result, folder / HISTORY_JSON, config, info, architecture=architecture,
                      extra={"design": design_facts(graph), "created": created})
    save_architecture(graph, folder / DESIGN)
    if module is not None:
        from designer.training.checkpoint import save_checkpoint

        save_checkpoint(folder / CHECKPOINT, graph, module, config, result, normalisation, class_names)


__all__ = ["CHECKPOINT", "DESIGN", "HISTORY_CSV", "HISTORY_JSON", "RUN_FILES", "design_facts", "folder_stem",
           "new_run_folder", "save_run"]
