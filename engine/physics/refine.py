"""Full-object iterative refinement (physics.md §8b): mini-batched LSQML-class solver.

The whole object (not one group at a time) is refined against every measured pattern, one
random mini-batch of scan positions after another, starting from a given estimate (the
network's stitched object) or from a flat object. Each batch:

1. cut the batch's object windows (integer window + exact Fourier sub-pixel shift, the
   engine's one extraction convention; the shift is skipped for whole-pixel positions);
2. far field ``Psi = fft2(P_m * O_j)`` of every probe mode, intensity ``I = sum_m |Psi_m|^2``;
3. exit-wave update ``chi = ifft2(r * Psi)``, with ``r = sqrt(y / I) - 1`` (Gaussian noise on
   amplitudes, the amplitude projection) or ``r = (y / I - 1) / 2`` (Poisson maximum
   likelihood: the Poisson gradient, scaled to agree with the former where ``I ~ y``);
4. object direction ``d = sum_j conj(P) chi_j / (sum_j |P|^2 + delta max sum_j |P|^2)`` summed
   in place (the adjoint of step 1), and a step length ``beta`` solved in closed form as the
   least-squares fit of ``P d_j`` to ``chi_j`` over the batch (the LSQML step);
5. with probe refinement (after ``probe_start_epoch`` object-only epochs) the same with ``O`` and
   ``P`` swapped, summed over the batch; afterwards the modes are orthogonalised and the probe's
   total power is held at its starting value (the loader fits it to the data's mean counts).

After every epoch a momentum step (mPIE-like, ``O += mu * v`` with ``v`` the running sum of
epoch changes) accelerates the slowly converging low spatial frequencies, and an optional
smoothness prior (one Laplacian step of weight ``smoothness``, raised for data of lower dose:
:func:`effective_smoothness`) damps the noise that an unregularised solver fits at the end.
The data misfit of every epoch is recorded: the Poisson deviance per detector pixel, ``2
sum(I - y - y log(I / y)) / (M N^2)`` (0 for a perfect fit; about 1 per pixel of high counts
for a model that fits the data to the photon noise); the object (and probe) of the epoch
with the lowest misfit is kept and returned, also when the stop token ends the run early,
and the run stops by itself when the misfit has not improved by ``tolerance`` for
``patience`` epochs.

Settings come from the schema section :class:`engine.config.RefinementConfig`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ..reporting import Clock, Progress, Reporter, StopToken, stop_requested
from .fourier import fourier_shift
from .losses import poisson_nll
from .tensors import as_complex, as_positions
from .windows import check_in_bounds, scatter_windows, split_positions, window_flat_index

NOISE_MODELS = ("poisson", "gaussian")
"""Noise models of the exit-wave update (see the module docstring)."""

SUBPIXEL_EPS = 1e-6
"""Batches whose sub-pixel fractions are all below this (px) skip the Fourier shifts."""

RATIO_CLIP = 20.0
"""Upper bound of ``y / I`` in the Poisson update: pixels the model predicts almost dark but
that caught photons would otherwise dominate the first epochs' steps."""

MAX_UPDATE_ELEMENTS = 1 << 25
"""Largest ``patterns x modes x N x N`` of one update (about 256 MiB per complex temporary):
bigger batches are split, which bounds memory and the time between stop checks."""

CHUNK = 64
"""Patterns processed together inside one update (cache-sized on a CPU)."""

MAX_STEP = 2.0
"""Upper bound of the closed-form step length ``beta`` (LSQML clips it the same way)."""

SMOOTHNESS_DOSE_EXPONENT = 0.18
"""The smoothness prior grows as ``(reference fluence / fluence) ** 0.18`` for data of lower
dose (photon noise grows as fluence ** -0.5, and the weight that maximised SSIM on
``images_b`` at 1x, 0.1x and 0.01x of its dose was 0.1, 0.15 and 0.2; docs/performance.md)."""

SMOOTHNESS_MAX = 0.25
"""Largest Laplacian step per epoch: above it the prior and momentum oscillate."""


