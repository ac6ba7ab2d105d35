"""Groups of patterns as batches: the Dataset and the LightningDataModule.

One sample is a group of ``C = gridsize**2`` neighbouring patterns
(:func:`engine.physics.group_neighbours`: one group per pattern, the pattern first). A batch
is read in one go: the patterns of all its groups are de-duplicated, read with one sorted
index array (which is what the lazy, h5py-backed pattern stacks of :mod:`engine.io` want),
and scattered back into ``(B, C, N, N)``. Small in-memory stacks and large lazy ones take the
same path, so large data are never read whole.

The split into training and validation groups is random with the run's seed; the
normalisers (:class:`engine.model.pinn.Normalisers`) come from the training groups'
patterns only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..model.pinn import Normalisers, mean_total_counts
from ..physics import group_neighbours


def _passthrough(batch: Any) -> Any:
    """Collate function of batches that :meth:`GroupDataset.__getitems__` already built."""
    return batch


class GroupDataset(Dataset):
    """Groups of patterns; ``dataset[[i, j, ...]]`` returns a whole batch.

    Parameters
    ----------
    patterns
        ``(M, N, N)`` counts: numpy array, tensor, or lazy array-like indexable by a sorted
        integer array.
    positions
        ``(M, 2)`` float64 window centres (x, y) in object pixels.
    groups
        ``(G, C)`` pattern indices.
    """

    def __init__(self, patterns: Any, positions: np.ndarray, groups: np.ndarray) -> None:
        self.patterns = torch.from_numpy(patterns) if isinstance(patterns, np.ndarray) \
            else patterns
        self.positions = np.asarray(positions, dtype=np.float64)
        self.groups = np.asarray(groups, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.groups.shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.__getitems__([index]).items()}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        """A batch: counts ``(B, C, N, N)``, offsets/positions ``(B, C, 2)``, index ``(B, C)``."""
        idx = self.groups[np.asarray(indices, dtype=np.int64)]
        unique, inverse = np.unique(idx.reshape(-1), return_inverse=True)
        block = self.patterns[torch.from_numpy(unique) if torch.is_tensor(self.patterns)
                              else unique]
        block = torch.as_tensor(np.asarray(block) if not torch.is_tensor(block) else block,
                                dtype=torch.float32)
        counts = block[torch.from_numpy(inverse)].reshape(*idx.shape, *block.shape[-2:])
        pos = self.positions[idx]
        offsets = pos - pos.mean(axis=1, keepdims=True)
        return {
            "counts": counts,
            "offsets": torch.from_numpy(offsets.astype(np.float32)),
            "positions": torch.from_numpy(pos),
            "index": torch.from_numpy(idx),
        }


@dataclass(frozen=True)
class Split:
    """Which groups train and which validate."""

    groups: np.ndarray
    train: np.ndarray
    val: np.ndarray

    @property
    def train_patterns(self) -> np.ndarray:
        return np.unique(self.groups[self.train].reshape(-1))


def make_split(positions: np.ndarray, gridsize: int, n_neighbours: int, val_fraction: float,
               seed: int) -> Split:
    """Groups (one per pattern) and a seeded random train/validation split of them."""
    groups = group_neighbours(positions, gridsize, n_neighbours, seed)
    order = np.random.default_rng(seed).permutation(len(groups))
    n_val = int(round(val_fraction * len(groups)))
    if val_fraction > 0 and len(groups) > 1:
        n_val = min(max(n_val, 1), len(groups) - 1)
    else:
        n_val = 0
    return Split(groups=groups, train=np.sort(order[n_val:]), val=np.sort(order[:n_val]))


def max_offset_px(positions: np.ndarray, groups: np.ndarray) -> float:
    """Largest distance of a group member from its group centroid, per axis (pixels)."""
    pos = positions[groups]
    return float(np.abs(pos - pos.mean(axis=1, keepdims=True)).max()) if groups.size else 0.0


class GroupDataModule(L.LightningDataModule):
    """Training and validation loaders over the groups of one dataset.

    Parameters
    ----------
    patterns, positions
        The data (see :class:`GroupDataset`).
    split
        Groups and their split (:func:`make_split`).
    batch_size
        Groups per batch.
    num_workers, pin_memory, persistent_workers
        DataLoader settings from the execution config.
    seed
        Seed of the shuffling generator (reruns see batches in the same order).
    """

    def __init__(self, patterns: Any, positions: np.ndarray, split: Split, batch_size: int,
                 num_workers: int, pin_memory: bool, persistent_workers: bool,
                 seed: int) -> None:
        super().__init__()
        self.split = split
        self.batch_size = int(batch_size)
        self.loader_kw: dict[str, Any] = {
            "num_workers": int(num_workers), "pin_memory": bool(pin_memory),
            "persistent_workers": bool(persistent_workers) and num_workers > 0}
        self.seed = int(seed)
        self.train_set = GroupDataset(patterns, positions, split.groups[split.train])
        self.val_set = GroupDataset(patterns, positions, split.groups[split.val])

    def normalisers(self, N: int) -> Normalisers:
        """Input and loss normalisers from the training groups' patterns."""
        return Normalisers.from_mean_counts(
            mean_total_counts(self.train_set.patterns, self.split.train_patterns), N)

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True,
                          collate_fn=_passthrough, generator=generator, **self.loader_kw)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.batch_size, shuffle=False,
                          collate_fn=_passthrough, **self.loader_kw)
