"""File ▸ Export and opening .onnx models in the window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QUrl
from PySide6.QtGui import QImage

from designer.core import TEMPLATES, analyze, load_architecture

EXPORT_TIMEOUT_MS = 180_000


@pytest.fixture
def exchange(main_window):
    """The window's export menu, with its questions answered by the test."""
    menu = main_window.exchange
    menu.infos = []
    menu.show_info = lambda title, text: menu.infos.append(text)
    menu.replace_answer = True
    menu.confirm_replace = lambda path: menu.replace_answer
    return menu


def trained_lenet_in_window(main_window, source="/somewhere/lenet5.pt"):
    """Give the window a 'trained' LeNet-5 (seeded weights, a normalisation) as a checkpoint would."""
    import torch

    from designer.nn import build_module
    from designer.training.evaluation import Normalisation
    from designer.ui.exchange_menu import set_current_trained_model

    graph = main_window.document.graph.copy()
    torch.manual_seed(0)
    module = build_module(graph).eval()
    normalisation = Normalisation((0.1307,), (0.3081,))
    assert set_current_trained_model(main_window, graph, module, normalisation, [str(i) for i in range(10)], source)
    return module, normalisation


def test_file_menu_has_export_submenu_before_quit(main_window):
    actions = main_window.menus["file"].actions()
    titles = [action.text() for action in actions]
    export_index = titles.index("&Export")
    assert titles[-1] == "&Quit" and export_index < len(titles) - 1
    assert [action.text() for action in main_window.menus["export"].actions()] == \
        ["&PyTorch Code…", "&ONNX…", "&Diagram as PNG/SVG…"]


def test_export_pytorch_without_trained_weights_says_so(main_window, exchange, qtbot, tmp_path):
    folder = tmp_path / "lenet-code"
    with qtbot.waitSignal(exchange.finished, timeout=EXPORT_TIMEOUT_MS) as signal:
        assert exchange.export_pytorch(folder)
    succeeded, text = signal.args
    assert succeeded, text
    assert "without trained weights" in text and str(folder) in text
    assert exchange.infos == [text]
    assert text in main_window.status_text()
    assert (folder / "model.py").read_text().startswith('"""LeNet-5 as a PyTorch module')
    assert not (folder / "weights.pt").exists()


def test_export_onnx_carries_the_trained_weights_and_says_where_they_came_from(main_window, exchange, qtbot,
                                                                               tmp_path):
    import onnx

    trained_lenet_in_window(main_window)
    path = tmp_path / "lenet.onnx"
    with qtbot.waitSignal(exchange.finished, timeout=EXPORT_TIMEOUT_MS) as signal:
        exchange.export_onnx(path)
    succeeded, text = signal.args
    assert succeeded, text
    assert "with the trained weights from checkpoint lenet5.pt" in text
    assert "raw pixel values 0-255" in text
    model = onnx.load(str(path))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8


def test_weights_of_an_earlier_design_are_left_out_and_the_export_says_why(main_window, exchange, qtbot,
                                                                           tmp_path):
    trained_lenet_in_window(main_window, source="")
    main_window.document.graph.set_param("fc1", "out_features", 100)  # the design changed since training

    with qtbot.waitSignal(exchange.finished, timeout=EXPORT_TIMEOUT_MS) as signal:
        exchange.export_pytorch(tmp_path / "changed")
    succeeded, text = signal.args
    assert succeeded
    assert "without trained weights: those of the last training run do not fit the design as it is now" in text
    assert not (tmp_path / "changed" / "weights.pt").exists()


def test_replacing_an_earlier_export_asks_first(main_window, exchange, qtbot, tmp_path):
    folder = tmp_path / "code"
    with qtbot.waitSignal(exchange.finished, timeout=EXPORT_TIMEOUT_MS):
        exchange.export_pytorch(folder)
    (folder / "model.py").write_text("# mine\n")
    exchange.replace_answer = False
    assert exchange.export_pytorch(folder) is False
    assert (folder / "model.py").read_text() == "# mine\n"

    exchange.replace_answer = True
    with qtbot.waitSignal(exchange.finished, timeout=EXPORT_TIMEOUT_MS) as signal:
        exchange.export_pytorch(folder)
    assert signal.args[0]
    assert (folder / "model.py").read_text() != "# mine\n"


