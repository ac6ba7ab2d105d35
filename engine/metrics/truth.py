"""Where a dataset's ground truth is found, and the quality of a reconstruction against it.

Rule (docs/training.md), first match wins:

1. ``truth.h5`` (a ptychodus product holding the true object, as ``ptycho-engine simulate``
   writes) in the data's folder: the folder itself for a standard-layout folder, else the
   folder of the data file;
2. the data file's own ``objectGuess`` when its ``_metadata`` says the file was written by
   ``ptycho-engine simulate`` (there the object guess *is* the truth; in other NPZ files it is
   only an initial guess and is never used as truth).

Without either, runs report no quality metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

TRUTH_FILE = "truth.h5"
SIMULATOR_TAG = "ptycho-engine simulate"


def find_ground_truth(source: str, metadata: dict[str, Any] | None = None,
                      object_guess: np.ndarray | None = None
                      ) -> tuple[np.ndarray, str] | None:
    """The true object ``(complex (H, W), where it came from)``, or None.

    Parameters
    ----------
    source
        The data path (file or standard-layout folder).
    metadata, object_guess
        What the loaded data say about themselves (``PtychoData.metadata``/``object_guess``).
    """
    from ..io import read_product

    path = Path(source)
    folder = path if path.is_dir() else path.parent
    candidate = folder / TRUTH_FILE
    if candidate.is_file() and candidate.resolve() != path.resolve():
        try:
            return np.asarray(read_product(candidate).object), str(candidate)
        except DataError:
            pass  # an unreadable truth file means "no ground truth", not a failed run
    meta = metadata or {}
    if object_guess is not None and SIMULATOR_TAG in str(meta.get("generator", "")):
        return np.asarray(object_guess), f"{path} (objectGuess of a simulated dataset)"
    return None


def probe_radius_px(probe: np.ndarray, fraction: float = 0.9) -> int:
    """Radius (px) of the disk around the probe's centroid holding ``fraction`` of its energy."""
    intensity = (np.abs(np.asarray(probe)) ** 2).reshape(-1, *np.shape(probe)[-2:]).sum(axis=0)
    total = float(intensity.sum())
    if total <= 0:
        return 0
    rows, cols = np.indices(intensity.shape)
    cy = float((rows * intensity).sum() / total)
    cx = float((cols * intensity).sum() / total)
    r = np.hypot(rows - cy, cols - cx).reshape(-1)
    order = np.argsort(r)
    cumulative = np.cumsum(intensity.reshape(-1)[order])
    k = int(np.searchsorted(cumulative, fraction * total))
    return int(np.ceil(r[order][min(k, r.size - 1)]))


def quality(obj: np.ndarray, truth: np.ndarray, probe: np.ndarray) -> dict[str, Any] | None:
    """:func:`engine.metrics.evaluate` on the scanned region minus a probe-radius border.

    No registration: positions are known and not refined, so the reconstruction lives on the
    truth's pixel grid (registering an early, poor reconstruction finds spurious shifts).
    Returns None when the two cannot be compared (e.g. nothing illuminated in common).
    """
    from ..metrics import evaluate

    try:
        return evaluate(obj, truth, border=probe_radius_px(probe), register=False)
    except DataError:
        return None
