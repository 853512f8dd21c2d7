"""The trained models the FC lab can find, under labels, for the probes to overlay.

They come from two places: the Training dock (its last run or loaded checkpoint) and the lab
itself (the side-by-side run of FC head vs GAP head, a converted network that kept its
weights). All are ``designer.training.run.TrainedModel``, the one record of a trained network.
Datasets come from the one cache (``designer.training.datasets``).

Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject, Signal

from designer.core import Graph
from designer.lab.models import has_fc_layers, same_architecture
from designer.training.records import TrainConfig
from designer.training.run import TrainedModel

DEFAULT_DATASET = "mnist-sample"


class LabModels(QObject):
    """The trained models the lab knows of; ``changed`` when the list changes.

    ``training_panel``: the Training dock (its settings are the lab's, its trained network is
    one of the lab's models), or None in a window without one.
    """

    changed = Signal()

    def __init__(self, training_panel=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = training_panel
        self._own: dict[str, TrainedModel] = {}

    # ------------------------------------------------------------------ the training dock

    def training_config(self) -> TrainConfig:
        """The training dock's current settings (the lab trains with the same ones)."""
        if self.panel is not None:
            return self.panel.config()
        return TrainConfig(dataset=DEFAULT_DATASET, epochs=1, download=False)

    def panel_model(self) -> TrainedModel | None:
        trained = self.panel.trained if self.panel is not None else None
        if trained is None:
            return None
        return dataclasses.replace(trained, label=f"{trained.graph.name or 'trained design'} (training dock)")

    def model_for(self, graph: Graph) -> TrainedModel | None:
        """A trained model whose architecture is exactly ``graph``'s, newest first."""
        candidates = [self.panel_model(), *reversed(list(self._own.values()))]
        for model in candidates:
            if model is not None and same_architecture(model.graph, graph):
                return model
        return None

    # ------------------------------------------------------------------ the lab's own

    def add(self, model: TrainedModel) -> None:
        self._own[model.label] = model
        self.changed.emit()

    def remove(self, label: str) -> None:
        if self._own.pop(label, None) is not None:
            self.changed.emit()

    def all(self) -> list[TrainedModel]:
        """Every trained model: the dock's first, then the lab's in the order they came."""
        models = []
        panel_model = self.panel_model()
        if panel_model is not None:
            models.append(panel_model)
        models += list(self._own.values())
        return models

    def with_fc_layers(self) -> list[TrainedModel]:
        return [model for model in self.all() if has_fc_layers(model.graph)]
