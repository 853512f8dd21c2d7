"""Progress of a run in the Training dock: the epoch and run bars, speed, time left, and the
test accuracy once the run has ended.

Batch updates arrive up to 20 times a second; the bars are repainted at most
``PROGRESS_PER_SECOND`` times (each repaint costs the GUI thread, not the trainer), from
everything that arrived since the last time. Before training begins (the training process
loading PyTorch, a dataset loading) the epoch bar is busy and says what is happening, so a
person never looks at a still, greyed dock wondering whether Start worked.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QTimer, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from designer.ui.style import current_theme, hex_colour, theme_notifier

PROGRESS_PER_SECOND = 5


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class RunProgress(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.epoch_progress = QProgressBar()
        self.run_progress = QProgressBar()
        for bar in (self.epoch_progress, self.run_progress):
            bar.setTextVisible(True)
            bar.setRange(0, 1000)
        self.speed_label = QLabel(" ")
        self.speed_label.setWordWrap(True)
        #: the run's test accuracy, large, once it has one ("Test accuracy 89.70%")
        self.result_label = QLabel()
        font = QFont(self.result_label.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.result_label.setFont(font)
        self.result_label.setVisible(False)
        self.busy = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.epoch_progress, self.run_progress, self.speed_label, self.result_label):
            layout.addWidget(widget)
        self.apply_theme(current_theme())
        theme_notifier().theme_changed.connect(self.apply_theme)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(1000 // PROGRESS_PER_SECOND)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.reset()

    @Slot(object)
    def apply_theme(self, theme) -> None:
        self.speed_label.setStyleSheet(f"color: {hex_colour(theme.muted_text)}")

    def reset(self) -> None:
        """Empty bars for a new run; the clock starts now."""
        self._timer.stop()
        self.set_busy(None)
        self.result_label.setVisible(False)
        self.info = None
        self.latest = None  # the newest BatchMetrics
        self._samples_per_second = 0.0
        self._pending_seconds = 0.0
        self._pending_samples = 0
        self._started_at = time.perf_counter()
        self.epoch_progress.setValue(0)
        self.run_progress.setValue(0)
        self.epoch_progress.setFormat("epoch")
        self.run_progress.setFormat("run")
        self.speed_label.setText(" ")

    def set_busy(self, text: str | None) -> None:
        """Before training: a busy epoch bar and ``text`` under it ("Starting the training
        process… (loading PyTorch)"); None ends it."""
        self.busy = text is not None
        if text is None:
            self.epoch_progress.setRange(0, 1000)
            return
        self.epoch_progress.setRange(0, 0)  # Qt's "busy" bar: it moves without a value
        self.speed_label.setText(text)

    def start(self, info) -> None:
        """Training has begun (``RunInfo``); time left counts from here."""
        self.set_busy(None)
        self.info = info
        self._started_at = time.perf_counter()
        self.speed_label.setText(" ")

    def ended(self, result) -> None:
        """The run is over (a ``TrainResult``): no busy bar any more, and its test accuracy if it has one."""
        self.set_busy(None)
        if self.info is None:
            self.speed_label.setText(" ")
        if result.test_accuracy is not None:
            stopped = "" if result.status == "finished" else " (after stopping)"
            self.result_label.setText(f"Test accuracy {result.test_accuracy:.2%}{stopped}")
            self.result_label.setToolTip(f"Loss {result.test_loss:.4f} on the test set, which the network never "
                                         f"trained on")
            self.result_label.setVisible(True)

    def add(self, points) -> None:
        """New ``BatchPoints``; shown within 1/PROGRESS_PER_SECOND s."""
        self._pending_seconds += sum(points.seconds)
        self._pending_samples += sum(points.sizes)
        self.latest = points.latest
        if not self._timer.isActive():
            self._timer.start()

    def done(self) -> None:
        self.epoch_progress.setValue(1000)
        self.run_progress.setValue(1000)
        self.run_progress.setFormat("run 100% — done")

    @Slot()
    def _on_timer_timeout(self) -> None:
        self.show_now()

    def show_now(self) -> None:
        """Bars and the speed line from the batches since the last time."""
        latest, info = self.latest, self.info
        self._timer.stop()
        if latest is None or info is None:
            return
        if self._pending_seconds > 0:
            speed = self._pending_samples / self._pending_seconds
            self._samples_per_second = (speed if not self._samples_per_second
                                        else 0.7 * self._samples_per_second + 0.3 * speed)
        self._pending_seconds = 0.0
        self._pending_samples = 0
        done = (latest.epoch - 1) * latest.batches + latest.batch
        total = info.epochs * latest.batches
        self.epoch_progress.setValue(int(1000 * latest.batch / latest.batches))
        self.epoch_progress.setFormat(f"epoch {latest.epoch}/{info.epochs} — batch {latest.batch}/{latest.batches}")
        self.run_progress.setValue(int(1000 * done / total))
        elapsed = time.perf_counter() - self._started_at
        left = elapsed / done * (total - done) if done else math.inf
        self.run_progress.setFormat(f"run {100 * done / total:.0f}% — {format_duration(left)} left")
        self.speed_label.setText(f"{self._samples_per_second:,.0f} samples/s · loss {latest.loss:.3f} · "
                                 f"elapsed {format_duration(elapsed)}")


__all__ = ["PROGRESS_PER_SECOND", "RunProgress", "format_duration"]
