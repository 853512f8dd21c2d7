"""What a finished run leaves: test accuracy, confusion matrix, misclassified test images.

Everything shown arrives as plain data (a RunOutcome of designer.training.run):
lists of ints for the confusion matrix and numpy uint8 arrays for the images.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QFont, QFontMetrics, QImage, QPixmap
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QSizePolicy, QSplitter, QVBoxLayout, QWidget)

from designer.ui.style import current_theme, hex_colour, theme_notifier

THUMBNAIL = 56  # pixels on screen for one 28×28 or 32×32 test image
CELL_WIDTH = THUMBNAIL + 12
#: The view's minimum width is the training dock's (a tab widget is as wide as its widest
#: page's minimum) and a dock's minimum squeezes its neighbours: a title that could not wrap
#: and a 240-px matrix once made the palette and the inspector narrower on every switch to
#: this tab (issue 14j). Everything here wraps, scrolls or shrinks to stay within these.
CONFUSION_MINIMUM = 180
MISTAKES_MINIMUM_WIDTH = CELL_WIDTH + 24


def image_to_pixmap(image: np.ndarray, size: int = THUMBNAIL) -> QPixmap:
    """uint8 C×H×W (C = 1 or 3) → a pixmap scaled without smoothing (pixels stay visible)."""
    channels, height, width = image.shape
    if channels == 1:
        data = np.ascontiguousarray(image[0])
        qimage = QImage(data.data, width, height, width, QImage.Format_Grayscale8)
    else:
        data = np.ascontiguousarray(np.transpose(image[:3], (1, 2, 0)))
        qimage = QImage(data.data, width, height, 3 * width, QImage.Format_RGB888)
    # QImage borrows the numpy buffer; copy before it goes away.
    return QPixmap.fromImage(qimage.copy()).scaled(size, size, Qt.KeepAspectRatio, Qt.FastTransformation)


class ConfusionMatrixView(pg.PlotWidget):
    """Rows: true class (top to bottom); columns: predicted class; a count in each cell."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background=current_theme().plot_background)
        self.setMinimumSize(CONFUSION_MINIMUM, CONFUSION_MINIMUM)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(pg.colormap.get("CET-L12").getLookupTable(nPts=256))
        self.addItem(self.image)
        plot = self.getPlotItem()
        plot.invertY(True)
        plot.setAspectLocked(True)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(False, False)
        self.count_items: list[pg.TextItem] = []
        self.matrix = np.zeros((0, 0), dtype=np.int64)
        self.tick_labels: list[str] = []  # the class names beside the rows
        self.column_labels: list[str] = []  # the same under the columns, cut to the columns' width
        plot.getViewBox().sigResized.connect(self._label_columns)
        self.apply_theme(current_theme())
        theme_notifier().theme_changed.connect(self.apply_theme)

    @Slot(object)
    def apply_theme(self, theme) -> None:
        """Background, axes and labels in ``theme`` (the cells keep their colour map)."""
        self.setBackground(theme.plot_background)
        plot = self.getPlotItem()
        plot.setLabel("left", "true class", color=theme.plot_text.name())
        plot.setLabel("bottom", "predicted class", color=theme.plot_text.name())
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setTextPen(pg.mkPen(theme.plot_text))
            plot.getAxis(axis).setPen(pg.mkPen(theme.plot_axis))

    def set_matrix(self, matrix, class_names) -> None:
        matrix = np.asarray(matrix, dtype=np.int64)
        classes = matrix.shape[0]
        self.matrix = matrix
        # Colour by the share of each true class, so a rare class's mistakes still show.
        totals = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        self.image.setImage(matrix / totals, levels=(0.0, 1.0))
        if len(self.count_items) != classes * classes:
            for item in self.count_items:
                self.removeItem(item)
            self.count_items = []
            for row in range(classes):
                for column in range(classes):
                    item = pg.TextItem(anchor=(0.5, 0.5))
                    item.setPos(column + 0.5, row + 0.5)
                    self.addItem(item)
                    self.count_items.append(item)
        font = QFont()
        font.setPointSizeF(7.5 if classes > 6 else 9)
        for index, item in enumerate(self.count_items):
            row, column = divmod(index, classes)
            share = matrix[row, column] / totals[row, 0]
            item.setText(str(matrix[row, column]) if matrix[row, column] else "",
                         color="w" if share > 0.5 else "#222")
            item.setFont(font)
        short = self.tick_labels = [name if len(name) <= 8 else name[:7] + "…" for name in class_names]
        self.getPlotItem().getAxis("left").setTicks([[(index + 0.5, name) for index, name in enumerate(short)]])
        self.getPlotItem().setRange(xRange=(0, classes), yRange=(0, classes), padding=0.02)
        self._label_columns()

    def _label_columns(self, *_resized) -> None:
        """The names under the columns, each cut to its column's width: side by side they
        would run into each other (beside the rows there is room for the whole short name)."""
        classes = len(self.tick_labels)
        if not classes:
            return
        view = self.getPlotItem().getViewBox()
        side = min(view.width(), view.height())  # the matrix is square (aspect locked)
        column = side / (classes * 1.04) - 4 if side > 0 else 0
        metrics = QFontMetrics(self.getPlotItem().getAxis("bottom").style.get("tickFont") or self.font())
        labels = self.column_labels = [
            (metrics.elidedText(name, Qt.ElideRight, int(column)) or name[:1]) if column > 0 else name
            for name in self.tick_labels]
        self.getPlotItem().getAxis("bottom").setTicks([[(index + 0.5, name) for index, name in enumerate(labels)]])


