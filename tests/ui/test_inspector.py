"""The inspector edits the selected block through the document, and follows undo/redo."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QCheckBox, QDoubleSpinBox, QSpinBox

from designer.core import SAME, TEMPLATES, load_architecture, summary_label
from designer.ui.document import DesignDocument
from designer.ui.inspector import HINT_NOTHING, InspectorPanel


@pytest.fixture
def document(qtbot):
    document = DesignDocument()
    document.load(load_architecture(TEMPLATES / "lenet5.json"), None)
    return document


@pytest.fixture
def inspector(qtbot, document):
    inspector = InspectorPanel(document)
    qtbot.addWidget(inspector)
    inspector.resize(320, 560)
    inspector.show()
    qtbot.waitExposed(inspector)
    return inspector


def test_nothing_or_several_selected_shows_a_hint(document, inspector):
    assert inspector.block_id is None
    assert inspector.hint_text() == HINT_NOTHING
    document.set_selection(["conv1", "fc1"])
    assert inspector.block_id is None
    assert "2 blocks selected" in inspector.hint_text()
    document.set_selection(["fc1"])
    assert inspector.block_id == "fc1"
    assert inspector.hint_text() == ""


def test_editors_are_generated_from_the_parameter_specs(document, inspector):
    document.set_selection(["conv2"])
    assert inspector.editor_names() == ["out_channels", "kernel_size", "stride", "padding", "bias"]
    filters = inspector.editor("out_channels")
    assert isinstance(filters, QSpinBox)
    assert (filters.minimum(), filters.maximum(), filters.value()) == (1, 65536, 16)
    padding = inspector.editor("padding")
    assert padding.specialValueText() == SAME
    assert padding.minimum() == -1  # one below the smallest padding is "same"
    assert isinstance(inspector.editor("bias"), QCheckBox)
    assert inspector.output_shape_text() == "16×10×10"

    document.set_selection(["input1"])
    document.add_block("Dropout")
    document.set_selection(["dropout1"])
    assert isinstance(inspector.editor("p"), QDoubleSpinBox)
    assert inspector.editor("p").maximum() == pytest.approx(0.99)


def test_spin_box_edit_changes_the_graph_and_the_counts_and_undo_restores_the_widget(document, inspector):
    document.set_selection(["fc1"])
    neurons = inspector.editor("out_features")
    assert neurons.value() == 120
    assert inspector.params_text().startswith("48,120")
    steps = document.undo_stack.count()

    neurons.setValue(60)

    assert document.graph.block("fc1").params["out_features"] == 60
    assert document.analysis.reports["fc1"].params == 400 * 60 + 60
    assert inspector.params_text().startswith("24,060")
    assert document.undo_stack.count() == steps + 1

    document.undo_stack.undo()
    assert document.graph.block("fc1").params["out_features"] == 120
    assert neurons.value() == 120
    assert inspector.params_text().startswith("48,120")
    # Refreshing the widget on undo must not push a command of its own.
    assert document.undo_stack.index() == steps
    document.undo_stack.redo()
    assert neurons.value() == 60


def test_typing_a_number_is_one_undo_step(qtbot, document, inspector):
    document.set_selection(["fc1"])
    neurons = inspector.editor("out_features")
    steps = document.undo_stack.count()
    neurons.setFocus()
    neurons.selectAll()
    qtbot.keyClicks(neurons, "256")
    assert document.graph.block("fc1").params["out_features"] == 256
    assert document.undo_stack.count() == steps + 1
    document.undo_stack.undo()
    assert document.graph.block("fc1").params["out_features"] == 120
    assert neurons.value() == 120


def test_checkbox_edit_is_an_undo_step(qtbot, document, inspector):
    document.set_selection(["fc3"])
    bias = inspector.editor("bias")
    qtbot.mouseClick(bias, Qt.MouseButton.LeftButton)
    assert document.graph.block("fc3").params["bias"] is False
    assert document.analysis.reports["fc3"].params == 840
    document.undo_stack.undo()
    assert bias.isChecked()


def test_padding_same_with_stride_two_shows_cores_shape_error(document, inspector):
    document.set_selection(["conv2"])
    inspector.editor("stride").setValue(2)
    padding = inspector.editor("padding")
    padding.setValue(padding.minimum())
    assert document.graph.block("conv2").params["padding"] == SAME
    assert padding.text() == SAME
    assert 'padding "same" needs stride 1' in inspector.error_text()
    assert inspector.output_shape_text() == "?"

    inspector.editor("stride").setValue(1)
    assert inspector.error_text() == ""
    assert inspector.output_shape_text() == "16×14×14"


def test_a_refused_value_is_shown_and_the_widget_keeps_the_models_value(document, inspector):
    document.set_selection(["conv1"])
    steps = document.undo_stack.count()
    assert inspector.apply_value("out_channels", 0) is False
    assert "at least 1" in inspector.edit_error_text()
    assert inspector.editor("out_channels").value() == 6
    assert document.undo_stack.count() == steps
    inspector.editor("out_channels").setValue(8)
    assert inspector.edit_error_text() == ""


def test_undoing_the_add_of_the_shown_block_returns_to_the_hint(document, inspector):
    block_id = document.add_block("FC")
    document.set_selection([block_id])
    assert inspector.block_id == block_id
    assert "not connected" in inspector.error_text()
    document.undo_stack.undo()
    assert inspector.block_id is None


def test_the_editors_are_disabled_while_training_locks_the_design(document, inspector):
    document.set_selection(["fc1"])
    neurons = inspector.editor("out_features")
    document.set_locked(True)
    assert not neurons.isEnabled()
    document.set_locked(False)
    assert neurons.isEnabled()


def test_an_fc_block_is_explained_as_a_whole_input_convolution(document, inspector):
    document.set_selection(["fc1"])
    assert inspector.note_text().startswith("Same as a 5×5 “valid” convolution over the 16×5×5 input")


CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def _focus(main_window, widget):
    main_window.activateWindow()
    widget.setFocus()
    QApplication.processEvents()
    assert widget.hasFocus()


def test_undo_and_redo_keys_in_a_focused_field_reach_the_design(qtbot, main_window):
    document, inspector = main_window.document, main_window.inspector
    document.set_selection(["fc1"])
    neurons = inspector.editor("out_features")
    _focus(main_window, neurons)
    neurons.selectAll()
    qtbot.keyClicks(neurons, "256")
    assert document.graph.block("fc1").params["out_features"] == 256

    qtbot.keyClick(neurons, Qt.Key.Key_Z, CTRL)
    assert document.graph.block("fc1").params["out_features"] == 120
    assert neurons.value() == 120 and neurons.hasFocus()
    qtbot.keyClick(neurons, Qt.Key.Key_Z, CTRL | SHIFT)
    assert document.graph.block("fc1").params["out_features"] == 256
    qtbot.keyClick(neurons, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(neurons, Qt.Key.Key_Y, CTRL)
    assert document.graph.block("fc1").params["out_features"] == 256 and neurons.value() == 256


def test_undo_in_a_focused_field_undoes_an_earlier_edit_of_another_block(qtbot, main_window):
    document, inspector = main_window.document, main_window.inspector
    document.set_param("conv1", "out_channels", 8)
    document.set_selection(["fc1"])
    neurons = inspector.editor("out_features")
    _focus(main_window, neurons)
    qtbot.keyClick(neurons, Qt.Key.Key_Z, CTRL)
    assert document.graph.block("conv1").params["out_channels"] == 6


def test_undo_on_a_half_typed_value_puts_the_value_back_and_leaves_the_design(qtbot, main_window):
    document, inspector = main_window.document, main_window.inspector
    document.set_param("conv1", "out_channels", 8)
    steps = document.undo_stack.index()
    document.set_selection(["fc1"])
    neurons = inspector.editor("out_features")
    _focus(main_window, neurons)
    neurons.selectAll()
    qtbot.keyClick(neurons, Qt.Key.Key_Backspace)  # empty: not a value yet, nothing sent to the design
    assert neurons.text() == "" and document.graph.block("fc1").params["out_features"] == 120

    qtbot.keyClick(neurons, Qt.Key.Key_Z, CTRL)
    assert neurons.text() == "120"
    assert document.undo_stack.index() == steps
    assert document.graph.block("conv1").params["out_channels"] == 8
    qtbot.keyClick(neurons, Qt.Key.Key_Z, CTRL)  # the field agrees with the design now: undo the design
    assert document.graph.block("conv1").params["out_channels"] == 6


def test_a_pooling_stride_of_zero_reads_same_as_kernel(qtbot, document, inspector):
    document.set_selection(["avgpool1"])
    stride = inspector.editor("stride")
    assert document.graph.block("avgpool1").params["stride"] == 0
    assert stride.text() == "same as kernel (2)"
    inspector.editor("kernel_size").setValue(3)
    assert stride.text() == "same as kernel (3)"
    stride.setValue(1)
    assert stride.text() == "1" and document.graph.block("avgpool1").params["stride"] == 1
    stride.setValue(0)
    assert stride.text() == "same as kernel (3)"
    # A convolution's stride has no such meaning and no such text.
    document.set_selection(["conv1"])
    assert inspector.editor("stride").specialValueText() == ""


def test_the_canvas_label_shows_a_pooling_stride_only_when_it_is_not_the_kernel():
    assert summary_label("MaxPool2d", {"kernel_size": 3, "stride": 0, "padding": 0}) == "MaxPool 3×3"
    assert summary_label("MaxPool2d", {"kernel_size": 3, "stride": 3, "padding": 0}) == "MaxPool 3×3"
    assert summary_label("AvgPool2d", {"kernel_size": 3, "stride": 2, "padding": 1}) == "AvgPool 3×3 /2"


def test_undo_with_nothing_left_to_undo_changes_nothing(qtbot, main_window):
    document, inspector = main_window.document, main_window.inspector
    document.set_selection(["fc1"])
    neurons = inspector.editor("out_features")
    _focus(main_window, neurons)
    neurons.selectAll()
    qtbot.keyClicks(neurons, "64")
    qtbot.keyClick(neurons, Qt.Key.Key_Z, CTRL)
    assert not document.undo_stack.canUndo() and document.graph.block("fc1").params["out_features"] == 120
    qtbot.keyClick(neurons, Qt.Key.Key_Z, CTRL)  # the Undo action is disabled now
    assert document.graph.block("fc1").params["out_features"] == 120 and neurons.value() == 120
    assert not document.undo_stack.canUndo()
