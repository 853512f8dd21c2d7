"""The main window: palette | canvas | inspector, the parameter panel below, menus, files.

Other parts of the program plug in through ``add_dock`` and ``menus`` (e.g. the training
dock, the FC lab menu) and ``about_to_close`` (to stop a worker before the window goes).

Every question the window asks the user goes through one overridable method
(``ask_unsaved_changes``, ``show_error``, ``choose_open_path``, ``choose_save_path``), so
tests answer them without a modal dialog.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths, Qt, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMenu, QMessageBox, QWidget

from designer.core import (
    ArchitectureError,
    DesignerError,
    Graph,
    format_count,
    load_architecture,
    save_architecture,
    template_paths,
)
from designer.core.paths import TEMPLATES
from designer.ui.appearance import install_appearance_menu
from designer.ui.canvas import CanvasView
from designer.ui.document import UNTITLED, DesignDocument, is_shipped_template
from designer.ui.help import HelpPage, getting_started_html, shortcuts_html
from designer.ui.inspector import InspectorPanel
from designer.ui.layout import apply_layout, needs_layout
from designer.ui.palette import PalettePanel
from designer.ui.parameter_panel import ParameterPanel
from designer.ui.shortcuts import REDO_KEYS, UNDO_KEYS, set_shortcuts
from designer.ui.style import FC_COLOUR, current_theme, hex_colour, theme_notifier

ORGANISATION = "NetworkDesigner"
APPLICATION = "Network Designer"
#: bump when docks are added or renamed, so an old saved layout is not forced on new docks
WINDOW_STATE_VERSION = 1
MAX_RECENT_FILES = 8
FILE_FILTER = ("Designs and ONNX models (*.json *.onnx);;Network architecture (*.json);;ONNX model (*.onnx);;"
               "All files (*)")
#: what File ▸ Open and dropping a file accept (.onnx through ``file_openers``)
OPENABLE_SUFFIXES = (".json", ".onnx")

SAVE = QMessageBox.StandardButton.Save
DISCARD = QMessageBox.StandardButton.Discard
CANCEL = QMessageBox.StandardButton.Cancel


def default_settings() -> QSettings:
    return QSettings(ORGANISATION, APPLICATION)


def new_design() -> Graph:
    """What File ▸ New shows: an Input block to start from."""
    graph = Graph(UNTITLED)
    graph.add_block("Input", None, (0.0, 0.0))
    return graph


def template_name(path: Path) -> str:
    """A template's own name (read without validation: the menu must open fast)."""
    try:
        name = json.loads(path.read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        name = None
    return name if isinstance(name, str) and name else path.stem


class MainWindow(QMainWindow):
    #: the window accepted a close; stop workers and release resources now
    about_to_close = Signal()

    def __init__(self, settings: QSettings | None = None, restore_layout: bool = True, parent=None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else default_settings()
        self._persist_layout = restore_layout
        self.document = DesignDocument(parent=self)
        self.menus: dict[str, QMenu] = {}
        self.docks: dict[str, QDockWidget] = {}
        self.named_actions: dict[str, QAction] = {}
        self.help_pages: dict[str, HelpPage] = {}
        #: file suffix → opener(path) -> bool, for files that are not architecture JSON (.onnx)
        self.file_openers: dict[str, object] = {}

        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.AllowNestedDocks
        )

        self.canvas = CanvasView(self.document, self)
        self.setCentralWidget(self.canvas)
        self.palette_panel = PalettePanel(self)
        self.inspector = InspectorPanel(self.document, self)
        self.parameter_panel = ParameterPanel(self.document, self)

        self._build_menus()
        self.add_dock(self.palette_panel, Qt.DockWidgetArea.LeftDockWidgetArea, "Blocks", "palette")
        self.add_dock(self.inspector, Qt.DockWidgetArea.RightDockWidgetArea, "Inspector", "inspector")
        self.add_dock(self.parameter_panel, Qt.DockWidgetArea.BottomDockWidgetArea, "Parameters", "parameters")
        # The side docks own the corners: the bottom panel sits under the canvas only.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self._build_status_bar()

        self.palette_panel.block_activated.connect(self._on_palette_block_activated)
        self.canvas.message.connect(self._on_canvas_message)
        self.canvas.files_dropped.connect(self._on_canvas_files_dropped)
        self.document.analysis_changed.connect(self._on_document_analysis_changed)
        self.document.title_changed.connect(self._on_document_title_changed)
        self.document.locked_changed.connect(self._on_document_locked_changed)

        from designer.ui.training_menu import install_training  # the Training dock and menu
        self.training_panel = install_training(self)

        from designer.ui.lab import install_lab  # FC lab menu; loads torch only on first use
        self.fc_lab = install_lab(self, self.training_panel)

        from designer.ui.exchange_menu import install_exchange  # File ▸ Export, opening .onnx (issue 11)
        install_exchange(self)

        self.resize(1400, 900)
        # Sensible first sizes: the canvas gets the room, the panels what they need.
        self.resizeDocks([self.docks["palette"], self.docks["inspector"]], [240, 270], Qt.Orientation.Horizontal)
        # The bottom area holds the Parameters table and the Training dock's curves (issue 14c).
        self.resizeDocks([self.docks["parameters"]], [380], Qt.Orientation.Vertical)
        if restore_layout:
            self._restore_layout()
        self._on_document_title_changed()
        self._on_document_analysis_changed(self.document.analysis)

    # ================================================================== extension points

    def add_dock(self, widget: QWidget, area: Qt.DockWidgetArea, title: str, name: str | None = None) -> QDockWidget:
        """Put ``widget`` in a movable dock and list it under View ▸ Panels."""
        name = name or title.lower().replace(" ", "_")
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{name}_dock")  # saveState/restoreState find docks by object name
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        self.docks[name] = dock
        self.menus["panels"].addAction(dock.toggleViewAction())
        return dock

    def add_menu(self, name: str, title: str) -> QMenu:
        """A new top-level menu (placed before Help), remembered in ``menus``."""
        if name in self.menus:
            return self.menus[name]
        menu = QMenu(title, self)
        self.menuBar().insertMenu(self.menus["help"].menuAction(), menu)
        self.menus[name] = menu
        return menu

    # ================================================================== building

    def _action(self, name: str, text: str, slot, shortcut=None, menu: str | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            set_shortcuts(action, *(shortcut if isinstance(shortcut, list) else [shortcut]))
        action.triggered.connect(slot)
        self.named_actions[name] = action
        if menu is not None:
            self.menus[menu].addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        for name, title in (("file", "&File"), ("edit", "&Edit"), ("view", "&View"), ("help", "&Help")):
            self.menus[name] = bar.addMenu(title)
        keys = QKeySequence.StandardKey

        self._action("new", "&New", self.new_file, keys.New, "file")
        self._action("open", "&Open…", self.open_file, keys.Open, "file")
        self.menus["recent"] = self.menus["file"].addMenu("Open &Recent")
        self.menus["recent"].aboutToShow.connect(self._fill_recent_menu)
        self.menus["templates"] = self.menus["file"].addMenu("&Templates")
        for path in template_paths():
            action = self.menus["templates"].addAction(template_name(path))
            action.setData(str(path))
            action.triggered.connect(self._on_template_action_triggered)
        self.menus["file"].addSeparator()
        self._action("save", "&Save", self.save, keys.Save, "file")
        self._action("save_as", "Save &As…", self.save_as, keys.SaveAs, "file")
        self.menus["file"].addSeparator()
        self._action("quit", "&Quit", self.close, keys.Quit, "file")

        edit = self.menus["edit"]
        undo = self.document.undo_stack.createUndoAction(self, "&Undo")
        set_shortcuts(undo, *UNDO_KEYS)
        redo = self.document.undo_stack.createRedoAction(self, "&Redo")
        set_shortcuts(redo, *REDO_KEYS)
        edit.addAction(undo)
        edit.addAction(redo)
        self.named_actions["undo"], self.named_actions["redo"] = undo, redo
        edit.addSeparator()
        self._action("cut", "Cu&t", self.canvas.cut_selection, keys.Cut, "edit")
        self._action("copy", "&Copy", self.canvas.copy_selection, keys.Copy, "edit")
        self._action("paste", "&Paste", self.canvas.paste, keys.Paste, "edit")
        self._action("delete", "&Delete", self.canvas.delete_selection, [keys.Delete, "Backspace"], "edit")
        edit.addSeparator()
        self._action("select_all", "Select &All", self.canvas.select_all, keys.SelectAll, "edit")

        view = self.menus["view"]
        self._action("fit", "&Fit to Window", self.canvas.fit_view, "Ctrl+0", "view")
        self._action("zoom_in", "Zoom &In", self.canvas.zoom_in, [keys.ZoomIn, "Ctrl+="], "view")
        self._action("zoom_out", "Zoom &Out", self.canvas.zoom_out, keys.ZoomOut, "view")
        view.addSeparator()
        self._action("auto_layout", "&Auto Layout", self.canvas.apply_auto_layout, "Ctrl+L", "view")
        view.addSeparator()
        self.menus["panels"] = view.addMenu("&Panels")
        install_appearance_menu(self)

        self._action("getting_started", "&Getting Started", self.show_getting_started, keys.HelpContents, "help")
        self._action("shortcuts", "&Keyboard Shortcuts", self.show_keyboard_shortcuts, None, "help")
        self.menus["help"].addSeparator()
        self._action("about", "&About Network Designer", self._on_about_triggered, None, "help")

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.error_label = QLabel(self)
        self.params_label = QLabel(self)
        self.macs_label = QLabel(self)
        self.fc_share_label = QLabel(self)
        self.fc_share_label.setStyleSheet(f"color: {hex_colour(FC_COLOUR)}; font-weight: 600;")
        bar.addWidget(self.error_label, 1)
        for label in (self.params_label, self.macs_label, self.fc_share_label):
            bar.addPermanentWidget(label)
        self._on_theme_changed(current_theme())
        theme_notifier().theme_changed.connect(self._on_theme_changed)

    @Slot(object)
    def _on_theme_changed(self, theme) -> None:
        self.error_label.setStyleSheet(f"color: {hex_colour(theme.error)};")

    # ================================================================== layout persistence

    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state, WINDOW_STATE_VERSION)

    def _save_layout(self) -> None:
        if not self._persist_layout:
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(WINDOW_STATE_VERSION))
        self.settings.sync()

    # ================================================================== questions (overridable)

    def ask_unsaved_changes(self) -> QMessageBox.StandardButton:
        """Save, Discard or Cancel for a design with unsaved changes."""
        return QMessageBox.question(
            self,
            "Unsaved changes",
            f"“{self.document.display_name()}” has changes that are not saved. Save them first?",
            SAVE | DISCARD | CANCEL,
            SAVE,
        )

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.critical(self, title, text)

    def choose_open_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "Open architecture", self._last_folder(), FILE_FILTER)
        return path or None

    def choose_save_path(self) -> str | None:
        if self.document.path is not None:
            suggestion = str(self.document.path)
        else:
            stem = "".join(c for c in self.document.graph.name if c not in '<>:"/\\|?*').strip() or "network"
            suggestion = str(Path(self._last_folder()) / f"{stem}.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save architecture", suggestion, FILE_FILTER)
        if path and not Path(path).suffix:
            path += ".json"
        return path or None

    def _last_folder(self) -> str:
        """Where the file dialogs open: the last folder a design was saved to or opened from,
        else the user's documents folder; never the shipped templates' folder."""
        folder = self.settings.value("files/last_folder")
        if isinstance(folder, str) and folder and Path(folder).is_dir() and Path(folder).resolve() != TEMPLATES.resolve():
            return folder
        documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        return documents if documents and Path(documents).is_dir() else str(Path.home())

    def remember_folder(self, path: Path | str) -> None:
        """The file dialogs open next in the folder of ``path`` (a design opened or saved)."""
        if not is_shipped_template(path):
            self.settings.setValue("files/last_folder", str(Path(path).resolve().parent))

    # ================================================================== files

    def maybe_save(self) -> bool:
        """True when it is fine to throw the current design away."""
        if not self.document.modified:
            return True
        answer = self.ask_unsaved_changes()
        if answer == SAVE:
            return self.save()
        return answer == DISCARD

    def show_graph(self, graph: Graph, path: Path | str | None) -> None:
        """Show a graph just read (no question asked): laid out if needed, history cleared.

        A shipped template shows as a new, unsaved design, however it was opened (menu, file
        dialog, drop, command line): Save then asks where, instead of overwriting it."""
        if is_shipped_template(path):
            path = None
        if needs_layout(graph):
            viewport = self.canvas.viewport().rect()
            apply_layout(graph, viewport.width() / viewport.height() if viewport.height() > 200 else 1.7)
        self.document.load(graph, Path(path) if path else None)
        self.canvas.fit_view()

    def read_design(self, path: Path | str) -> Graph | None:
        """Parse a file; on failure show ArchitectureError's message and return None."""
        try:
            return load_architecture(path)
        except ArchitectureError as error:
            self.show_error("Cannot open design", str(error))
            return None

    def open_path(self, path: Path | str) -> bool:
        """Open a design file. The current design stays untouched if the file is bad."""
        opener = self.file_openers.get(Path(path).suffix.lower())
        if opener is not None:
            return opener(path)
        graph = self.read_design(path)
        if graph is None or not self.maybe_save():
            return False
        self.show_graph(graph, path)
        self.add_recent_file(path)
        self.remember_folder(path)
        return True

    def open_template(self, path: Path | str) -> bool:
        """A template opens as a new, unsaved design (Save asks where to put it)."""
        graph = self.read_design(path)
        if graph is None or not self.maybe_save():
            return False
        self.show_graph(graph, None)
        return True

    @Slot()
    def new_file(self) -> bool:
        if not self.maybe_save():
            return False
        self.show_graph(new_design(), None)
        return True

    @Slot()
    def open_file(self) -> bool:
        path = self.choose_open_path()
        return self.open_path(path) if path else False

    @Slot()
    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self.save_to(self.document.path)

    @Slot()
    def save_as(self) -> bool:
        path = self.choose_save_path()
        return self.save_to(path) if path else False

    def save_to(self, path: Path | str) -> bool:
        path = Path(path)
        if is_shipped_template(path):
            self.show_error("Cannot save design", f"{path} is in the program's templates folder, which holds the "
                            "designs it ships with. Save your design in another folder.")
            return False
        graph = self.document.graph
        old_name, graph.name = graph.name, self.document.name_for_file(path)
        try:
            save_architecture(graph, path)  # atomic: temp file + os.replace
        except (OSError, DesignerError) as error:
            graph.name = old_name
            self.show_error("Cannot save design", f"{path}: {error}")
            return False
        self.document.mark_saved(path)
        self.add_recent_file(path)
        self.remember_folder(path)
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    # ------------------------------------------------------------------ recent files

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-item list
            value = [value]
        return [str(item) for item in (value or [])]

    def add_recent_file(self, path: Path | str) -> None:
        if is_shipped_template(path):
            return  # the Templates menu lists them already
        path = str(Path(path).resolve())
        recent = [path] + [item for item in self.recent_files() if item != path]
        self.settings.setValue("recent_files", recent[:MAX_RECENT_FILES])

    @Slot()
    def _fill_recent_menu(self) -> None:
        menu = self.menus["recent"]
        menu.clear()
        recent = self.recent_files()
        for path in recent:
            action = menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setData(path)
            action.triggered.connect(self._on_recent_action_triggered)
        if not recent:
            menu.addAction("(none)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list").triggered.connect(self._on_clear_recent_triggered)

    @Slot()
    def _on_recent_action_triggered(self) -> None:
        self.open_path(self.sender().data())

    @Slot()
    def _on_clear_recent_triggered(self) -> None:
        self.settings.setValue("recent_files", [])

    @Slot()
    def _on_template_action_triggered(self) -> None:
        self.open_template(self.sender().data())

    # ================================================================== document → window

    @Slot()
    def _on_document_title_changed(self) -> None:
        self.setWindowTitle(f"{self.document.display_name()}[*] — {APPLICATION}")
        self.setWindowModified(self.document.modified)

    @Slot(object)
    def _on_document_analysis_changed(self, analysis) -> None:
        self.params_label.setText(f"Parameters: {format_count(analysis.total_params)}")
        self.params_label.setToolTip(f"{analysis.total_params:,} parameters")
        self.macs_label.setText(f"MACs: {format_count(analysis.total_macs)}")
        self.macs_label.setToolTip(f"{analysis.total_macs:,} multiply-accumulates per image")
        self.fc_share_label.setText(f"FC share: {analysis.fc_share:.1%}")
        self.error_label.setText(self.current_error(analysis))

    def current_error(self, analysis) -> str:
        """The first thing wrong with the design, as the status bar shows it ('' when none)."""
        for block_id, error in analysis.errors.items():
            return f"{block_id}: {error}"
        return analysis.problems[0] if analysis.problems else ""

    def status_text(self) -> str:
        """Everything the status bar shows, as one line (tests read this)."""
        parts = [self.statusBar().currentMessage(), self.error_label.text(), self.params_label.text(),
                 self.macs_label.text(), self.fc_share_label.text()]
        return "  |  ".join(part for part in parts if part)

    @Slot(bool)
    def _on_document_locked_changed(self, locked: bool) -> None:
        for name in ("cut", "paste", "delete", "auto_layout", "new", "open"):
            self.named_actions[name].setEnabled(not locked)
        self.menus["templates"].setEnabled(not locked)
        self.menus["recent"].setEnabled(not locked)

    @Slot(str)
    def _on_canvas_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    @Slot(str)
    def _on_palette_block_activated(self, type_id: str) -> None:
        self.canvas.add_block_in_view(type_id)

    @Slot(list)
    def _on_canvas_files_dropped(self, paths: list) -> None:
        if paths:
            self.open_path(paths[0])

    @Slot()
    def show_getting_started(self) -> HelpPage:
        return self._show_help_page("getting_started", "Getting Started", getting_started_html())

    @Slot()
    def show_keyboard_shortcuts(self) -> HelpPage:
        # Made afresh at each opening: the menus (and other parts' actions) may have changed.
        return self._show_help_page("shortcuts", "Keyboard Shortcuts", shortcuts_html(self.menuBar()))

    def _show_help_page(self, name: str, title: str, text: str) -> HelpPage:
        page = self.help_pages.get(name)
        if page is None:
            page = self.help_pages[name] = HelpPage(f"{title} — {APPLICATION}", text, self)
        else:
            page.set_text(text)
        page.show()
        page.raise_()
        return page

    @Slot()
    def _on_about_triggered(self) -> None:
        QMessageBox.about(
            self,
            "About Network Designer",
            "<b>Network Designer</b><br>Design convolutional networks, see what every block costs, "
            "and test what fully connected layers do to a network.",
        )

    # ================================================================== window events

    def dragEnterEvent(self, event) -> None:
        if any(url.toLocalFile().lower().endswith(OPENABLE_SUFFIXES) for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls()
                 if url.toLocalFile().lower().endswith(OPENABLE_SUFFIXES)]
        if paths:
            event.acceptProposedAction()
            self.open_path(paths[0])

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self._save_layout()
        self.about_to_close.emit()
        event.accept()
