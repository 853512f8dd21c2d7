"""The Runs view: every run in the runs folder, its curves overlaid, its design or checkpoint opened, deleted.

A table of the runs (``designer.training.run_history``: each run's ``history.json`` read,
no torch loaded): design, dataset, settings, best validation accuracy, test accuracy, when,
how long, parameters. Selecting runs overlays their validation curves (``run_curves``,
made on first show: pyqtgraph is not needed to open the window). *Open design* and *Open
checkpoint* go through the window's own paths (the unsaved-changes question included);
*Delete…* asks first. A folder that is not a run is listed greyed with the reason, and is
never deleted from here.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QRectF, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QColor, QDesktopServices, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QMessageBox,
                               QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from designer.training.run_history import RunDeletionError, RunRecord, delete_run, list_runs
from designer.ui.runs_location import runs_folder, set_runs_folder

#: the figures that tell runs apart first: at the default window size the table shows about five columns
COLUMNS = ("Run", "Best val.", "Test acc.", "Dataset", "Parameters", "Time", "Started", "Design", "Settings")
NUMBER_COLUMNS = ("Best val.", "Test acc.", "Parameters", "Time")
MARKER_SIZE = 10


class _SortableItem(QTableWidgetItem):
    """Sorts by the value it was made from (a number or a time), not by its text."""

    def __init__(self, text: str, key) -> None:
        super().__init__(text)
        self.key = key

    def __lt__(self, other) -> bool:  # noqa: D105 - Qt's sort
        mine, theirs = self.key, getattr(other, "key", None)
        if mine is None or theirs is None:
            return mine is None and theirs is not None
        return mine < theirs


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}:{rest:02d}" if minutes < 60 else f"{minutes // 60}:{minutes % 60:02d}:{rest:02d}"


def _marker(colour: str | None) -> QIcon:
    """A round marker in ``colour``; transparent for None (the names stay aligned)."""
    pixmap = QPixmap(MARKER_SIZE, MARKER_SIZE)
    pixmap.fill(Qt.transparent)
    if colour is not None:
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.Antialiasing)
        # A white ring: a blue marker on the blue of a selected row would vanish without it.
        painter.setPen(QPen(QColor("white"), 1.5))
        painter.setBrush(QColor(colour))
        painter.drawEllipse(QRectF(0.75, 0.75, MARKER_SIZE - 1.5, MARKER_SIZE - 1.5))
        painter.end()
    return QIcon(pixmap)


class RunsView(QWidget):
    """Meant for a dock. ``open_design(graph)`` and ``open_checkpoint(path)`` are the window's ways in."""

    #: the runs folder was changed here (the Training dock writes its next runs there)
    folder_changed = Signal(object)

    def __init__(self, *, open_design=None, open_checkpoint=None, settings=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.open_design_callback = open_design
        self.open_checkpoint_callback = open_checkpoint
        self._settings = settings
        self.records: list[RunRecord] = []
        self._colours: dict[str, int] = {}
        self.curves = None  # RunCurves, made on first show
        self._loaded = False
        self._sized = False  # True once the person has moved the splitter

        self.folder_label = QLabel()
        self.folder_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.folder_label.setWordWrap(True)
        self.change_button = QPushButton("Change…")
        self.change_button.setToolTip("Choose another runs folder (the Training dock saves its next runs there)")
        self.change_button.clicked.connect(self._on_change_button_clicked)
        self.show_button = QPushButton("Show folder")
        self.show_button.clicked.connect(self._on_show_button_clicked)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        header = QHBoxLayout()
        header.addWidget(self.folder_label, 1)
        for button in (self.change_button, self.show_button, self.refresh_button):
            header.addWidget(button)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)
        self.table.itemDoubleClicked.connect(self._on_table_double_clicked)

        self.open_design_button = QPushButton("Open design")
        self.open_design_button.setToolTip("Open the design exactly as this run trained it (as a new, unsaved design)")
        self.open_design_button.clicked.connect(self._on_open_design_button_clicked)
        self.open_checkpoint_button = QPushButton("Open checkpoint")
        self.open_checkpoint_button.setToolTip("Load the design with its trained weights, curves and results")
        self.open_checkpoint_button.clicked.connect(self._on_open_checkpoint_button_clicked)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the selected runs' folders (asks first)")
        self.delete_button.clicked.connect(self._on_delete_button_clicked)
        self.message_label = QLabel(" ")
        self.message_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.open_design_button, self.open_checkpoint_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addWidget(self.message_label, 1)

        table_box = QWidget()
        table_layout = QVBoxLayout(table_box)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.table, 1)
        table_layout.addLayout(buttons)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(table_box)
        self.splitter.addWidget(QLabel("Select runs to overlay their curves."))  # the plots' stand-in
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 4)
        self.splitter.splitterMoved.connect(self._on_splitter_moved)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(self.splitter, 1)
        self._update_buttons()

    # ------------------------------------------------------------------ the folder

    @property
    def folder(self) -> Path:
        return runs_folder(self._settings)[0]

    def set_folder(self, folder: str | Path | None) -> None:
        set_runs_folder(folder, self._settings)
        self.refresh()
        self.folder_changed.emit(self.folder)

    @Slot()
    def _on_change_button_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Runs folder", str(self.folder))
        if folder:
            self.set_folder(folder)

    @Slot()
    def _on_show_button_clicked(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))

    # ------------------------------------------------------------------ listing

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._loaded:
            self.refresh()
        self._share_width()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._share_width()

    def _share_width(self) -> None:
        # The table's first columns (run, best validation and test accuracy, dataset) in view and
        # room for both plots, until the person moves the splitter.
        if not self._sized and self.splitter.width() > 0:
            width = self.splitter.width()
            self.splitter.setSizes([width * 5 // 9, width - width * 5 // 9])

    @Slot(int, int)
    def _on_splitter_moved(self, _position: int, _index: int) -> None:
        self._sized = True

    @Slot()
    def refresh(self) -> None:
        """Read the runs folder again; the selection is kept by run name."""
        self._loaded = True
        self._make_curves()
        selected = {record.name for record in self.selected_records()}
        folder, why = runs_folder(self._settings)
        self.folder_label.setText(f"<b>Runs folder</b> ({html.escape(why)}): {html.escape(str(folder))}")
        self.folder_label.setToolTip(str(folder))
        self.records = list_runs(folder)
        readable = sum(record.readable for record in self.records)
        self._fill_table()
        if not self.records:
            self.message_label.setText("No runs yet: every run of the Training dock and of `train` is saved here.")
        else:
            unreadable = len(self.records) - readable
            self.message_label.setText(f"{readable} run{'s' if readable != 1 else ''}"
                                       + (f"; {unreadable} folder{'s' if unreadable != 1 else ''} not readable as "
                                          f"a run (greyed)" if unreadable else ""))
        self.select_runs(selected)

    def _fill_table(self) -> None:
        table = self.table
        table.setSortingEnabled(False)
        table.blockSignals(True)
        table.setRowCount(len(self.records))
        muted = QColor("#8A939E")
        for row, record in enumerate(self.records):
            when = record.created
            cells = {
                "Run": (record.name, record.name),
                "Best val.": (_percent(record.best_validation_accuracy), record.best_validation_accuracy),
                "Test acc.": (_percent(record.test_accuracy), record.test_accuracy),
                "Dataset": (record.dataset or "–", record.dataset),
                "Parameters": (f"{record.parameters:,}" if record.parameters is not None else "–", record.parameters),
                "Time": (_duration(record.seconds), record.seconds),
                "Started": (when.strftime("%Y-%m-%d %H:%M") if when else "–", when.timestamp() if when else None),
                "Design": (record.design_name or "–", record.design_name),
                "Settings": (record.settings if record.readable else f"not readable: {record.problem}",
                             record.settings),
            }
            for column, name in enumerate(COLUMNS):
                text, key = cells[name]
                item = _SortableItem(text, key)
                item.setData(Qt.UserRole, record.name)
                if name in NUMBER_COLUMNS:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                tip = record.message if record.readable else record.problem
                item.setToolTip(f"{record.folder}\n{tip}" if tip else str(record.folder))
                if not record.readable:
                    item.setForeground(muted)
                table.setItem(row, column, item)
        table.blockSignals(False)
        table.setSortingEnabled(True)
        self._colour_names()

    def _colour_names(self) -> None:
        """A marker in its curve's colour before each overlaid run's name (a marker, not the
        text's colour: that would vanish under the selection's highlight)."""
        from designer.ui.run_curves import run_colour

        blank = _marker(None)
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            index = self._colours.get(item.data(Qt.UserRole))
            item.setIcon(blank if index is None else _marker(run_colour(index)))

    def _make_curves(self) -> None:
        if self.curves is not None:
            return
        from designer.ui.run_curves import RunCurves

        self.curves = RunCurves()
        stand_in = self.splitter.widget(1)
        self.splitter.replaceWidget(1, self.curves)
        stand_in.deleteLater()

    # ------------------------------------------------------------------ selection

    def record(self, name: str) -> RunRecord | None:
        return next((record for record in self.records if record.name == name), None)

    def selected_records(self) -> list[RunRecord]:
        names = []
        for index in self.table.selectionModel().selectedRows():
            name = self.table.item(index.row(), 0).data(Qt.UserRole)
            if name not in names:
                names.append(name)
        return [record for name in names if (record := self.record(name)) is not None]

    def select_runs(self, names) -> None:
        """Select the runs named ``names`` (and overlay their curves)."""
        self.table.blockSignals(True)
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.MultiSelection)
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.UserRole) in names:
                self.table.selectRow(row)
        self.table.setSelectionMode(mode)
        self.table.blockSignals(False)
        self._on_table_selection_changed()

    @Slot()
    def _on_table_selection_changed(self) -> None:
        records = [record for record in self.selected_records() if record.readable]
        for record in records:
            if record.name not in self._colours:
                used = set(self._colours.values())
                self._colours[record.name] = next(index for index in range(len(used) + 1) if index not in used)
        names = {record.name for record in records}
        self._colours = {name: index for name, index in self._colours.items() if name in names}
        if self.curves is not None:
            self.curves.show_runs(records, self._colours)
        self._colour_names()
        self._update_buttons()

    def _update_buttons(self) -> None:
        selected = self.selected_records()
        one = selected[0] if len(selected) == 1 else None
        self.open_design_button.setEnabled(one is not None and one.design is not None)
        self.open_checkpoint_button.setEnabled(one is not None and one.checkpoint is not None)
        self.delete_button.setEnabled(bool(selected) and all(record.readable for record in selected))

    # ------------------------------------------------------------------ actions

    @Slot(QTableWidgetItem)
    def _on_table_double_clicked(self, _item) -> None:
        self.open_checkpoint() or self.open_design()

    @Slot()
    def _on_open_design_button_clicked(self) -> None:
        self.open_design()

    @Slot()
    def _on_open_checkpoint_button_clicked(self) -> None:
        self.open_checkpoint()

    @Slot()
    def _on_delete_button_clicked(self) -> None:
        self.delete_selected()

    def open_design(self) -> bool:
        selected = self.selected_records()
        if len(selected) != 1 or selected[0].design is None or self.open_design_callback is None:
            return False
        from designer.core import ArchitectureError, load_architecture

        try:
            graph = load_architecture(selected[0].design)
        except ArchitectureError as error:
            self.message_label.setText(f"Cannot open the design: {error}")
            return False
        return bool(self.open_design_callback(graph))

    def open_checkpoint(self) -> bool:
        selected = self.selected_records()
        if len(selected) != 1 or selected[0].checkpoint is None or self.open_checkpoint_callback is None:
            return False
        return bool(self.open_checkpoint_callback(selected[0].checkpoint))

    def confirm_delete(self, records: list[RunRecord]) -> bool:
        """Asked before deleting (tests answer it without a dialog)."""
        names = "\n".join(f"  {record.name}" for record in records[:10])
        more = f"\n  … and {len(records) - 10} more" if len(records) > 10 else ""
        answer = QMessageBox.question(self, "Delete runs",
                                      f"Delete {len(records)} run folder{'s' if len(records) != 1 else ''} with "
                                      f"their history and checkpoint?\n\n{names}{more}\n\nThis cannot be undone.",
                                      QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        return answer == QMessageBox.Yes

    def delete_selected(self) -> int:
        """Delete the selected runs after ``confirm_delete``; returns how many were deleted."""
        records = self.selected_records()
        if not records or not all(record.readable for record in records) or not self.confirm_delete(records):
            return 0
        deleted, problems = 0, []
        for record in records:
            try:
                delete_run(record)
                deleted += 1
            except RunDeletionError as error:
                problems.append(str(error))
        self.refresh()
        self.message_label.setText(f"Deleted {deleted} run{'s' if deleted != 1 else ''}."
                                   + (f" {problems[0]}" if problems else ""))
        return deleted


__all__ = ["COLUMNS", "RunsView"]
