"""Whether the Results tab still shows results of the design on the canvas.

After a run (or a loaded checkpoint) the results belong to the network as it was trained.
An edit of a setting, a block or a wire makes them stale; moving a block or renaming the
design does not, and undoing back to the trained network makes them current again.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Slot


def network_key(graph) -> tuple:
    """What makes the network the network: blocks, their settings and their wires. Not where
    the blocks sit on the canvas, nor the design's name: moving a block leaves results current."""
    blocks = tuple(sorted((block.id, block.type_id, repr(sorted(block.params.items()))) for block in graph))
    edges = tuple(sorted((edge.source, edge.target, edge.port) for edge in graph.edges))
    return blocks, edges


class ResultsStaleness(QObject):
    """Watches ``document`` (a ``DesignDocument``) and marks ``outputs.results`` stale or current."""

    def __init__(self, document, outputs, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._document, self._outputs = document, outputs
        #: the network the results tab shows results of, None when it shows none
        self._key = None
        self._check = QTimer(self)
        self._check.setSingleShot(True)
        self._check.setInterval(100)  # once after a burst of edits, not at every keystroke
        self._check.timeout.connect(self._on_check_timeout)
        document.analysis_changed.connect(self._on_document_analysis_changed)

    def mark_current(self) -> None:
        """The results now are of the design as it is (a run ended, a checkpoint loaded)."""
        self._key = network_key(self._document.graph)
        self._check.stop()
        if self._outputs.results_made is not None:
            self._outputs.results_made.set_stale(False)

    @Slot(object)
    def _on_document_analysis_changed(self, _analysis) -> None:
        if self._key is not None:
            self._check.start()

    @Slot()
    def _on_check_timeout(self) -> None:
        if self._key is not None:
            self._outputs.results.set_stale(network_key(self._document.graph) != self._key)


__all__ = ["ResultsStaleness", "network_key"]
