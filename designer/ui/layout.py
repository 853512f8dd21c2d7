"""The automatic layout lives in ``designer.core.layout`` (pure Python; the ONNX importer lays
out designs headless with it). Re-exported here for the window's modules."""

from designer.core.layout import *  # noqa: F401,F403
from designer.core.layout import __all__  # noqa: F401
