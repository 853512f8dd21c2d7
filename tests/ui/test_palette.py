"""The palette: every registry block, grouped by category, filterable, draggable."""

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from designer.core import BLOCK_TYPES, CATEGORIES
from designer.ui.palette import BLOCK_MIME_TYPE, PalettePanel, type_id_from_mime
from designer.ui.style import FC_COLOUR


def make_palette(qtbot) -> PalettePanel:
    palette = PalettePanel()
    qtbot.addWidget(palette)
    palette.show()
    qtbot.waitExposed(palette)
    return palette


def test_groups_follow_the_category_order_and_hold_every_block_type(qtbot):
    palette = make_palette(qtbot)
    assert palette.categories() == list(CATEGORIES)
    assert sorted(palette.visible_type_ids()) == sorted(BLOCK_TYPES)
    for type_id, block_type in BLOCK_TYPES.items():
        item = palette.item_for(type_id)
        assert item.text(0) == block_type.label
        assert item.parent().text(0) == block_type.category
        assert block_type.description in item.toolTip(0)


def test_fc_entry_is_drawn_in_the_fc_colour(qtbot):
    palette = make_palette(qtbot)
    assert palette.item_for("FC").foreground(0).color() == QColor(FC_COLOUR)


def test_filter_matches_label_id_and_description_and_hides_empty_groups(qtbot):
    palette = make_palette(qtbot)
    palette.set_filter("POOL")  # case-insensitive; GAP matches through its description
    assert set(palette.visible_type_ids()) == {"MaxPool2d", "AvgPool2d", "GAP"}
    assert palette.visible_categories() == ["Pooling"]

    palette.set_filter("conv2d")  # the type id, not the label ("Conv")
    assert palette.visible_type_ids() == ["Conv2d"]

    palette.set_filter("channels")  # only in descriptions
    assert "Concat" in palette.visible_type_ids()

    palette.set_filter("no block is called this")
    assert palette.visible_type_ids() == []
    assert palette.visible_categories() == []

    palette.set_filter("")
    assert palette.visible_categories() == list(CATEGORIES)


def test_dragging_an_entry_carries_the_type_id(qtbot):
    palette = make_palette(qtbot)
    tree = palette.tree
    assert tree.mimeTypes() == [BLOCK_MIME_TYPE]
    data = tree.mimeData([palette.item_for("Conv2d")])
    assert data.hasFormat(BLOCK_MIME_TYPE)
    assert bytes(data.data(BLOCK_MIME_TYPE)).decode("utf-8") == "Conv2d"
    assert type_id_from_mime(data) == "Conv2d"
    # A category header is not a block: nothing to drag.
    assert tree.mimeData([palette.item_for("Conv2d").parent()]) is None
    assert palette.item_for("FC").flags() & Qt.ItemFlag.ItemIsDragEnabled
    assert not palette.item_for("FC").parent().flags() & Qt.ItemFlag.ItemIsDragEnabled


def test_double_click_and_enter_activate_a_block(qtbot):
    palette = make_palette(qtbot)
    tree = palette.tree
    item = palette.item_for("MaxPool2d")
    tree.scrollToItem(item)
    centre = tree.visualItemRect(item).center()
    with qtbot.waitSignal(palette.block_activated) as blocker:
        # A real double-click is press, release, then the double-click event.
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=centre)
        qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert blocker.args == ["MaxPool2d"]

    tree.setFocus()
    tree.setCurrentItem(palette.item_for("Dropout"))
    with qtbot.waitSignal(palette.block_activated) as blocker:
        qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert blocker.args == ["Dropout"]


def test_enter_in_the_filter_adds_the_first_match(qtbot):
    palette = make_palette(qtbot)
    qtbot.keyClicks(palette.filter_edit, "gap")
    with qtbot.waitSignal(palette.block_activated) as blocker:
        qtbot.keyClick(palette.filter_edit, Qt.Key.Key_Return)
    assert blocker.args == ["GAP"]


def test_a_category_header_does_not_activate_anything(qtbot):
    palette = make_palette(qtbot)
    header = palette.item_for("Conv2d").parent()
    with qtbot.assertNotEmitted(palette.block_activated):
        palette.tree.itemActivated.emit(header, 0)


def test_the_filter_knows_the_names_people_bring_from_other_libraries(qtbot):
    """Aliases live in the catalogue entries; the first match is what Enter adds."""
    palette = make_palette(qtbot)
    expected = {"linear": "FC", "dense": "FC", "fullyConnected": "FC", "nn.Linear": "FC", "fully_connected": "FC",
                "Conv2d": "Conv2d", "nn.Conv2d": "Conv2d", "BatchNorm2d": "BatchNorm2d",
                "batch normalization": "BatchNorm2d", "AdaptiveAvgPool2d": "GAP", "GlobalAveragePooling2D": "GAP",
                "torch.cat": "Concat", "residual": "Add", "rectifier": "ReLU", "MaxPooling2D": "MaxPool2d"}
    for text, type_id in expected.items():
        palette.set_filter(text)
        assert type_id in palette.visible_type_ids(), text
        activated = []
        palette.block_activated.connect(activated.append)
        palette.filter_edit.returnPressed.emit()
        palette.block_activated.disconnect(activated.append)
        assert activated == [palette.visible_type_ids()[0]]
    palette.set_filter("dense")
    assert palette.visible_type_ids() == ["FC"]
    palette.set_filter("AdaptiveAvgPool2d")
    assert palette.visible_type_ids() == ["GAP"]