def effective_smoothness(smoothness: float, reference_fluence: float, fluence: float) -> float:
    """The smoothness prior's weight for data of ``fluence`` photons per illuminated object
    pixel: ``smoothness`` at ``reference_fluence``, scaled by the dose (see
    :data:`SMOOTHNESS_DOSE_EXPONENT`), at most :data:`SMOOTHNESS_MAX`; unscaled when either
    fluence is not positive."""
    weight = float(smoothness)
    if weight <= 0 or not (reference_fluence > 0 and fluence > 0):
        return weight
    scaled = weight * (float(reference_fluence) / float(fluence)) ** SMOOTHNESS_DOSE_EXPONENT
    return min(SMOOTHNESS_MAX, scaled)


@dataclass
class RefineResult:
    """What :func:`refine_object` returns.

    Attributes
    ----------
    obj
        complex64 ``(H, W)`` best object (lowest misfit); NaN where not illuminated.
    mask
        bool ``(H, W)``, True where illuminated.
    probe
        complex64 ``(modes, N, N)``: the refined probe, or the given one.
    misfit
        Per completed epoch, the data misfit (Poisson deviance per detector pixel): lower is
        better.
    best_epoch
        Epoch (1-based) whose object is returned; 0 = the starting object.
    epochs
        Epochs completed.
    seconds
        Wall time.
    completed
        False when the stop token ended the run.
    stopped_early
        True when the misfit stopped improving (``patience``).
    n_patterns
        Patterns per epoch.
    fluence
        Photons per illuminated object pixel of the data.
    smoothness
        The smoothness prior's weight used (``settings.smoothness`` scaled by the dose).
    """

    obj: np.ndarray
    mask: np.ndarray
    probe: np.ndarray
    misfit: list[float] = field(default_factory=list)
    best_epoch: int = 0
    epochs: int = 0
    seconds: float = 0.0
    completed: bool = True
    stopped_early: bool = False
    n_patterns: int = 0
    fluence: float = 0.0
    smoothness: float = 0.0

    @property
    def patterns_per_s(self) -> float:
        """Pattern updates per second over the whole run."""
        return self.n_patterns * self.epochs / self.seconds if self.seconds > 0 else float("nan")


class _Data:
    """Counts on the device, ifftshifted once (so plain ``fft2`` output is compared), or read
    batch by batch from a lazy (on-disk) array."""

    def __init__(self, patterns: Any, bad_pixels: Any, device: torch.device) -> None:
        self.device = device
        self.lazy = not isinstance(patterns, (np.ndarray, torch.Tensor))
        self.patterns = patterns
        if not self.lazy:
            self.counts = self._prepare(patterns)
        self.valid = None
        if bad_pixels is not None and np.any(bad_pixels):
            good = ~torch.as_tensor(np.asarray(bad_pixels, bool), device=device)
            self.valid = torch.fft.ifftshift(good, dim=(-2, -1))

    def _prepare(self, counts: Any) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(counts, np.float32) if not torch.is_tensor(counts)
                            else counts).to(self.device, torch.float32)
        return torch.fft.ifftshift(t.clamp(min=0), dim=(-2, -1))

    def batch(self, index: np.ndarray) -> torch.Tensor:
        if not self.lazy:
            return self.counts[torch.as_tensor(index, device=self.device)]
        order = np.argsort(index)
        counts = np.empty((len(index),) + tuple(self.patterns.shape[1:]), np.float32)
        counts[order] = np.asarray(self.patterns[index[order]], np.float32)
        return self._prepare(counts)


def _orthogonalise(probe: torch.Tensor) -> torch.Tensor:
    """Orthogonal modes spanning the same incoherent sum, strongest first (SVD)."""
    if probe.shape[0] == 1:
        return probe
    k, n = probe.shape[0], probe.shape[-1]
    u, s, vh = torch.linalg.svd(probe.reshape(k, n * n), full_matrices=False)
    return (s[:, None].to(vh.dtype) * vh).reshape(k, n, n)


