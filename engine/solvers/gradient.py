"""Automatic-differentiation solver: the Poisson negative log-likelihood of the forward model
(:meth:`IterativeSolver.far_field`, background and detector mask included) minimised by Adam
over mini-batches, with torch computing the gradients of the object and the probe.

It needs no derivation for a new term of the model, at the price of about twice the time per
epoch of LSQML. ``refinement.momentum`` does not apply (Adam has its own). Positions are not
corrected by it (``refinement.position_correction`` is ignored, said in the log). Options:
:class:`engine.config.GradientConfig` (section ``gradient``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import GradientConfig
from ..physics.losses import poisson_nll
from .base import IterativeSolver


class GradientSolver(IterativeSolver):
    """``refinement.algorithm = "gradient"``."""

    name = "gradient"
    options_class = GradientConfig
    supports_positions = False
    uses_momentum = False  # Adam's own

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._obj_param = torch.view_as_real(self.obj.clone()).requires_grad_(True)
        self._probe_param = torch.view_as_real(self.probe.clone()).requires_grad_(True)
        # Adam's steps are in units of the values: the object's amplitude is ~1, the
        # probe's scale is set by the counts, so its rate is relative to its peak.
        self._probe_scale = float(self.probe.abs().max())
        self._opt = torch.optim.Adam(
            [{"params": [self._obj_param], "lr": float(self.options.learning_rate)},
             {"params": [self._probe_param],
              "lr": float(self.options.probe_learning_rate) * self._probe_scale}])

    def _step(self, index: np.ndarray | None, probe_update: bool,
              positions_update: bool) -> float:
        with torch.no_grad():  # momentum or the prior may have replaced the object
            self._obj_param.copy_(torch.view_as_real(self.obj))
            self._probe_param.copy_(torch.view_as_real(self.probe))
        self._opt.zero_grad(set_to_none=True)
        size = self.m if index is None else len(index)
        nll = 0.0
        with torch.enable_grad():
            obj = torch.view_as_complex(self._obj_param)
            probe = torch.view_as_complex(self._probe_param)
            if not probe_update:
                probe = probe.detach()
            for chunk in self.chunks(index):
                counts, flat, frac, _ = self.batch(chunk)
                _, intensity = self.far_field(self.extract(obj, flat, frac), probe)
                loss = poisson_nll(intensity, counts, self._bad()).sum()
                # the mean over the batch: one learning rate whatever the batch size
                (loss / size).backward()
                nll += float(loss.detach())
                if self.refines_background():
                    with torch.no_grad():
                        self._accumulate_background(intensity.detach(), counts)
        if not probe_update:
            self._probe_param.grad = None
        self._opt.step()
        with torch.no_grad():
            self.obj = torch.view_as_complex(self._obj_param.detach().clone())
            if probe_update:
                self.set_probe(torch.view_as_complex(self._probe_param.detach().clone()))
        return nll

    def _accumulate_background(self, intensity: torch.Tensor, counts: torch.Tensor) -> None:
        ratio = counts / intensity.clamp(min=1e-12)
        self._bg_ratio += (ratio if self.data.valid is None
                           else ratio * self.data.valid).sum(dim=0)
        self._bg_count += int(counts.shape[0])
