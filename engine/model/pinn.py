"""The physics-informed network: generator + physics layer, with its two persisted constants.

``PINN`` is a plain ``torch.nn.Module`` (used by the Lightning module, the plain-PyTorch
benchmark loop and inference alike):

1. input normaliser: ``x = sqrt(counts) * input_scale``, one dataset-level constant chosen on
   the training split so that ``mean(sum(x**2)) = (N/2)**2`` (unit: 1/sqrt(photon));
2. generator (:mod:`engine.model.generators`): ``(B, C, N, N)`` -> ``C`` complex patches;
3. overlap constraint (gridsize > 1): the group's patches averaged on a shared canvas,
   weighted by the probe intensity (``model.consensus_weighting = "probe"``, each pixel
   decided by the patterns that saw it) or uniformly (:func:`engine.physics.overlap_constraint`);
4. forward model (:func:`engine.physics.forward_intensity`) with the probe, which carries the
   photon scale (``engine.io`` fits it to the data's counts), so predictions are counts;
5. loss: Poisson NLL (or amplitude MAE) per pattern, averaged, divided by the loss normaliser
   ``loss_scale`` = mean total counts per pattern of the training split (unit: photons).

Both constants, the probe, N, gridsize and every model setting are stored in the checkpoint.
At inference both follow the data being reconstructed (:func:`follow_data_dose`): the input
normaliser from its mean counts, the probe scaled to its photon count.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config.schema import ModelConfig
from ..physics import (
    amplitude_mae,
    extract_from_canvas,
    forward_intensity,
    merge_patches,
    overlap_constraint,
    poisson_nll,
)
from .generators import build_generator


@dataclass(frozen=True)
class Normalisers:
    """The two dataset constants of a trained network (both from the training split).

    Attributes
    ----------
    input_scale
        Multiplies ``sqrt(counts)`` (unit 1/sqrt(photon)) so that the mean energy of an input
        pattern is ``(N/2)**2``.
    loss_scale
        Mean total counts per pattern (photons); the loss is divided by it.
    """

    input_scale: float
    loss_scale: float

    @classmethod
    def from_mean_counts(cls, mean_total_counts: float, N: int) -> Normalisers:
        """Both constants from the mean total counts per training pattern."""
        mean = max(float(mean_total_counts), 1e-12)
        return cls(input_scale=(N / 2) / math.sqrt(mean), loss_scale=mean)


def mean_total_counts(patterns: Any, indices: np.ndarray, chunk: int = 512) -> float:
    """Mean of ``patterns[i].sum()`` over ``indices``, read in sorted chunks (lazy-safe)."""
    idx = np.unique(np.asarray(indices, dtype=np.int64))
    if idx.size == 0:
        raise ValueError("no training patterns to normalise with")
    total = 0.0
    for start in range(0, idx.size, chunk):
        block = np.asarray(patterns[idx[start:start + chunk]], dtype=np.float64)
        total += float(block.sum())
    return total / idx.size


@dataclass(frozen=True)
class DoseScale:
    """How inference matched a checkpoint to the dose of the data it reconstructs.

    Attributes
    ----------
    mode
        ``inference.normalisation``: "data" or "checkpoint".
    mean_counts_per_pattern
        Mean total counts per pattern of the data (photons).
    trained_mean_counts_per_pattern
        The same for the checkpoint's training split (its loss normaliser).
    input_scale, trained_input_scale
        The input normaliser used (1/sqrt(photon)) and the checkpoint's.
    probe_intensity_factor
        Factor applied to the checkpoint probe's intensity (1 in "checkpoint" mode).
    """

    mode: str
    mean_counts_per_pattern: float
    trained_mean_counts_per_pattern: float
    input_scale: float
    trained_input_scale: float
    probe_intensity_factor: float

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "input_scale_unit": "1/sqrt(photon)",
                "counts_unit": "photons per pattern"}


def follow_data_dose(net: PINN, patterns: Any, mode: str) -> DoseScale:
    """Match ``net`` to the dose of ``patterns`` (in place) and say how.

    ``"data"``: the input normaliser is recomputed from the data's mean total counts (the
    rule of :meth:`Normalisers.from_mean_counts`), and the probe's intensity is scaled by the
    ratio of the data's mean counts to the training split's, so the physics (the prior, the
    forward model, refinement) predicts the new data's counts. A scan at another dose then
    gives the network the same inputs as the training scan, up to its noise. ``"checkpoint"``
    keeps both as trained.
    """
    mean = mean_total_counts(patterns, np.arange(len(patterns)))
    trained_scale = float(net.input_scale)
    factor = 1.0
    if mode == "data":
        factor = mean / max(float(net.loss_scale), 1e-12)
        net.input_scale = Normalisers.from_mean_counts(mean, net.N).input_scale
        with torch.no_grad():
            net.probe.mul_(math.sqrt(factor))
    elif mode != "checkpoint":
        raise ValueError(f"unknown normalisation {mode!r}")
    return DoseScale(mode=mode, mean_counts_per_pattern=mean,
                     trained_mean_counts_per_pattern=float(net.loss_scale),
                     input_scale=float(net.input_scale), trained_input_scale=trained_scale,
                     probe_intensity_factor=factor)


PRIOR_EPS = 0.01
"""Regularisation of the division by the probe in :func:`backpropagated_estimate`, as a
fraction of the probe's peak intensity (the estimate fades to 0 outside the beam)."""


