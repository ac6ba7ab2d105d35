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

A beamtime training (:class:`BeamtimeDataModule`) streams :class:`SimulatedGroups` instead:
groups of the measured scan's own geometry cut from objects simulated on the fly under its
probe, dose and detector mask (never stored), each batch carrying the true patches, mixed with
batches of the measured training groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from ..model.pinn import Normalisers, mean_total_counts
from ..physics import extract_patches, forward_intensity, group_neighbours
from ..simulation.objects import TRAINING_KINDS, random_object


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
    bad_pixels
        ``(N, N)`` bool detector mask (True: bad) or None; every batch then carries it as
        ``"mask"`` and the losses leave those pixels out.
    """

    def __init__(self, patterns: Any, positions: np.ndarray, groups: np.ndarray,
                 bad_pixels: Any = None) -> None:
        self.patterns = torch.from_numpy(patterns) if isinstance(patterns, np.ndarray) \
            else patterns
        self.positions = np.asarray(positions, dtype=np.float64)
        self.groups = np.asarray(groups, dtype=np.int64)
        self.bad = None if bad_pixels is None or not np.any(bad_pixels) else \
            torch.as_tensor(np.asarray(bad_pixels, dtype=bool))

    def __len__(self) -> int:
        return int(self.groups.shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: v if k == "mask" else v[0] for k, v in self.__getitems__([index]).items()}

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
        batch = {
            "counts": counts,
            "offsets": torch.from_numpy(offsets.astype(np.float32)),
            "positions": torch.from_numpy(pos),
            "index": torch.from_numpy(idx),
        }
        if self.bad is not None:
            batch["mask"] = self.bad
        return batch


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
    bad_pixels
        The detector mask (:class:`GroupDataset`), or None.
    """

    def __init__(self, patterns: Any, positions: np.ndarray, split: Split, batch_size: int,
                 num_workers: int, pin_memory: bool, persistent_workers: bool,
                 seed: int, bad_pixels: Any = None) -> None:
        super().__init__()
        self.split = split
        self.batch_size = int(batch_size)
        self.loader_kw: dict[str, Any] = {
            "num_workers": int(num_workers), "pin_memory": bool(pin_memory),
            "persistent_workers": bool(persistent_workers) and num_workers > 0}
        self.seed = int(seed)
        self.train_set = GroupDataset(patterns, positions, split.groups[split.train], bad_pixels)
        self.val_set = GroupDataset(patterns, positions, split.groups[split.val], bad_pixels)

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


def _group_boxes(positions: np.ndarray, groups: np.ndarray, N: int) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """First pixel and one-past-last pixel (x, y) of each group's windows, ``(G, 2)`` each.

    The window of a centre ``x`` starts at ``floor(x - (N - 1) / 2)`` and a sub-pixel shift
    reads one pixel beyond its N (see :func:`engine.physics.extract_patches`).
    """
    starts = np.floor(positions[groups] - (N - 1) / 2)
    return starts.min(axis=1).astype(np.int64), starts.max(axis=1).astype(np.int64) + N + 1


