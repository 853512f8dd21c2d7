"""The Training dock's "Folder of images…": which folder, what it holds, how pictures are resized,
and the Input shape its pictures suggest.

The folder is listed (not decoded) when it is chosen: its classes are what the design's
classifier must fit (``designer.training.fit``), and a few image headers suggest an Input
shape (``designer.data.folder.suggest_input_shape``) that *Use as Input* applies. The
pictures themselves are decoded by the run, in the training process, with progress and Cancel.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from designer.core import format_shape

RESIZE_LABELS = (("crop", "centre crop (fill the Input)"), ("letterbox", "letterbox (whole picture, black bars)"))


class ImageFolderChoice(QWidget):
    """Shown under the dataset box while "Folder of images…" is chosen."""

    #: the folder or the resize mode changed (the dock checks the design again)
    changed = Signal()
    #: *Use as Input* was clicked: the suggested (C, H, W)
    input_suggested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder: str | None = None
        self.info = None  # designer.data.DatasetInfo of the listing; None when there is none
        self.problem = ""  # why the folder cannot be used, for a person
        self.suggestion: tuple[int, int, int] | None = None
        self.summary_label = QLabel("No folder chosen.")
        self.summary_label.setWordWrap(True)
        self.summary_label.setObjectName("mutedNote")
        self.summary_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.resize_combo = QComboBox()
        for mode, text in RESIZE_LABELS:
            self.resize_combo.addItem(text, mode)
        self.resize_combo.setToolTip("How each picture becomes the Input block's height × width. Centre crop: "
                                     "scaled to cover it, the middle cut out (no bars whose size the network could "
                                     "learn). Letterbox: the whole picture, black bars where its shape differs.")
        # As narrow as the settings column allows: the whole text is in the list and the tooltip.
        self.resize_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.resize_combo.setMinimumContentsLength(12)
        self.resize_combo.currentIndexChanged.connect(self._on_resize_combo_changed)
        self.suggestion_label = QLabel()
        self.suggestion_label.setWordWrap(True)  # the settings column stays as narrow as the form
        self.use_button = QPushButton("Use as Input")
        self.use_button.setToolTip("Set the Input block to the shape these pictures suggest (one undo step); "
                                   "any shape works, pictures are resized to the Input")
        self.use_button.clicked.connect(self._on_use_button_clicked)
        suggestion_row = QHBoxLayout()
        suggestion_row.setContentsMargins(0, 0, 0, 0)
        suggestion_row.addWidget(self.suggestion_label, 1)
        suggestion_row.addWidget(self.use_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.resize_combo)
        layout.addLayout(suggestion_row)
        self._show()

    @property
    def resize(self) -> str:
        return self.resize_combo.currentData()

    def set_resize(self, mode: str) -> None:
        index = self.resize_combo.findData(mode)
        if index >= 0:
            self.resize_combo.setCurrentIndex(index)

    def choose_interactively(self) -> bool:
        """Ask for a folder; True when one was chosen."""
        folder = QFileDialog.getExistingDirectory(self, "Folder of images (one sub-folder per class)",
                                                  self.folder or "")
        if not folder:
            return False
        self.set_folder(folder)
        return True

    def set_folder(self, folder: str | None) -> None:
        """List ``folder`` (a wait cursor meanwhile: one ``stat`` per file), keep what it holds."""
        from designer.data import DatasetError
        from designer.data.folder import describe_image_folder, suggest_input_shape

        self.folder = str(folder) if folder else None
        self.info, self.problem, self.suggestion = None, "", None
        if self.folder is not None:
            QGuiApplication.setOverrideCursor(Qt.WaitCursor)
            try:
                self.info = describe_image_folder(self.folder, (3, 1, 1))
                self.suggestion = suggest_input_shape(self.folder)
            except DatasetError as error:
                self.problem = str(error)
            finally:
                QGuiApplication.restoreOverrideCursor()
        self._show()
        self.changed.emit()

    def refresh(self) -> None:
        """List the folder again (pictures may have been added since)."""
        self.set_folder(self.folder)

    def _show(self) -> None:
        self.summary_label.setToolTip(self.folder or "")
        if self.folder is None:
            self.summary_label.setText("No folder chosen: click Folder….")
        elif self.problem:
            self.summary_label.setText(f"⚠ {self.problem}")
        else:
            info = self.info
            names = ", ".join(info.class_names[:6]) + (f", … ({info.num_classes - 6} more)"
                                                       if info.num_classes > 6 else "")
            # The folder's name, not its path: a long path has no place to wrap in a narrow column.
            self.summary_label.setText(f"{Path(self.folder).name or self.folder}: {info.num_classes} classes "
                                       f"({names}); {info.train_size + info.test_size:,} image files")
        self.suggestion_label.setText(f"Suggested Input: {format_shape(self.suggestion)}" if self.suggestion else "")
        self.suggestion_label.setVisible(self.suggestion is not None)
        self.use_button.setVisible(self.suggestion is not None)

    @Slot(int)
    def _on_resize_combo_changed(self, _index: int) -> None:
        self.changed.emit()

    @Slot()
    def _on_use_button_clicked(self) -> None:
        if self.suggestion is not None:
            self.input_suggested.emit(self.suggestion)


__all__ = ["ImageFolderChoice", "RESIZE_LABELS"]
