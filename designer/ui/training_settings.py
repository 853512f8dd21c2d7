"""The Training dock's settings form: dataset (and a folder of one's own) and every TrainConfig setting;
and the warning under it when the design does not fit the dataset (``designer.training.fit``)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
import html

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QFrame, QHBoxLayout,
                               QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from designer.data import DATASET_NAMES, DEFAULT_DATASET, FOLDER_DATASET, dataset_info
from designer.training.records import DEVICES, OPTIMIZERS, TrainConfig
from designer.ui.image_folder_choice import ImageFolderChoice
from designer.ui.style import current_theme, hex_colour, theme_notifier

OPTIMIZER_LABELS = {"sgd": "SGD (momentum 0.9)", "adam": "Adam", "adamw": "AdamW"}
MAX_PROCESSES = 64
#: offered in the augmentation and schedule boxes (any spec can be typed)
AUGMENT_PRESETS = ("none", "shift:4", "flip", "shift:4,flip", "crop:4,flip", "crop:4:reflect,flip")
SCHEDULE_PRESETS = ("none", "cosine", "step:10:0.1", "onecycle", "plateau:2:0.1")


class TrainingSettings(QWidget):
    """Builds the ``TrainConfig`` of the next run; locked while one runs."""

    #: the dataset or its folder changed (the dock checks the design against it again)
    dataset_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.allow_download = True  # False: a dataset that is not on disk fails instead of downloading
        self.data_folder: str | None = None
        self.dataset_combo = QComboBox()
        for name in DATASET_NAMES:
            info = dataset_info(name)
            self.dataset_combo.addItem(info.label + (" (built in)" if info.download_bytes == 0 else ""), name)
            self.dataset_combo.setItemData(self.dataset_combo.count() - 1, info.description, Qt.ToolTipRole)
        self.dataset_combo.addItem("Folder of images…", FOLDER_DATASET)
        self.dataset_combo.setItemData(self.dataset_combo.count() - 1, "Your own pictures: a folder with one sub-folder "
                                       "per class (optionally train/ and test/)", Qt.ToolTipRole)
        self.dataset_combo.setCurrentIndex(max(0, self.dataset_combo.findData(DEFAULT_DATASET)))
        self._previous_dataset = DEFAULT_DATASET
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_combo_changed)
        #: the image folder (chosen, listed, its suggested Input) for "Folder of images…"
        self.image_folder = ImageFolderChoice(self)
        self.image_folder.changed.connect(self.dataset_changed)
        # As narrow as a short name: the column beside the curves should not be wider than the form needs.
        self.dataset_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.dataset_combo.setMinimumContentsLength(12)
        self.folder_button = QPushButton("Folder…")
        self.folder_button.setToolTip("Read the dataset files from a folder of your own "
                                      "(the IDX files, or CIFAR-10's archive or folder)")
        self.folder_button.clicked.connect(self._on_folder_button_clicked)
        self.folder_clear_button = QPushButton("×")
        self.folder_clear_button.setToolTip("Forget the folder: use the cache or download")
        self.folder_clear_button.setFixedWidth(28)
        self.folder_clear_button.clicked.connect(self._on_folder_clear_button_clicked)
        self.folder_label = QLabel()
        self.folder_label.setWordWrap(True)
        self.folder_label.setObjectName("mutedNote")  # the style sheet's muted text, in either theme
        dataset_row = QHBoxLayout()
        dataset_row.addWidget(self.dataset_combo, 1)
        dataset_row.addWidget(self.folder_button)
        dataset_row.addWidget(self.folder_clear_button)

        defaults = TrainConfig()
        self.epochs_spin = _spin(1, 1000, defaults.epochs)
        self.batch_size_spin = _spin(1, 65536, defaults.batch_size)
        self.optimizer_combo = QComboBox()
        for name in OPTIMIZERS:
            self.optimizer_combo.addItem(OPTIMIZER_LABELS.get(name, name), name)
        self.optimizer_combo.setCurrentIndex(self.optimizer_combo.findData(defaults.optimizer))
        self.learning_rate_spin = _rate(1e-6, 10.0, defaults.learning_rate)
        self.weight_decay_spin = _rate(0.0, 1.0, defaults.weight_decay)
        self.weight_decay_spin.setToolTip("L2 penalty on the weights: one of the article's cures for overfitting")
        self.validation_spin = QDoubleSpinBox()
        self.validation_spin.setRange(0.0, 0.5)
        self.validation_spin.setSingleStep(0.05)
        self.validation_spin.setValue(defaults.validation_fraction)
        self.validation_spin.setToolTip("Share of the training images held out to draw the validation curves")
        self.early_stopping_check = QCheckBox("after")
        self.patience_spin = _spin(1, 100, 3)
        self.patience_spin.setSuffix(" epochs")
        self.patience_spin.setToolTip("Stop when the validation loss has not improved for this many epochs")
        self.patience_spin.setEnabled(False)
        self.early_stopping_check.toggled.connect(self.patience_spin.setEnabled)
        early_row = QHBoxLayout()
        early_row.addWidget(self.early_stopping_check)
        early_row.addWidget(self.patience_spin, 1)
        self.augment_combo = _spec_combo(AUGMENT_PRESETS, "Training batches only (never validation or test), "
                                         "on whole batches: shift:K moves images by up to K pixels, flip mirrors "
                                         "half of them, crop:P pads P pixels and cuts a random window; combine "
                                         "with commas, e.g. shift:4,flip")
        self.schedule_combo = _spec_combo(SCHEDULE_PRESETS, "The learning rate over the run: cosine (down to 0), "
                                          "step:N:G (× G every N epochs), onecycle (up, then down, every batch), "
                                          "plateau:P:F (× F when the validation loss stalls P epochs)")
        self.device_combo = QComboBox()
        for name in DEVICES:
            self.device_combo.addItem(name, name)
        self.device_combo.setToolTip("auto: a CUDA GPU, else Apple MPS, else the CPU")
        self.processes_spin = _spin(1, MAX_PROCESSES, 1)
        self.processes_spin.setToolTip(
            "Data-parallel training: this many processes (PyTorch's torchrun and DistributedDataParallel), each "
            "training on its share of every batch, with the CPUs divided among them (on CUDA one GPU each). The "
            "batch size is per process: 2 processes of batch 32 take the steps of 1 process of batch 64.")

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        for label, field in (("Dataset", dataset_row), ("", self.folder_label), ("", self.image_folder),
                             ("Epochs", self.epochs_spin),
                             ("Batch size", self.batch_size_spin), ("Optimizer", self.optimizer_combo),
                             ("Learning rate", self.learning_rate_spin), ("LR schedule", self.schedule_combo),
                             ("Weight decay", self.weight_decay_spin), ("Augment", self.augment_combo),
                             ("Validation", self.validation_spin), ("Early stop", early_row),
                             ("Device", self.device_combo), ("Processes", self.processes_spin)):
            form.addRow(label, field)
        self.widgets = [self.dataset_combo, self.folder_button, self.folder_clear_button, self.image_folder,
                        self.epochs_spin, self.batch_size_spin, self.optimizer_combo, self.learning_rate_spin,
                        self.schedule_combo, self.weight_decay_spin, self.augment_combo, self.validation_spin,
                        self.early_stopping_check, self.patience_spin, self.device_combo, self.processes_spin]
        self.set_data_folder(None)

    # ------------------------------------------------------------------ what the next run uses

    @property
    def dataset_name(self) -> str:
        return self.dataset_combo.currentData()

    def set_dataset(self, name: str) -> None:
        self.dataset_combo.setCurrentIndex(self.dataset_combo.findData(name))

    def set_device(self, name: str) -> None:
        self.device_combo.setCurrentIndex(self.device_combo.findData(name))

    def config(self) -> TrainConfig:
        folder = self.dataset_name == FOLDER_DATASET
        return TrainConfig(
            dataset=self.dataset_name, data_folder=self.image_folder.folder if folder else self.data_folder,
            epochs=self.epochs_spin.value(),
            batch_size=self.batch_size_spin.value(), optimizer=self.optimizer_combo.currentData(),
            learning_rate=self.learning_rate_spin.value(), weight_decay=self.weight_decay_spin.value(),
            validation_fraction=self.validation_spin.value(),
            early_stopping_patience=self.patience_spin.value() if self.early_stopping_check.isChecked() else None,
            device=self.device_combo.currentData(), download=self.allow_download,
            augment=_spec_text(self.augment_combo), schedule=_spec_text(self.schedule_combo),
            resize=self.image_folder.resize)

    def set_augment(self, spec: str) -> None:
        self.augment_combo.setCurrentText(spec or "none")

    def set_schedule(self, spec: str) -> None:
        self.schedule_combo.setCurrentText(spec or "none")

    @property
    def processes(self) -> int:
        """Processes the next run trains on (1: one process, the training process)."""
        return self.processes_spin.value()

    def launch(self, single):
        """Where the next run happens: ``single`` (the dock's launch) for one process, else
        ``Processes(n)`` (torchrun on this computer)."""
        from designer.training.run import Processes

        return single if self.processes == 1 else Processes(self.processes)

    def set_data_folder(self, folder: str | None) -> None:
        """The folder a catalogue dataset's files are read from first (not an image folder: ``image_folder``)."""
        self.data_folder = folder or None
        self._show_folder()
        self.dataset_changed.emit()

    def _show_folder(self) -> None:
        images = self.dataset_name == FOLDER_DATASET
        folder = None if images else self.data_folder
        self.folder_label.setText(f"from {folder}" if folder else "")
        self.folder_label.setVisible(bool(folder))
        self.folder_clear_button.setVisible(bool(folder))
        self.image_folder.setVisible(images)
        self.folder_button.setToolTip("Choose the folder of pictures (one sub-folder per class)" if images else
                                      "Read the dataset files from a folder of your own "
                                      "(the IDX files, or CIFAR-10's archive or folder)")

    def set_running(self, running: bool) -> None:
        for widget in self.widgets:
            widget.setEnabled(not running)
        self.patience_spin.setEnabled(not running and self.early_stopping_check.isChecked())

    # ------------------------------------------------------------------ handlers

    @Slot(int)
    def _on_dataset_combo_changed(self, _index: int) -> None:
        if self.dataset_name == FOLDER_DATASET and self.image_folder.folder is None \
                and not self.image_folder.choose_interactively():
            self.set_dataset(self._previous_dataset)  # no folder chosen: back to what it was
            return
        self._previous_dataset = self.dataset_name
        self._show_folder()
        self.dataset_changed.emit()

    @Slot()
    def _on_folder_button_clicked(self) -> None:
        if self.dataset_name == FOLDER_DATASET:
            self.image_folder.choose_interactively()
            return
        folder = QFileDialog.getExistingDirectory(self, f"Folder with the {dataset_info(self.dataset_name).label} files")
        if folder:
            self.set_data_folder(folder)

    @Slot()
    def _on_folder_clear_button_clicked(self) -> None:
        self.set_data_folder(None)


class FitWarning(QFrame):
    """Says how the design misfits the dataset, with *Adapt input to dataset* when one edit fixes it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inputCheck")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.adapt_button = QPushButton("Adapt input to dataset")
        self.adapt_button.setToolTip("Set the Input block (and the classifier's outputs) to fit the dataset; "
                                     "one undo step")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.label)
        layout.addWidget(self.adapt_button, 0, Qt.AlignLeft)
        self.apply_theme(current_theme())
        theme_notifier().theme_changed.connect(self.apply_theme)

    @Slot(object)
    def apply_theme(self, theme) -> None:
        """The notice's box in the theme's notice colours (a light box in the dark theme would glare)."""
        self.setStyleSheet(f"#inputCheck {{ background: {hex_colour(theme.notice_fill)}; "
                           f"border: 1px solid {hex_colour(theme.notice_border)}; border-radius: 4px; }}")
        self.label.setStyleSheet(f"color: {hex_colour(theme.text)}")

    def show_check(self, check, editable: bool) -> None:
        """``check``: a ``FitCheck``; hidden when the design fits."""
        self.setVisible(not check.fits)
        if not check.fits:
            self.label.setText("⚠ " + html.escape(check.message) + ".")
            self.adapt_button.setVisible(check.adaptable)
            self.adapt_button.setEnabled(editable)


def _spec_combo(presets, tip: str) -> QComboBox:
    combo = QComboBox()
    combo.setEditable(True)
    combo.addItems(presets)
    combo.setToolTip(tip)
    combo.setInsertPolicy(QComboBox.NoInsert)
    return combo


def _spec_text(combo: QComboBox) -> str:
    text = combo.currentText().strip()
    return "" if text.lower() in ("", "none") else text


def _spin(minimum: int, maximum: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(minimum, maximum)
    spin.setValue(value)
    return spin


def _rate(minimum: float, maximum: float, value: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setDecimals(6)
    spin.setRange(minimum, maximum)
    spin.setStepType(QDoubleSpinBox.AdaptiveDecimalStepType)
    spin.setValue(value)
    return spin


__all__ = ["FitWarning", "OPTIMIZER_LABELS", "TrainingSettings"]
