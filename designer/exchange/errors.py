"""What can go wrong when a design goes out or a model comes in, as one-line messages."""

from __future__ import annotations

from designer.core.errors import DesignerError

#: the command that installs what ONNX export and import need
ONNX_INSTALL = "pip install 'network-designer[onnx]'"


class ExchangeError(DesignerError):
    """An export or import that cannot be done; nothing was written."""


class MissingPackageError(ExchangeError):
    """An optional package is not installed; the message names the pip command that adds it."""


def require_onnx(what: str, packages=("onnx", "onnxruntime", "onnxscript")) -> None:
    """Import every package in ``packages`` (they are about to be used), or raise
    MissingPackageError naming the missing ones and the pip command."""
    import importlib

    missing = []
    for name in packages:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingPackageError(f"{what} needs {', '.join(missing)}, which "
                                  f"{'is' if len(missing) == 1 else 'are'} not installed: {ONNX_INSTALL}")
