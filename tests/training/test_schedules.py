"""Learning-rate schedules: each follows its formula over a small fake run."""

from __future__ import annotations

import math

import pytest
import torch

from designer.training.schedules import Schedule, ScheduleError, ScheduleSpec, build_schedule, parse_schedule

LR = 0.1


def fake_run(spec: str, epochs: int, batches: int, losses=None, optimizer_class=torch.optim.SGD):
    """Learning rate of every batch of a run that steps the schedule as the trainer will."""
    parameter = torch.nn.Parameter(torch.zeros(3))
    optimizer = optimizer_class([parameter], lr=LR)
    schedule = build_schedule(spec, optimizer, epochs=epochs, batches_per_epoch=batches)
    rates = []
    for epoch in range(epochs):
        epoch_rates = []
        for _ in range(batches):
            epoch_rates.append(optimizer.param_groups[0]["lr"])
            parameter.sum().backward()
            optimizer.step()
            optimizer.zero_grad()
            if schedule is not None:
                schedule.after_batch()
        rates.append(epoch_rates)
        if schedule is not None:
            schedule.after_epoch(losses[epoch] if losses else 1.0)
    return rates, schedule


def test_no_schedule_keeps_the_learning_rate():
    rates, schedule = fake_run("none", 3, 2)
    assert schedule is None and rates == [[LR, LR]] * 3


def test_step_multiplies_by_gamma_every_n_epochs():
    rates, schedule = fake_run("step:3:0.5", 10, 4)
    assert schedule.stepping == "epoch"
    for epoch, epoch_rates in enumerate(rates):
        assert epoch_rates == pytest.approx([LR * 0.5 ** (epoch // 3)] * 4)
    assert [rate for (rate,) in fake_run("step:2", 4, 1)[0]] == pytest.approx([LR, LR, LR * 0.1, LR * 0.1])


@pytest.mark.parametrize("spec, minimum", [("cosine", 0.0), ("cosine:0.01", 0.01)])
def test_cosine_follows_half_a_cosine_over_the_epochs(spec, minimum):
    epochs = 8
    rates, schedule = fake_run(spec, epochs, 3)
    assert schedule.stepping == "epoch"
    for epoch, epoch_rates in enumerate(rates):
        expected = minimum + (LR - minimum) * (1 + math.cos(math.pi * epoch / epochs)) / 2
        assert epoch_rates == pytest.approx([expected] * 3)
    assert schedule.learning_rate == pytest.approx(minimum)  # after the last epoch


def cosine_between(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


@pytest.mark.parametrize("spec, peak", [("onecycle", LR), ("onecycle:0.5", 0.5)])
def test_one_cycle_rises_for_30_percent_of_the_batches_then_falls_every_batch(spec, peak):
    epochs, batches = 4, 25
    rates, schedule = fake_run(spec, epochs, batches, optimizer_class=torch.optim.Adam)
    flat = [rate for epoch_rates in rates for rate in epoch_rates]
    total = epochs * batches
    start, end = peak / 25, peak / 25 / 1e4
    top = 0.3 * total - 1  # the batch at the peak
    expected = [cosine_between(start, peak, step / top) if step <= top
                else cosine_between(peak, end, (step - top) / (total - 1 - top)) for step in range(total)]
    assert schedule.stepping == "batch"
    assert flat == pytest.approx(expected, rel=1e-6)
    assert flat[0] == pytest.approx(start) and max(flat) == pytest.approx(peak) and flat[-1] == pytest.approx(end)
    assert schedule.optimizer.param_groups[0]["betas"] == (0.9, 0.999)  # momentum left as set


def test_one_cycle_survives_more_batches_than_planned():
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=LR)
    schedule = build_schedule("onecycle", optimizer, epochs=1, batches_per_epoch=5)
    for _ in range(9):  # e.g. a last batch of one folded into the one before
        optimizer.step()
        schedule.after_batch()
    assert schedule.learning_rate == pytest.approx(LR / 25 / 1e4)


def plateau_reference(losses, patience, factor):
    """The rule as README states it, written out: ×factor once the loss has not beaten its
    best for more than `patience` epochs, then count again."""
    rate, best, waited, rates = LR, math.inf, 0, []
    for loss in losses:
        rates.append(rate)
        if loss < best * (1 - 1e-4):
            best, waited = loss, 0
        else:
            waited += 1
            if waited > patience:
                rate, waited = rate * factor, 0
    return rates


@pytest.mark.parametrize("spec, patience, factor", [("plateau:2:0.5", 2, 0.5), ("plateau", 2, 0.1),
                                                    ("plateau:0:0.5", 0, 0.5)])
def test_plateau_cuts_the_rate_when_the_validation_loss_stalls(spec, patience, factor):
    losses = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.7, 0.8, 0.9, 0.9, 0.9, 0.9]
    rates, schedule = fake_run(spec, len(losses), 2, losses=losses)
    assert schedule.stepping == "loss"
    expected = plateau_reference(losses, patience, factor)
    assert [epoch_rates[0] for epoch_rates in rates] == pytest.approx(expected)
    assert all(epoch_rates[0] == epoch_rates[1] for epoch_rates in rates)  # never within an epoch
    assert min(expected) < LR


def test_plateau_ignores_a_missing_or_broken_loss():
    rates, _ = fake_run("plateau:0:0.5", 4, 1, losses=[1.0, float("nan"), float("inf"), 2.0])
    assert [epoch_rates[0] for epoch_rates in rates] == pytest.approx([LR, LR, LR, LR])


@pytest.mark.parametrize("text, expected", [
    ("step:10:0.1", ScheduleSpec("step", step_size=10, gamma=0.1)),
    ("STEP:5", ScheduleSpec("step", step_size=5, gamma=0.1)),
    ("cosine", ScheduleSpec("cosine")), ("cosine:1e-5", ScheduleSpec("cosine", minimum=1e-5)),
    ("onecycle", ScheduleSpec("onecycle")), ("onecycle:0.01", ScheduleSpec("onecycle", peak=0.01)),
    ("plateau", ScheduleSpec("plateau")), ("plateau:2:0.5", ScheduleSpec("plateau", patience=2, factor=0.5)),
    ("", ScheduleSpec()), ("none", ScheduleSpec()), (None, ScheduleSpec()),
])
def test_specs_are_parsed_and_printed_back(text, expected):
    assert parse_schedule(text) == expected
    assert parse_schedule(str(expected)) == expected


@pytest.mark.parametrize("text, message", [
    ("linear", "unknown schedule 'linear'; use none, step:N"),
    ("step", "does not fit the step schedule"),
    ("step:10:0.1:3", "does not fit the step schedule"),
    ("step:ten", "the step \\(epochs between drops\\) must be a whole number, not 'ten'"),
    ("step:0", "at least 1 epoch"),
    ("step:3:2", "the step factor must be in \\(0, 1\\]"),
    ("cosine:-1", "≥ 0"),
    ("onecycle:0", "must be > 0"),
    ("onecycle:nan", "must be finite"),
    ("plateau:2:1.5", "the plateau factor must be in \\(0, 1\\)"),
    ("plateau::0.5", "does not fit the plateau schedule"),
])
def test_bad_specs_are_refused_with_a_message(text, message):
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(text)


def test_a_schedule_needs_a_real_run():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    with pytest.raises(ValueError):
        Schedule(parse_schedule("cosine"), optimizer, epochs=0, batches_per_epoch=3)
