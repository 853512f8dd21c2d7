"""History files: CSV for spreadsheets, JSON with everything; both written atomically."""

from __future__ import annotations

import csv
import json
import math

import pytest

from designer.training import HistoryError, TrainConfig, load_history_json, save_history_csv, save_history_json
from designer.training.records import EpochMetrics, RunInfo, TrainResult


def sample_result(validation=True) -> TrainResult:
    history = [EpochMetrics(epoch, 1.0 / epoch, 0.5 + epoch / 10, 1.1 / epoch if validation else None,
                            0.45 + epoch / 10 if validation else None, seconds=2.5, learning_rate=1e-3)
               for epoch in (1, 2, 3)]
    return TrainResult(status="finished", message="finished 3 epochs; test accuracy 91.00%", epochs_completed=3,
                       best_epoch=3, test_loss=0.3, test_accuracy=0.91, confusion_matrix=[[5, 1], [0, 4]],
                       seconds=7.5, history=history)


def test_the_csv_has_one_row_per_epoch_with_a_header(tmp_path):
    result = sample_result()
    save_history_csv(result.history, tmp_path / "history.csv")
    with open(tmp_path / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    assert list(rows[0]) == ["epoch", "train_loss", "train_accuracy", "validation_loss", "validation_accuracy",
                             "seconds", "learning_rate"]
    assert [float(row["train_loss"]) for row in rows] == [metrics.train_loss for metrics in result.history]
    assert rows[2]["epoch"] == "3"


def test_missing_validation_figures_are_empty_cells(tmp_path):
    save_history_csv(sample_result(validation=False).history, tmp_path / "history.csv")
    rows = list(csv.DictReader(open(tmp_path / "history.csv", newline="")))
    assert rows[0]["validation_loss"] == "" and rows[0]["validation_accuracy"] == ""


def test_the_json_round_trips_result_and_config(tmp_path):
    result = sample_result()
    config = TrainConfig(epochs=3, optimizer="sgd", learning_rate=0.05, early_stopping_patience=2)
    info = RunInfo(device="cpu", train_samples=90, validation_samples=10, test_samples=10, batches_per_epoch=2,
                   epochs=3, class_names=("a", "b"))
    save_history_json(result, tmp_path / "history.json", config, info, architecture="net.json")
    document = json.loads((tmp_path / "history.json").read_text())
    assert document["format"] == "network-designer/history"
    assert document["run"]["class_names"] == ["a", "b"]
    assert document["architecture"] == "net.json"
    loaded_result, loaded_config = load_history_json(tmp_path / "history.json")
    assert loaded_result == result
    assert loaded_config == config


def test_a_non_finite_figure_is_written_as_null_so_the_file_stays_valid_json(tmp_path):
    result = sample_result()
    broken = EpochMetrics(4, math.nan, 0.1, math.inf, 0.1, seconds=1.0, learning_rate=0.5)
    result = TrainResult(status="failed", message="the loss became NaN", epochs_completed=3, best_epoch=3,
                         test_loss=None, test_accuracy=None, confusion_matrix=None, seconds=1.0,
                         history=[*result.history, broken], failure="non-finite-loss")
    save_history_json(result, tmp_path / "history.json")
    text = (tmp_path / "history.json").read_text()

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    json.loads(text, parse_constant=refuse)
    loaded, config = load_history_json(tmp_path / "history.json")
    assert loaded.history[-1].train_loss is None and loaded.failure == "non-finite-loss"
    assert config is None


def test_saving_replaces_the_file_whole_and_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "history.json"
    target.write_text("old")
    save_history_json(sample_result(), target)
    save_history_csv(sample_result().history, tmp_path / "history.csv")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["history.csv", "history.json"]
    assert json.loads(target.read_text())["result"]["status"] == "finished"


@pytest.mark.parametrize("content, words", [
    ("not json", "not valid JSON"),
    ('{"format": "something-else"}', "not a Network Designer history"),
    ('{"format": "network-designer/history", "version": 99, "result": {}}', "newer version"),
    ('{"format": "network-designer/history", "version": 1, "result": {"status": 1}}', "damaged"),
])
def test_a_file_that_is_not_a_history_is_refused_clearly(tmp_path, content, words):
    path = tmp_path / "history.json"
    path.write_text(content)
    with pytest.raises(HistoryError, match=words):
        load_history_json(path)


def test_a_missing_history_file_is_a_history_error(tmp_path):
    with pytest.raises(HistoryError, match="cannot read"):
        load_history_json(tmp_path / "nope.json")
