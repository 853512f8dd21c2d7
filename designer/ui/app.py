"""Start the window: ``python main.py [FILE.json] [--screenshot PNG]``.

Nothing here imports torch: the window must be up before torch has loaded (DESIGN.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from designer.command_line import EXIT_BAD_INPUT
SCREENSHOT_SIZE = (1400, 900)  # the window's default size: what a new user sees
DEFAULT_TEMPLATE = "lenet5.json"


def _needs_offscreen() -> bool:
    """A screenshot can be taken on a machine without a display (CI, a server)."""
    return sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


FREEZE_AFTER_MS = 2000


def run_window(arguments) -> int:
    screenshot = getattr(arguments, "screenshot", None)
    file = getattr(arguments, "file", None)
    if screenshot and _needs_offscreen():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    # Read the file before any window exists, so a bad file fails fast with exit code 2.
    from designer.core import ArchitectureError, load_architecture
    from designer.core.paths import TEMPLATES

    path = Path(file) if file else None
    try:
        graph = load_architecture(path if path else TEMPLATES / DEFAULT_TEMPLATE)
    except ArchitectureError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT

    from PySide6.QtWidgets import QApplication

    from designer.ui.canvas import release_clipboard
    from designer.ui.main_window import APPLICATION, ORGANISATION, MainWindow, default_settings
    from designer.ui.style import SCHEME_SETTING, apply_style

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.aboutToQuit.connect(release_clipboard)
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    apply_style(app, str(default_settings().value(SCHEME_SETTING, "system")))

    # A screenshot must look the same everywhere: no saved layout in, none written out.
    window = MainWindow(restore_layout=not screenshot)
    if screenshot:
        window.resize(*SCREENSHOT_SIZE)
    window.show()
    app.processEvents()  # docks take their sizes; the layout below fits the canvas's shape
    window.show_graph(graph, path)
    if path is not None:
        window.add_recent_file(path)
        window.remember_folder(path)
    if screenshot:
        return take_screenshot(app, window, Path(screenshot))
    from PySide6.QtCore import QTimer

    from designer.ui.memory import freeze_long_lived_objects

    # The charts (pyqtgraph) are made right after the first paint; then the start-up is over.
    QTimer.singleShot(FREEZE_AFTER_MS, freeze_long_lived_objects)
    return app.exec()


def take_screenshot(app, window, target: Path) -> int:
    """Lay the window out at its final size, fit the design, and save what it shows."""
    for _ in range(3):
        app.processEvents()
    # Select the block holding the largest share, so the inspector shows what matters most.
    reports = window.document.analysis.reports
    if reports:
        window.document.set_selection([max(reports, key=lambda block_id: reports[block_id].params)])
    # The design was laid out before the docks had their final sizes; fit it again now.
    window.canvas.fit_view()
    app.processEvents()
    target.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(target)):
        print(f"error: cannot write {target}", file=sys.stderr)
        return 1
    print(f"wrote {target}")
    # Nothing was edited, so closing asks nothing; closing here keeps settings untouched.
    window.document.undo_stack.setClean()
    window.close()
    return 0
