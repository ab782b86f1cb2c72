"""Long work off the viewer's thread: progress, cancel, and errors as one-line napari notifications.

The library functions report progress through a ``progress(stage, fraction)`` callback. A job runs
one of them in a worker thread with a callback that forwards the progress to the widget (Qt signals
cross threads safely) and raises :class:`Cancelled` once the user pressed cancel, so the function
stops at its next report and its atomic writes leave nothing behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import QObject, QThread, Signal

from cryomem.io import FractionProgress

__all__ = ["BackgroundJob", "Cancelled", "one_line"]


class Cancelled(Exception):
    """Raised inside a job's progress callback after the user cancelled it."""


def one_line(err: BaseException) -> str:
    """The message a user sees for a failed job: the library's one-line message, or the error's type."""
    if isinstance(err, (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError)):
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    if isinstance(err, OSError):
        return f"{err.strerror or err} ({err.filename or 'file system'})"
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'unexpected error'}"


class _Runner(QThread):
    progressed = Signal(str, float)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, work: Callable[[FractionProgress], Any]) -> None:
        super().__init__()
        self._work = work
        self.stop = threading.Event()

    def _progress(self, stage: str, fraction: float) -> None:
        if self.stop.is_set():
            raise Cancelled
        self.progressed.emit(str(stage), float(fraction))

    def run(self) -> None:  # the worker thread
        try:
            result = self._work(self._progress)
        except Cancelled:
            self.cancelled.emit()
        except Exception as err:  # shown to the user as one line, never a traceback
            self.failed.emit(one_line(err))
        else:
            self.succeeded.emit(result)


class BackgroundJob(QObject):
    """Run ``work(progress)`` in a worker thread; connect to its signals before :meth:`start`.

    Signals: ``progressed(stage, fraction)``, ``succeeded(result)`` (on the viewer's thread),
    ``failed(message)``, ``cancelled()``, and ``done()`` after any of the last three.
    """

    progressed = Signal(str, float)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, work: Callable[[FractionProgress], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = _Runner(work)
        self._runner.progressed.connect(self.progressed)
        self._runner.succeeded.connect(self.succeeded)
        self._runner.failed.connect(self.failed)
        self._runner.cancelled.connect(self.cancelled)
        self._runner.finished.connect(self.done)

    def start(self) -> None:
        self._runner.start()

    def cancel(self) -> None:
        """Ask the job to stop at its next progress report."""
        self._runner.stop.set()

    @property
    def running(self) -> bool:
        return self._runner.isRunning()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the job has finished (for tests and closing); True if it did."""
        return self._runner.wait(timeout_ms) if timeout_ms >= 0 else self._runner.wait()
