"""Train designs side by side with the same settings (the FC head and its GAP replacement).

The runs go down the run path as one queue (``designer.training.run``): in the window, the
training process trains them one after the other while the lab draws their curves from the
events; headless, ``train_side_by_side`` waits for them.
"""

from __future__ import annotations

from designer.core import Graph
from designer.training.records import TrainConfig


def side_by_side_requests(variants: list[tuple[str, Graph]], config: TrainConfig, launch=None) -> list:
    """One request per ``(label, graph)``, same settings; the weights come back (the probes use them)."""
    from designer.training.run import Local, RunRequest

    return [RunRequest.of(graph, config, label=label, find_mistakes=False,
                          launch=launch if launch is not None else Local())
            for label, graph in variants]


class ComparisonFailed(Exception):
    """One of the designs failed to train; the message names it and says why."""


def trained_side_by_side(requests, results) -> list:
    """The ``TrainedModel`` of every run that trained; raises ``ComparisonFailed`` for a failed one."""
    from designer.training.run import trained_model

    models = []
    for request, result in zip(requests, results):
        if result.status == "failed":
            raise ComparisonFailed(f"{request.label}: {result.result.message}")
        model = trained_model(request, result)
        if model is not None:
            models.append(model)
    return models


def train_side_by_side(variants: list[tuple[str, Graph]], config: TrainConfig, *, emit=None, control=None,
                       launch=None) -> list:
    from designer.training.run import run_all

    requests = side_by_side_requests(variants, config, launch)
    return trained_side_by_side(requests, run_all(requests, emit, control))


__all__ = ["ComparisonFailed", "side_by_side_requests", "train_side_by_side", "trained_side_by_side"]
