"""Groups of neighbouring scan positions for gridsize > 1 (physics.md §4)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.spatial import cKDTree


def group_neighbours(positions: np.ndarray, gridsize: int, n_neighbours: int, seed: int,
                     n_groups: int | None = None) -> np.ndarray:
    """Form groups of C = gridsize^2 neighbouring patterns.

    Each group has an anchor pattern and C - 1 members drawn at random (without replacement)
    from the anchor's ``n_neighbours`` nearest other positions (capped at M - 1).

    Order of members: the anchor first, then the chosen neighbours by increasing distance to
    the anchor (ties: the k-d tree's order). The result depends only on the inputs and
    ``seed``.

    Parameters
    ----------
    positions
        ``(M, 2)`` scan positions ``(x, y)`` in object pixels.
    gridsize
        Group side; C = gridsize^2. 1 returns ``arange(M)[:, None]``.
    n_neighbours
        K, the number of nearest neighbours to draw from (K >= C - 1).
    seed
        Random seed of the draws (and of the anchor sample).
    n_groups
        None: one group per pattern, anchors in order. Otherwise that many anchors are sampled
        (without replacement while n_groups <= M).

    Returns
    -------
    np.ndarray
        int64 ``(G, C)`` pattern indices.
    """
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 2:
        raise ValueError(f"positions: expected shape (M, 2), found {pos.shape}")
    m = pos.shape[0]
    c = int(gridsize) ** 2
    if gridsize < 1:
        raise ValueError(f"gridsize: expected >= 1, found {gridsize}")
    rng = np.random.default_rng(seed)
    if n_groups is None:
        anchors = np.arange(m)
    else:
        anchors = rng.choice(m, size=int(n_groups), replace=int(n_groups) > m)
    if c == 1:
        return anchors.astype(np.int64)[:, None]
    k = min(int(n_neighbours), m - 1)
    if k < c - 1:
        raise ValueError(
            f"group_neighbours: gridsize {gridsize} needs {c - 1} neighbours per pattern, but "
            f"n_neighbours = {n_neighbours} with {m} positions allows only {k}")
    _, near = cKDTree(pos).query(pos[anchors], k=k + 1)
    groups = np.empty((len(anchors), c), dtype=np.int64)
    for row, (anchor, cand) in enumerate(zip(anchors, near, strict=True)):
        # Drop the anchor itself wherever the tree put it (duplicates may precede it).
        others = cand[cand != anchor][:k]
        chosen = np.sort(rng.choice(len(others), size=c - 1, replace=False))
        groups[row, 0] = anchor
        groups[row, 1:] = others[chosen]
    return groups


def group_offsets(positions_of_group: Any) -> Any:
    """Positions relative to their group centroid: ``(B, C, 2)`` -> ``(B, C, 2)``.

    Accepts numpy arrays or tensors and returns the same kind.
    """
    if torch.is_tensor(positions_of_group):
        return positions_of_group - positions_of_group.mean(dim=-2, keepdim=True)
    pos = np.asarray(positions_of_group, dtype=np.float64)
    return pos - pos.mean(axis=-2, keepdims=True)
