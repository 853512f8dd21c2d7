"""Shared test configuration: Qt runs offscreen (no display in CI)."""

import http.server
import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_sessionfinish(session, exitstatus):
    """Leave Qt nothing Python-made to destroy after the interpreter is gone (see release_clipboard)."""
    import sys

    if "PySide6.QtWidgets" in sys.modules and sys.modules["PySide6.QtWidgets"].QApplication.instance():
        from designer.ui.canvas import release_clipboard

        release_clipboard()


# ---------------------------------------------------------------- shared by the image-folder tests

import pytest  # noqa: E402

COLOURS = {"blue": (0, 0, 200), "green": (0, 180, 0), "red": (210, 0, 0)}


def write_colour_folder(root, per_class: int = 12, broken: bool = True):
    """3 classes told apart by colour: PNG (RGB and palette) and JPEG of mixed sizes, and — with
    ``broken`` — a damaged PNG in every class and an empty JPEG in red (4 files to skip)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        folder = root / name
        folder.mkdir(parents=True)
        for index in range(per_class):
            height, width = 14 + index % 9, 16 + (index * 7) % 23
            pixels = np.clip(np.array(colour) + rng.normal(0, 40, (height, width, 3)), 0, 255).astype(np.uint8)
            image = Image.fromarray(pixels, "RGB")
            if index % 3 == 0:
                image.save(folder / f"{index}.jpg", quality=85)
            elif index % 3 == 1:
                image.convert("P").save(folder / f"{index}.png")
            else:
                image.save(folder / f"{index}.png")
        if broken:
            (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    if broken:
        (root / "red" / "empty.jpg").write_bytes(b"")
    return root


def colour_design(channels: int = 3, size: int = 16, classes: int = 3):
    """A small network for the colour folder (its Input decides the pictures' size)."""
    from designer.core import Graph, chain

    graph = Graph("colours")
    chain(graph, [("Input", {"channels": channels, "height": size, "width": size}),
                  ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}), ("ReLU", {}),
                  ("MaxPool2d", {"kernel_size": 2}), ("Flatten", {}), ("FC", {"out_features": classes})])
    return graph


@pytest.fixture
def colour_folder(tmp_path, monkeypatch):
    """A generated image folder (``write_colour_folder``) and a private cache for its decoded copy."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return write_colour_folder(tmp_path / "colours")


@pytest.fixture
def colour_network():
    """``colour_network(channels=3, size=16, classes=3)``: a Graph for the colour folder."""
    return colour_design


@pytest.fixture(autouse=True)
def _private_runs_folder(tmp_path, monkeypatch):
    """Runs the window writes go to the test's own folder, never the person's runs folder."""
    monkeypatch.setenv("NETWORK_DESIGNER_RUNS", str(tmp_path / "runs"))


class _SlowFileHandler(http.server.BaseHTTPRequestHandler):
    """Announces 10 MB and sends them slowly (about 0.8 MB/s), until the client hangs up."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        self.send_response(200)
        self.send_header("Content-Length", str(10_000_000))
        self.end_headers()
        try:
            for _ in range(600):
                self.wfile.write(bytes(16_384))
                self.wfile.flush()
                time.sleep(0.02)
        except OSError:
            pass  # the client went away: the download was cancelled

    def log_message(self, *_arguments) -> None:
        pass


@pytest.fixture
def slow_mirror():
    """The address of a local dataset mirror whose every file downloads slowly (for Cancel and Ctrl+C)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowFileHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
