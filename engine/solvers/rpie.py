"""rPIE / ePIE (Maiden, Johnson & Li 2017; Maiden & Rodenburg 2009): the PIE family.

Patterns are taken ``rpie.batch_size`` at a time (1: the classic sequential PIE) and every
update takes a full step with the regularised denominators

``O += sum_j conj(P) chi_j / sum_j ((1 - alpha) |P|^2 + alpha max |P|^2)``,
``P += sum_j conj(O_j) chi_j / sum_j ((1 - beta) |O_j|^2 + beta max |O_j|^2)``

(``|P|^2`` and ``conj(P) chi`` summed over the probe modes). ``alpha = beta = 1`` is ePIE;
small values are rPIE. The probe's modes are orthogonalised and its power held after each
update, as in every solver. Options: :class:`engine.config.RpieConfig` (section ``rpie``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import RpieConfig
from ..physics.fourier import fourier_shift
from .base import IterativeSolver


class RpieSolver(IterativeSolver):
    """``refinement.algorithm = "rpie"``."""

    name = "rpie"
    options_class = RpieConfig

    def batch_size(self) -> int:
        """``rpie.batch_size`` patterns per update, the same every epoch."""
        return max(1, min(self.m, int(self.options.batch_size)))

    @torch.no_grad()
    def _step(self, index: np.ndarray | None, probe_update: bool,
              positions_update: bool) -> float:
        alpha, beta = float(self.options.alpha), float(self.options.probe_alpha)
        probe = self.probe
        weight = (probe.real.square() + probe.imag.square()).sum(dim=0)
        floor = alpha * float(weight.max())
        area = self.shape[0] * self.shape[1]
        num = torch.zeros(area, dtype=probe.dtype, device=self.device)
        den = torch.zeros(area, dtype=weight.dtype, device=self.device)
        pnum = torch.zeros_like(probe)
        pden = torch.zeros_like(weight)
        nll = 0.0
        for chunk in self.chunks(index):
            counts, flat, frac, rows = self.batch(chunk)
            patches = self.extract(self.obj, flat, frac)
            far, intensity = self.far_field(patches, probe)
            chi, chunk_nll = self.exit_wave_update(far, intensity, counts, rows)
            nll += chunk_nll
            if positions_update:
                self.position_gradient(patches, chi, probe, rows)
            g = (probe.conj()[None] * chi).sum(dim=1)
            placed = g if frac is None else fourier_shift(g, -frac)
            b = int(counts.shape[0])
            num.index_add_(0, flat.reshape(-1), placed.reshape(-1))
            den.index_add_(0, flat.reshape(-1),
                           ((1.0 - alpha) * weight + floor).expand(b, -1, -1).reshape(-1))
            if probe_update:
                o2 = patches.real.square() + patches.imag.square()       # (B, N, N)
                o_floor = beta * o2.amax(dim=(-2, -1), keepdim=True)
                pnum += (patches.conj()[:, None] * chi).sum(dim=0)
                pden += ((1.0 - beta) * o2 + o_floor).sum(dim=0)
        touched = den > 0
        update = torch.where(touched, num / den.clamp(min=1e-30), torch.zeros_like(num))
        self.obj = self.obj + update.reshape(self.shape)
        if probe_update:
            self.set_probe(self.probe + pnum / pden.clamp(min=1e-30))
        return nll