def backpropagated_estimate(counts: torch.Tensor, probe: torch.Tensor,
                            eps: float = PRIOR_EPS) -> torch.Tensor:
    """One-step physical estimate of the object patches, without learning.

    The measured amplitudes ``sqrt(counts)`` get the far-field phase of the probe alone
    (exact for a transparent object), are propagated back to the sample plane with the
    inverse of the forward model's unitary FFT, and divided by the probe (Wiener-like,
    ``psi * conj(P) / (|P|^2 + eps * max |P|^2)``, first probe mode). For a weak object this
    is already a blurred picture of the patch; the ``unet`` generator refines it.

    Parameters
    ----------
    counts
        ``(..., N, N)`` photon counts (DC at the centre).
    probe
        Complex ``(M, N, N)`` probe scaled to counts.

    Returns
    -------
    torch.Tensor
        complex64 ``(..., N, N)``; float32 math even under autocast.
    """
    with torch.autocast(device_type=counts.device.type, enabled=False):
        mode = probe.reshape(-1, *probe.shape[-2:])[0].to(torch.complex64)
        far = torch.fft.fftshift(torch.fft.fft2(mode, norm="ortho"), dim=(-2, -1))
        phase = far / far.abs().clamp(min=1e-12)
        amplitude = torch.sqrt(counts.float().clamp(min=0.0))
        field = torch.fft.ifft2(torch.fft.ifftshift(amplitude * phase, dim=(-2, -1)),
                                norm="ortho")
        weight = mode.abs().square()
        return field * mode.conj() / (weight + eps * weight.max())


def _weighted_consensus(patches: torch.Tensor, weight: torch.Tensor, offsets: torch.Tensor,
                        canvas_size: int | None) -> torch.Tensor:
    """Each group's patches averaged on its canvas with weights ``|P|^2``, cut out again.

    Pixels that no member illuminates clearly (total weight below 5 % of the probe's peak)
    keep the patch's own value: there the average would divide small, slightly ringing
    (Fourier-shifted) weights and amplify noise from one iteration to the next.
    """
    w = weight.to(patches.dtype).expand_as(patches)
    num, _ = merge_patches(patches * w, offsets, canvas_size)
    den, _ = merge_patches(w, offsets, canvas_size)
    floor = 0.05 * float(weight.max())
    den_r = den.real.clamp(min=floor)
    n = int(patches.shape[-1])
    averaged = extract_from_canvas(num / den_r.to(num.dtype), offsets, n)
    covered = extract_from_canvas(den.real.to(num.dtype), offsets, n).real > floor
    return torch.where(covered, averaged, patches)


