"""How long operations talk to whoever started them: plain callbacks, no Qt.

The engine's long operations (simulate, train, infer, bench) take a ``reporter`` and a ``stop``
token. The CLI passes a :class:`TqdmReporter` (progress bars); the GUI passes an adapter that
re-emits every call as a Qt signal; scripts may pass nothing (:class:`Reporter` does nothing)
or subclass :class:`Reporter` and override what they need.

A stop token is any object with ``is_set() -> bool``, typically a ``threading.Event``; long
operations check it between steps and end cleanly ("cancelled") when it is set.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class StopToken(Protocol):
    """Anything with ``is_set()``: ``threading.Event`` is the usual one."""

    def is_set(self) -> bool: ...


def stop_requested(stop: StopToken | None) -> bool:
    return stop is not None and stop.is_set()


@dataclass(frozen=True)
class Progress:
    """Where a long operation stands.

    Attributes
    ----------
    stage
        "simulate", "load", "train", "validate", "infer", "stitch", "evaluate", "bench"...
    done, total
        Units done and expected (steps, patterns); ``total`` is None when unknown.
    epoch, max_epochs
        Training epoch (0-based) and the planned number, when training.
    elapsed_s, eta_s
        Seconds since the stage started and the estimate of seconds left (None: unknown).
    unit
        What ``done`` counts ("step", "pattern", "epoch").
    job_fraction
        How much of the whole job (all its stages) is done, 0..1, when the stage knows its
        share of the job (e.g. refinement after training); None: unknown.
    """

    stage: str
    done: int
    total: int | None = None
    epoch: int | None = None
    max_epochs: int | None = None
    elapsed_s: float = 0.0
    eta_s: float | None = None
    unit: str = "step"
    job_fraction: float | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


@dataclass(frozen=True)
class PreviewFrame:
    """A live picture of the current reconstruction, as plain numpy arrays.

    Attributes
    ----------
    obj
        Complex object estimate (H, W); never-illuminated pixels are NaN.
    epoch, step
        Where training stood when the frame was made.
    probe
        Complex probe (modes, N, N) when it changes during the run, else None.
    """

    obj: np.ndarray
    epoch: int = 0
    step: int = 0
    probe: np.ndarray | None = None


class Reporter:
    """Receives the events of a long operation; every method does nothing by default."""

    def run_started(self, info: Mapping[str, Any]) -> None:
        """Once, when a run starts: resolved accelerator and devices, sizes, run folder."""

    def progress(self, progress: Progress) -> None:
        """Often (throttle your own display): how far the current stage is."""

    def metrics(self, epoch: int, values: Mapping[str, float]) -> None:
        """Once per epoch: train/val loss, learning rate, epoch time, throughput."""

    def preview(self, frame: PreviewFrame) -> None:
        """At most every ``execution.preview_interval_s``: the current reconstruction."""

    def log(self, level: str, message: str) -> None:
        """A human-readable line ("info", "warning", "error")."""

    def run_finished(self, summary: Mapping[str, Any]) -> None:
        """Once, at the end (status completed, cancelled or failed)."""


def epoch_line(epoch: int, values: Mapping[str, Any]) -> str:
    """The log line of one epoch's metrics (CLI and GUI): ``epoch 3: train_loss -7.5, ...``.

    Values that were not measured (NaN: e.g. no validation in an epoch cut short by a Stop)
    are left out rather than shown as "nan".
    """
    first = ("train_loss", "val_loss", "lr")  # the same order wherever the dict came from
    keys = [k for k in first if k in values] + [k for k in values if k not in first]
    shown = ", ".join(f"{k} {float(values[k]):.4g}" for k in keys
                      if isinstance(values[k], (int, float)) and not isinstance(values[k], bool)
                      and np.isfinite(float(values[k])))
    return f"epoch {int(epoch) + 1}: {shown}"


@dataclass
class Throttle:
    """True at most once per ``interval_s`` (the first call is always True)."""

    interval_s: float
    _last: float = field(default=-1e30, init=False)

    def ready(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if now - self._last >= self.interval_s:
            self._last = now
            return True
        return False


@dataclass
class Clock:
    """Elapsed time and a linear ETA for ``total`` units of work."""

    total: int | None = None
    start: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def eta(self, done: int) -> float | None:
        if not self.total or done <= 0:
            return None
        return self.elapsed() * max(0, self.total - done) / done

    def progress(self, stage: str, done: int, **kw: Any) -> Progress:
        return Progress(stage=stage, done=done, total=self.total, elapsed_s=self.elapsed(),
                        eta_s=self.eta(done), **kw)


class TqdmReporter(Reporter):
    """Terminal reporter of the CLI: one progress bar per stage, log lines on stderr."""

    def __init__(self, enabled: bool = True, stream: Any = None) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self._bar: Any = None
        self._stage: str | None = None

    def progress(self, progress: Progress) -> None:
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        label = progress.stage
        if progress.epoch is not None and progress.max_epochs:
            label = f"{progress.stage} epoch {progress.epoch + 1}/{progress.max_epochs}"
        # A new bar for a new stage, a new total, or a count that starts again (a training
        # epoch); a count over all epochs (the refinement's) keeps its bar, so its rate
        # and time left stay true, and only the label follows the epoch.
        if self._bar is None or self._stage != progress.stage or progress.done < self._bar.n \
                or (progress.total is not None and self._bar.total != progress.total):
            self.close()
            self._bar = tqdm(total=progress.total, desc=label, unit=progress.unit,
                             file=self.stream, leave=False, dynamic_ncols=True)
            self._stage = progress.stage
        elif self._bar.desc != label:
            self._bar.set_description_str(label, refresh=False)
        self._bar.update(progress.done - self._bar.n)

    def metrics(self, epoch: int, values: Mapping[str, float]) -> None:
        self.log("info", epoch_line(epoch, values))

    def log(self, level: str, message: str) -> None:
        if level == "error":
            return  # the error is raised too: the CLI prints it as its one "error:" line
        text = message if level == "info" else f"{level}: {message}"
        if self._bar is not None:
            from tqdm.auto import tqdm

            tqdm.write(text, file=self.stream)
        else:
            print(text, file=self.stream)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._stage = None

    def run_finished(self, summary: Mapping[str, Any]) -> None:
        self.close()


class TeeReporter(Reporter):
    """Hands every event to each of ``reporters`` in turn (the CLI's progress bars and the
    run folder's live preview file, :mod:`engine.live_preview`)."""

    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = reporters

    def run_started(self, info: Mapping[str, Any]) -> None:
        for one in self.reporters:
            one.run_started(info)

    def progress(self, progress: Progress) -> None:
        for one in self.reporters:
            one.progress(progress)

    def metrics(self, epoch: int, values: Mapping[str, float]) -> None:
        for one in self.reporters:
            one.metrics(epoch, values)

    def preview(self, frame: PreviewFrame) -> None:
        for one in self.reporters:
            one.preview(frame)

    def log(self, level: str, message: str) -> None:
        for one in self.reporters:
            one.log(level, message)

    def run_finished(self, summary: Mapping[str, Any]) -> None:
        for one in self.reporters:
            one.run_finished(summary)