def _laplacian(obj: torch.Tensor) -> torch.Tensor:
    """5-point Laplacian with replicated edges."""
    padded = torch.nn.functional.pad(torch.view_as_real(obj).permute(2, 0, 1)[None],
                                     (1, 1, 1, 1), mode="replicate")[0].permute(1, 2, 0)
    p = torch.view_as_complex(padded.contiguous())
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * obj


class Refiner:
    """One refinement problem: data, positions, probe, object, and the solver's state.

    Use :func:`refine_object` for a whole run; the class exists so benchmarks and tests can
    step epochs themselves (:meth:`epoch`) and read the state between them.

    Parameters
    ----------
    patterns
        Counts ``(M, N, N)`` (numpy, tensor, or a lazy array sliced batch by batch).
    positions
        ``(M, 2)`` window centres ``(x, y)`` in object pixels.
    probe
        Complex ``(modes, N, N)`` or ``(N, N)`` in count units.
    object_shape
        ``(H, W)`` of the object.
    settings
        :class:`engine.config.RefinementConfig` (or any object with its attributes).
    seed
        Seed of the mini-batch order and of extra probe modes (``execution.seed``).
    initial
        Complex ``(H, W)`` starting object (NaN pixels are filled with the mean of the finite
        ones), or None for a flat ``1 + 0j`` start.
    bad_pixels
        ``(N, N)`` bool, True = excluded from the misfit and the updates.
    device
        Where every tensor lives.
    """

    def __init__(self, patterns: Any, positions: Any, probe: Any, object_shape: tuple[int, int],
                 settings: Any, *, seed: int, initial: Any = None, bad_pixels: Any = None,
                 device: torch.device | str = "cpu") -> None:
        if settings.noise_model not in NOISE_MODELS:
            raise ValueError(f"refinement.noise_model: expected one of {NOISE_MODELS}, found "
                             f"{settings.noise_model!r}")
        self.settings = settings
        self.device = torch.device(device)
        p = as_complex(probe, device=self.device).to(torch.complex64)
        self.probe = p[None] if p.ndim == 2 else p
        self.n = int(self.probe.shape[-1])
        self.shape = (int(object_shape[0]), int(object_shape[1]))
        pos = as_positions(positions, device=self.device)
        self.m = int(pos.shape[0])
        self.starts, frac = split_positions(pos, self.n)
        check_in_bounds(self.starts, self.n, self.shape, "object")
        self.frac = frac.to(torch.float32)
        self.subpixel = bool((self.frac.abs() > SUBPIXEL_EPS).any())
        self.data = _Data(patterns, bad_pixels, self.device)
        if len(patterns) != self.m:
            raise ValueError(f"refine: {len(patterns)} patterns but {self.m} positions")
        self.mean_count = self._mean_count()
        self.saturated = self._saturated_nll()
        self.power = float(self.probe.abs().square().sum())
        self.rng = np.random.default_rng(int(seed))
        self.probe = self._with_modes(int(settings.probe_modes))
        self.obj = self._start(initial)
        self.mask = self._illuminated()
        # photons per illuminated object pixel: the dose that sets the smoothness prior
        self.fluence = self.mean_count * self.m / max(1.0, float(self.mask.sum()))
        self.smoothness = effective_smoothness(float(settings.smoothness),
                                               float(settings.smoothness_fluence), self.fluence)
        self.velocity = torch.zeros_like(self.obj)
        self.epochs_done = 0
        self._all_index: torch.Tensor | None = None

    # -- set-up ------------------------------------------------------------------------------
    def _mean_count(self) -> float:
        if not self.data.lazy:
            return float(self.data.counts.sum(dim=(-2, -1)).mean().clamp(min=1e-12))
        idx = np.linspace(0, self.m - 1, min(self.m, 256)).astype(np.int64)
        return max(1e-12, float(self.data.batch(idx).sum(dim=(-2, -1)).mean()))

    def _saturated_nll(self) -> float:
        """``sum(y - y log y)`` over all data: the NLL of a model that predicts the counts."""
        total = 0.0
        for first in range(0, self.m, 1024):
            counts = self.data.batch(np.arange(first, min(self.m, first + 1024)))
            total += float(poisson_nll(counts, counts, self._bad()).sum())
        return total

    def _deviance(self, nll: float) -> float:
        """Poisson deviance per detector pixel from a summed NLL over all patterns."""
        return 2.0 * (nll - self.saturated) / (self.m * self.n * self.n)

    def _start(self, initial: Any) -> torch.Tensor:
        if initial is None:
            return torch.ones(self.shape, dtype=torch.complex64, device=self.device)
        obj = as_complex(initial, device=self.device).to(torch.complex64).clone()
        if tuple(obj.shape) != self.shape:
            raise ValueError(f"refine: starting object {tuple(obj.shape)} does not match the "
                             f"object shape {self.shape}")
        finite = torch.isfinite(obj.real) & torch.isfinite(obj.imag)
        fill = obj[finite].mean() if bool(finite.any()) else torch.ones((), dtype=obj.dtype)
        return torch.where(finite, obj, fill.to(obj.dtype))

    def _with_modes(self, modes: int) -> torch.Tensor:
        """The probe with ``modes`` modes: extra ones are the first mode times a weak random
        phase screen (10 % of the power between them), orthogonalised; power unchanged."""
        have = int(self.probe.shape[0])
        if modes <= have:
            return self.probe
        first = self.probe[0]
        extra = []
        for _ in range(modes - have):
            screen = torch.as_tensor(self.rng.uniform(-np.pi, np.pi, (self.n, self.n)),
                                     dtype=torch.float32, device=self.device)
            extra.append(first * torch.polar(torch.ones_like(screen), screen))
        added = torch.stack(extra) * math.sqrt(0.1 / (modes - have))
        probe = _orthogonalise(torch.cat([self.probe, added]))
        return probe * math.sqrt(self.power / float(probe.abs().square().sum()))

    def _illuminated(self) -> torch.Tensor:
        weight = self.probe.abs().square().sum(dim=0)
        total = torch.zeros(self.shape, dtype=torch.float32, device=self.device)
        for first in range(0, self.m, 1024):
            st = self.starts[first:first + 1024]
            total += scatter_windows(weight.expand(st.shape[0], -1, -1)[None], st[None],
                                     self.shape)[0]
        return total >= 1e-3 * float(total.max())

    # -- windows ---------------------------------------------------------------------------
    def _index(self, idx: torch.Tensor | None) -> torch.Tensor:
        """Flat object indexes ``(B, N, N)`` of the batch's integer windows (all: None)."""
        if idx is None:
            if self._all_index is None:
                self._all_index = window_flat_index(self.starts[None], self.n, self.shape)[0]
            return self._all_index
        return window_flat_index(self.starts[idx][None], self.n, self.shape)[0]

    def _extract(self, canvas: torch.Tensor, flat: torch.Tensor,
                 frac: torch.Tensor | None) -> torch.Tensor:
        windows = canvas.reshape(-1)[flat]
        return windows if frac is None else fourier_shift(windows, frac)

    def _bad(self) -> torch.Tensor | None:
        return None if self.data.valid is None else ~self.data.valid

    def _batch(self, index: np.ndarray | slice
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, int]:
        """Counts, flat window indexes, sub-pixel fractions (None: whole pixels), size of a
        chunk of patterns given by index array or by a slice of the scan (read without a
        copy when the data are in memory)."""
        if isinstance(index, slice):
            rows = np.arange(self.m)[index]
            counts = self.data.counts[index] if not self.data.lazy else self.data.batch(rows)
            frac = self.frac[index] if self.subpixel else None
            flat = self._index(None)[index]
            return counts, flat, frac, len(rows)
        idx = torch.as_tensor(index, device=self.device)
        frac = self.frac[idx] if self.subpixel else None
        return self.data.batch(index), self._index(idx), frac, len(index)

    # -- one batch ---------------------------------------------------------------------------
    def _exit_wave_update(self, psi: torch.Tensor, counts: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        """``chi`` (B, modes, N, N) and the batch's summed Poisson NLL."""
        far = torch.fft.fft2(psi, norm="ortho")
        intensity = far.real.square().add_(far.imag.square()).sum(dim=1)
        nll = poisson_nll(intensity, counts, self._bad()).sum()
        eps = 1e-6 * self.mean_count / (self.n * self.n)
        ratio = counts / intensity.add_(eps)
        if self.settings.noise_model == "gaussian":
            ratio = ratio.sqrt_().sub_(1.0)
        else:
            ratio = ratio.clamp_(max=RATIO_CLIP).sub_(1.0).mul_(0.5)
        if self.data.valid is not None:
            ratio = ratio * self.data.valid
        return torch.fft.ifft2(far.mul_(ratio[:, None]), norm="ortho"), nll

    @torch.no_grad()
    def _step(self, index: np.ndarray | None, probe_update: bool) -> float:
        """One object (and probe) update from a batch (None: every pattern, in scan order).

        The batch is processed in cache-sized chunks of :data:`CHUNK` patterns (about twice
        as fast on a CPU as one large tensor); the update itself is one step for the batch.
        """
        size = self.m if index is None else len(index)
        chunks = [slice(first, min(size, first + CHUNK)) if index is None
                  else index[first:first + CHUNK] for first in range(0, size, CHUNK)]
        probe = self.probe                                           # (K, N, N)
        weight = (probe.real.square() + probe.imag.square()).sum(dim=0)
        delta = float(self.settings.regularisation)
        area = self.shape[0] * self.shape[1]
        num = torch.zeros(area, dtype=probe.dtype, device=self.device)
        den = torch.zeros(area, dtype=weight.dtype, device=self.device)
        kept: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]] = []
        exits: list[tuple[torch.Tensor, torch.Tensor]] = []  # (patches, chi) for the probe
        nll = 0.0
        for chunk in chunks:
            counts, flat, frac, n_chunk = self._batch(chunk)
            patches = self._extract(self.obj, flat, frac)            # (B, N, N)
            chi, chunk_nll = self._exit_wave_update(patches[:, None] * probe[None], counts)
            nll += float(chunk_nll)
            # Object direction d = sum conj(P) chi / (sum |P|^2 + delta max). With
            # g_j = sum_m conj(P_m) chi_jm, <P d_j, chi_j> = <d_j, g_j> and ||P d_j||^2 =
            # sum |d_j|^2 |P|^2, so the least-squares step needs no second exit wave.
            if probe.shape[0] > 1 or probe_update:
                g = (probe.conj()[None] * chi).sum(dim=1)
            else:  # one mode and chi not needed again: reuse its memory
                g = chi[:, 0].mul_(probe[0].conj())
            placed = g if frac is None else fourier_shift(g, -frac)
            num.index_add_(0, flat.reshape(-1), placed.reshape(-1))
            den.index_add_(0, flat.reshape(-1), weight.expand(n_chunk, -1, -1).reshape(-1))
            kept.append((flat, frac, g))
            if probe_update:
                exits.append((patches, chi))
        den = den.reshape(self.shape)
        direction = num.reshape(self.shape) / den.add_(delta * float(den.max()))
        along, norm = 0.0, 0.0
        for flat, frac, g in kept:
            d_j = self._extract(direction, flat, frac)
            along += float((d_j.conj() * g).real.sum())
            norm += float((d_j.real.square() + d_j.imag.square()).mul_(weight).sum())
        self.obj = self.obj + _ls_step(along, norm) * direction

        if probe_update:
            pnum = torch.zeros_like(probe)
            pden = torch.zeros_like(weight)
            for p, c in exits:
                pnum += (p.conj()[:, None] * c).sum(dim=0)
                pden += (p.real.square() + p.imag.square()).sum(dim=0)
            p_dir = pnum / (pden + delta * pden.max())
            along, norm = 0.0, 0.0
            for p, c in exits:
                d_psi = p[:, None] * p_dir[None]
                along += float((d_psi.conj() * c).real.sum())
                norm += float((d_psi.real.square() + d_psi.imag.square()).sum())
            probe = _orthogonalise(self.probe + _ls_step(along, norm) * p_dir)
            self.probe = probe * math.sqrt(self.power / float(probe.abs().square().sum()))
        return nll

    # -- one epoch ---------------------------------------------------------------------------
    def epoch(self, stop: StopToken | None = None,
              on_batch: Any = None) -> float | None:
        """One pass over every pattern in random mini-batches; the epoch's misfit, or None
        when ``stop`` ended it (the object then holds the partial epoch's updates)."""
        s = self.settings
        before = self.obj
        probe_update = bool(s.refine_probe) and self.epochs_done >= int(s.probe_start_epoch)
        batch = self.batch_size()
        total = 0.0
        if batch >= self.m:  # one update from every pattern: no shuffling, no copies
            if stop_requested(stop):
                return None
            total = self._step(None, probe_update)
            if on_batch is not None:
                on_batch(self.m)
        else:
            done = 0
            for index in self._batches(batch):
                if stop_requested(stop):
                    return None
                total += self._step(index, probe_update)
                done += len(index)
                if on_batch is not None:
                    on_batch(done)
        mu = float(s.momentum)
        if mu > 0:
            self.velocity = mu * self.velocity + (self.obj - before)
            self.obj = self.obj + mu * self.velocity
        if self.smoothness > 0:
            self.obj = self.obj + self.smoothness * _laplacian(self.obj)
        self.epochs_done += 1
        return self._deviance(total)

    def _batches(self, batch: int) -> list[np.ndarray]:
        """One epoch's mini-batches of pattern indexes, in random order.

        Data in memory: random patterns per batch. Data on disk (lazy): runs of consecutive
        patterns, the runs in random order, so that every stored chunk is read and
        decompressed once per epoch instead of once per batch that touches it (a scan is
        stored in scan order, so a run is also a compact patch of the object).
        """
        if not self.data.lazy:
            order = self.rng.permutation(self.m)
            return [order[first:first + batch] for first in range(0, self.m, batch)]
        firsts = self.rng.permutation(np.arange(0, self.m, batch))
        return [np.arange(first, min(self.m, first + batch)) for first in firsts]

    def batch_size(self) -> int:
        """Patterns per update in the coming epoch: ``batch_size``, doubled every
        ``batch_growth`` epochs (small batches converge fast at first, the whole data set
        averages the noise at the end)."""
        size = max(1, int(self.settings.batch_size))
        growth = int(self.settings.batch_growth)
        if growth > 0:
            size <<= min(30, self.epochs_done // growth)
        cap = max(1, MAX_UPDATE_ELEMENTS // (int(self.probe.shape[0]) * self.n * self.n))
        return min(size, self.m, cap)

    @torch.no_grad()
    def misfit(self, stop: StopToken | None = None) -> float | None:
        """The current object's misfit (forward model only), or None when ``stop`` ended it."""
        total = 0.0
        batch = max(1, int(self.settings.batch_size))
        for first in range(0, self.m, batch):
            if stop_requested(stop):
                return None
            counts, flat, frac, _ = self._batch(slice(first, min(self.m, first + batch)))
            psi = self._extract(self.obj, flat, frac)[:, None] * self.probe[None]
            far = torch.fft.fft2(psi, norm="ortho")
            intensity = far.real.square().add_(far.imag.square()).sum(dim=1)
            total += float(poisson_nll(intensity, counts, self._bad()).sum())
        return self._deviance(total)

    def result_arrays(self, obj: torch.Tensor | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """``(object with NaN outside the illuminated area, mask)`` as numpy."""
        o = self.obj if obj is None else obj
        nan = torch.full((), complex(float("nan"), float("nan")), dtype=o.dtype,
                         device=o.device)
        out = torch.where(self.mask, o, nan)
        return out.cpu().numpy().astype(np.complex64), self.mask.cpu().numpy()


def _ls_step(num: float, den: float) -> float:
    """Closed-form least-squares step ``argmin_b ||chi - b d||^2 = Re<d, chi> / ||d||^2``,
    clipped to [0, MAX_STEP]."""
    if not den > 0 or not math.isfinite(num):
        return 0.0
    return min(MAX_STEP, max(0.0, num / den))


def refine_object(patterns: Any, positions: Any, probe: Any, object_shape: tuple[int, int],
                  settings: Any, *, seed: int, initial: Any = None, bad_pixels: Any = None,
                  device: torch.device | str = "cpu", reporter: Reporter | None = None,
                  stop: StopToken | None = None, stage: str = "refine",
                  job_share: tuple[float, float] | None = None) -> RefineResult:
    """Refine the whole object (and optionally the probe) against every pattern.

    Parameters
    ----------
    patterns, positions, probe, object_shape, seed, initial, bad_pixels, device
        See :class:`Refiner`.
    settings
        :class:`engine.config.RefinementConfig`: epochs, batch_size, noise_model,
        regularisation, momentum, smoothness, patience, tolerance, refine_probe,
        probe_start_epoch, probe_modes.
    reporter
        Progress (``stage``, unit "pattern", ``done`` counts pattern updates over all epochs),
        one log line per epoch (misfit, seconds; not :meth:`Reporter.metrics`, which are
        the training epochs).
    stop
        Checked between mini-batches (milliseconds apart): the run ends and returns the best
        object found so far.
    job_share
        ``(start, end)``: the fractions of the whole job before and after this stage; every
        :class:`Progress` then carries ``job_fraction`` (None: the stage is the whole job).

    Returns
    -------
    RefineResult
    """
    report = reporter or Reporter()
    t0 = time.perf_counter()
    refiner = Refiner(patterns, positions, probe, object_shape, settings, seed=seed,
                      initial=initial, bad_pixels=bad_pixels, device=device)
    epochs = int(settings.epochs)
    clock = Clock(total=epochs * refiner.m)
    best = (math.inf, refiner.obj, refiner.probe, 0)
    misfit: list[float] = []
    since_best = 0
    completed, early = True, False

    def progress(done_in_epoch: int) -> None:
        done = refiner.epochs_done * refiner.m + done_in_epoch
        p = clock.progress(stage, done, unit="pattern", epoch=refiner.epochs_done,
                           max_epochs=epochs)
        report.progress(_with_share(p, job_share))

    for _ in range(epochs):
        t_epoch = time.perf_counter()
        # The misfit is summed while the epoch updates the object, so it scores the object
        # the epoch started from: that is the candidate kept as "best".
        start_obj, start_probe, start_epoch = refiner.obj, refiner.probe, refiner.epochs_done
        value = refiner.epoch(stop, on_batch=progress)
        if value is None:
            completed = False
            break
        misfit.append(value)
        # A log line, not Reporter.metrics: those are the training epochs (loss curves,
        # metrics.csv), which the refinement epochs must not extend.
        report.log("info", f"refinement epoch {refiner.epochs_done}: misfit {value:.6g} "
                           f"({time.perf_counter() - t_epoch:.2f} s)")
        if value < best[0] * (1.0 - float(settings.tolerance)):
            best = (value, start_obj, start_probe, start_epoch)
            since_best = 0
        else:
            since_best += 1
            if int(settings.patience) > 0 and since_best >= int(settings.patience):
                early = True
                break
    if completed and not early and refiner.epochs_done > best[3]:
        final = refiner.misfit(stop)
        if final is not None and final <= best[0]:
            best = (final, refiner.obj, refiner.probe, refiner.epochs_done)
    obj, mask = refiner.result_arrays(best[1])
    if refiner.device.type == "cuda":
        torch.cuda.synchronize(refiner.device)
    return RefineResult(obj=obj, mask=mask, probe=best[2].cpu().numpy().astype(np.complex64),
                        misfit=misfit, best_epoch=best[3], epochs=refiner.epochs_done,
                        seconds=time.perf_counter() - t0, completed=completed,
                        stopped_early=early, n_patterns=refiner.m,
                        fluence=refiner.fluence, smoothness=refiner.smoothness)


def _with_share(progress: Progress, share: tuple[float, float] | None) -> Progress:
    if share is None:
        return progress
    frac = progress.fraction or 0.0
    return replace(progress, job_fraction=share[0] + (share[1] - share[0]) * frac)