@torch.no_grad()
def refine_estimate(estimate: torch.Tensor, counts: torch.Tensor, probe: torch.Tensor,
                    offsets: torch.Tensor | None, iterations: int,
                    canvas_size: int | None = None, max_amplitude: float = 2.0) -> torch.Tensor:
    """A few parameter-free ptychographic iterations on each group's estimate.

    Each iteration averages the group's patches on their shared canvas (weighted by the
    probe intensity, so each pixel is decided by the patterns that saw it), then imposes the
    measured amplitudes on each pattern's far field and updates the patch where the probe
    illuminates it (an ePIE step with unit step size).
    """
    if iterations <= 0:
        return estimate
    with torch.autocast(device_type=counts.device.type, enabled=False):
        mode = probe.reshape(-1, *probe.shape[-2:])[0].to(torch.complex64)
        weight = mode.abs().square()
        peak = float(weight.max())
        measured = torch.fft.ifftshift(torch.sqrt(counts.float().clamp(min=0.0)), dim=(-2, -1))
        obj = estimate.to(torch.complex64)
        for _ in range(iterations):
            if offsets is not None and obj.shape[1] > 1:
                obj = _weighted_consensus(obj, weight, offsets, canvas_size)
            exit_wave = obj * mode
            far = torch.fft.fft2(exit_wave, norm="ortho")
            projected = torch.fft.ifft2(measured * far / far.abs().clamp(min=1e-12),
                                        norm="ortho")
            obj = obj + mode.conj() * (projected - exit_wave) / peak
            # A transmission never amplifies by much: bounding it keeps the iteration stable.
            amp = obj.abs()
            obj = obj * (max_amplitude / amp.clamp(min=max_amplitude)).to(obj.dtype)
        return obj


def circular_mask(N: int) -> torch.Tensor:
    """Disk of radius N/2 centred on the window (the optional probe support)."""
    r = torch.arange(N, dtype=torch.float32) - (N - 1) / 2
    return ((r[None, :] ** 2 + r[:, None] ** 2) <= (N / 2) ** 2).to(torch.float32)


