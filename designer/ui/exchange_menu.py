"""File ▸ Export (PyTorch code, ONNX, the diagram as a picture) and opening .onnx models.

Exports and imports run in a worker thread (``designer.ui.tasks.TaskRunner``) behind a busy dialog,
since VGG-16 takes seconds either way; the diagram is drawn at once. Exports carry the current
trained model's weights (the last training run or a loaded checkpoint) when they fit the design
as it is now, and say which. An opened .onnx model becomes an untitled design whose weights are
the current trained model.

Every question goes through an overridable method (``choose_export_path``, ``confirm_replace``,
``show_info``; errors through the window's ``show_error``), so tests answer without dialogs.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QProgressDialog

from designer.core.atomic import write_bytes_atomically
from designer.ui.tasks import TaskRunner

DIAGRAM_MARGIN = 24.0
DIAGRAM_SCALE = 2.0  # PNG pixels per scene unit: sharp on a high-density screen and in print


# ---------------------------------------------------------------------- the trained model
# The one place that reads and sets the window's current trained model (the training dock's
# ``trained`` record), so it can follow that record when it moves.


def current_trained_model(window):
    panel = getattr(window, "training_panel", None)
    return getattr(panel, "trained", None)


def set_current_trained_model(window, graph, module, normalisation, class_names, source: str) -> bool:
    panel = getattr(window, "training_panel", None)
    if panel is None:
        return False
    from designer.training.records import TrainConfig
    from designer.training.run import TrainedModel

    panel.trained = TrainedModel(f"{graph.name or Path(source).stem} (imported)", graph.copy(), TrainConfig(),
                                 module, normalisation, tuple(class_names), None, source=source)
    panel.set_running(panel.running)  # the Results tab's Save Checkpoint follows the new weights
    return True


def _source_text(source: str) -> str:
    if not source:
        return "the last training run"
    name = Path(source).name
    return f"the imported model {name}" if name.lower().endswith(".onnx") else f"checkpoint {name}"


class ExchangeMenu(QObject):
    #: a background export or import ended: (succeeded, what the person was told)
    finished = Signal(bool, str)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.runner = TaskRunner(self, "export or import")
        self.runner.finished.connect(self._on_runner_finished)
        self._busy: QProgressDialog | None = None
        self._on_done = None

        menu = QMenu("&Export", window)
        self.menu = menu
        self.actions = {}
        for name, text, slot in (("export_pytorch", "&PyTorch Code…", self._on_export_pytorch_triggered),
                                 ("export_onnx", "&ONNX…", self._on_export_onnx_triggered),
                                 ("export_diagram", "&Diagram as PNG/SVG…", self._on_export_diagram_triggered)):
            action = menu.addAction(text)
            action.triggered.connect(slot)
            self.actions[name] = action
            window.named_actions[name] = action
        file_menu = window.menus["file"]
        quit_action = window.named_actions["quit"]
        file_menu.insertMenu(quit_action, menu)
        file_menu.insertSeparator(quit_action)
        window.menus["export"] = menu
        window.file_openers[".onnx"] = self.open_onnx
        window.about_to_close.connect(self.runner.shutdown)

    # ------------------------------------------------------------------ questions (overridable)

    def choose_export_path(self, kind: str) -> str | None:
        """kind: "pytorch" (a new folder), "onnx" (a .onnx file) or "diagram" (.png or .svg)."""
        stem = self._file_stem()
        folder = Path(self.window._last_folder())
        if kind == "pytorch":
            path, _ = QFileDialog.getSaveFileName(self.window, "Export PyTorch code to a new folder",
                                                  str(folder / f"{stem}-pytorch"), "Folder (*)")
        elif kind == "onnx":
            path, _ = QFileDialog.getSaveFileName(self.window, "Export ONNX model", str(folder / f"{stem}.onnx"),
                                                  "ONNX model (*.onnx)")
            if path and not Path(path).suffix:
                path += ".onnx"
        else:
            path, chosen = QFileDialog.getSaveFileName(self.window, "Export diagram", str(folder / f"{stem}.png"),
                                                       "PNG image (*.png);;SVG drawing (*.svg)")
            if path and Path(path).suffix.lower() not in (".png", ".svg"):
                path += ".svg" if "svg" in chosen.lower() else ".png"
        return path or None

    def confirm_replace(self, path: Path) -> bool:
        answer = QMessageBox.question(self.window, "Replace export?",
                                      f"{path} holds an earlier export. Replace it?",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def show_info(self, title: str, text: str) -> None:
        QMessageBox.information(self.window, title, text)

    def _file_stem(self) -> str:
        document = self.window.document
        if document.path is not None:
            return document.path.stem
        import re

        return re.sub(r"[^A-Za-z0-9._-]+", "-", document.graph.name).strip("-") or "network"

    # ------------------------------------------------------------------ weights

    def weights_for_export(self):
        """A function (to run in the worker thread: it builds a module, a second for VGG-16) that
        returns (Weights or None, a sentence saying which weights the export carries and why)."""
        trained = current_trained_model(self.window)
        graph = self.window.document.graph.copy()

        def weights():
            if trained is None:
                return None, "without trained weights (train the design, or load a checkpoint, to include them)"
            from designer.exchange.errors import ExchangeError
            from designer.exchange.weights import fitted

            source = _source_text(getattr(trained, "source", ""))
            try:
                chosen = fitted(graph, trained.graph, trained.module, source=source,
                                normalisation=trained.normalisation, class_names=trained.class_names,
                                # Only a run's record says what the weights were trained with; an
                                # imported model's record holds default settings.
                                config=trained.config if trained.result is not None else None,
                                result=trained.result)
            except ExchangeError as error:
                return None, (f"without trained weights: those of {source} do not fit the design as it is "
                              f"now ({str(error).split(': ', 1)[-1]})")
            return chosen, f"with the {chosen.describe()}"

        return weights

    # ------------------------------------------------------------------ exports

    @Slot()
    def _on_export_pytorch_triggered(self) -> None:
        self.export_pytorch()

    @Slot()
    def _on_export_onnx_triggered(self) -> None:
        self.export_onnx()

    @Slot()
    def _on_export_diagram_triggered(self) -> None:
        self.export_diagram()

    def _exportable(self) -> bool:
        analysis = self.window.document.analysis
        if analysis.valid:
            return True
        from designer.nn.builder import describe_problems

        self.window.show_error("Cannot export", describe_problems(analysis))
        return False

    def export_pytorch(self, path: str | Path | None = None) -> bool:
        """Start writing the PyTorch folder; ``finished`` says how it went."""
        if not self._exportable():
            return False
        path = path or self.choose_export_path("pytorch")
        if not path:
            return False
        path = Path(path)
        force = False
        if path.exists():
            from designer.exchange.output import is_earlier_export

            if not (path.is_dir() and is_earlier_export(path)):
                self.window.show_error("Cannot export", f"{path} already exists and is not an earlier export; "
                                                        f"choose a new folder name")
                return False
            if not self.confirm_replace(path):
                return False
            force = True
        graph = self.window.document.graph.copy()
        weights_and_note = self.weights_for_export()

        def work(context):
            from designer.exchange.pytorch_code import export_pytorch

            weights, which = weights_and_note()
            return export_pytorch(graph, path, weights, force=force), which

        def done(value) -> str:
            _, which = value
            return f"Exported {graph.name} as PyTorch code to {path} {which}."

        return self._start(work, done, "Exporting PyTorch code…")

    def export_onnx(self, path: str | Path | None = None) -> bool:
        if not self._exportable():
            return False
        path = path or self.choose_export_path("onnx")
        if not path:
            return False
        path = Path(path)
        graph = self.window.document.graph.copy()
        weights_and_note = self.weights_for_export()

        def work(context):
            from designer.exchange.onnx_export import export_onnx

            weights, which = weights_and_note()
            # The file dialog asked before replacing a file.
            return export_onnx(graph, path, weights, force=True), which

        def done(value) -> str:
            result, which = value
            return (f"Exported {graph.name} to {path} (ONNX opset {result.opset}) {which}. "
                    f"Input: {result.input_description}.")

        return self._start(work, done, "Exporting ONNX…")

    def export_diagram(self, path: str | Path | None = None) -> bool:
        """The canvas as a PNG or SVG picture (no selection marks), written at once."""
        path = path or self.choose_export_path("diagram")
        if not path:
            return False
        path = Path(path)
        try:
            data = render_diagram(self.window.canvas, "svg" if path.suffix.lower() == ".svg" else "png")
            write_bytes_atomically(path, data)
        except OSError as error:
            self.window.show_error("Cannot export diagram", f"{path}: {error.strerror or error}")
            return False
        self.window.statusBar().showMessage(f"Saved the diagram as {path}", 6000)
        return True

    # ------------------------------------------------------------------ opening .onnx

    def open_onnx(self, path: str | Path) -> bool:
        """Import in the background; then (unsaved changes allowing) show it as an untitled design."""
        path = Path(path)

        def work(context):
            from designer.exchange.onnx_import import import_onnx

            return import_onnx(path)

        def done(result) -> str | None:
            if not self.window.maybe_save():
                return None
            self.window.show_graph(result.graph, None)
            self.window.add_recent_file(path)
            kept = set_current_trained_model(self.window, result.graph, result.module, result.normalisation,
                                             result.class_names, str(path))
            text = (f"Opened {path.name} as an untitled design: {len(result.graph)} blocks"
                    + ("; its weights are the current trained model (Training ▸ Save Checkpoint… keeps them)"
                       if kept else ""))
            return text + "."

        return self._start(work, done, f"Reading {path.name}…", error_title="Cannot open model", announce=False)

    # ------------------------------------------------------------------ running

    def _start(self, work, done, label: str, error_title: str = "Export failed", announce: bool = True) -> bool:
        """Run ``work`` in the worker thread; ``done(value)`` (GUI thread) returns what to tell the
        person, shown in the status bar and, when ``announce``, in a message box."""
        if self.runner.running:
            self.window.statusBar().showMessage("Another export or import is still running", 5000)
            return False
        self._on_done = (done, error_title, announce)
        busy = QProgressDialog(label, "", 0, 0, self.window)
        busy.setCancelButton(None)  # the exporters cannot stop half-way; nothing is written until the end
        busy.setWindowTitle("Network Designer")
        busy.setWindowModality(Qt.WindowModality.WindowModal)
        busy.setMinimumDuration(400)
        self._busy = busy
        self.runner.start(_refusals_as_values(work))
        return True

    @Slot(object)
    def _on_runner_finished(self, outcome) -> None:
        if self._busy is not None:
            self._busy.reset()
            self._busy.deleteLater()
            self._busy = None
        done, error_title, announce = self._on_done or (None, "", False)
        self._on_done = None
        refused = outcome.value if isinstance(outcome.value, _Refused) else None
        if not outcome.ok or refused is not None:
            message = refused.message if refused is not None else outcome.error
            self.window.show_error(error_title, message)
            self.finished.emit(False, message)
            return
        text = done(outcome.value) if done is not None else ""
        if text is None:  # the person kept the current design
            self.finished.emit(False, "")
            return
        self.window.statusBar().showMessage(text, 10000)
        if announce:
            self.show_info("Export", text)
        self.finished.emit(True, text)


class _Refused:
    """An export or import refused for a reason the person can act on (not a bug)."""

    def __init__(self, message: str) -> None:
        self.message = message


def _refusals_as_values(work):
    """``work`` with ExchangeError returned as a _Refused value: the task runner prints a
    traceback for every exception, which a damaged file does not deserve."""
    def run(context):
        from designer.exchange.errors import ExchangeError

        try:
            return work(context)
        except ExchangeError as error:
            return _Refused(str(error))

    return run


def render_diagram(canvas, kind: str) -> bytes:
    """The canvas's blocks and wires as PNG or SVG bytes, without selection marks."""
    scene = canvas.scene()
    selected = list(scene.selectedItems())
    for item in selected:
        item.setSelected(False)
    try:
        source = scene.itemsBoundingRect().adjusted(-DIAGRAM_MARGIN, -DIAGRAM_MARGIN, DIAGRAM_MARGIN,
                                                    DIAGRAM_MARGIN)
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if kind == "svg":
            from PySide6.QtSvg import QSvgGenerator

            generator = QSvgGenerator()
            generator.setOutputDevice(buffer)
            generator.setSize(QSize(int(source.width()), int(source.height())))
            generator.setViewBox(QRectF(0, 0, source.width(), source.height()))
            generator.setTitle(canvas.document.graph.name)
            generator.setDescription("Exported from Network Designer")
            painter = QPainter(generator)
            painter.fillRect(QRectF(0, 0, source.width(), source.height()), QColor("white"))
            scene.render(painter, QRectF(0, 0, source.width(), source.height()), source)
            painter.end()
        else:
            image = QImage(int(source.width() * DIAGRAM_SCALE), int(source.height() * DIAGRAM_SCALE),
                           QImage.Format.Format_ARGB32)
            image.fill(QColor("white"))
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
            scene.render(painter, QRectF(0, 0, image.width(), image.height()), source)
            painter.end()
            image.save(buffer, "PNG")
        return bytes(QByteArray(buffer.data()))
    finally:
        for item in selected:
            item.setSelected(True)


def install_exchange(main_window) -> ExchangeMenu:
    exchange = ExchangeMenu(main_window)
    main_window.exchange = exchange
    return exchange


__all__ = ["ExchangeMenu", "current_trained_model", "install_exchange", "render_diagram",
           "set_current_trained_model"]
