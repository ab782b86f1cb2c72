"""What every cryomem widget shares: a form, a progress bar with cancel, notifications, layer pickers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cryomem.gui._background import BackgroundJob, one_line
from cryomem.io import FractionProgress

__all__ = ["LayerPicker", "Panel", "notify_error", "notify_info"]


def notify_error(message: str) -> None:
    """Show a one-line error as a napari notification (never a traceback)."""
    from napari.utils.notifications import show_error

    show_error(message)


def notify_info(message: str) -> None:
    from napari.utils.notifications import show_info

    show_info(message)


class LayerPicker(QComboBox):
    """A drop-down of the viewer's layers of some kinds, kept up to date as layers come and go."""

    def __init__(self, viewer: Any, kinds: tuple[str, ...], accept: Callable[[Any], bool] | None = None) -> None:
        super().__init__()
        self._viewer, self._kinds, self._accept = viewer, kinds, accept or (lambda layer: True)
        viewer.layers.events.inserted.connect(self.refresh)
        viewer.layers.events.removed.connect(self.refresh)
        self.refresh()

    def refresh(self, *_: Any) -> None:
        current = self.currentText()
        self.blockSignals(True)
        self.clear()
        for layer in self._viewer.layers:
            if type(layer).__name__.lower() in self._kinds and self._accept(layer):
                self.addItem(layer.name)
        index = self.findText(current)
        self.setCurrentIndex(index if index >= 0 else self.count() - 1)
        self.blockSignals(False)
        self.currentIndexChanged.emit(self.currentIndex())

    def layer(self) -> Any | None:
        """The chosen layer, or None."""
        name = self.currentText()
        return self._viewer.layers[name] if name and name in self._viewer.layers else None

    def names(self) -> list[str]:
        return [self.itemText(i) for i in range(self.count())]


class Panel(QWidget):
    """A dock widget: a form of settings, action buttons, and a progress bar that runs one job at a time."""

    def __init__(self, viewer: Any, title: str) -> None:
        super().__init__()
        self.viewer = viewer
        self.form = QFormLayout()
        self.buttons = QVBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        heading = QLabel(f"<b>{title}</b>")
        layout.addWidget(heading)
        layout.addLayout(self.form)
        layout.addLayout(self.buttons)
        bar = QHBoxLayout()
        bar.addWidget(self.progress)
        bar.addWidget(self.cancel_button)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.job: BackgroundJob | None = None
        self.cancel_button.clicked.connect(self.cancel)

    def add_button(self, text: str, action: Callable[[], None]) -> QPushButton:
        """A button whose errors become one-line notifications."""
        button = QPushButton(text)
        button.clicked.connect(lambda *_: self.guarded(action))
        self.buttons.addWidget(button)
        return button

    def guarded(self, action: Callable[[], Any]) -> Any:
        """Run ``action`` on the viewer's thread; a failure is a notification and a status line."""
        try:
            return action()
        except Exception as err:  # every user-facing failure is one line
            self.fail(one_line(err))
            return None

    def fail(self, message: str) -> None:
        self.status.setText(f"error: {message}")
        notify_error(message)

    def run_job(
        self, label: str, work: Callable[[FractionProgress], Any], on_success: Callable[[Any], None]
    ) -> BackgroundJob | None:
        """Run ``work(progress)`` in the background; ``on_success(result)`` runs on the viewer's thread."""
        if self.job is not None and self.job.running:
            self.fail("a job is still running in this panel; wait for it or cancel it")
            return None
        job = BackgroundJob(work, self)
        self.job = job
        self.progress.setValue(0)
        self.progress.setFormat(f"{label} %p%")
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.status.setText(f"{label}...")
        job.progressed.connect(self._progressed)
        job.succeeded.connect(lambda result: self.guarded(lambda: on_success(result)))
        job.failed.connect(self.fail)
        job.cancelled.connect(lambda: self.status.setText(f"{label}: cancelled; nothing was written"))
        job.done.connect(self._finished)
        job.start()
        return job

    def _progressed(self, stage: str, fraction: float) -> None:
        self.progress.setValue(int(1000 * min(max(fraction, 0.0), 1.0)))
        self.progress.setFormat(f"{stage} %p%")

    def _finished(self) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
