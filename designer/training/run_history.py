"""The runs folder read back: one ``RunRecord`` per run, for the Runs view. No torch, no Qt.

Every sub-folder of the runs folder is one entry, newest first. A run folder is what
``run_folder.save_run`` writes (or an older ``train --output`` folder: history.json,
history.csv, checkpoint.pt); the record comes from its ``history.json`` alone (and
``design.json`` for the parameter count when the history does not say). Anything else — a
folder without a history, a history that is damaged, foreign or from a newer program — is
an unreadable entry with the reason, never an exception. Hidden entries (the temporary
folders of runs being written) and plain files are left out.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from designer.training.history import HISTORY_FORMAT, HISTORY_VERSION, config_from_dict, result_from_dict
from designer.training.run_folder import CHECKPOINT, DESIGN, HISTORY_JSON

#: a history.json larger than this is not one of ours (a 10,000-epoch history is about 3 MB)
MAX_HISTORY_BYTES = 64 << 20
MAX_DESIGN_BYTES = 128 << 20  # the file format's own limit


@dataclass(frozen=True)
class RunRecord:
    folder: Path
    problem: str = ""  # why the folder cannot be read as a run ("" when it can)
    design_name: str = ""
    dataset: str = ""
    settings: str = ""
    status: str = ""
    message: str = ""
    best_validation_accuracy: float | None = None
    test_accuracy: float | None = None
    created: datetime.datetime | None = None  # local time
    seconds: float | None = None
    parameters: int | None = None
    epochs: tuple[int, ...] = ()
    validation_accuracy: tuple[float | None, ...] = ()
    validation_loss: tuple[float | None, ...] = ()
    train_accuracy: tuple[float, ...] = ()
    train_loss: tuple[float, ...] = ()
    config: object | None = field(default=None, compare=False)  # TrainConfig

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def readable(self) -> bool:
        return not self.problem

    @property
    def checkpoint(self) -> Path | None:
        path = self.folder / CHECKPOINT
        return path if self.readable and path.is_file() else None

    @property
    def design(self) -> Path | None:
        path = self.folder / DESIGN
        return path if self.readable and path.is_file() else None


def _modified(path: Path) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromtimestamp(path.stat().st_mtime)
    except (OSError, OverflowError, ValueError):
        return None


def _created(document: dict, folder: Path) -> datetime.datetime | None:
    text = document.get("created")
    if isinstance(text, str):
        try:
            moment = datetime.datetime.fromisoformat(text[:40])
        except ValueError:
            moment = None
        if moment is not None:
            return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment
    return _modified(folder / HISTORY_JSON)


def _dataset_text(config) -> str:
    if config is None:
        return ""
    if config.dataset == "folder":
        return f"image folder {Path(config.data_folder or '?').name}"
    return config.dataset


def _parameters(document: dict, folder: Path) -> int | None:
    design = document.get("design")
    if isinstance(design, dict) and isinstance(design.get("parameters"), int):
        return design["parameters"]
    path = folder / DESIGN
    try:
        if not path.is_file() or path.stat().st_size > MAX_DESIGN_BYTES:
            return None
        from designer.core import analyze, load_architecture

        analysis = analyze(load_architecture(path))
    except Exception:  # noqa: BLE001 - a damaged design leaves the count unknown, not the run unreadable
        return None
    return analysis.total_params if analysis.valid else None


def _design_name(document: dict, folder: Path) -> str:
    design = document.get("design")
    if isinstance(design, dict) and isinstance(design.get("name"), str):
        return design["name"][:200]
    architecture = document.get("architecture")
    return Path(architecture).stem[:200] if isinstance(architecture, str) and architecture else ""


def read_run(folder: str | Path) -> RunRecord:
    """The run in ``folder``; an unreadable record (``problem`` says why) for anything else."""
    folder = Path(folder)
    path = folder / HISTORY_JSON
    try:
        if not path.is_file():
            return RunRecord(folder, problem="no history.json: not a run folder")
        if path.stat().st_size > MAX_HISTORY_BYTES:
            return RunRecord(folder, problem=f"history.json is larger than {MAX_HISTORY_BYTES >> 20} MiB: not a run")
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        return RunRecord(folder, problem=f"cannot be read ({error.strerror or error})")
    except ValueError as error:
        return RunRecord(folder, problem=f"history.json is not valid JSON ({str(error)[:80]})")
    if not isinstance(document, dict) or document.get("format") != HISTORY_FORMAT:
        return RunRecord(folder, problem="history.json is not a Network Designer history")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > HISTORY_VERSION:
        return RunRecord(folder, problem=f"written by a newer version of the program (history version "
                                         f"{str(version)[:20]})")
    try:
        result = result_from_dict(document["result"])
        config = config_from_dict(document["config"]) if isinstance(document.get("config"), dict) else None
        history = result.history
        record = RunRecord(
            folder, design_name=_design_name(document, folder), dataset=_dataset_text(config),
            settings=config.summary() if config is not None else "", status=str(result.status)[:20],
            message=str(result.message)[:500], test_accuracy=_fraction(result.test_accuracy),
            created=_created(document, folder), seconds=_number(result.seconds),
            parameters=_parameters(document, folder),
            epochs=tuple(int(metrics.epoch) for metrics in history),
            validation_accuracy=tuple(_fraction(metrics.validation_accuracy) for metrics in history),
            validation_loss=tuple(_number(metrics.validation_loss) for metrics in history),
            train_accuracy=tuple(_fraction(metrics.train_accuracy) for metrics in history),
            train_loss=tuple(_number(metrics.train_loss) for metrics in history), config=config)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        return RunRecord(folder, problem=f"history.json is incomplete or damaged ({str(error)[:80]})")
    accuracies = [value for value in record.validation_accuracy if value is not None]
    return _replace(record, best_validation_accuracy=max(accuracies) if accuracies else None)


def _replace(record: RunRecord, **changes) -> RunRecord:
    import dataclasses

    return dataclasses.replace(record, **changes)


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _fraction(value) -> float | None:
    number = _number(value)
    return number if number is not None and 0.0 <= number <= 1.0 else None


def list_runs(root: str | Path) -> list[RunRecord]:
    """Every run under ``root``, newest first (unreadable entries last); [] when ``root`` does not exist."""
    root = Path(root)
    try:
        with os.scandir(root) as entries:
            folders = [Path(entry.path) for entry in entries
                       if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError:
        return []
    records = [read_run(folder) for folder in folders]
    readable = sorted((record for record in records if record.readable),
                      key=lambda record: (record.created or datetime.datetime.min, record.name), reverse=True)
    return readable + sorted((record for record in records if not record.readable), key=lambda record: record.name)


class RunDeletionError(Exception):
    """A run folder that was not deleted; the message says why, for a person."""


def delete_run(record: RunRecord) -> None:
    """Delete a readable run's folder: renamed to a hidden name first (it leaves the list at once,
    and a deletion cut short never leaves half a run listed), then removed."""
    if not record.readable:
        raise RunDeletionError(f"{record.name} is not a run folder ({record.problem}); it was left alone")
    folder = record.folder
    hidden = folder.with_name(f".{folder.name}.deleting")
    try:
        os.rename(folder, hidden)
    except OSError as error:
        raise RunDeletionError(f"cannot delete {folder}: {error.strerror or error}") from None
    shutil.rmtree(hidden, ignore_errors=True)


__all__ = ["RunDeletionError", "RunRecord", "delete_run", "list_runs", "read_run"]
