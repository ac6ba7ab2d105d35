"""The live preview file: a run's current picture in its folder, for a window following it.

While a run goes, the engine keeps its current object estimate in memory and hands it to the
reporter as a :class:`~engine.reporting.PreviewFrame`. A process following the run folder
from elsewhere (a cluster job watched from a desktop: ``ptycho_gui.cluster.follow``) cannot
see that memory, so :func:`engine.runs.run` tees the frames to a
:class:`LivePreviewWriter`, which keeps the newest one in the run folder as
``live/preview.npz`` (:data:`engine.runs_index.LIVE_PREVIEW`).

Layout (``numpy.savez``, uncompressed, no object arrays: it loads with
``allow_pickle=False``):

=============== =============== =======================================================
key             dtype, shape    meaning
=============== =============== =======================================================
``version``     int64, ()       :data:`FORMAT_VERSION`
``amplitude``   float32, (h, w) ``|O|``; never-illuminated pixels NaN
``phase``       float32, (h, w) ``angle(O)`` in radians, [-pi, pi]; NaN as above
``binning``     int64, ()       every ``binning``-th pixel of the object in both
                                directions (1 up to :data:`MAX_SIDE` pixels a side)
``stage``       str, ()         the run's stage when it was made ("train", ...)
``epoch``       int64, ()       0-based training epoch
``step``        int64, ()       optimiser step
``time``        float64, ()     when it was written, seconds since the Unix epoch
=============== =============== =======================================================

Every write replaces the file atomically (:mod:`engine.atomic`: a temporary file, then a
rename), so a reader sees a whole frame, old or new, and never needs the folder's lock. At
most one write every ``max(execution.preview_interval_s, MIN_INTERVAL_S)`` seconds, and at
most :data:`MAX_SIDE` pixels a side (about 2 MB): the disk of a cluster job is not kept busy
by a preview nobody may be watching. When the run ends (completed, cancelled or failed) the
file and its ``live/`` folder are removed: the run's own ``amplitude.png``, ``phase.png``
and ``reconstruction.h5`` are its final pictures. A job killed outright (a SLURM time limit)
leaves its last frame, which the next run in the folder replaces.
"""

from __future__ import annotations

import contextlib
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .errors import EngineError
from .reporting import PreviewFrame, Progress, Reporter, TeeReporter, Throttle
from .runs_index import LIVE_PREVIEW

FORMAT_VERSION = 1
"""The layout of ``live/preview.npz`` described above."""

MIN_INTERVAL_S = 2.0
"""Shortest time between two writes, whatever ``execution.preview_interval_s`` asks (its
default, 0.1 s, suits a window in the same process, not a file on a shared disk: 2 s keeps a
2 MB frame under 1 MB/s of writes while a follower polling every 2 s still sees each one)."""

MAX_SIDE = 512
"""Longest side of a stored frame, in pixels; a larger object is subsampled (``binning``)."""

KEYS = ("version", "amplitude", "phase", "binning", "stage", "epoch", "step", "time")


@dataclass(frozen=True)
class LiveFrame:
    """One live preview as read back from a run folder (:func:`read_live_preview`)."""

    amplitude: np.ndarray
    phase: np.ndarray
    binning: int
    stage: str
    epoch: int
    step: int
    time: float

    @property
    def obj(self) -> np.ndarray:
        """The (subsampled) complex object, NaN where never illuminated."""
        return (self.amplitude * np.exp(1j * self.phase)).astype(np.complex64)


def write_live_preview(folder: str | os.PathLike[str], frame: PreviewFrame, stage: str = "",
                       now: float | None = None) -> Path:
    """Write ``frame`` as ``folder/live/preview.npz`` atomically; return the file's path."""
    obj = np.asarray(frame.obj)
    binning = max(1, -(-max(obj.shape) // MAX_SIDE))
    obj = obj[::binning, ::binning]
    target = Path(folder) / LIVE_PREVIEW
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, version=np.int64(FORMAT_VERSION),
                 amplitude=np.abs(obj).astype(np.float32),
                 phase=np.angle(obj).astype(np.float32), binning=np.int64(binning),
                 stage=np.array(str(stage)), epoch=np.int64(frame.epoch),
                 step=np.int64(frame.step),
                 time=np.float64(time.time() if now is None else now))
    return target


def read_live_preview(folder: str | os.PathLike[str]) -> LiveFrame | None:
    """The live preview of run folder ``folder``; None when there is none or it cannot be read
    now (removed or replaced between two calls, damaged, another layout): a follower tries
    again at its next poll. Never unpickles."""
    path = Path(folder) / LIVE_PREVIEW
    try:
        with np.load(path, allow_pickle=False) as npz:
            if set(KEYS) - set(npz.files) or int(npz["version"]) != FORMAT_VERSION:
                return None
            amplitude, phase = npz["amplitude"], npz["phase"]
            if amplitude.ndim != 2 or amplitude.shape != phase.shape:
                return None
            return LiveFrame(amplitude=amplitude.astype(np.float32, copy=False),
                             phase=phase.astype(np.float32, copy=False),
                             binning=int(npz["binning"]), stage=str(npz["stage"]),
                             epoch=int(npz["epoch"]), step=int(npz["step"]),
                             time=float(npz["time"]))
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
        return None


class LivePreviewWriter(Reporter):
    """A reporter keeping the newest preview frame in ``folder`` (see the module's text).

    Parameters
    ----------
    folder
        The run folder.
    interval_s
        ``execution.preview_interval_s``; writes are at least :data:`MIN_INTERVAL_S` apart.

    A failed write (a full disk) is reported once as a warning through ``warn`` and ends the
    writing; the run itself goes on (its own writers report the disk as they must).
    """

    def __init__(self, folder: str | os.PathLike[str], interval_s: float,
                 warn: Reporter | None = None) -> None:
        self.folder = Path(folder)
        self.throttle = Throttle(max(float(interval_s), MIN_INTERVAL_S))
        self.warn = warn
        self.stage = ""
        self.written: Path | None = None
        self.failed = False

    def progress(self, progress: Progress) -> None:
        self.stage = progress.stage

    def preview(self, frame: PreviewFrame) -> None:
        if self.failed or not self.throttle.ready():
            return
        try:
            self.written = write_live_preview(self.folder, frame, self.stage)
        except (OSError, EngineError) as exc:
            self.failed = True
            if self.warn is not None:
                self.warn.log("warning", f"live preview not written to {self.folder / LIVE_PREVIEW}"
                              f" any more: {exc}")

    def close(self) -> None:
        """Remove the file this writer wrote (never another process's) and ``live/`` when
        empty."""
        if self.written is None:
            return
        with contextlib.suppress(OSError):
            self.written.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.written.parent.rmdir()
        self.written = None


def with_live_preview(reporter: Reporter | None, folder: Path | None, interval_s: float
                      ) -> tuple[Reporter | None, LivePreviewWriter | None]:
    """``reporter`` teed to a :class:`LivePreviewWriter` of ``folder``, and the writer.

    Returns ``(reporter, writer)``; without a reporter (an API call that watches nothing,
    so no frames are made) or a folder, ``(reporter, None)``.
    """
    if reporter is None or folder is None:
        return reporter, None
    writer = LivePreviewWriter(folder, interval_s, warn=reporter)
    return TeeReporter(reporter, writer), writer
