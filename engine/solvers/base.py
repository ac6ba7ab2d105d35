"""What every iterative solver shares (physics.md §8b): the data on the device, the scan
windows, the object, the probe and its modes, the positions and their correction, the
background, and the data misfit.

A solver subclasses :class:`IterativeSolver` and writes one method, :meth:`IterativeSolver._step`:
one update of the object (and the probe, positions and background where it refines them) from
a mini-batch of patterns. Everything else -- the epoch loop, the misfit that means the same
at every epoch, the stopping rule and the result -- is here and in :mod:`engine.solvers.driver`.

The forward model of every solver: the far field ``Psi_m = fft2(P_m * O_j)`` of every probe
mode ``m`` over the window of position ``j`` (integer window + exact Fourier sub-pixel shift,
the engine's one extraction convention), the intensity ``I = sum_m |Psi_m|^2 + b`` with ``b``
a background per detector pixel shared by all patterns (0 unless refined), compared with the
counts ``y`` over the good detector pixels only (``bad_pixels`` True = left out of the misfit
and of every update).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..physics.fourier import fourier_shift
from ..physics.losses import poisson_nll
from ..physics.tensors import as_complex, as_positions
from ..physics.windows import check_in_bounds, scatter_windows, split_positions, window_flat_index
from ..reporting import StopToken, stop_requested
from .noise import expected_deviance

NOISE_MODELS = ("poisson", "gaussian")
"""Noise models of the exit-wave update."""

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

MISFIT_CHUNK = 256
"""Patterns per forward pass of the whole-scan misfit."""

POSITION_STEP_MAX = 0.5
"""Largest change of one position in one epoch (px): the correction is a slow, damped fit."""

BACKGROUND_START = 0.01
"""The background starts at this fraction of the mean count per detector pixel."""


def orthogonalise(probe: torch.Tensor) -> torch.Tensor:
    """Orthogonal modes spanning the same incoherent sum, strongest first (SVD)."""
    if probe.shape[0] == 1:
        return probe
    k, n = probe.shape[0], probe.shape[-1]
    u, s, vh = torch.linalg.svd(probe.reshape(k, n * n), full_matrices=False)
    return (s[:, None].to(vh.dtype) * vh).reshape(k, n, n)


TILT_EPS = 1e-5
"""A probe phase tilt (rad/px) below which :meth:`IterativeSolver._hold_probe_tilt` leaves
the probe and the object alone."""


def probe_tilt(probe: torch.Tensor) -> tuple[float, float]:
    """The probe's mean phase gradient ``(ky, kx)`` in rad/px, every mode together: the
    phase of the summed products of neighbouring pixels, weighted by their amplitudes (the
    centre of its far field; robust to phase wraps and to any beam shape)."""
    p = probe.to(torch.complex128)
    ky = torch.angle((p[..., 1:, :] * p[..., :-1, :].conj()).sum())
    kx = torch.angle((p[..., :, 1:] * p[..., :, :-1].conj()).sum())
    return float(ky), float(kx)


def laplacian(obj: torch.Tensor) -> torch.Tensor:
    """5-point Laplacian with replicated edges."""
    padded = torch.nn.functional.pad(torch.view_as_real(obj).permute(2, 0, 1)[None],
                                     (1, 1, 1, 1), mode="replicate")[0].permute(1, 2, 0)
    p = torch.view_as_complex(padded.contiguous())
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * obj


def ls_step(num: float, den: float, max_step: float) -> float:
    """Closed-form least-squares step ``argmin_b ||chi - b d||^2 = Re<d, chi> / ||d||^2``,
    clipped to ``[0, max_step]``."""
    if not den > 0 or not math.isfinite(num):
        return 0.0
    return min(max_step, max(0.0, num / den))


class _Data:
    """Counts on the device, ifftshifted once (so plain ``fft2`` output is compared), or read
    batch by batch from a lazy (on-disk) array."""

    def __init__(self, patterns: Any, bad_pixels: Any, device: torch.device) -> None:
        self.device = device
        self.lazy = not isinstance(patterns, (np.ndarray, torch.Tensor))
        self.patterns = patterns
        self.valid = None
        if bad_pixels is not None and np.any(bad_pixels):
            good = ~torch.as_tensor(np.asarray(bad_pixels, bool), device=device)
            self.valid = torch.fft.ifftshift(good, dim=(-2, -1))
        if not self.lazy:
            self.counts = self._prepare(patterns)

    def _prepare(self, counts: Any) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(counts, np.float32) if not torch.is_tensor(counts)
                            else counts).to(self.device, torch.float32)
        t = torch.fft.ifftshift(t.clamp(min=0), dim=(-2, -1))
        return t if self.valid is None else t * self.valid  # bad pixels hold no counts

    def batch(self, index: np.ndarray) -> torch.Tensor:
        if not self.lazy:
            return self.counts[torch.as_tensor(index, device=self.device)]
        order = np.argsort(index)
        counts = np.empty((len(index),) + tuple(self.patterns.shape[1:]), np.float32)
        counts[order] = np.asarray(self.patterns[index[order]], np.float32)
        return self._prepare(counts)


class IterativeSolver:
    """One reconstruction problem and the state every solver shares.

    Subclasses set :attr:`name` and implement :meth:`_step`. Use
    :func:`engine.solvers.solve` for a whole run; the class exists so benchmarks and tests
    can step epochs themselves (:meth:`epoch`) and read the state between them.

    Parameters
    ----------
    patterns
        Counts ``(M, N, N)`` (numpy, tensor, or a lazy array sliced batch by batch), DC at
        the centre.
    positions
        ``(M, 2)`` window centres ``(x, y)`` in object pixels (the nominal ones).
    probe
        Complex ``(modes, N, N)`` or ``(N, N)`` in count units.
    object_shape
        ``(H, W)`` of the object.
    settings
        :class:`engine.config.RefinementConfig` (or any object with its attributes).
    options
        The algorithm's own schema section (:attr:`options_class`), or None for its defaults.
    seed
        Seed of the mini-batch order and of extra probe modes (``execution.seed``).
    initial
        Complex ``(H, W)`` starting object (NaN pixels are filled with the mean of the finite
        ones), or None for a flat ``1 + 0j`` start.
    bad_pixels
        ``(N, N)`` bool, True = excluded from the misfit and every update.
    modes
        Incoherent probe modes to refine (``probe.modes``); 0 or None: the probe's own.
    device
        Where every tensor lives.
    """

    name = ""
    """The registry name (``refinement.algorithm``)."""

    options_class: type | None = None
    """The schema section class of the algorithm's options (None: it has none)."""

    supports_positions = True
    """Whether the solver can correct positions (``refinement.position_correction``)."""

    uses_momentum = True
    """Whether ``refinement.momentum`` applies between epochs (not for a solver with its own
    momentum, such as Adam)."""

    def __init__(self, patterns: Any, positions: Any, probe: Any, object_shape: tuple[int, int],
                 settings: Any, options: Any = None, *, seed: int, initial: Any = None,
                 bad_pixels: Any = None, modes: int | None = None,
                 device: torch.device | str = "cpu") -> None:
        if settings.noise_model not in NOISE_MODELS:
            raise ValueError(f"refinement.noise_model: expected one of {NOISE_MODELS}, found "
                             f"{settings.noise_model!r}")
        self.settings = settings
        if options is None and self.options_class is not None:
            options = self.options_class()
        self.options = options
        self.device = torch.device(device)
        p = as_complex(probe, device=self.device).to(torch.complex64)
        self.probe = p[None] if p.ndim == 2 else p
        self.n = int(self.probe.shape[-1])
        self.shape = (int(object_shape[0]), int(object_shape[1]))
        pos = as_positions(positions, device=self.device).to(torch.float64)
        self.m = int(pos.shape[0])
        if len(patterns) != self.m:
            raise ValueError(f"refine: {len(patterns)} patterns but {self.m} positions")
        self.nominal = pos.clone()
        self._set_positions(pos)
        check_in_bounds(self.starts, self.n, self.shape, "object")
        self.data = _Data(patterns, bad_pixels, self.device)
        self.n_good = self.n * self.n if self.data.valid is None else int(self.data.valid.sum())
        self.mean_count = self._mean_count()
        self.saturated = self._saturated_nll()
        self.power = float(self.probe.abs().square().sum())
        self.rng = np.random.default_rng(int(seed))
        self.probe = self._with_modes(int(modes) if modes else 0)
        self._tilt0 = probe_tilt(self.probe)
        self.obj = self._start(initial)
        self.mask = self._illuminated()
        # photons per illuminated object pixel: the dose that sets the smoothness prior
        self.fluence = self.mean_count * self.m / max(1.0, float(self.mask.sum()))
        self.smoothness = effective_smoothness(settings, self.fluence)
        self.velocity = torch.zeros_like(self.obj)
        self.background = torch.zeros((self.n, self.n), dtype=torch.float32, device=self.device)
        self.refine_background = bool(getattr(settings, "background", False))
        if self.refine_background:
            self.background += BACKGROUND_START * self.mean_count / self.n_good
        self.epochs_done = 0
        self.extra_doublings = 0
        """Doublings of the batch size asked by the stopping rule (:meth:`grow_batch`), on
        top of those of the ``batch_growth`` schedule."""
        # position correction: summed shift estimates of the running epoch
        self._shift_sum = torch.zeros((self.m, 2), dtype=torch.float64, device=self.device)
        # background EM: sum over the epoch's patterns of y / (I + b), and their number
        self._bg_ratio = torch.zeros_like(self.background)
        self._bg_count = 0

    # -- set-up ------------------------------------------------------------------------------
    def _set_positions(self, pos: torch.Tensor) -> None:
        self.positions = pos
        self.starts, frac = split_positions(pos, self.n)
        self.frac = frac.to(torch.float32)
        self.subpixel = bool((self.frac.abs() > SUBPIXEL_EPS).any())
        self._all_index: torch.Tensor | None = None

    def _mean_count(self) -> float:
        if not self.data.lazy:
            return float(self._good(self.data.counts).sum(dim=(-2, -1)).mean().clamp(min=1e-12))
        idx = np.linspace(0, self.m - 1, min(self.m, 256)).astype(np.int64)
        return max(1e-12, float(self._good(self.data.batch(idx)).sum(dim=(-2, -1)).mean()))

    def _good(self, counts: torch.Tensor) -> torch.Tensor:
        return counts if self.data.valid is None else counts * self.data.valid

    def _saturated_nll(self) -> float:
        """``sum(y - y log y)`` over all data: the NLL of a model that predicts the counts."""
        total = 0.0
        for first in range(0, self.m, 1024):
            counts = self.data.batch(np.arange(first, min(self.m, first + 1024)))
            total += float(poisson_nll(counts, counts, self._bad()).sum())
        return total

    def _deviance(self, nll: float) -> float:
        """Poisson deviance per good detector pixel from a summed NLL over all patterns."""
        return 2.0 * (nll - self.saturated) / (self.m * self.n_good)

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
        """The probe with ``modes`` modes: extra ones are the first mode times the low-order
        polynomials ``x, y, x^2, xy, y^2, ...`` of the window (centred on the probe's power),
        10 % of the power between them, orthogonalised; total power unchanged. (The moments of
        the first mode are how partial coherence perturbs it; ptychodus makes its modes so.)"""
        have = int(self.probe.shape[0])
        if modes <= have:
            return self.probe
        first = self.probe[0]
        power = first.abs().square()
        coords = torch.arange(self.n, dtype=torch.float32, device=self.device)
        yy, xx = torch.meshgrid(coords, coords, indexing="ij")
        total = power.sum()
        cy, cx = float((power * yy).sum() / total), float((power * xx).sum() / total)
        width = float(torch.sqrt((power * ((yy - cy) ** 2 + (xx - cx) ** 2)).sum() / total))
        y, x = (yy - cy) / max(width, 1.0), (xx - cx) / max(width, 1.0)
        polys: list[torch.Tensor] = []
        order = 1
        while len(polys) < modes - have:
            polys += [x ** (order - k) * y ** k for k in range(order + 1)]
            order += 1
        extra = []
        for poly in polys[:modes - have]:
            mode = first * poly
            extra.append(mode * torch.sqrt(power.sum() / mode.abs().square().sum().clamp(
                min=1e-30)))
        added = torch.stack(extra) * math.sqrt(0.1 / (modes - have))
        probe = orthogonalise(torch.cat([self.probe, added]))
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

    def extract(self, canvas: torch.Tensor, flat: torch.Tensor,
                frac: torch.Tensor | None) -> torch.Tensor:
        """The windows of ``canvas`` at flat indexes, Fourier-shifted by ``frac``."""
        windows = canvas.reshape(-1)[flat]
        return windows if frac is None else fourier_shift(windows, frac)

    def _bad(self) -> torch.Tensor | None:
        return None if self.data.valid is None else ~self.data.valid

    def batch(self, index: np.ndarray | slice
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Counts, flat window indexes, sub-pixel fractions (None: whole pixels) and the
        pattern indexes of a chunk given by index array or by a slice of the scan."""
        if isinstance(index, slice):
            rows = torch.arange(self.m, device=self.device)[index]
            counts = (self.data.counts[index] if not self.data.lazy
                      else self.data.batch(rows.cpu().numpy()))
            frac = self.frac[index] if self.subpixel else None
            return counts, self._index(None)[index], frac, rows
        idx = torch.as_tensor(index, device=self.device)
        frac = self.frac[idx] if self.subpixel else None
        return self.data.batch(index), self._index(idx), frac, idx

    def chunks(self, index: np.ndarray | None, size: int = CHUNK) -> list[np.ndarray | slice]:
        """A batch (None: every pattern, in scan order) cut into chunks of ``size``."""
        total = self.m if index is None else len(index)
        return [slice(first, min(total, first + size)) if index is None
                else index[first:first + size] for first in range(0, total, size)]

    # -- the model and the misfit --------------------------------------------------------------
    def far_field(self, patches: torch.Tensor, probe: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """``Psi`` ``(B, modes, N, N)`` and the model intensity ``(B, N, N)`` (with the
        background) of object windows ``(B, N, N)``."""
        far = torch.fft.fft2(patches[:, None] * probe[None], norm="ortho")
        intensity = far.real.square().add_(far.imag.square()).sum(dim=1)
        return far, intensity.add_(self.background)

    def exit_wave_update(self, far: torch.Tensor, intensity: torch.Tensor,
                         counts: torch.Tensor, rows: torch.Tensor
                         ) -> tuple[torch.Tensor, float]:
        """``chi`` ``(B, modes, N, N)``: the change of each exit wave that fits the counts
        (the amplitude projection, or the Poisson gradient scaled to agree with it where
        ``I ~ y``), and the chunk's summed Poisson NLL. Feeds the background's update."""
        nll = float(poisson_nll(intensity, counts, self._bad()).sum())
        eps = 1e-6 * self.mean_count / (self.n * self.n)
        ratio = counts / intensity.add(eps)
        if self.refine_background:
            self._bg_ratio += (ratio if self.data.valid is None
                               else ratio * self.data.valid).sum(dim=0)
            self._bg_count += int(counts.shape[0])
        if self.settings.noise_model == "gaussian":
            ratio = ratio.sqrt_().sub_(1.0)
        else:
            ratio = ratio.clamp_(max=RATIO_CLIP).sub_(1.0).mul_(0.5)
        if self.data.valid is not None:
            ratio = ratio * self.data.valid
        return torch.fft.ifft2(far * ratio[:, None], norm="ortho"), nll

    @torch.no_grad()
    def misfit(self, stop: StopToken | None = None) -> float | None:
        """The misfit of the current state over the whole scan (forward model only, the
        same at every epoch whatever the batch size): Poisson deviance per good detector
        pixel; None when ``stop`` ended it."""
        total = self._whole_scan(stop, floor=False)
        return None if total is None else self._deviance(total[0])

    @torch.no_grad()
    def noise_floor(self) -> float:
        """The expected Poisson deviance per good pixel of data drawn from the current
        model's intensities: the misfit a perfect reconstruction would reach."""
        total = self._whole_scan(None, floor=True)
        return total[1] / (self.m * self.n_good) if total else float("nan")

    def _whole_scan(self, stop: StopToken | None, floor: bool) -> tuple[float, float] | None:
        nll, expected = 0.0, 0.0
        for chunk in self.chunks(None, MISFIT_CHUNK):
            if stop_requested(stop):
                return None
            counts, flat, frac, _ = self.batch(chunk)
            _, intensity = self.far_field(self.extract(self.obj, flat, frac), self.probe)
            nll += float(poisson_nll(intensity, counts, self._bad()).sum())
            if floor:
                e = expected_deviance(intensity)
                expected += float((e if self.data.valid is None else e * self.data.valid).sum())
        return nll, expected

    # -- shared corrections ------------------------------------------------------------------
    def position_gradient(self, patches: torch.Tensor, chi: torch.Tensor, probe: torch.Tensor,
                          rows: torch.Tensor) -> None:
        """Add each pattern's least-squares position shift to the epoch's sums: the shift
        ``dx`` that best explains ``chi`` by moving the window, ``Re<P dO/dx, chi> /
        ||P dO/dx||^2`` (and the same in y), from central differences of the window."""
        grads = (torch.roll(patches, -1, dims=-1) - torch.roll(patches, 1, dims=-1),
                 torch.roll(patches, -1, dims=-2) - torch.roll(patches, 1, dims=-2))
        inner = (slice(None), slice(2, -2), slice(2, -2))
        for axis, g in enumerate(grads):
            dpsi = 0.5 * g[:, None] * probe[None]                      # (B, K, N, N)
            dpsi = dpsi[(slice(None),) + (slice(None),) + inner[1:]]
            c = chi[(slice(None), slice(None)) + inner[1:]]
            num = (dpsi.conj() * c).real.sum(dim=(1, 2, 3))
            den = dpsi.abs().square().sum(dim=(1, 2, 3)).clamp(min=1e-30)
            self._shift_sum[rows, axis] += (num / den).to(torch.float64)

    def _apply_position_correction(self) -> None:
        """Move the positions by the epoch's estimates: at most :data:`POSITION_STEP_MAX` per
        epoch, at most ``refinement.position_max_shift`` from the nominal ones, the mean shift
        held at zero (a common offset only moves the object), windows kept inside it."""
        s = self.settings
        step = self._shift_sum.clamp(-POSITION_STEP_MAX, POSITION_STEP_MAX)
        self._shift_sum.zero_()
        moved = self.positions + step
        offset = moved - self.nominal
        offset = offset - offset.mean(dim=0)
        limit = float(s.position_max_shift)
        offset = offset.clamp(-limit, limit)
        pos = self.nominal + offset
        half = (self.n - 1) / 2.0
        pos[:, 0] = pos[:, 0].clamp(half, self.shape[1] - 1 - half - 1e-3)
        pos[:, 1] = pos[:, 1].clamp(half, self.shape[0] - 1 - half - 1e-3)
        self._set_positions(pos)

    def _apply_background(self) -> None:
        """The EM update of a Poisson background: ``b <- b * mean_j(y_j / (I_j + b))``
        (keeps it >= 0; the patterns' mean fit of the background)."""
        if self._bg_count:
            factor = self._bg_ratio / self._bg_count
            if self.data.valid is not None:
                factor = torch.where(self.data.valid, factor, torch.ones_like(factor))
            self.background = self.background * factor.clamp(0.0, 4.0)
        self._bg_ratio.zero_()
        self._bg_count = 0

    def set_probe(self, probe: torch.Tensor) -> None:
        """Orthogonalise the modes and hold the total power at its starting value."""
        probe = orthogonalise(probe)
        self.probe = probe * math.sqrt(self.power / float(probe.abs().square().sum()))

    def _hold_probe_tilt(self) -> None:
        """Move a linear phase ramp the probe picked up into the object.

        ``O e^{ik.r}`` with ``P e^{-ik.r}`` fits the data exactly as ``O`` with ``P`` (each
        exit wave only gains a constant phase), so a refined probe drifts along that ramp and
        leaves its opposite in the object: a phase tilt across the field that costs phase
        SSIM, more on larger fields. The probe's mean phase gradient is held at the starting
        probe's; the difference goes to the object (and its momentum) with the opposite sign.
        """
        ky, kx = (t - t0 for t, t0 in zip(probe_tilt(self.probe), self._tilt0, strict=True))
        if max(abs(ky), abs(kx)) < TILT_EPS:
            return
        n = self.n
        u = torch.arange(n, dtype=torch.float64, device=self.device)
        ramp = torch.polar(torch.ones(n, n, dtype=torch.float64, device=self.device),
                           -(ky * u[:, None] + kx * u[None, :]))
        self.probe = self.probe * ramp.to(self.probe.dtype)
        h, w = self.shape
        yy = torch.arange(h, dtype=torch.float64, device=self.device)[:, None]
        xx = torch.arange(w, dtype=torch.float64, device=self.device)[None, :]
        back = torch.polar(torch.ones(h, w, dtype=torch.float64, device=self.device),
                           ky * yy + kx * xx).to(self.obj.dtype)
        self.obj = self.obj * back
        self.velocity = self.velocity * back

    def mode_power(self) -> list[float]:
        """Fraction of the probe's power in each mode, strongest first."""
        power = self.probe.abs().square().sum(dim=(-2, -1))
        return [float(p) for p in power / power.sum()]

    # -- one epoch ---------------------------------------------------------------------------
    def refines_probe(self) -> bool:
        s = self.settings
        return bool(s.refine_probe) and self.epochs_done >= int(s.probe_start_epoch)

    def refines_background(self) -> bool:
        """The background is fitted from ``probe_start_epoch`` on (whether or not the probe
        is refined)."""
        return self.refine_background and self.epochs_done >= int(
            self.settings.probe_start_epoch)

    def refines_positions(self) -> bool:
        s = self.settings
        return (self.supports_positions and bool(s.position_correction)
                and self.epochs_done >= int(s.position_start_epoch))

    def epoch(self, stop: StopToken | None = None, on_batch: Any = None) -> float | None:
        """One pass over every pattern in mini-batches; the epoch's running misfit (summed
        while the object changed: cheap, but not comparable between epochs of other batch
        sizes -- :meth:`misfit` is), or None when ``stop`` ended it (the state then holds
        the partial epoch's updates)."""
        s = self.settings
        before = self.obj
        probe_update = self.refines_probe()
        positions_update = self.refines_positions()
        batch = self.batch_size()
        total = 0.0
        batches = [None] if batch >= self.m else self._batches(batch)
        done = 0
        for index in batches:
            if stop_requested(stop):
                return None
            total += self._step(index, probe_update, positions_update)
            done += self.m if index is None else len(index)
            if on_batch is not None:
                on_batch(done)
        mu = float(s.momentum) if self.uses_momentum else 0.0
        if mu > 0:
            self.velocity = mu * self.velocity + (self.obj - before)
            self.obj = self.obj + mu * self.velocity
        if self.smoothness > 0:
            self.obj = self.obj + self.smoothness * laplacian(self.obj)
        if positions_update:
            self._apply_position_correction()
        else:
            self._shift_sum.zero_()
        if probe_update and bool(getattr(s, "hold_probe_tilt", False)):
            self._hold_probe_tilt()
        if self.refines_background():
            self._apply_background()
        else:
            self._bg_ratio.zero_()
            self._bg_count = 0
        self.epochs_done += 1
        return self._deviance(total)

    def _step(self, index: np.ndarray | None, probe_update: bool,
              positions_update: bool) -> float:
        """One update from a batch of pattern indexes (None: every pattern, in scan order);
        returns the batch's summed Poisson NLL before the update."""
        raise NotImplementedError(f"{type(self).__name__} must implement _step")

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
        ``batch_growth`` epochs and each time the misfit stopped falling at a smaller batch
        (:meth:`grow_batch`): small batches converge fast at first, the whole data set
        averages the noise at the end."""
        size = max(1, int(self.settings.batch_size))
        growth = int(self.settings.batch_growth)
        doublings = self.extra_doublings + (self.epochs_done // growth if growth > 0 else 0)
        size <<= min(30, doublings)
        cap = max(1, MAX_UPDATE_ELEMENTS // (int(self.probe.shape[0]) * self.n * self.n))
        return min(size, self.m, cap)

    def grow_batch(self) -> bool:
        """Double the batch size now (the stopping rule asks when the misfit stopped falling
        before the batches covered the scan); False when it cannot grow (fixed batches,
        or already the whole scan or the memory cap)."""
        if int(self.settings.batch_growth) <= 0:
            return False
        before = self.batch_size()
        self.extra_doublings += 1
        if self.batch_size() > before:
            return True
        self.extra_doublings -= 1
        return False

    # -- state -------------------------------------------------------------------------------
    def state(self) -> dict[str, torch.Tensor]:
        """What a result is made of (tensors are replaced, never changed in place)."""
        return {"obj": self.obj, "probe": self.probe, "positions": self.positions,
                "background": self.background}

    def result_arrays(self, obj: torch.Tensor | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """``(object with NaN outside the illuminated area, mask)`` as numpy."""
        o = self.obj if obj is None else obj
        nan = torch.full((), complex(float("nan"), float("nan")), dtype=o.dtype,
                         device=o.device)
        out = torch.where(self.mask, o, nan)
        return out.cpu().numpy().astype(np.complex64), self.mask.cpu().numpy()


SMOOTHNESS_DOSE_EXPONENT = 0.18
"""The smoothness prior grows as ``(reference fluence / fluence) ** 0.18`` for data of lower
dose (photon noise grows as fluence ** -0.5, and the weight that maximised SSIM on
``images_b`` at 1x, 0.1x and 0.01x of its dose was 0.1, 0.15 and 0.2; docs/performance.md)."""

SMOOTHNESS_MAX = 0.25
"""Largest Laplacian step per epoch: above it the prior and momentum oscillate."""


def effective_smoothness(settings: Any, fluence: float) -> float:
    """The smoothness prior's weight for data of ``fluence`` photons per illuminated object
    pixel: ``settings.smoothness`` at ``settings.smoothness_fluence``, scaled by the dose (see
    :data:`SMOOTHNESS_DOSE_EXPONENT`), at most :data:`SMOOTHNESS_MAX`; 0 (off) at or above
    ``settings.smoothness_off_fluence`` where the data fix the object by themselves; unscaled
    when the reference fluence or the data's is not positive."""
    weight = float(settings.smoothness)
    reference = float(settings.smoothness_fluence)
    off = float(getattr(settings, "smoothness_off_fluence", 0.0))
    if weight <= 0 or not (reference > 0 and fluence > 0):
        return weight
    if off > 0 and fluence >= off:
        return 0.0
    scaled = weight * (reference / float(fluence)) ** SMOOTHNESS_DOSE_EXPONENT
    return min(SMOOTHNESS_MAX, scaled)
