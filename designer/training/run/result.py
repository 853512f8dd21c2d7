"""How a run ended (``RunResult``), and the trained network the window and the lab keep (``TrainedModel``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from designer.core import Graph
from designer.training.records import RunInfo, TrainConfig, TrainResult


@dataclass(frozen=True, eq=False)
class RunOutcome:
    """How a run ended, with what the results view shows. Numpy arrays, no tensors."""

    result: TrainResult
    info: RunInfo | None
    class_names: tuple[str, ...]
    misclassified_images: np.ndarray | None = None  # uint8 N×C×H×W
    misclassified_true: np.ndarray | None = None  # int64 N
    misclassified_predicted: np.ndarray | None = None  # int64 N
    misclassified_confidence: np.ndarray | None = None  # float32 N, probability of the predicted class
    test_samples: int = 0


@dataclass(frozen=True, eq=False)
class RunResult:
    """One run's ending. ``weights`` (the state dict as numpy arrays) is what crosses a process
    boundary; ``module`` is the trained torch module itself, set only where the run happened in
    this process (``portable()`` turns one into the other)."""

    run_id: str
    outcome: RunOutcome
    weights: dict | None = None
    normalisation: object | None = None  # designer.training.normalisation.Normalisation
    module: object | None = None

    @property
    def result(self) -> TrainResult:
        return self.outcome.result

    @property
    def status(self) -> str:
        return self.outcome.result.status

    @property
    def trained(self) -> bool:
        return self.module is not None or self.weights is not None

    def portable(self) -> "RunResult":
        """The same result with the module as numpy weights, ready for a pipe."""
        if self.module is None:
            return self
        weights = {name: tensor.detach().cpu().numpy() for name, tensor in self.module.state_dict().items()}
        return dataclasses.replace(self, weights=weights, module=None)


@dataclass(eq=False)
class TrainedModel:
    """A trained network the window keeps: the dock's last run or loaded checkpoint, the lab's runs.

    What a checkpoint holds, what the FC lab probes and what the results view shows all come
    from here; one record for all of them.
    """

    label: str
    graph: Graph  # the design exactly as trained (a copy)
    config: TrainConfig
    module: object  # torch.nn.Module, on the CPU, in eval mode
    normalisation: object  # designer.training.normalisation.Normalisation, or None
    class_names: tuple[str, ...]
    result: TrainResult | None = None
    source: str = ""  # a checkpoint file it was loaded from, else ""

    @property
    def history(self) -> tuple:
        return tuple(self.result.history) if self.result is not None else ()

    @property
    def test_accuracy(self) -> float | None:
        return self.result.test_accuracy if self.result is not None else None


def trained_model(request, result: RunResult, label: str | None = None) -> TrainedModel | None:
    """The network a run trained, rebuilt here from its weights when it trained elsewhere; None
    when the run kept no network. Imports torch."""
    if not result.trained:
        return None
    from designer.core.fileformat import parse_document

    graph = parse_document(request.design)
    module = result.module
    if module is None:
        import torch

        from designer.nn.builder import build_module

        module = build_module(graph)
        module.load_state_dict({name: torch.from_numpy(np.asarray(array)) for name, array in result.weights.items()})
    module = module.to("cpu").eval()
    return TrainedModel(label if label is not None else (request.label or graph.name), graph, request.config, module,
                        result.normalisation, result.outcome.class_names, result.result)


def ended_without_training(run_id: str, message: str, failure: str | None, status: str = "failed") -> RunResult:
    """A run that ended before training: refused settings, a missing dataset, a dead process."""
    result = TrainResult(status, message, 0, None, None, None, None, 0.0,
                         failure=failure if status == "failed" else None)
    return RunResult(run_id, RunOutcome(result, None, ()))


def internal_failure(run_id: str, error: BaseException) -> RunResult:
    return ended_without_training(run_id, f"training failed unexpectedly ({type(error).__name__}: {error}); "
                                          f"this is a bug, please report it", "internal")


__all__ = ["RunOutcome", "RunResult", "TrainedModel", "ended_without_training", "internal_failure",
           "trained_model"]
