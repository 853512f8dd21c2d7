"""What the FC lab works on: the trained models it can find, and the data they were trained on.

Trained models come from two places: the training dock (``TrainingPanel.trained``, the
last run or loaded checkpoint) and the lab itself (the side-by-side run of FC head vs GAP
head, a converted network that kept its weights). ``LabModels`` collects them under
labels so the shift probe can overlay several. Datasets are loaded once per name (in a
worker thread, by the caller) and shared, since a dialog may ask for the test images often.

Nothing here imports torch at module level.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from designer.core import Graph, to_document
from designer.training.records import TrainConfig

DEFAULT_DATASET = "mnist-sample"

_datasets: dict[tuple[str, str | None], object] = {}
_datasets_lock = threading.Lock()


def load_dataset_cached(name: str, folder: str | None = None, download: bool = False):
    """``designer.data.load_dataset`` once per (name, folder); call it from a worker thread."""
    from designer.data import load_dataset

    key = (name, folder)
    with _datasets_lock:
        if key in _datasets:
            return _datasets[key]
    dataset = load_dataset(name, folder, download=download)
    with _datasets_lock:
        _datasets.setdefault(key, dataset)
        return _datasets[key]


def architecture_key(graph: Graph) -> tuple:
    """What decides which weights fit a graph: block ids, types, params and wiring (not positions)."""
    document = to_document(graph)
    blocks = tuple(sorted((block["id"], block["type"], tuple(sorted(block["params"].items())))
                          for block in document["blocks"]))
    edges = tuple(sorted((edge["from"], edge["to"], edge.get("port", 0)) for edge in document["edges"]))
    return blocks, edges


def same_architecture(first: Graph, second: Graph) -> bool:
    return architecture_key(first) == architecture_key(second)


@dataclass(eq=False)
class LabModel:
    """One trained network the lab can probe; like the training dock's TrainedModel."""

    label: str
    graph: Graph
    module: object  # torch.nn.Module, on the CPU or the device it trained on
    normalisation: object  # designer.training.evaluation.Normalisation or None
    class_names: tuple[str, ...]
    config: TrainConfig
    history: tuple = ()  # EpochMetrics of its run, if the lab trained it
    test_accuracy: float | None = None


class LabModels(QObject):
    """The trained models the lab knows of; ``changed`` when the list changes."""

    changed = Signal()

    def __init__(self, window, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self._own: dict[str, LabModel] = {}

    # ------------------------------------------------------------------ the training dock

    @property
    def panel(self):
        """The training dock, once the window has one."""
        return getattr(self.window, "training_panel", None)

    def training_config(self) -> TrainConfig:
        """The training dock's current settings (the lab trains with the same ones)."""
        panel = self.panel
        if panel is not None:
            return panel.config()
        return TrainConfig(dataset=DEFAULT_DATASET, epochs=1, download=False)

    def panel_model(self) -> LabModel | None:
        panel = self.panel
        trained = getattr(panel, "trained", None) if panel is not None else None
        if trained is None:
            return None
        result = trained.result
        return LabModel(f"{trained.graph.name or 'trained design'} (training dock)", trained.graph,
                        trained.module, trained.normalisation, tuple(trained.class_names), trained.config,
                        tuple(result.history) if result else (),
                        result.test_accuracy if result else None)

    def model_for(self, graph: Graph) -> LabModel | None:
        """A trained model whose architecture is exactly ``graph``'s, newest first."""
        candidates = [self.panel_model(), *reversed(list(self._own.values()))]
        for model in candidates:
            if model is not None and same_architecture(model.graph, graph):
                return model
        return None

    # ------------------------------------------------------------------ the lab's own

    def add(self, model: LabModel) -> None:
        self._own[model.label] = model
        self.changed.emit()

    def remove(self, label: str) -> None:
        if self._own.pop(label, None) is not None:
            self.changed.emit()

    def all(self) -> list[LabModel]:
        """Every trained model: the dock's first, then the lab's in the order they came."""
        models = []
        panel_model = self.panel_model()
        if panel_model is not None:
            models.append(panel_model)
        models += list(self._own.values())
        return models

    def with_fc_layers(self) -> list[LabModel]:
        return [model for model in self.all() if any(block.type_id == "FC" for block in model.graph)]


def module_on_cpu_copy(module):
    """A CPU copy for probing from another thread, so the dock's model is never touched mid-run."""
    import copy

    duplicate = copy.deepcopy(module)
    return duplicate.to("cpu").eval()