def test_export_refuses_a_folder_that_is_not_an_export(main_window, exchange, tmp_path):
    (tmp_path / "notes.txt").write_text("keep")
    assert exchange.export_pytorch(tmp_path) is False
    assert main_window.dialogs.errors and "not an earlier export" in main_window.dialogs.errors[-1][1]
    assert (tmp_path / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_diagram_export_draws_the_canvas(main_window, exchange, tmp_path, suffix):
    main_window.canvas.select_all()
    path = tmp_path / f"lenet.{suffix}"

    assert exchange.export_diagram(path)

    assert path.stat().st_size > 1000
    if suffix == "png":
        image = QImage(str(path))
        bounds = main_window.canvas.scene().itemsBoundingRect()
        assert image.width() == int((bounds.width() + 48) * 2)
        # Not blank: the FC blocks' orange is in the picture.
        colours = {image.pixelColor(x, y).name() for x in range(0, image.width(), 7)
                   for y in range(0, image.height(), 7)}
        assert len(colours) > 5
    else:
        text = path.read_text()
        assert text.lstrip().startswith("<?xml") and "<svg" in text and "<title>LeNet-5</title>" in text
    assert main_window.canvas.selected_block_ids()  # the selection is back after drawing


def test_opening_an_onnx_file_gives_an_untitled_design_with_its_weights(main_window, exchange, qtbot, tmp_path):
    from designer.exchange.onnx_export import export_onnx

    graph = load_architecture(TEMPLATES / "resnet-mini.json")
    path = tmp_path / "resnet.onnx"
    export_onnx(graph, path)

    with qtbot.waitSignal(exchange.finished, timeout=EXPORT_TIMEOUT_MS) as signal:
        assert main_window.open_path(path)
    succeeded, text = signal.args
    assert succeeded, text
    document = main_window.document
    assert document.path is None and document.graph.name == "Mini ResNet"
    assert analyze(document.graph).total_params == analyze(graph).total_params
    assert "its weights are the current trained model" in text
    trained = main_window.training_panel.trained
    assert trained is not None and trained.source == str(path)
    assert str(path.resolve()) in main_window.recent_files()
    assert exchange.infos == []  # opening is not an export: no message box


def test_a_damaged_onnx_file_leaves_the_design_alone(main_window, exchange, qtbot, tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07garbage" * 100)
    before = json.dumps(sorted(main_window.document.graph.blocks))

    with qtbot.waitSignal(exchange.finished, timeout=EXPORT_TIMEOUT_MS) as signal:
        main_window.open_path(path)

    assert signal.args[0] is False
    title, message = main_window.dialogs.errors[-1]
    assert title == "Cannot open model" and "\n" not in message
    assert json.dumps(sorted(main_window.document.graph.blocks)) == before


def test_dropping_an_onnx_file_on_the_canvas_opens_it(main_window, exchange, qtbot, tmp_path):
    from designer.exchange.onnx_export import export_onnx

    path = tmp_path / "gap.onnx"
    export_onnx(load_architecture(TEMPLATES / "mnist-cnn-gap.json"), path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    assert main_window.canvas._acceptable(mime)

    with qtbot.waitSignal(exchange.finished, timeout=EXPORT_TIMEOUT_MS):
        main_window.canvas.handle_drop(mime, QPoint(10, 10))

    assert main_window.document.graph.name.startswith("Small CNN")


def test_the_open_dialog_offers_onnx_models():
    from designer.ui.main_window import FILE_FILTER

    assert "*.onnx" in FILE_FILTER.split(";;")[0] and "*.json" in FILE_FILTER.split(";;")[0]


def test_exported_files_are_the_ones_the_command_line_writes(main_window, exchange, qtbot, tmp_path):
    with qtbot.waitSignal(exchange.finished, timeout=EXPORT_TIMEOUT_MS):
        exchange.export_pytorch(tmp_path / "window")
    from designer.exchange.pytorch_code import export_pytorch

    export_pytorch(main_window.document.graph, tmp_path / "headless")
    for name in ("model.py", "train.py", "data.py", "distributed.py", "README.md"):
        assert (tmp_path / "window" / name).read_bytes() == (tmp_path / "headless" / name).read_bytes()
    assert Path(tmp_path / "window").is_dir()