class PINN(nn.Module):
    """Generator, probe and physics: counts in, patches and predicted counts out.

    Parameters
    ----------
    model
        The model settings (generator, width, gridsize, object_output...).
    probe
        Complex ``(M, N, N)`` probe scaled to counts.
    normalisers
        Input and loss normalisers from the training split.
    loss
        ``"poisson"`` or ``"mae"``.
    """

    def __init__(self, model: ModelConfig, probe: torch.Tensor | np.ndarray,
                 normalisers: Normalisers, loss: str) -> None:
        super().__init__()
        probe_t = torch.as_tensor(np.asarray(probe) if not torch.is_tensor(probe) else probe)
        probe_t = probe_t.to(torch.complex64)
        if probe_t.ndim == 2:
            probe_t = probe_t[None]
        n = int(model.N) or int(probe_t.shape[-1])  # model.N = 0: the data's (probe's) size
        if probe_t.shape[-2:] != (n, n):
            raise ValueError(f"probe {tuple(probe_t.shape)} does not match model.N = {n}")
        self.N = n
        self.gridsize = int(model.gridsize)
        self.channels = self.gridsize**2
        self.use_overlap = bool(model.overlap_constraint) and self.channels > 1
        self.consensus_weighting = str(model.consensus_weighting)
        self.loss_name = loss
        self.input_scale = float(normalisers.input_scale)
        self.loss_scale = float(normalisers.loss_scale)
        self.generator = build_generator(model)
        self.prior_iterations = int(model.prior_iterations)
        self.amplitude_max = float(model.amplitude_max)
        if model.probe_trainable:
            self.probe = nn.Parameter(probe_t.clone())
        else:
            self.register_buffer("probe", probe_t.clone())
        self.register_buffer("probe_support",
                             circular_mask(self.N) if model.probe_mask else torch.ones(()))

    def effective_probe(self) -> torch.Tensor:
        """The probe used by the forward model (support mask applied when enabled)."""
        probe, support = self.get_buffer("probe"), self.get_buffer("probe_support")
        return probe * support

    def normalise(self, counts: torch.Tensor) -> torch.Tensor:
        """Network input ``sqrt(counts) * input_scale`` (negative counts clamp to 0)."""
        return torch.sqrt(counts.clamp(min=0.0)) * self.input_scale

    def forward(self, counts: torch.Tensor, offsets: torch.Tensor | None = None,
                canvas_size: int | None = None) -> torch.Tensor:
        """Complex patches ``(B, C, N, N)`` predicted from counts ``(B, C, N, N)``.

        ``offsets`` (the group members' positions relative to the group centre) let the
        prior of the ``unet`` generator be refined jointly over the group.
        """
        prior = None
        if getattr(self.generator, "uses_prior", False):
            probe = self.effective_probe().detach()
            prior = backpropagated_estimate(counts, probe)
            prior = refine_estimate(prior, counts, probe, offsets, self.prior_iterations,
                                    canvas_size, self.amplitude_max)
        return self.generator(self.normalise(counts), prior)

    def consensus(self, patches: torch.Tensor, offsets: torch.Tensor | None,
                  canvas_size: int | None = None) -> torch.Tensor:
        """The overlap constraint (gridsize > 1; else ``patches``): each group's patches
        averaged on their canvas (``model.consensus_weighting``) and cut out again.

        With probe weighting each pixel is decided by the patterns that illuminate it, as in
        the probe-weighted stitching: what the loss checks is what gets stitched.
        """
        if not self.use_overlap or offsets is None:
            return patches
        if self.consensus_weighting == "probe":
            weight = self.effective_probe().detach().abs().square().sum(dim=0)
            return _weighted_consensus(patches, weight, offsets, canvas_size)
        return overlap_constraint(patches, offsets, canvas_size)

    def physics(self, patches: torch.Tensor, offsets: torch.Tensor | None,
                canvas_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Overlap constraint (gridsize > 1) then forward model: ``(patches, intensity)``."""
        patches = self.consensus(patches, offsets, canvas_size)
        return patches, forward_intensity(patches, self.effective_probe())

    def loss(self, pred: torch.Tensor, counts: torch.Tensor,
             mask: torch.Tensor | None = None) -> torch.Tensor:
        """Scalar training loss: per-pattern loss averaged, divided by ``loss_scale``."""
        if self.loss_name == "mae":
            # MAE on amplitudes: normalise by the mean amplitude scale instead of counts.
            per = amplitude_mae(pred, counts, mask)
            return per.mean() * (self.N / math.sqrt(self.loss_scale))
        return poisson_nll(pred, counts, mask).mean() / self.loss_scale

    def supervised_loss(self, patches: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        """Relative complex error of a group's patches against the true ones (simulated data).

        Weighted by the probe intensity (only what the probe lit is known), after removing
        each group's best global phase (invisible to the data): ``sum w |e^{i a} p - t|^2 /
        sum w |t|^2`` per group, averaged over groups. ``patches`` and ``truth`` are
        ``(B, C, N, N)``.
        """
        with torch.autocast(device_type=patches.device.type, enabled=False):
            w = self.effective_probe().detach().abs().square().sum(dim=0)
            w = (w / w.max().clamp(min=1e-30)).to(torch.float32)
            p = patches.to(torch.complex64)
            t = truth.to(torch.complex64)
            c = (w * p.conj() * t).sum(dim=(-3, -2, -1))
            rot = (c / c.abs().clamp(min=1e-12)).detach()[:, None, None, None]
            err = (w * (p * rot - t).abs().square()).sum(dim=(-3, -2, -1))
            ref = (w * t.abs().square()).sum(dim=(-3, -2, -1)).clamp(min=1e-12)
            return (err / ref).mean()

    def step(self, counts: torch.Tensor, offsets: torch.Tensor | None,
             mask: torch.Tensor | None = None,
             canvas_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One training evaluation: ``(loss, raw predicted patches)``."""
        loss, _, raw = self.step_with_patches(counts, offsets, mask, canvas_size)
        return loss, raw

    def step_with_patches(self, counts: torch.Tensor, offsets: torch.Tensor | None,
                          mask: torch.Tensor | None = None, canvas_size: int | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`step` that also returns the consensus patches the loss checked:
        ``(loss, patches, raw)``."""
        raw = self(counts, offsets, canvas_size)
        patches, pred = self.physics(raw, offsets, canvas_size)
        return self.loss(pred, counts, mask), patches, raw