class ResultsView(QWidget):
    """Test accuracy, confusion matrix and misclassified images; save/load a checkpoint."""

    save_checkpoint_requested = Signal()
    load_checkpoint_requested = Signal()
    #: picture files dropped here, to be predicted (Training ▸ Predict Image…)
    images_dropped = Signal(list)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        #: shown when the design has changed since these results were made (``set_stale``)
        self.stale_banner = QLabel("These results are for the design as it was trained; the design has "
                                   "changed since. Train again to see the results of the design as it is now.")
        self.stale_banner.setObjectName("staleBanner")
        self.stale_banner.setWordWrap(True)
        self.stale_banner.setVisible(False)
        self.summary = QLabel("Train the design to see its results on the test set.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.RichText)
        self.save_button = QPushButton("Save checkpoint…")
        self.save_button.setToolTip("Save the design together with its trained weights")
        self.save_button.setEnabled(False)
        self.load_button = QPushButton("Load checkpoint…")
        self.load_button.setToolTip("Open a saved design with its trained weights")
        self.save_button.clicked.connect(self.save_checkpoint_requested)
        self.load_button.clicked.connect(self.load_checkpoint_requested)

        buttons = QVBoxLayout()  # stacked, not side by side: a narrower minimum (see CONFUSION_MINIMUM)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.load_button)
        buttons.addStretch(1)
        header = QHBoxLayout()
        header.addWidget(self.summary, 1)
        header.addLayout(buttons)

        self.confusion = ConfusionMatrixView()
        self.mistakes_title = QLabel("<b>Misclassified test images</b>")
        self.mistakes_title.setWordWrap(True)
        self.mistakes_grid = QGridLayout()
        self.mistakes_grid.setSpacing(4)
        grid_holder = QWidget()
        grid_holder.setLayout(self.mistakes_grid)
        self.mistakes_area = QScrollArea()
        self.mistakes_area.setWidgetResizable(True)
        self.mistakes_area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.mistakes_area.setWidget(grid_holder)
        self.mistakes_area.setMinimumWidth(MISTAKES_MINIMUM_WIDTH)
        self.mistakes_area.viewport().installEventFilter(self)
        mistakes = QWidget()
        mistakes_layout = QVBoxLayout(mistakes)
        mistakes_layout.setContentsMargins(0, 0, 0, 0)
        mistakes_layout.addWidget(self.mistakes_title)
        mistakes_layout.addWidget(self.mistakes_area, 1)

        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self.confusion)
        splitter.addWidget(mistakes)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([550, 450])  # scaled to the real width when first laid out

        layout = QVBoxLayout(self)
        layout.addWidget(self.stale_banner)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)
        self.mistake_cells: list[QWidget] = []
        self.setAcceptDrops(True)
        self.setToolTip("Drop a picture here to see what the trained network makes of it")
        self.apply_theme(current_theme())
        theme_notifier().theme_changed.connect(self.apply_theme)

    @Slot(object)
    def apply_theme(self, theme) -> None:
        self.stale_banner.setStyleSheet(
            f"#staleBanner {{ background: {hex_colour(theme.notice_fill)}; color: {hex_colour(theme.text)}; "
            f"border: 1px solid {hex_colour(theme.notice_border)}; border-radius: 4px; padding: 4px 6px; }}")

    @property
    def stale(self) -> bool:
        return not self.stale_banner.isHidden()

    def set_stale(self, stale: bool) -> None:
        """Mark the results as belonging to an earlier state of the design (or not)."""
        self.stale_banner.setVisible(stale)

    def set_checkpoint_available(self, available: bool) -> None:
        self.save_button.setEnabled(available)

    @Slot(object)
    def show_outcome(self, outcome) -> None:
        """``outcome``: a RunOutcome."""
        result = outcome.result
        lines = []
        if result.test_accuracy is not None:
            lines.append(f"<span style='font-size:14pt'><b>Test accuracy {result.test_accuracy:.2%}</b></span>"
                         f" &nbsp; loss {result.test_loss:.3f}"
                         + (f" · {outcome.test_samples:,} images" if outcome.test_samples else ""))
        # The message says how the run ended in its own words ("finished 3 epochs; …"); a
        # "Finished:" in front of it read "Finished: finished 3 epochs". Only a failure needs a word.
        message = result.message[:1].upper() + result.message[1:]
        lines.append(f"Failed: {result.message}" if result.status == "failed" else message)
        self.summary.setText("<br>".join(lines))
        if result.confusion_matrix:
            self.confusion.set_matrix(result.confusion_matrix, outcome.class_names)
        self._show_mistakes(outcome)

    def show_message(self, text: str) -> None:
        self.summary.setText(text)

    def _show_mistakes(self, outcome) -> None:
        for cell in self.mistake_cells:
            self.mistakes_grid.removeWidget(cell)
            cell.deleteLater()
        self.mistake_cells = []
        images = outcome.misclassified_images
        if images is None or not len(images):
            self.mistakes_title.setText("<b>Misclassified test images</b> — none to show")
            return
        names = outcome.class_names
        self.mistakes_title.setText(f"<b>Misclassified test images</b> — the first {len(images)}; "
                                    f"<span style='color:#2ca02c'>true</span> → "
                                    f"<span style='color:#d62728'>predicted</span>")
        for index, image in enumerate(images):
            true_label = names[outcome.misclassified_true[index]]
            predicted_label = names[outcome.misclassified_predicted[index]]
            confidence = float(outcome.misclassified_confidence[index])
            cell = QWidget()
            cell_layout = QVBoxLayout(cell)
            cell_layout.setContentsMargins(2, 2, 2, 2)
            cell_layout.setSpacing(1)
            picture = QLabel()
            picture.setPixmap(image_to_pixmap(image))
            picture.setAlignment(Qt.AlignCenter)
            caption = QLabel(f"<span style='color:#2ca02c'>{true_label}</span>→"
                             f"<span style='color:#d62728'>{predicted_label}</span>")
            caption.setAlignment(Qt.AlignCenter)
            caption_font = caption.font()
            caption_font.setPointSizeF(caption_font.pointSizeF() * 0.85)
            caption.setFont(caption_font)
            caption.setToolTip(f"true: {true_label}; predicted: {predicted_label} ({confidence:.0%})")
            caption.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
            cell_layout.addWidget(picture)
            cell_layout.addWidget(caption)
            self.mistake_cells.append(cell)
        self._lay_out_mistakes()

    def _columns(self) -> int:
        # A caption ("seven→three") can be wider than the picture: columns as wide as the widest cell.
        cell_width = max([CELL_WIDTH] + [cell.sizeHint().width() + self.mistakes_grid.spacing()
                                         for cell in self.mistake_cells])
        return max(1, (self.mistakes_area.viewport().width() - 8) // cell_width)

    def _lay_out_mistakes(self) -> None:
        columns = self._columns()
        self._laid_out_columns = columns
        for cell in self.mistake_cells:
            self.mistakes_grid.removeWidget(cell)
        for index, cell in enumerate(self.mistake_cells):
            row, column = divmod(index, columns)
            self.mistakes_grid.addWidget(cell, row, column)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if _dropped_images(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        paths = _dropped_images(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.images_dropped.emit(paths)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        # The grid's column count follows the scroll area's width (the Results tab may be
        # hidden, hence narrow, when the results arrive).
        if (event.type() == QEvent.Resize and self.mistake_cells
                and self._columns() != getattr(self, "_laid_out_columns", 0)):
            self._lay_out_mistakes()
        return False


def _dropped_images(mime_data) -> list[str]:
    from designer.data.image_decode import IMAGE_SUFFIXES

    if not mime_data.hasUrls():
        return []
    paths = [url.toLocalFile() for url in mime_data.urls() if url.isLocalFile()]
    return [path for path in paths if path.lower().endswith(IMAGE_SUFFIXES)]


__all__ = ["ConfusionMatrixView", "ResultsView", "image_to_pixmap"]
