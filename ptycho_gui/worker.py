"""Runs engine jobs on a worker thread and turns their Reporter calls into Qt signals.

A :class:`JobRunner` owns one ``QThread`` with one :class:`JobWorker` moved onto it. A job is
a plain function ``fn(reporter, stop)``; the worker calls it with a :class:`QtReporter` and a
fresh ``threading.Event`` stop token, so the GUI thread never blocks. Only plain Python values
and numpy arrays cross threads. Previews and progress go through :class:`LatestSlot`: the
newest value replaces an unread one, so a slow GUI never builds a queue of stale arrays.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine.errors import EngineError
from engine.reporting import PreviewFrame, Progress, Reporter

T = TypeVar("T")

JobFunction = Callable[[Reporter, threading.Event], Any]


@dataclass(frozen=True)
class Job:
    """A unit of work for a :class:`JobRunner`.

    Attributes
    ----------
    kind
        "simulate", "train", "infer", "preview"...: shown to the user and used by handlers.
    fn
        ``fn(reporter, stop) -> result``; it must check ``stop`` and end cleanly when set.
    context
        Anything the submitter wants back with the outcome (e.g. an output folder).
    """

    kind: str
    fn: JobFunction
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended: status "completed", "cancelled" or "failed"."""

    job: Job
    status: str
    result: Any = None
    error: str = ""
    details: str = ""
    user_error: bool = False
    elapsed_s: float = 0.0


class LatestSlot(Generic[T]):
    """Holds at most one value; ``put`` replaces an unread one (stale values are dropped)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: T | None = None
        self._full = False
        self.dropped = 0

    def put(self, value: T) -> bool:
        """Store ``value``; True when the slot was empty (the reader needs a notification)."""
        with self._lock:
            was_empty = not self._full
            if self._full:
                self.dropped += 1
            self._value, self._full = value, True
            return was_empty

    def take(self) -> T | None:
        """The newest value (None when empty); empties the slot."""
        with self._lock:
            value, self._value, self._full = self._value, None, False
            return value


class ReporterSignals(QObject):
    """The Qt face of a Reporter: signals the GUI thread connects to."""

    run_started = Signal(dict)
    progress_ready = Signal()  # take the newest Progress from JobRunner.progress_slot
    metrics = Signal(int, dict)
    preview_ready = Signal()  # take the newest PreviewFrame from JobRunner.preview_slot
    log = Signal(str, str)
    run_finished = Signal(dict)


class QtReporter(Reporter):
    """An engine :class:`Reporter` that re-emits every call as a Qt signal (thread-safe)."""

    def __init__(self, signals: ReporterSignals, progress_slot: LatestSlot[Progress],
                 preview_slot: LatestSlot[PreviewFrame]) -> None:
        self.signals = signals
        self.progress_slot = progress_slot
        self.preview_slot = preview_slot

    def run_started(self, info: Mapping[str, Any]) -> None:
        self.signals.run_started.emit(dict(info))

    def progress(self, progress: Progress) -> None:
        if self.progress_slot.put(progress):
            self.signals.progress_ready.emit()

    def metrics(self, epoch: int, values: Mapping[str, float]) -> None:
        self.signals.metrics.emit(int(epoch), dict(values))

    def preview(self, frame: PreviewFrame) -> None:
        if self.preview_slot.put(frame):
            self.signals.preview_ready.emit()

    def log(self, level: str, message: str) -> None:
        self.signals.log.emit(str(level), str(message))

    def run_finished(self, summary: Mapping[str, Any]) -> None:
        self.signals.run_finished.emit(dict(summary))


def _status_of(result: Any, stop: threading.Event) -> str:
    status = getattr(result, "status", None)
    if status is None and isinstance(result, Mapping):
        status = result.get("status")
    if isinstance(status, str) and status in ("completed", "cancelled", "failed"):
        return status
    return "cancelled" if stop.is_set() else "completed"


class JobWorker(QObject):
    """Lives on the runner's thread; runs one job at a time."""

    finished = Signal(object)  # JobOutcome

    def __init__(self, reporter: QtReporter) -> None:
        super().__init__()
        self.reporter = reporter

    @Slot(object, object)
    def run(self, job: Job, stop: threading.Event) -> None:
        start = time.monotonic()
        try:
            result = job.fn(self.reporter, stop)
        except EngineError as exc:  # the user can act on it: message first
            outcome = JobOutcome(job, "failed", error=str(exc), details=traceback.format_exc(),
                                 user_error=True, elapsed_s=time.monotonic() - start)
        except Exception as exc:  # a bug: keep the traceback for the report
            outcome = JobOutcome(job, "failed", error=f"{type(exc).__name__}: {exc}",
                                 details=traceback.format_exc(), elapsed_s=time.monotonic() - start)
        else:
            outcome = JobOutcome(job, _status_of(result, stop), result=result,
                                 elapsed_s=time.monotonic() - start)
        self.finished.emit(outcome)


