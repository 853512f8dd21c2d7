"""The curve diagnosis on synthetic histories: one test per verdict, plus the edges."""

from designer.core import Graph, analyze, chain
from designer.training.diagnosis import VERDICTS, diagnose
from designer.training.records import EpochMetrics


def history(rows):
    """rows: (train_loss, train_accuracy, validation_loss, validation_accuracy) per epoch."""
    return [EpochMetrics(epoch, train_loss, train_accuracy, validation_loss, validation_accuracy,
                         seconds=1.0, learning_rate=1e-3)
            for epoch, (train_loss, train_accuracy, validation_loss, validation_accuracy)
            in enumerate(rows, start=1)]


def fc_heavy_analysis():
    graph = Graph("fc-heavy")
    chain(graph, [("Input", {"channels": 1, "height": 28, "width": 28}),
                  ("Conv2d", {"out_channels": 4, "kernel_size": 3}),
                  ("ReLU", {}),
                  ("FC", {"out_features": 256}),
                  ("ReLU", {}),
                  ("FC", {"out_features": 64}),
                  ("FC", {"out_features": 10})])
    return analyze(graph)


def test_overfitting_from_a_wide_accuracy_gap_names_the_biggest_fc_blocks():
    analysis = fc_heavy_analysis()
    fc_by_size = sorted((report for report in analysis.reports.values() if report.type_id == "FC"),
                        key=lambda report: report.params, reverse=True)
    result = diagnose(history([(0.5, 0.85, 0.5, 0.84), (0.2, 0.95, 0.45, 0.86),
                               (0.05, 0.99, 0.44, 0.87)]), analysis)
    assert result.verdict == "overfitting"
    assert "99.0%" in result.headline and "87.0%" in result.headline
    assert result.blocks == [fc_by_size[0].block_id, fc_by_size[1].block_id]
    text = " ".join(result.advice)
    for idea in ("fewer FC layers", "Dropout", "weight decay", "global average pooling"):
        assert idea in text


def test_overfitting_from_validation_loss_rising_after_its_minimum():
    # Accuracy gap small, but validation loss turned up two epochs running while training fell.
    result = diagnose(history([(1.0, 0.70, 0.90, 0.70), (0.7, 0.78, 0.60, 0.78),
                               (0.5, 0.82, 0.65, 0.80), (0.4, 0.84, 0.70, 0.81)]))
    assert result.verdict == "overfitting"
    assert "since epoch 2" in result.headline


def test_one_bad_validation_epoch_is_not_overfitting():
    result = diagnose(history([(1.0, 0.90, 0.90, 0.89), (0.3, 0.95, 0.30, 0.94),
                               (0.2, 0.96, 0.35, 0.95)]))
    assert result.verdict == "healthy"


def test_underfitting_when_training_accuracy_is_low_and_the_loss_has_flattened():
    analysis = fc_heavy_analysis()
    result = diagnose(history([(2.0, 0.30, 2.0, 0.30), (1.6, 0.42, 1.6, 0.41),
                               (1.59, 0.43, 1.6, 0.42)]), analysis)
    assert result.verdict == "underfitting"
    assert "43.0%" in result.headline
    assert result.blocks  # points at the FC head to widen or deepen
    assert any("more capacity" in advice for advice in result.advice)


def test_underfitting_with_a_gap_head_points_at_the_last_convolution():
    graph = Graph("gap")
    ids = chain(graph, [("Input", {}), ("Conv2d", {"out_channels": 8}), ("ReLU", {}),
                        ("Conv2d", {"out_channels": 10}), ("GAP", {})])
    result = diagnose(history([(2.2, 0.2, 2.2, 0.2)] * 6), analyze(graph))
    assert result.verdict == "underfitting"
    assert result.blocks == [ids[3]]


def test_low_accuracy_that_is_still_improving_is_too_early():
    result = diagnose(history([(2.2, 0.20, 2.1, 0.2), (1.5, 0.45, 1.4, 0.46)]))
    assert result.verdict == "too early"


def test_low_accuracy_after_many_epochs_is_underfitting_even_without_a_plateau():
    rows = [(2.0 * 0.9 ** epoch, 0.3 + 0.02 * epoch, 2.0, 0.3) for epoch in range(6)]
    assert diagnose(history(rows)).verdict == "underfitting"


def test_healthy_when_training_and_validation_agree():
    result = diagnose(history([(0.5, 0.85, 0.45, 0.86), (0.25, 0.93, 0.24, 0.93),
                               (0.15, 0.96, 0.16, 0.95)]))
    assert result.verdict == "healthy"
    assert result.blocks == []


def test_a_single_epoch_is_too_early():
    assert diagnose(history([(0.1, 0.99, 0.9, 0.5)])).verdict == "too early"
    assert diagnose([]).verdict == "too early"


def test_without_validation_only_underfitting_or_healthy_can_be_seen():
    rows = [(0.2, 0.97, None, None), (0.05, 0.995, None, None)]
    result = diagnose(history(rows))
    assert result.verdict == "healthy"
    assert "validation fraction" in result.headline


def test_chance_level_depends_on_the_number_of_classes():
    # 80% with a flat loss: well above chance for ten classes, barely above it for two.
    rows = [(0.50, 0.80, 0.50, 0.80), (0.499, 0.80, 0.50, 0.79)]
    assert diagnose(history(rows), num_classes=10).verdict == "healthy"
    assert diagnose(history(rows), num_classes=2).verdict == "underfitting"


def test_every_verdict_is_one_of_the_documented_ones():
    for rows in ([(1, 0.5, 1, 0.5)], [(1, 0.99, 1, 0.5)] * 3, [(2, 0.1, 2, 0.1)] * 3):
        assert diagnose(history(rows)).verdict in VERDICTS
