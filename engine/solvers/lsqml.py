"""LSQML-class solver (Odstrcil et al. 2018): mini-batched, closed-form step lengths.

Each batch: the exit-wave update ``chi`` of every pattern
(:meth:`IterativeSolver.exit_wave_update`); the object direction
``d = sum_j conj(P) chi_j / (sum_j |P|^2 + delta max sum_j |P|^2)`` summed in place (the
adjoint of the window extraction), and a step length ``beta`` solved in closed form as the
least-squares fit of ``P d_j`` to ``chi_j`` over the batch; with probe refinement the same
with ``O`` and ``P`` swapped, summed over the batch, then the modes orthogonalised and the
total power held. Options: :class:`engine.config.LsqmlConfig` (section ``lsqml``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import LsqmlConfig
from ..physics.fourier import fourier_shift
from .base import IterativeSolver, ls_step


class LsqmlSolver(IterativeSolver):
    """The engine's default solver (``refinement.algorithm = "lsqml"``)."""

    name = "lsqml"
    options_class = LsqmlConfig

    @torch.no_grad()
    def _step(self, index: np.ndarray | None, probe_update: bool,
              positions_update: bool) -> float:
        """One object (and probe) update from a batch, processed in cache-sized chunks (about
        twice as fast on a CPU as one large tensor); the update itself is one step."""
        probe = self.probe                                           # (K, N, N)
        weight = (probe.real.square() + probe.imag.square()).sum(dim=0)
        delta = float(self.settings.regularisation)
        max_step = float(self.options.max_step)
        area = self.shape[0] * self.shape[1]
        num = torch.zeros(area, dtype=probe.dtype, device=self.device)
        den = torch.zeros(area, dtype=weight.dtype, device=self.device)
        kept: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]] = []
        exits: list[tuple[torch.Tensor, torch.Tensor]] = []  # (patches, chi) for the probe
        nll = 0.0
        keep_chi = probe.shape[0] > 1 or probe_update or positions_update
        for chunk in self.chunks(index):
            counts, flat, frac, rows = self.batch(chunk)
            patches = self.extract(self.obj, flat, frac)             # (B, N, N)
            far, intensity = self.far_field(patches, probe)
            chi, chunk_nll = self.exit_wave_update(far, intensity, counts, rows)
            del far, intensity
            nll += chunk_nll
            if positions_update:
                self.position_gradient(patches, chi, probe, rows)
            # Object direction d = sum conj(P) chi / (sum |P|^2 + delta max). With
            # g_j = sum_m conj(P_m) chi_jm, <P d_j, chi_j> = <d_j, g_j> and ||P d_j||^2 =
            # sum |d_j|^2 |P|^2, so the least-squares step needs no second exit wave.
            if keep_chi:
                g = (probe.conj()[None] * chi).sum(dim=1)
            else:  # one mode and chi not needed again: reuse its memory
                g = chi[:, 0].mul_(probe[0].conj())
            placed = g if frac is None else fourier_shift(g, -frac)
            num.index_add_(0, flat.reshape(-1), placed.reshape(-1))
            den.index_add_(0, flat.reshape(-1),
                           weight.expand(int(counts.shape[0]), -1, -1).reshape(-1))
            kept.append((flat, frac, g))
            if probe_update:
                exits.append((patches, chi))
        den = den.reshape(self.shape)
        direction = num.reshape(self.shape) / den.add_(delta * float(den.max()))
        along, norm = 0.0, 0.0
        for flat, frac, g in kept:
            d_j = self.extract(direction, flat, frac)
            along += float((d_j.conj() * g).real.sum())
            norm += float((d_j.real.square() + d_j.imag.square()).mul_(weight).sum())
        self.obj = self.obj + ls_step(along, norm, max_step) * direction

        if probe_update:
            pnum = torch.zeros_like(probe)
            pden = torch.zeros_like(weight)
            for p, c in exits:
                pnum += (p.conj()[:, None] * c).sum(dim=0)
                pden += (p.real.square() + p.imag.square()).sum(dim=0)
            p_dir = pnum / (pden + delta * pden.max())
            # one least-squares step per mode: the weak modes' directions are not drowned
            # by the strongest's (their power would otherwise stay where it started)
            along_m = torch.zeros(probe.shape[0], dtype=torch.float64, device=self.device)
            norm_m = torch.zeros_like(along_m)
            for p, c in exits:
                d_psi = p[:, None] * p_dir[None]
                along_m += (d_psi.conj() * c).real.sum(dim=(0, 2, 3)).double()
                norm_m += (d_psi.real.square() + d_psi.imag.square()).sum(dim=(0, 2, 3)).double()
            steps = torch.tensor([ls_step(float(a), float(b), max_step)
                                  for a, b in zip(along_m, norm_m, strict=True)],
                                 device=self.device)
            self.set_probe(self.probe + steps[:, None, None].to(p_dir.dtype) * p_dir)
        return nll
