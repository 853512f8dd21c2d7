"""What the Training dock shows about datasets: a download's or an image folder's progress (with
Cancel), the pictures a folder's run skipped, and a dataset that cannot be had (with the offer of
the built-in sample). ``DatasetPrompts`` shows them from the run's events."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Slot
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




class DecodingDialog(QProgressDialog):
    """An image folder being listed and decoded (in the training process), with Cancel.

    Appears only when reading takes longer than half a second: a folder already in the cache
    opens without a flash of a dialog.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Reading the image folder…", "Cancel", 0, 0, parent)
        self.setWindowTitle("Reading images")
        self.setWindowModality(Qt.WindowModal)
        self.setMinimumDuration(500)
        self.setAutoClose(False)
        self.setAutoReset(False)

    def show_progress(self, done: int, total: int) -> None:
        if not total:
            self.setMaximum(0)  # listing: how many there are is not known yet
            self.setLabelText(f"Listing the image folder: {done:,} entries")
            return
        self.setMaximum(total)
        self.setValue(min(done, total))
        self.setLabelText(f"Decoding images into the cache: {done:,} of {total:,} (only the first run does this)")


def skipped_files_box(parent: QWidget, event) -> QMessageBox:
    """What an image folder's run left out (``DatasetLoaded``): the count, and every file with why."""
    count = event.skipped_count
    box = QMessageBox(QMessageBox.Information, "Some pictures were skipped",
                      f"{count:,} file{'s' if count != 1 else ''} in the image folder could not be used and "
                      f"{'were' if count != 1 else 'was'} left out; the run goes on with the others.",
                      QMessageBox.Close, parent)
    listed = "\n".join(event.skipped)
    more = count - len(event.skipped)
    box.setDetailedText(listed + (f"\n… and {more:,} more" if more > 0 else ""))
    box.setInformativeText("Show Details lists them, each with the reason. Fix or remove them and the next run "
                           "reads the folder again.")
    box.setAttribute(Qt.WA_DeleteOnClose)
    box.setWindowModality(Qt.NonModal)
    box.show()
    return box


class DatasetPrompts(QObject):
    """The Training dock's dialogs about data: a download's progress, an image folder's decoding
    (both with Cancel, which stops the run), what a folder's run skipped, a dataset that cannot be
    had (offering the built-in sample)."""

    def __init__(self, panel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.download_dialog: DownloadDialog | None = None
        self.decoding_dialog: DecodingDialog | None = None
        self.dataset_error_box: QMessageBox | None = None
        self.skipped_box: QMessageBox | None = None
        training = panel.training
        training.download_progress.connect(self._on_training_download_progress)
        training.decoding_progress.connect(self._on_training_decoding_progress)
        training.dataset_loaded.connect(self._on_training_dataset_loaded)
        training.run_started.connect(self.close_dialogs)
        training.run_ended.connect(self._on_training_run_ended)

    def run_starting(self, config, info) -> None:
        """A run was started with ``config`` on the dataset ``info`` describes."""
        from designer.data import find_local

        self.skipped_box = None
        if info.download_bytes and find_local(config.dataset, config.data_folder) is None:
            self.download_dialog = DownloadDialog(info, self.panel)
            self.download_dialog.canceled.connect(self._on_dialog_canceled)
            self.download_dialog.show()

    @Slot(object)
    def _on_training_download_progress(self, event) -> None:
        if self.download_dialog is not None:
            self.download_dialog.show_progress(event.done, event.total)

    @Slot(object)
    def _on_training_decoding_progress(self, event) -> None:
        if event.total and event.done >= event.total and self.decoding_dialog is None:
            return  # read at once (from the cache): nothing to show
        if self.decoding_dialog is None:
            self.decoding_dialog = DecodingDialog(self.panel)
            self.decoding_dialog.canceled.connect(self._on_dialog_canceled)
        self.decoding_dialog.show_progress(event.done, event.total)

    @Slot(object)
    def _on_training_dataset_loaded(self, event) -> None:
        self.close_dialogs()
        self.panel.set_status(event.message)
        if event.skipped_count:
            self.skipped_box = skipped_files_box(self.panel, event)

    @Slot(object)
    def _on_training_run_ended(self, event) -> None:
        self.close_dialogs()
        result = event.result.result
        if result.failure == "dataset":
            self.dataset_error_box = dataset_error_box(self.panel, result.message, self._on_use_sample_clicked)

    @Slot()
    def _on_dialog_canceled(self) -> None:
        # The dialog cancelled closes itself (and stays the panel's child until the panel goes).
        for name in ("download_dialog", "decoding_dialog"):
            if getattr(self, name) is self.sender():
                setattr(self, name, None)
        self.close_dialogs()
        self.panel.stop()

    @Slot()
    def close_dialogs(self, _event=None) -> None:
        for name in ("download_dialog", "decoding_dialog"):
            dialog = getattr(self, name)
            setattr(self, name, None)
            if dialog is not None:
                dialog.canceled.disconnect(self._on_dialog_canceled)
                dialog.close()
                dialog.deleteLater()

    @Slot()
    def _on_use_sample_clicked(self) -> None:
        from designer.data import DEFAULT_DATASET

        self.panel.settings.set_data_folder(None)
        self.panel.settings.set_dataset(DEFAULT_DATASET)


__all__ = ["DatasetPrompts", "DecodingDialog", "DownloadDialog", "dataset_error_box", "skipped_files_box"]