class JobRunner(QObject):
    """Runs :class:`Job` s one at a time on its own ``QThread``.

    Signals
    -------
    started(object)
        The :class:`Job` that just started.
    finished(object)
        Its :class:`JobOutcome`.

    The reporter's signals are on :attr:`signals`; previews and progress are read from
    :attr:`preview_slot` and :attr:`progress_slot` when ``preview_ready`` /
    ``progress_ready`` fire.
    """

    started = Signal(object)
    finished = Signal(object)
    _submit = Signal(object, object)

    def __init__(self, name: str = "engine-worker", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.signals = ReporterSignals(self)
        self.progress_slot: LatestSlot[Progress] = LatestSlot()
        self.preview_slot: LatestSlot[PreviewFrame] = LatestSlot()
        self._thread = QThread(self)
        self._thread.setObjectName(name)
        self._worker = JobWorker(QtReporter(self.signals, self.progress_slot, self.preview_slot))
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.run)
        self._worker.finished.connect(self._on_worker_finished)
        self._thread.finished.connect(self._worker.deleteLater)
        self._job: Job | None = None
        self._stop: threading.Event | None = None
        self._closed = False

    @property
    def busy(self) -> bool:
        return self._job is not None

    @property
    def current_job(self) -> Job | None:
        return self._job

    @property
    def qthread(self) -> QThread:
        """The worker thread (``QObject.thread()`` is the thread this runner lives in)."""
        return self._thread

    def start(self, job: Job) -> bool:
        """Start ``job`` on the worker thread; False (nothing started) when busy or closed."""
        if self._job is not None or self._closed:
            return False
        if not self._thread.isRunning():
            self._thread.start()
        self._job = job
        self._stop = threading.Event()
        self.progress_slot.take()
        self.preview_slot.take()
        self.started.emit(job)
        self._submit.emit(job, self._stop)
        return True

    def stop(self) -> None:
        """Ask the running job to end cooperatively (it reports "cancelled")."""
        if self._stop is not None:
            self._stop.set()

    def stop_requested(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def shutdown(self, timeout_s: float = 30.0) -> bool:
        """Stop the job, end the thread and wait up to ``timeout_s``; True when it ended."""
        self._closed = True
        self.stop()
        if not self._thread.isRunning():
            return True
        self._thread.quit()  # takes effect once the running job returns
        return self._thread.wait(int(timeout_s * 1000))

    @Slot(object)
    def _on_worker_finished(self, outcome: JobOutcome) -> None:
        self._job = None
        self._stop = None
        self.finished.emit(outcome)


class NewestJobRunner(QObject):
    """Runs the newest of a stream of requests (listing a folder, reading results) off the
    GUI thread: a request made while one runs waits, replacing any request waiting before it,
    and only the outcome of the newest request is reported. The thread ends when nothing
    waits, so an idle runner holds no thread.

    Signals
    -------
    finished(object)
        The :class:`JobOutcome` of the newest request (superseded ones are dropped).
    """

    finished = Signal(object)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._runner: JobRunner | None = None
        self._waiting: Job | None = None
        self._closed = False

    @property
    def busy(self) -> bool:
        """A request runs or waits."""
        return self._runner is not None and self._runner.busy or self._waiting is not None

    @property
    def holds_thread(self) -> bool:
        """A worker thread exists (only while a request runs)."""
        return self._runner is not None

    def request(self, job: Job) -> bool:
        """Run ``job`` now, or after the running one (which is then superseded); False once
        shut down."""
        if self._closed:
            return False
        if self._runner is not None and self._runner.busy:
            self._waiting = job
            return True
        if self._runner is None:
            self._runner = JobRunner(self.name, self)
            self._runner.finished.connect(self._on_runner_finished)
        return self._runner.start(job)

    def _end_runner(self, timeout_s: float) -> bool:
        runner, self._runner = self._runner, None
        if runner is None:
            return True
        ended = runner.shutdown(timeout_s)  # idle: the thread ends at once
        runner.deleteLater()
        return ended

    @Slot(object)
    def _on_runner_finished(self, outcome: JobOutcome) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is not None and not self._closed and self._runner is not None:
            self._runner.start(waiting)  # the finished request was superseded: dropped
            return
        self._end_runner(5.0)
        if not self._closed:
            self.finished.emit(outcome)

    def shutdown(self, timeout_s: float) -> bool:
        """No new requests; the running one is asked to stop and waited for."""
        self._closed = True
        self._waiting = None
        if self._runner is not None:
            self._runner.stop()
        return self._end_runner(timeout_s)
