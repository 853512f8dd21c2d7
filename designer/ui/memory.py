"""Keep the garbage collector's full passes short in the window's process.

Python's collector walks every tracked object on a full (generation 2) pass, in whichever
thread happens to trigger it, and holds the interpreter meanwhile. Once PyTorch, pyqtgraph
and Qt's wrappers are loaded the window's process tracks about 220,000 objects, and a full
pass measured 90 ms — the longest freeze of the window while training
(tests/benchmarks/bench_ui_training.py). Almost all of those objects are modules, classes
and functions that live as long as the process, so once they are loaded they are moved out
of the collector's sight with ``gc.freeze()``; later passes only walk what came after.
"""

from __future__ import annotations

import gc


def freeze_long_lived_objects() -> None:
    """Exclude every object alive now from future collections (call after big imports)."""
    gc.freeze()


def import_long_lived(name: str) -> None:
    """Import a big module (torch) with no collections meanwhile, then freeze what it made.

    An import of that size would otherwise trigger full passes itself, each walking the
    growing heap, while the window keeps painting in the other thread.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        __import__(name)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


__all__ = ["freeze_long_lived_objects", "import_long_lived"]
