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
"""

from __future__ import annotations

import csv
import json
import math
import os
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
