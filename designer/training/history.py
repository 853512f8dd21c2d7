"""Training history as CSV (one row per epoch, for spreadsheets) and JSON (everything)."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, fields
from pathlib import Path

from designer.core.atomic import write_text_atomically
from designer.core.errors import DesignerError
from designer.training.records import EpochMetrics, RunInfo, TrainConfig, TrainResult

HISTORY_FORMAT = "network-designer/history"
HISTORY_VERSION = 1
CSV_COLUMNS = tuple(field.name for field in fields(EpochMetrics))


class HistoryError(DesignerError):
    """A history file that cannot be read back."""


def _finite_or_none(value):
    # JSON has no NaN; a failed run's last metrics may hold one.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _clean(value):
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return _finite_or_none(value)


def history_csv_text(history: list[EpochMetrics]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for metrics in history:
        row = []
        for name in CSV_COLUMNS:
            value = getattr(metrics, name)
            row.append("" if value is None else repr(value) if isinstance(value, float) else value)
        writer.writerow(row)
    return buffer.getvalue()


def save_history_csv(history: list[EpochMetrics], path: str | Path) -> None:
    """One row per epoch; an empty cell where there is no validation set. Written atomically."""
    write_text_atomically(Path(path), history_csv_text(history))


def result_to_dict(result: TrainResult) -> dict:
    return _clean(asdict(result))


def result_from_dict(data: dict) -> TrainResult:
    """Inverse of result_to_dict; unknown keys (from a newer program) are ignored."""
    known = {field.name for field in fields(TrainResult)}
    values = {key: value for key, value in data.items() if key in known}
    epoch_keys = {field.name for field in fields(EpochMetrics)}
    values["history"] = [EpochMetrics(**{key: value for key, value in entry.items() if key in epoch_keys})
                         for entry in data.get("history") or []]
    return TrainResult(**values)


def config_from_dict(data: dict) -> TrainConfig:
    known = {field.name for field in fields(TrainConfig)}
    return TrainConfig(**{key: value for key, value in data.items() if key in known})


def history_document(result: TrainResult, config: TrainConfig | None = None, info: RunInfo | None = None,
                     architecture: str | None = None, extra: dict | None = None) -> dict:
    """``extra``: more top-level keys (a run folder adds ``design`` and ``created``, see run_folder.py)."""
    return {
        "format": HISTORY_FORMAT,
        "version": HISTORY_VERSION,
        "architecture": architecture,
        "config": config.to_dict() if config is not None else None,
        "run": _clean(asdict(info)) if info is not None else None,
        "result": result_to_dict(result),
        **_clean(extra or {}),
    }


def save_history_json(result: TrainResult, path: str | Path, config: TrainConfig | None = None,
                      info: RunInfo | None = None, architecture: str | None = None, extra: dict | None = None) -> None:
    """Config, run facts and the whole result (per-epoch metrics, test figures). Atomic."""
    text = json.dumps(history_document(result, config, info, architecture, extra), indent=2, ensure_ascii=False,
                      allow_nan=False)
    write_text_atomically(Path(path), text + "\n")


def load_history_json(path: str | Path) -> tuple[TrainResult, TrainConfig | None]:
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise HistoryError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise HistoryError(f"{path.name} is not a history file (not valid JSON: {error})") from None
    if not isinstance(document, dict) or document.get("format") != HISTORY_FORMAT:
        raise HistoryError(f"{path.name} is not a Network Designer history file")
    if not isinstance(document.get("version"), int) or document["version"] > HISTORY_VERSION:
        raise HistoryError(f"{path.name} was written by a newer version of the program "
                           f"(history version {document.get('version')!r})")
    try:
        result = result_from_dict(document["result"])
        config = config_from_dict(document["config"]) if document.get("config") else None
    except (KeyError, TypeError, AttributeError) as error:
        raise HistoryError(f"{path.name}: the history is incomplete or damaged ({error})") from None
    return result, config
