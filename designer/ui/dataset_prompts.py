"""What the Training dock shows about datasets: a download's progress (with Cancel) and a dataset
that cannot be had (with the offer of the built-in sample)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget


class DownloadDialog(QProgressDialog):
    def __init__(self, info, parent: QWidget | None = None) -> None:
        super().__init__(f"Downloading {info.label} ({info.download_bytes / 1e6:.0f} MB)…", "Cancel", 0, 0, parent)
        self.dataset_label = info.label
        self.setWindowTitle("Downloading dataset")
        self.setWindowModality(Qt.WindowModal)
        self.setMinimumDuration(0)
        self.setAutoClose(False)
        self.setAutoReset(False)

    def show_progress(self, done: int, total: int) -> None:
        self.setMaximum(1000)
        self.setValue(int(1000 * done / total) if total else 0)
        self.setLabelText(f"Downloading {self.dataset_label}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")


def dataset_error_box(parent: QWidget, message: str, on_use_sample) -> QMessageBox:
    """An open (not modal-looping) warning with a button that switches to the built-in sample."""
    box = QMessageBox(QMessageBox.Warning, "Dataset not available", message, QMessageBox.NoButton, parent)
    box.setInformativeText("The built-in MNIST sample (5,000 digits) needs no download.")
    use_sample = box.addButton("Use the built-in sample", QMessageBox.AcceptRole)
    box.addButton(QMessageBox.Close)
    use_sample.clicked.connect(on_use_sample)
    box.setAttribute(Qt.WA_DeleteOnClose)
    box.open()
    return box


__all__ = ["DownloadDialog", "dataset_error_box"]
