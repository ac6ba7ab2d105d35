"""Past runs under an output folder: what each run folder says about itself (no torch, no Qt).

A run folder (docs/training.md) holds ``session.toml``, ``provenance.json``, ``metrics.csv``,
``summary.json``, ``reconstruction.h5`` and ``checkpoints/``. :func:`list_runs` finds the run
folders in a folder (the folder itself and its direct sub-folders) and :func:`read_run`
summarises one of them as a :class:`RunInfo`; neither ever raises for a damaged run: what
could not be read is listed in ``RunInfo.problems``.

Examples
--------
>>> from engine.runs_index import list_runs
>>> for run in list_runs("ptycho-run"):                                 # doctest: +SKIP
...     print(run.name, run.status, run.epochs, run.quality_text)

:func:`watch_run` follows a run folder that another process writes (a cluster job): each call
compares the files' modification times with the previous state and says what changed
(status, epochs, the newest metrics row, the newest image), reading only then and never taking
the writer's lock (every file is replaced atomically, so a reader sees whole files).

>>> state = None
>>> while True:                                                           # doctest: +SKIP
...     changes = watch_run("/shared/runs/scan-2x4", state)
...     state = changes.state
...     if "epochs" in changes.changed:
...         print(state.epochs, state.latest_metrics)
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

SESSION = "session.toml"
PROVENANCE = "provenance.json"
METRICS = "metrics.csv"
SUMMARY = "summary.json"
RECONSTRUCTION = "reconstruction.h5"
CHECKPOINTS = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
METRIC_COLUMNS = ("epoch", "train_loss", "val_loss", "lr", "epoch_time_s", "patterns_per_s")
RUN_MARKERS = (SESSION, SUMMARY, CHECKPOINTS)
AMPLITUDE_PNG = "amplitude.png"
PHASE_PNG = "phase.png"
LIVE_PREVIEW = "live/preview.npz"
"""The newest preview frame of a run under way (:mod:`engine.live_preview`), removed when it
ends."""
IMAGE_FILES = (AMPLITUDE_PNG, PHASE_PNG, RECONSTRUCTION, LIVE_PREVIEW)
"""The run's images: its figures and reconstruction, written when its training ends, and
the live preview meanwhile (what a followed run shows)."""
WATCHED_FILES = (SESSION, PROVENANCE, METRICS, SUMMARY, *IMAGE_FILES)
"""The files whose modification times :func:`watch_run` compares between two polls."""

INCOMPLETE = "incomplete"
"""Status of a run folder without ``summary.json``: still running, or killed."""

FINISHED_STATES = ("completed",)
"""Statuses that cannot be resumed (a run is resumable when it has a ``last.ckpt``)."""


@dataclass
class RunInfo:
    """One run folder as listed in a runs table.

    Attributes
    ----------
    path
        The run folder (absolute).
    status
        ``summary.json``'s status ("completed", "cancelled", "failed"), or
        :data:`INCOMPLETE` when there is no summary.
    started
        Start time (summary, else provenance, else the folder's modification time).
    data_file
        The dataset trained on ("" when unknown).
    epochs, max_epochs
        Epochs done and asked for (None when unknown).
    wall_time_s
        Wall time of the whole run (None while incomplete).
    quality
        ``summary.json``'s quality against ground truth (``engine.metrics.evaluate``'s
        result), None without ground truth.
    error
        The failure of a failed run.
    problems
        Files of the folder that could not be read, one line each.
    """

    path: Path
    status: str
    started: datetime | None = None
    data_file: str = ""
    epochs: int | None = None
    max_epochs: int | None = None
    wall_time_s: float | None = None
    quality: dict[str, Any] | None = None
    ground_truth: str | None = None
    error: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def session_file(self) -> Path:
        return self.path / SESSION

    @property
    def reconstruction(self) -> Path | None:
        """The stitched reconstruction (a ptychodus product), None when not written."""
        path = self.path / RECONSTRUCTION
        return path if path.is_file() else None

    @property
    def last_checkpoint(self) -> Path | None:
        path = self.path / CHECKPOINTS / LAST_CHECKPOINT
        return path if path.is_file() else None

    @property
    def resumable(self) -> bool:
        """Not completed and a ``last.ckpt`` to continue from."""
        return self.status not in FINISHED_STATES and self.last_checkpoint is not None

    @property
    def frc(self) -> dict[str, Any] | None:
        """FRC curves against ground truth (``evaluate``'s ``frc``), None when not scored."""
        curves = (self.quality or {}).get("frc")
        return curves if isinstance(curves, dict) and curves.get("frequency_per_px") else None

    @property
    def quality_text(self) -> str:
        """"amplitude SSIM 0.91, phase SSIM 0.88" or "" without ground truth."""
        parts = []
        for name in ("amplitude", "phase"):
            ssim = ((self.quality or {}).get(name) or {}).get("ssim")
            if isinstance(ssim, (int, float)) and math.isfinite(ssim):
                parts.append(f"{name} SSIM {ssim:.3f}")
        return ", ".join(parts)


def is_run_folder(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a folder holding a run's files."""
    p = Path(path)
    return p.is_dir() and any((p / marker).exists() for marker in RUN_MARKERS)


def list_runs(folder: str | os.PathLike[str]) -> list[RunInfo]:
    """The runs in ``folder`` (itself and its direct sub-folders), newest first.

    A missing or unreadable folder has no runs (an empty list, never an error).
    """
    root = Path(folder).expanduser()
    candidates = [root]
    try:
        candidates += sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        pass
    runs = [read_run(p) for p in candidates if is_run_folder(p)]
    oldest = datetime.min
    runs.sort(key=lambda r: (r.started.replace(tzinfo=None) if r.started else oldest, r.name),
              reverse=True)
    return runs


def read_run(path: str | os.PathLike[str]) -> RunInfo:
    """Summarise one run folder (see :class:`RunInfo`); damaged files become ``problems``."""
    folder = Path(path).expanduser().resolve()
    problems: list[str] = []
    summary = _read_json(folder / SUMMARY, problems)
    provenance = _read_json(folder / PROVENANCE, problems)
    session = _read_toml(folder / SESSION, problems)
    info = RunInfo(path=folder, status=str(summary.get("status") or INCOMPLETE),
                   problems=problems)
    info.started = (_parse_time(summary.get("started")) or _parse_time(provenance.get("started"))
                    or _mtime(folder))
    data, session_data = _table(provenance, "data"), _table(session, "data")
    info.data_file = str(data.get("source") or session_data.get("path") or "")
    info.epochs = _int(summary.get("epochs"))
    info.max_epochs = (_int(summary.get("max_epochs"))
                       or _int(_table(session, "training").get("max_epochs")))
    if info.epochs is None and (folder / METRICS).is_file():
        try:
            info.epochs = len(read_metrics(folder / METRICS))
        except (OSError, ValueError, csv.Error) as exc:
            problems.append(f"{folder / METRICS}: {exc}")
    info.wall_time_s = _float(summary.get("wall_time_s"))
    quality = summary.get("quality")
    info.quality = quality if isinstance(quality, dict) else None
    truth = summary.get("ground_truth")
    info.ground_truth = str(truth) if truth else None
    info.error = str(summary.get("error") or "")
    return info


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, float]]:
    """Rows of a run's ``metrics.csv`` (:data:`METRIC_COLUMNS`, missing values NaN).

    Raises
    ------
    OSError, ValueError
        Unreadable file or a value that is not a number.
    """
    rows = []
    with Path(path).open(newline="", encoding="utf-8") as fh:
        for raw in csv.DictReader(fh):
            row: dict[str, float] = {}
            for key in METRIC_COLUMNS:
                text = raw.get(key, "")
                row[key] = float(text) if text not in ("", None) else math.nan
            row["epoch"] = int(row["epoch"])
            rows.append(row)
    return rows


