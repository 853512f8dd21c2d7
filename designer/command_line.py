"""What every command of ``main.py`` shares: its exit statuses, and reading the design file it is
given. No Qt, no torch."""

from __future__ import annotations

import sys

EXIT_FAILED = 1  # the work began and failed (a non-finite loss, no memory, a variant that failed)
EXIT_INVALID_DESIGN = 1  # `info`: the file reads, but the design cannot be built as it is
EXIT_BAD_INPUT = 2  # a file, an image, an option or a shape is wrong: nothing was done
EXIT_INTERRUPTED = 130  # stopped with Ctrl+C


def read_design(path):
    """The design in ``path`` (a ``Graph``), or None after saying on stderr why it cannot be read."""
    from designer.core import ArchitectureError, load_architecture

    try:
        return load_architecture(path)
    except ArchitectureError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_INVALID_DESIGN", "read_design"]
