"""The parameter panel: where the parameters are, as a headline, a table and a bar chart.

The headline is the program's reason to exist ("FC layers hold 89.4% of all parameters").
Everything is redrawn from ``DesignDocument.analysis_changed`` and nothing else. That path
runs on every keystroke in the inspector and is benchmarked (canvas + this panel within one
frame on VGG-16), so an update is one ``dataChanged`` (or a model reset when the set of
blocks changed) plus one ``setOpts`` on a bar item created once (DESIGN.md 9).
"""

from __future__ import annotations

import html

from PySide6.QtCore import (QAbstractTableModel, QEvent, QItemSelection, QItemSelectionModel, QModelIndex, QObject,
                            Qt, QTimer, Slot)
from PySide6.QtGui import QBrush, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from designer.core import FC_TYPES, Analysis, format_count
from designer.core.summary import summary_row
from designer.ui.document import DesignDocument
from designer.ui.style import FC_COLOUR, current_theme, hex_colour, theme_notifier

COLUMNS = ("Layer", "Type", "Output shape", "Params", "% params", "MACs")
_NUMERIC_COLUMNS = frozenset({3, 4, 5})
SHAPE_COLUMN = 2
#: typical widest entries (VGG-16 scale), so the columns do not jump while a design grows
_WIDTH_SAMPLES = ("conv13", "Input 3×224×224", "512×224×224", "102,764,544", "100.0%", "1,849,688,064")
#: the style's text margins in a cell (Fusion: 3 px a side), plus a little air
_CELL_MARGIN = 10
#: the share chart keeps at least this width when the table takes what it needs
CHART_MINIMUM_WIDTH = 180
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter

#: the role holding a row's block id
BLOCK_ID_ROLE = Qt.ItemDataRole.UserRole + 1