class SimulatedGroups(IterableDataset):
    """Batches of groups simulated on the fly under a measured scan's conditions.

    Every simulated batch takes ``batch_size`` groups of the scan (their positions with
    their sub-pixel parts, so their geometry is the scan's), moved by whole pixels onto
    random places of a fresh random object (:func:`engine.simulation.objects.random_object`,
    one per ``groups_per_object`` groups, only as large as the groups need), cuts the true
    patches, predicts counts with the forward model and the scan's probe (which carries its
    dose), draws Poisson noise and zeroes the detector's bad pixels. Nothing is stored.
    With probability ``measured_fraction`` a batch is instead one of the measured training
    groups (no ``truth``: the physics loss alone).

    Parameters
    ----------
    probe
        Complex ``(M, N, N)`` probe scaled to counts (the data's, or the solver's refined one).
    positions
        ``(P, 2)`` scan positions.
    groups
        ``(G, C)`` groups of the scan to imitate.
    batch_size, steps
        Groups per batch and batches per epoch (``len(self)``).
    measured
        :class:`GroupDataset` of the measured training groups, or None.
    measured_fraction
        Share of measured batches.
    kinds, amplitude_min, phase_max, groups_per_object
        The objects drawn (:func:`random_object`) and how many groups each one gives.
    bad_pixels
        ``(N, N)`` bool detector mask (True: bad, zeroed as in the measured data), or None.
    seed
        Seed of the stream; epoch ``e`` (and data-loader worker ``w``) draw their own objects.
    """

    def __init__(self, probe: Any, positions: np.ndarray, groups: np.ndarray, *,
                 batch_size: int, steps: int, measured: GroupDataset | None,
                 measured_fraction: float, kinds: tuple[str, ...], amplitude_min: float,
                 phase_max: float, groups_per_object: int, bad_pixels: Any,
                 seed: int) -> None:
        super().__init__()
        probe_t = torch.as_tensor(np.asarray(probe), dtype=torch.complex64)
        self.probe = probe_t.reshape(-1, *probe_t.shape[-2:])
        self.N = int(self.probe.shape[-1])
        self.positions = np.asarray(positions, dtype=np.float64)
        self.groups = np.asarray(groups, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.steps = int(steps)
        self.measured = measured if measured is not None and len(measured) else None
        self.measured_fraction = float(measured_fraction) if self.measured is not None else 0.0
        self.kinds = tuple(kinds)
        self.amplitude_min = float(amplitude_min)
        self.phase_max = float(phase_max)
        self.groups_per_object = max(1, int(groups_per_object))
        self.bad = None if bad_pixels is None else torch.as_tensor(
            np.asarray(bad_pixels, dtype=bool))
        self.seed = int(seed)
        self.epoch = 0
        lo, hi = _group_boxes(self.positions, self.groups, self.N)
        self.lo, self.hi = lo, hi
        span = int((hi - lo).max()) if len(self.groups) else self.N + 1
        # Room for the groups of one object to land in different places.
        self.tile = span + self.N

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Any:
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        # A worker holds a copy made for this epoch (its epoch count never advances): its
        # seed, which the DataLoader draws anew for every epoch, tells the epochs apart.
        epoch = self.epoch if info is None else int(info.seed) % 2**63
        rng = np.random.default_rng([self.seed, epoch, worker, 0xBEA7])
        self.epoch += 1
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        for _ in range(worker, self.steps, workers):
            if self.measured is not None and rng.uniform() < self.measured_fraction:
                idx = rng.choice(len(self.measured), size=min(self.batch_size,
                                                               len(self.measured)),
                                 replace=False)
                yield self.measured.__getitems__(idx.tolist())
            else:
                yield self.simulate_batch(rng, generator)

    def simulate_batch(self, rng: np.random.Generator,
                       generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """One batch of simulated groups: counts, offsets, positions, index and ``truth``."""
        B, n, T = self.batch_size, self.N, self.tile
        chosen = rng.integers(len(self.groups), size=B)
        pos = np.empty((B, self.groups.shape[1], 2))
        truth = torch.empty((B, self.groups.shape[1], n, n), dtype=torch.complex64)
        obj_t = None
        for b, g in enumerate(chosen):
            if b % self.groups_per_object == 0:
                obj = random_object((T, T), rng, self.kinds, amplitude_min=self.amplitude_min,
                                    phase_max=self.phase_max)
                obj_t = torch.from_numpy(obj)
            shift = np.array([rng.integers(-self.lo[g][k], T - self.hi[g][k] + 1)
                              for k in range(2)], dtype=np.float64)
            pos[b] = self.positions[self.groups[g]] + shift
            truth[b] = extract_patches(obj_t, torch.from_numpy(pos[b]), n)
        with torch.no_grad():
            expected = forward_intensity(truth, self.probe).clamp(min=0.0)
            counts = torch.poisson(expected, generator=generator).to(torch.float32)
        if self.bad is not None:
            counts = counts.masked_fill(self.bad, 0.0)
        offsets = pos - pos.mean(axis=1, keepdims=True)
        return {
            "counts": counts,
            "offsets": torch.from_numpy(offsets.astype(np.float32)),
            "positions": torch.from_numpy(pos),
            "index": torch.from_numpy(self.groups[chosen]),
            "truth": truth,
        }


class BeamtimeDataModule(GroupDataModule):
    """:class:`GroupDataModule` whose training loader streams :class:`SimulatedGroups` mixed
    with the measured training groups; validation stays on the measured groups (physics
    loss), so ``val_loss`` says how the network does on the scan itself.

    Parameters
    ----------
    patterns, positions, split, batch_size, num_workers, pin_memory, persistent_workers, seed
        As :class:`GroupDataModule`.
    probe, bad_pixels
        The conditions simulated (probe scaled to counts; detector mask or None).
    beamtime
        The ``beamtime`` settings (:class:`engine.config.schema.BeamtimeConfig`).
    """

    def __init__(self, patterns: Any, positions: np.ndarray, split: Split, batch_size: int,
                 num_workers: int, pin_memory: bool, persistent_workers: bool, seed: int, *,
                 probe: Any, bad_pixels: Any, beamtime: Any) -> None:
        super().__init__(patterns, positions, split, batch_size, num_workers, pin_memory,
                         persistent_workers, seed)
        self.stream = SimulatedGroups(
            probe, positions, split.groups, batch_size=batch_size,
            steps=beamtime.steps_per_epoch, measured=self.train_set,
            measured_fraction=beamtime.measured_fraction,
            kinds=object_kinds(beamtime.object_kinds),
            amplitude_min=beamtime.amplitude_min, phase_max=beamtime.phase_max,
            groups_per_object=beamtime.groups_per_object, bad_pixels=bad_pixels, seed=seed)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.stream, batch_size=None, collate_fn=_passthrough,
                          **self.loader_kw)


def object_kinds(text: str) -> tuple[str, ...]:
    """``beamtime.object_kinds`` parsed; unknown or no kinds raise a ConfigError."""
    from ..errors import ConfigError

    kinds = tuple(k.strip() for k in str(text).split(",") if k.strip())
    unknown = [k for k in kinds if k not in TRAINING_KINDS]
    if unknown or not kinds:
        raise ConfigError([f"beamtime.object_kinds: expected a comma-separated list of "
                           f"{', '.join(TRAINING_KINDS)}, found {text!r}"])
    return kinds