def loss_history(path: str | os.PathLike[str]) -> tuple[list[int], dict[str, list[float]]]:
    """A run folder's epochs and loss columns from ``metrics.csv`` (empty when absent).

    Returns
    -------
    epochs : list of int
        0-based epochs.
    values : dict
        ``{"train_loss": [...], "val_loss": [...]}`` aligned with ``epochs``.
    """
    metrics = Path(path) / METRICS
    if not metrics.is_file():
        return [], {}
    rows = read_metrics(metrics)
    losses = [k for k in METRIC_COLUMNS if k.endswith("loss")]
    return [int(r["epoch"]) for r in rows], {k: [r[k] for r in rows] for k in losses}


def _read_json(path: Path, problems: list[str]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{path}: expected JSON, {exc}")
        return {}
    if not isinstance(payload, dict):
        problems.append(f"{path}: expected a JSON object, found {type(payload).__name__}")
        return {}
    return payload


def _table(payload: dict[str, Any], key: str) -> dict[str, Any]:
    """``payload[key]`` when it is a table (dict), else an empty one."""
    value = payload.get(key)
    return value if isinstance(value, dict) else {}


def _read_toml(path: Path, problems: list[str]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        problems.append(f"{path}: expected TOML, {exc}")
        return {}


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else None


@dataclass(frozen=True)
class RunState:
    """What a followed run folder showed at one poll of :func:`watch_run`.

    Attributes
    ----------
    path
        The run folder (absolute).
    info
        The folder read as in a runs table (:func:`read_run`).
    latest_metrics
        The newest row of ``metrics.csv`` (:func:`read_metrics`), None before the first epoch.
    image, image_mtime
        The newest of :data:`IMAGE_FILES` and its modification time (seconds since the epoch),
        None while there is none.
    updated
        The newest modification time of the watched files, None when there is none yet.
    stamps
        ``(name, mtime_ns, size)`` of every watched file present: what the next poll compares.
    """

    path: Path
    info: RunInfo
    latest_metrics: dict[str, float] | None
    image: Path | None
    image_mtime: float | None
    updated: float | None
    stamps: tuple[tuple[str, int, int], ...]

    @property
    def status(self) -> str:
        return self.info.status

    @property
    def epochs(self) -> int | None:
        return self.info.epochs

    @property
    def started(self) -> bool:
        """The job has begun writing (``provenance.json`` is there); a folder holding only the
        session (a queued cluster job) has not."""
        return any(name == PROVENANCE for name, _, _ in self.stamps)

    def seconds_since_update(self, now: float | None = None) -> float | None:
        """Seconds since the newest watched file changed (None when there is none)."""
        if self.updated is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.updated)


CHANGE_KINDS = frozenset({"status", "epochs", "metrics", "image", "files"})
"""What :func:`watch_run` can report as changed (all of it on a first poll)."""


@dataclass(frozen=True)
class RunChanges:
    """The answer of :func:`watch_run`: the new state and what changed since the given one
    (some of :data:`CHANGE_KINDS`; ``"files"``: any watched file)."""

    state: RunState
    changed: frozenset[str]


def watch_run(folder: str | os.PathLike[str], since: RunState | None = None) -> RunChanges:
    """What changed in ``folder`` since ``since`` (None: everything is new).

    Only the modification times and sizes of :data:`WATCHED_FILES` are read when nothing
    changed (cheap enough to call every second from a GUI); the files are read only when one
    of them changed. The writer's lock is never taken, so the writer is never held up. A
    missing or damaged folder gives an empty state with its ``problems``, never an error.
    """
    path = Path(folder).expanduser().resolve()
    stamps = _stamps(path)
    if since is not None and since.path == path and since.stamps == stamps:
        return RunChanges(since, frozenset())
    info = read_run(path)
    latest = None
    if (path / METRICS).is_file():
        try:
            rows = read_metrics(path / METRICS)
        except (OSError, ValueError, csv.Error) as exc:
            info.problems.append(f"{path / METRICS}: {exc}")
        else:
            latest = rows[-1] if rows else None
    mtimes = {name: ns / 1e9 for name, ns, _ in stamps}
    images = [(mtimes[name], name) for name in IMAGE_FILES if name in mtimes]
    newest = max(images) if images else None
    state = RunState(path=path, info=info, latest_metrics=latest,
                     image=path / newest[1] if newest else None,
                     image_mtime=newest[0] if newest else None,
                     updated=max(mtimes.values()) if mtimes else None, stamps=stamps)
    if since is None:
        return RunChanges(state, CHANGE_KINDS)
    changed = {"files"}
    if state.status != since.status:
        changed.add("status")
    if state.epochs != since.epochs:
        changed.add("epochs")
    if not _same_row(state.latest_metrics, since.latest_metrics):
        changed.add("metrics")
    if (state.image, state.image_mtime) != (since.image, since.image_mtime):
        changed.add("image")
    return RunChanges(state, frozenset(changed))


def _same_row(a: dict[str, float] | None, b: dict[str, float] | None) -> bool:
    """Two metrics rows are equal (NaN equal to NaN: a missing value did not change)."""
    if a is None or b is None:
        return a is b
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)


def _stamps(folder: Path) -> tuple[tuple[str, int, int], ...]:
    found = []
    for name in WATCHED_FILES:
        try:
            st = (folder / name).stat()
        except OSError:
            continue
        found.append((name, st.st_mtime_ns, st.st_size))
    return tuple(found)