_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole.value)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole.value)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole.value)
_FONT = int(Qt.ItemDataRole.FontRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_BLOCK_ID = int(BLOCK_ID_ROLE)
_BOLD_COLUMNS = frozenset({0, 3, 4})


class _Row:
    """One block's cells, with every role the view asks for looked up in a dict.

    The view calls ``data`` for ~7 roles per visible cell on every repaint, each a trip into
    Python, so ``data`` must be one lookup: everything is worked out here, once per update.
    """

    __slots__ = ("block_id", "cells", "roles")

    def __init__(self, block_id: str, cells: tuple[str, ...], roles: tuple[dict, ...]) -> None:
        self.block_id = block_id
        self.cells = cells
        self.roles = roles


class BlockTableModel(QAbstractTableModel):
    """One row per block in topological order; rows are plain strings computed once per update."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._fc_font = QFont()
        self._fc_font.setBold(True)
        self.set_theme(current_theme())

    def set_theme(self, theme) -> None:
        """Colours for the next update; ``forget_rows`` then makes it repaint every row."""
        self._fc_background = QBrush(theme.fc_row)
        self._fc_foreground = QBrush(theme.fc_text)  # FC_COLOUR adjusted to read as text
        self._error_foreground = QBrush(theme.error)
        self._blocked_foreground = QBrush(theme.blocked)

    def forget_rows(self) -> None:
        """The next ``set_analysis`` resets the model (used when the colours changed)."""
        self._rows = []

    # ------------------------------------------------------------------ updating

    def _make_row(self, block, report) -> _Row:
        cells = summary_row(block, report, no_params="–")
        is_fc = report.type_id in FC_TYPES
        common: dict = {_BLOCK_ID: block.id}
        if report.error:
            common[_FOREGROUND] = self._error_foreground
            common[_TOOLTIP] = f"{block.id}: {report.error}"
        elif report.blocked_by:
            common[_FOREGROUND] = self._blocked_foreground
            common[_TOOLTIP] = f"Shape unknown until '{report.blocked_by}' is fixed"
        elif is_fc:
            common[_FOREGROUND] = self._fc_foreground
        if is_fc:
            common[_BACKGROUND] = self._fc_background
        roles = []
        for column, text in enumerate(cells):
            cell = dict(common)
            cell[_DISPLAY] = text
            cell[_ALIGNMENT] = _RIGHT if column in _NUMERIC_COLUMNS else _LEFT
            if is_fc and column in _BOLD_COLUMNS:
                cell[_FONT] = self._fc_font
            roles.append(cell)
        return _Row(block.id, cells, tuple(roles))

    def set_analysis(self, graph, analysis: Analysis) -> bool:
        """Show ``analysis``; returns True when the rows were reset (the set of blocks changed).

        When the same blocks are shown, only the cells whose text or colouring changed are
        announced, so the view repaints those cells and nothing else.
        """
        blocks = graph.blocks
        rows = [self._make_row(blocks[block_id], report) for block_id, report in analysis.reports.items()]
        old_rows = self._rows
        same_blocks = len(rows) == len(old_rows) and all(
            new.block_id == old.block_id for new, old in zip(rows, old_rows)
        )
        if not same_blocks:
            self.beginResetModel()
            self._rows = rows
            self.endResetModel()
            return True
        self._rows = rows
        for column in range(len(COLUMNS)):
            run_start = -1
            for row_index, (new, old) in enumerate(zip(rows, old_rows)):
                changed = new.roles[column] != old.roles[column]
                if changed and run_start < 0:
                    run_start = row_index
                elif not changed and run_start >= 0:
                    self.dataChanged.emit(self.index(run_start, column), self.index(row_index - 1, column))
                    run_start = -1
            if run_start >= 0:
                self.dataChanged.emit(self.index(run_start, column), self.index(len(rows) - 1, column))
        return False

    # ------------------------------------------------------------------ queries

    def block_id(self, row: int) -> str:
        return self._rows[row].block_id

    def row_of(self, block_id: str) -> int:
        for row, entry in enumerate(self._rows):
            if entry.block_id == block_id:
                return row
        return -1

    def longest_texts(self, column: int) -> list[str]:
        """The longest cell texts of ``column`` (by characters; each is then measured).

        Counting characters is a Python loop over the rows; measuring only the few longest
        keeps the per-keystroke update well inside a frame (DESIGN.md 9). Shape errors are
        left out: they are long by nature, elided, and shown whole in the tooltip.
        """
        texts = [row.cells[column] for row in self._rows
                 if not (column == SHAPE_COLUMN and _TOOLTIP in row.roles[column])]
        if not texts:
            return []
        longest = max(map(len, texts))
        return list({text for text in texts if len(text) >= longest - 1})

    # ------------------------------------------------------------------ Qt model

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return _RIGHT if section in _NUMERIC_COLUMNS else _LEFT
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        try:
            return self._rows[index.row()].roles[index.column()].get(int(role))
        except IndexError:
            return None


class ParameterPanel(QWidget):
    """Headline + per-block table + share chart, all following the document's analysis."""

    def __init__(self, document: DesignDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._syncing_selection = False
        self._last_analysis: Analysis | None = None

        self.headline_label = QLabel(self)
        self.headline_label.setTextFormat(Qt.TextFormat.RichText)
        self.headline_label.setWordWrap(True)
        headline_font = self.headline_label.font()
        headline_font.setPointSizeF(headline_font.pointSizeF() * 1.45)
        self.headline_label.setFont(headline_font)
        self.totals_label = QLabel(self)
        self.totals_label.setWordWrap(True)

        self.model = BlockTableModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setHighlightSections(False)
        # Columns are as wide as their header and their widest value (measured, never elided);
        # the shape column also takes any spare width (it holds core's error messages too).
        # Not ResizeToContents: that measures every cell of every column on every update.
        self._column_widths = [0] * len(COLUMNS)
        self._measured_lengths = [-1] * len(COLUMNS)
        self._splitter_placed = False
        self.table.viewport().installEventFilter(self)

        # The chart needs pyqtgraph, whose import costs a good part of start-up; it is made
        # right after the window is on screen (or when first asked for), a placeholder until then.
        self._chart = None
        self._chart_placeholder = QWidget(self)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self._chart_placeholder)
        # The table keeps the width its columns need; the chart takes what the panel gains.
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([620, 380])
        self.splitter.installEventFilter(self)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        layout.addWidget(self.headline_label)
        layout.addWidget(self.totals_label)
        layout.addWidget(self.splitter, 1)

        self.table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)
        document.analysis_changed.connect(self._on_document_analysis_changed)
        document.selection_changed.connect(self._on_document_selection_changed)
        theme_notifier().theme_changed.connect(self._on_theme_changed)
        self._on_theme_changed(current_theme())
        QTimer.singleShot(0, self._create_chart)

    @Slot(object)
    def _on_theme_changed(self, theme) -> None:
        self.totals_label.setStyleSheet(f"color: {hex_colour(theme.muted_text)};")
        self.model.set_theme(theme)
        self.model.forget_rows()
        self.totals_label.setText("")  # rebuilt below with the new error colour
        self._on_document_analysis_changed(self.document.analysis)
        self._fit_columns(remeasure=True)  # a new style sheet came with the theme

    @property
    def chart(self):
        """The share chart (a ``ShareChart``), made now if it does not exist yet."""
        return self._create_chart()

    @Slot()
    def _create_chart(self):
        if self._chart is None:
            from designer.ui.share_chart import ShareChart

            self._chart = ShareChart(self)
            sizes = self.splitter.sizes()
            self.splitter.replaceWidget(1, self._chart)
            self._chart_placeholder.deleteLater()
            self.splitter.setSizes(sizes)
            if self._last_analysis is not None:
                self._chart.set_analysis(self._last_analysis)
        return self._chart

    def _fit_columns(self, remeasure: bool = False) -> None:
        """Widen any column narrower than its header or its widest value; never narrow one
        (a width the user dragged stays). Measures only when a column's longest text grew
        (or ``remeasure``: the fonts or the style may have changed), so a keystroke in the
        inspector usually costs a count of characters and no measuring."""
        header = self.table.horizontalHeader()
        plain = self.table.fontMetrics()
        bold_font = QFont(self.table.font())
        bold_font.setBold(True)
        bold = QFontMetrics(bold_font)
        grown = False
        for column, sample in enumerate(_WIDTH_SAMPLES):
            texts = self.model.longest_texts(column)
            length = max(map(len, texts), default=0)
            if not remeasure and length <= self._measured_lengths[column]:
                continue
            self._measured_lengths[column] = length
            metrics = bold if column in _BOLD_COLUMNS else plain  # FC rows are bold there
            needed = max(header.sectionSizeHint(column),
                         max(metrics.horizontalAdvance(text) for text in [sample, *texts]) + _CELL_MARGIN)
            if needed > self._column_widths[column]:
                self._column_widths[column] = needed
                grown = True
                if column != SHAPE_COLUMN or self.table.columnWidth(column) < needed:
                    self.table.setColumnWidth(column, needed)
        if grown:
            if self._splitter_placed:
                self._place_splitter()
            self._give_spare_width_to_shapes()

    def _give_spare_width_to_shapes(self) -> None:
        others = sum(self.table.columnWidth(column) for column in range(len(COLUMNS)) if column != SHAPE_COLUMN)
        spare = self.table.viewport().width() - others
        self.table.setColumnWidth(SHAPE_COLUMN, max(self._column_widths[SHAPE_COLUMN], spare))

    def table_width_needed(self) -> int:
        """The table's width with every column fitted and the vertical scroll bar shown."""
        frame = 2 * self.table.frameWidth()
        return sum(self._column_widths) + self.table.verticalScrollBar().sizeHint().width() + frame

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Resize:
            if watched is self.table.viewport():
                self._give_spare_width_to_shapes()
            elif watched is self.splitter and not self._splitter_placed and self.splitter.width() > 0 \
                    and self.isVisible() and self.splitter.orientation() == Qt.Orientation.Horizontal:
                self._fit_columns(remeasure=True)  # now polished: the style sheet's header font and padding
                self._place_splitter(first=True)
                self._splitter_placed = True
        return super().eventFilter(watched, event)

    def _place_splitter(self, first: bool = False) -> None:
        """The table gets what its columns need (if the chart keeps its minimum), the chart the rest.

        Later calls (a column grew) only widen the table, never undo a width the user chose."""
        if self.splitter.orientation() != Qt.Orientation.Horizontal:
            return
        width = self.splitter.width() - self.splitter.handleWidth()
        table = min(self.table_width_needed(), max(width - CHART_MINIMUM_WIDTH, width // 2))
        if first or table > self.splitter.sizes()[0]:
            self.splitter.setSizes([table, width - table])

    # ------------------------------------------------------------------ queries (tests, window)

    def headline_text(self) -> str:
        """The headline as plain text, e.g. "FC layers hold 95.8% of all parameters (59.1k of 61.7k)"."""
        analysis = self._last_analysis
        if analysis is None:
            return ""
        if not analysis.total_params:
            return "No parameters yet: add a Conv or FC block"
        return analysis.headline()

    # ------------------------------------------------------------------ document signals

    @Slot(object)
    def _on_document_analysis_changed(self, analysis: Analysis) -> None:
        self._last_analysis = analysis
        self._update_headline(analysis)
        reset = self.model.set_analysis(self.document.graph, analysis)
        if reset:
            self._select_rows(self.document.selection)
        self._fit_columns()
        if self._chart is not None:
            self._chart.set_analysis(analysis)

    def _update_headline(self, analysis: Analysis) -> None:
        text = self.headline_text()
        fc = hex_colour(FC_COLOUR)
        marker = " of all parameters"
        if analysis.total_params and marker in text:
            lead, rest = text.split(marker, 1)
            rich = f"<b style='color:{fc}'>{html.escape(lead)}</b>{html.escape(marker + rest)}"
        else:
            rich = html.escape(text)
        if rich != self.headline_label.text():
            self.headline_label.setText(rich)
        totals = (
            f"Total: {analysis.total_params:,} parameters ({format_count(analysis.total_params)}) · "
            f"{analysis.total_macs:,} MACs ({format_count(analysis.total_macs)}) per sample"
        )
        if analysis.problems:
            problems = "; ".join(analysis.problems)
            totals = (
                f"{html.escape(totals)}<br><span style='color:{hex_colour(current_theme().error)}'>"
                f"{html.escape(problems)}</span>"
            )
        if totals != self.totals_label.text():
            self.totals_label.setText(totals)

    @Slot(list)
    def _on_document_selection_changed(self, block_ids: list) -> None:
        self._select_rows(block_ids)

    def _select_rows(self, block_ids) -> None:
        selection = QItemSelection()
        last_column = len(COLUMNS) - 1
        first_row = -1
        for block_id in block_ids:
            row = self.model.row_of(block_id)
            if row >= 0:
                selection.select(self.model.index(row, 0), self.model.index(row, last_column))
                first_row = row if first_row < 0 else first_row
        self._syncing_selection = True
        try:
            self.table.selectionModel().select(
                selection, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            )
        finally:
            self._syncing_selection = False
        if first_row >= 0:
            self.table.scrollTo(self.model.index(first_row, 0))

    @Slot(QItemSelection, QItemSelection)
    def _on_table_selection_changed(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        if self._syncing_selection:
            return
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        self.document.set_selection([self.model.block_id(row) for row in rows])


__all__ = ["BLOCK_ID_ROLE", "CHART_MINIMUM_WIDTH", "COLUMNS", "SHAPE_COLUMN", "BlockTableModel", "ParameterPanel"]
