"""Shared test configuration: Qt runs offscreen (no display in CI)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
