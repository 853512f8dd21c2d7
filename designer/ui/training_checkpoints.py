"""Checkpoints and exports of the Training dock: the design and its trained weights in one ``.pt``
file; the curves as PNG/SVG and the history as CSV."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from designer.training.records import TrainConfig
from designer.training.run import RunOutcome, TrainedModel


class CheckpointActions:
    """What the dock's Save/Load Checkpoint and Export buttons do, on the dock's behalf.

    ``confirm_discard_changes()`` is the window's question before a loaded design replaces
    one with unsaved changes (given to the dock by whoever builds it); without it, a message
    box asks.
    """

    def __init__(self, panel, confirm_discard_changes=None) -> None:
        self.panel = panel
        self.confirm_discard_changes = confirm_discard_changes or self._ask_discard_changes

    # ------------------------------------------------------------------ asking where

    def save_interactively(self) -> bool:
        """Save Checkpoint…: ask where, then save."""
        path = self.choose_save_path() if self.panel.trained is not None else None
        return self.save(path) if path else False

    def load_interactively(self) -> bool:
        """Load Checkpoint…: ask which file, then load it."""
        path = self.choose_load_path()
        return self.load(path) if path else False

    def choose_save_path(self) -> str | None:
        document, trained = self.panel.document, self.panel.trained
        name = (document.path.stem if document.path else trained.graph.name if trained else "") or "network"
        path, _ = QFileDialog.getSaveFileName(self.panel, "Save checkpoint (design + weights)", f"{name}.pt",
                                              "PyTorch checkpoint (*.pt)")
        return path or None

    def choose_load_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.panel, "Load checkpoint", "",
                                              "PyTorch checkpoint (*.pt);;All files (*)")
        return path or None

    def export_plot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.panel, "Export the curves", "training-curves.png",
                                              "PNG image (*.png);;SVG drawing (*.svg)")
        if path:
            self.panel.plots.export_image(path)

    def export_history(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.panel, "Export the training history", "history.csv",
                                              "CSV table (*.csv)")
        if path:
            self.panel.export_history(path)

    def _ask_discard_changes(self) -> bool:
        document = self.panel.document
        if not document.modified:
            return True
        answer = QMessageBox.question(
            self.panel, "Unsaved changes", f"Loading a checkpoint replaces the design “{document.display_name()}”, "
                                           f"which has unsaved changes. Replace it?",
            QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Yes

    # ------------------------------------------------------------------ the files

    def save(self, path: str | Path) -> bool:
        from designer.training.checkpoint import CheckpointError, save_checkpoint

        trained = self.panel.trained
        if trained is None:
            return False
        try:
            save_checkpoint(path, trained.graph, trained.module, trained.config, trained.result,
                            trained.normalisation, trained.class_names)
        except CheckpointError as error:
            QMessageBox.warning(self.panel, "Checkpoint not saved", str(error))
            return False
        self.panel.set_status(f"Saved the design and its weights to {path}.")
        return True

    def load(self, path: str | Path) -> bool:
        """Open the design in the document, keep the weights, show the run's curves and results."""
        panel = self.panel
        if panel.running or not self.confirm_discard_changes():
            return False
        from designer.training.checkpoint import CheckpointError, load_checkpoint

        try:
            graph, module, metadata = load_checkpoint(path)
        except CheckpointError as error:
            QMessageBox.warning(panel, "Checkpoint not loaded", str(error))
            return False
        panel.show_design(graph, None)
        model = TrainedModel(f"{graph.name or Path(path).stem} (checkpoint)", graph.copy(),
                             metadata.config or TrainConfig(), module, metadata.normalisation,
                             tuple(metadata.class_names), metadata.result, source=str(path))
        panel.trained = model
        if metadata.config is not None and panel.settings.dataset_combo.findData(model.config.dataset) >= 0:
            panel.settings.set_dataset(model.config.dataset)
        result = metadata.result
        panel.show_history(list(model.history), result.best_epoch if result else None, len(model.class_names) or 10)
        if result is not None:
            panel.results.show_outcome(RunOutcome(result, None, model.class_names))
        else:
            panel.results.show_message(f"Loaded {Path(path).name}: no training record inside.")
        panel.mark_results_current()
        panel.set_running(False)
        panel.set_status(f"Loaded {Path(path).name}: the design and its trained weights"
                         f"{' (trained ' + metadata.created + ')' if metadata.created else ''}."
                         + "".join(f" Note: {note}." for note in metadata.notes))
        return True


__all__ = ["CheckpointActions"]
