"""The lab's experiments without a window: side-by-side training, FC → conv with weights, shift probes.

Tiny runs on the built-in sample (LeNet-5, one epoch, big batches), trained in this process
(``Local(own_process=False)``); the window's tests run the same functions in the training process.
"""

from __future__ import annotations

import pytest

from designer.core import TEMPLATES, load_architecture
from designer.lab import Cancelled
from designer.lab.compare import ComparisonFailed, train_side_by_side
from designer.lab.convert import convert_design
from designer.lab.models import has_fc_layers, same_architecture
from designer.lab.shift import probe_models
from designer.lab.transforms import replace_head_with_gap
from designer.training.records import TrainConfig
from designer.training.run import Local, RunEnded

HERE = Local(own_process=False)
CONFIG = TrainConfig(dataset="mnist-sample", epochs=1, batch_size=500, device="cpu", download=False)


@pytest.fixture(scope="module")
def pair():
    lenet = load_architecture(TEMPLATES / "lenet5.json")
    gap, _report = replace_head_with_gap(lenet, "gap_fc")
    events = []
    models = train_side_by_side([("FC head", lenet), ("GAP head", gap)], CONFIG, emit=events.append, launch=HERE)
    return lenet, gap, models, events


def test_side_by_side_trains_both_with_the_same_settings(pair):
    lenet, gap, models, events = pair
    assert [model.label for model in models] == ["FC head", "GAP head"]
    assert same_architecture(models[0].graph, lenet) and same_architecture(models[1].graph, gap)
    assert all(model.config == CONFIG and len(model.history) == 1 for model in models)
    assert all(0.1 < model.test_accuracy <= 1 for model in models)
    assert has_fc_layers(models[0].graph) and [type(event) for event in events].count(RunEnded) == 2
    assert sum(p.numel() for p in models[1].module.parameters()) < sum(p.numel() for p in models[0].module.parameters())


def test_a_design_that_fails_to_train_names_itself():
    lenet = load_architecture(TEMPLATES / "lenet5.json")
    with pytest.raises(ComparisonFailed, match="^FC head: the learning rate"):
        train_side_by_side([("FC head", lenet)], TrainConfig(learning_rate=1e39), launch=HERE)


def test_fc_to_conv_carries_the_trained_weights_and_agrees(pair):
    lenet, _gap, models, _events = pair
    result = convert_design(lenet, models[0], CONFIG, tiles=4)
    assert result["carried"] and result["max_difference"] < 1e-4
    assert result["report"].params_before == result["report"].params_after
    assert result["scores"].shape[1] == 10 and not result["score_error"]
    with pytest.raises(Cancelled):
        convert_design(lenet, models[0], CONFIG, tiles=4, should_stop=lambda: True)


def test_shift_probe_of_both_models_reports_as_it_goes(pair):
    _lenet, _gap, models, _events = pair
    reports = []
    results = probe_models(models, 1, "x", 200, 8, report=reports.append)
    assert [result["label"] for result in results] == ["FC head", "GAP head"]
    assert [len(result["points"]) for result in results] == [3, 3]
    assert not results[0]["position"].supported and results[1]["position"].supported
    assert [data[0] for data in reports] == ["point"] * 3 + ["model"] + ["point"] * 3 + ["model"]
    assert reports[-1][-1] == 1.0
