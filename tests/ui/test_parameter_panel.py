"""The parameter panel: FC headline, per-block table and share chart, in step with the design."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from designer.core import TEMPLATES, load_architecture
from designer.ui.document import DesignDocument
from designer.ui.parameter_panel import CHART_MINIMUM_WIDTH, COLUMNS, ParameterPanel
from designer.ui.style import ERROR_COLOUR, FC_COLOUR, hex_colour


@pytest.fixture
def document(qtbot):
    document = DesignDocument()
    document.load(load_architecture(TEMPLATES / "lenet5.json"), None)
    return document


@pytest.fixture
def panel(qtbot, document):
    panel = ParameterPanel(document)
    qtbot.addWidget(panel)
    panel.resize(1000, 400)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def cell(panel, block_id, column, role=Qt.ItemDataRole.DisplayRole):
    model = panel.model
    return model.data(model.index(model.row_of(block_id), COLUMNS.index(column)), role)


def test_lenet_headline_says_fc_layers_hold_95_8_percent(panel):
    assert panel.headline_text() == "FC layers hold 95.8% of all parameters (59.1k of 61.7k)"
    # The FC part of the headline is drawn in the FC colour.
    assert hex_colour(FC_COLOUR).lower() in panel.headline_label.text().lower()
    assert "61,706 parameters" in panel.totals_label.text()


def test_one_row_per_block_with_counts_right_aligned(panel, document):
    assert panel.model.rowCount() == len(document.graph)
    assert panel.model.columnCount() == len(COLUMNS)
    assert cell(panel, "fc1", "Type") == "FC 120"
    assert cell(panel, "fc1", "Output shape") == "120"
    assert cell(panel, "fc1", "Params") == "48,120"
    assert cell(panel, "fc1", "% params") == "78.0%"
    assert cell(panel, "conv2", "MACs") == "240,000"
    alignment = cell(panel, "fc1", "Params", Qt.ItemDataRole.TextAlignmentRole)
    assert alignment & Qt.AlignmentFlag.AlignRight
    assert not cell(panel, "fc1", "Layer", Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight


def test_fc_rows_are_highlighted_and_others_are_not(panel):
    assert cell(panel, "fc1", "Layer", Qt.ItemDataRole.BackgroundRole) is not None
    assert cell(panel, "conv1", "Layer", Qt.ItemDataRole.BackgroundRole) is None


def test_editing_fc1_changes_the_headline_the_row_and_the_chart(panel, document):
    bars_before = list(panel.chart.shares)
    document.set_param("fc1", "out_features", 60)
    # fc1 400·60 + 60, fc2 60·84 + 84, fc3 850 = 30,034 of 30,034 + 2,572 (convs) = 32,606
    assert panel.headline_text() == "FC layers hold 92.1% of all parameters (30.0k of 32.6k)"
    assert cell(panel, "fc1", "Params") == "24,060"
    assert cell(panel, "fc1", "Type") == "FC 60"
    assert cell(panel, "fc2", "Params") == "5,124"  # its input shrank too
    assert panel.chart.shares != bars_before
    assert panel.chart.shares[panel.chart.block_ids.index("fc1")] == pytest.approx(
        100 * document.analysis.reports["fc1"].share
    )
    document.undo_stack.undo()
    assert panel.headline_text() == "FC layers hold 95.8% of all parameters (59.1k of 61.7k)"
    assert cell(panel, "fc1", "Params") == "48,120"


def test_chart_has_one_bar_per_parameter_holding_block_fc_in_fc_colour(panel):
    chart = panel.chart
    assert chart.block_ids == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    bars = chart.bars
    bar_item_before = bars
    brushes = bars.opts["brushes"]
    assert [brush.color() == QColor(FC_COLOUR) for brush in brushes] == [False, False, True, True, True]
    panel.document.set_param("fc2", "out_features", 42)
    assert chart.bars is bar_item_before  # created once, updated in place
    assert len(chart.getPlotItem().listDataItems()) == 1


def test_an_invalid_block_row_is_red_and_says_why(panel, document):
    document.set_param("conv2", "padding", "same")
    document.set_param("conv2", "stride", 2)
    assert cell(panel, "conv2", "Output shape").startswith("error: padding \"same\" needs stride 1")
    assert cell(panel, "conv2", "Layer", Qt.ItemDataRole.ForegroundRole).color() == QColor(ERROR_COLOUR)
    assert "needs stride 1" in cell(panel, "conv2", "Layer", Qt.ItemDataRole.ToolTipRole)
    assert cell(panel, "fc1", "Output shape") == "? (after conv2)"


def test_adding_a_block_adds_a_row(panel, document):
    rows = panel.model.rowCount()
    document.add_block("ReLU")
    assert panel.model.rowCount() == rows + 1


def test_selecting_a_row_selects_the_block(qtbot, panel, document):
    table = panel.table
    row = panel.model.row_of("fc2")
    rect = table.visualRect(panel.model.index(row, 0))
    with qtbot.waitSignal(document.selection_changed) as blocker:
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [["fc2"]]
    assert document.selection == ["fc2"]


def test_selecting_a_block_selects_its_row_without_echoing_back(qtbot, panel, document):
    emitted = []
    document.selection_changed.connect(emitted.append)
    document.set_selection(["conv2"])
    assert emitted == [["conv2"]]  # the table following it did not set the selection again
    selected = [index.row() for index in panel.table.selectionModel().selectedRows()]
    assert selected == [panel.model.row_of("conv2")]

    document.set_selection(["conv1", "fc3"])
    selected = sorted(index.row() for index in panel.table.selectionModel().selectedRows())
    assert selected == sorted([panel.model.row_of("conv1"), panel.model.row_of("fc3")])
    document.set_selection([])
    assert panel.table.selectionModel().selectedRows() == []
    assert emitted == [["conv2"], ["conv1", "fc3"], []]


def test_selection_survives_a_row_reset(panel, document):
    document.set_selection(["fc1"])
    document.add_block("ReLU")
    selected = [index.row() for index in panel.table.selectionModel().selectedRows()]
    assert selected == [panel.model.row_of("fc1")]


def test_a_design_without_parameters_says_so(qtbot):
    document = DesignDocument()
    panel = ParameterPanel(document)
    qtbot.addWidget(panel)
    assert panel.headline_text() == "No parameters yet: add a Conv or FC block"
    assert panel.model.rowCount() == 0
    assert panel.chart.block_ids == []


@pytest.mark.parametrize("look", ["plain Qt", "the program's style"])
@pytest.mark.parametrize("template", ["vgg16.json", "lenet5.json"])
def test_at_1400_by_900_no_header_or_value_is_cut(request, main_window, look, template):
    if look != "plain Qt":
        request.getfixturevalue("styled")
    main_window.resize(1400, 900)
    main_window.show_graph(load_architecture(TEMPLATES / template), None)
    QApplication.processEvents()
    table = main_window.parameter_panel.table
    header = table.horizontalHeader()
    for column, title in enumerate(COLUMNS):
        # What the header and the cells ask for (Qt's own measure, as ResizeToContents would).
        assert table.columnWidth(column) >= header.sectionSizeHint(column), title
        assert table.columnWidth(column) >= table.sizeHintForColumn(column), title
    # Every column is inside the visible table: nothing to scroll to, MACs not clipped.
    assert sum(table.columnWidth(column) for column in range(len(COLUMNS))) <= table.viewport().width()
    assert table.horizontalScrollBar().maximum() == 0
    # The chart beside it keeps a usable width.
    assert main_window.parameter_panel.chart.width() >= CHART_MINIMUM_WIDTH


def test_a_value_that_grows_widens_its_column_instead_of_being_cut(panel, document):
    table = panel.table
    macs = COLUMNS.index("MACs")
    before = table.columnWidth(macs)
    document.set_param("input1", "height", 2000)
    document.set_param("input1", "width", 2000)
    document.set_param("conv1", "out_channels", 600)
    assert len(cell(panel, "conv1", "MACs")) > len("1,849,688,064")
    assert table.columnWidth(macs) > before
    assert table.columnWidth(macs) >= table.sizeHintForColumn(macs)
