"""The FC lab: the FC-layer article's claims as experiments in the window (see lab_menu)."""

from designer.ui.lab.lab_menu import FcLab, install_lab

__all__ = ["FcLab", "install_lab"]
