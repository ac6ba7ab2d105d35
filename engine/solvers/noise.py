"""The Poisson noise floor of the data misfit (physics.md §8b).

A model that predicts the true intensities ``lam`` exactly still leaves a Poisson deviance
``D = 2 (lam - y + y log(y / lam))`` per pixel, because the counts ``y`` are noisy. Its
expectation is about 1 for pixels of many counts and falls towards 0 for dark pixels, so a
misfit of "1 per pixel" is not the floor of a scan with many dark pixels. :func:`expected_deviance`
computes ``E[D]`` for given rates; the ratio of a measured deviance to it says how far a
reconstruction is from fitting the data to the photon noise (1 = at the floor).
"""

from __future__ import annotations

import math

import torch

TABLE_MAX_RATE = 400.0
"""Above this rate the asymptotic series ``1 + 1/(6 lam) + 1/(6 lam^2)`` is used (error < 1e-4)."""

TABLE_SIZE = 512
"""Log-spaced rates of the lookup table between 1e-6 and :data:`TABLE_MAX_RATE`."""


def _exact(rates: torch.Tensor) -> torch.Tensor:
    """``E[D]`` by summing the Poisson distribution (float64, for rates <= TABLE_MAX_RATE)."""
    k_max = int(TABLE_MAX_RATE + 12 * math.sqrt(TABLE_MAX_RATE) + 20)
    k = torch.arange(k_max + 1, dtype=torch.float64)[None]
    lam = rates.to(torch.float64)[:, None]
    log_pmf = k * torch.log(lam) - lam - torch.lgamma(k + 1)
    pmf = torch.exp(log_pmf)
    y_log = torch.where(k > 0, k * torch.log(torch.where(k > 0, k, 1.0) / lam),
                        torch.zeros((), dtype=torch.float64))
    return 2.0 * (pmf * (lam - k + y_log)).sum(dim=1)


def expected_deviance(rates: torch.Tensor) -> torch.Tensor:
    """Expected Poisson deviance per pixel for the predicted rates ``rates`` (any shape).

    Exact (summed over the Poisson distribution, interpolated in a log-spaced table) up to
    :data:`TABLE_MAX_RATE`, the asymptotic series above; 0 for rates <= 0.
    """
    lam = rates.detach().to(torch.float64).clamp(min=0.0)
    grid = torch.logspace(-6, math.log10(TABLE_MAX_RATE), TABLE_SIZE, dtype=torch.float64)
    table = _exact(grid).to(lam.device)
    grid = grid.to(lam.device)
    log_lam = torch.log10(lam.clamp(min=1e-6))
    pos = (log_lam + 6.0) / (math.log10(TABLE_MAX_RATE) + 6.0) * (TABLE_SIZE - 1)
    low = pos.floor().clamp(0, TABLE_SIZE - 2).long()
    w = (pos - low).clamp(0.0, 1.0)
    inside = table[low] * (1 - w) + table[low + 1] * w
    big = 1.0 + 1.0 / (6.0 * lam.clamp(min=1.0)) + 1.0 / (6.0 * lam.clamp(min=1.0) ** 2)
    out = torch.where(lam > TABLE_MAX_RATE, big, inside)
    # below the table's first rate E[D] ~ 2 lam (log(1/lam) ...) -> 0: scale linearly
    tiny = lam < grid[0]
    out = torch.where(tiny, table[0] * lam / grid[0], out)
    return out.to(torch.float32 if rates.dtype != torch.float64 else torch.float64)


FAR_ABOVE_FLOOR = 1.5
"""A final misfit above this many times the noise floor gets a hint (see :func:`misfit_hint`)."""


def misfit_hint(ratio: float, *, refine_probe: bool, refine_positions: bool) -> str:
    """A plain sentence on what to try when the misfit is ``ratio`` times the noise floor
    (empty when it is not far above)."""
    if not math.isfinite(ratio) or ratio <= FAR_ABOVE_FLOOR:
        return ""
    causes = []
    if not refine_probe:
        causes.append("the probe is kept fixed (refinement.refine_probe = true refines it)")
    if not refine_positions:
        causes.append("the positions are kept fixed (refinement.position_correction = true "
                      "corrects them)")
    causes.append("the probe may need more incoherent modes (probe.modes)")
    causes.append("a wrong pattern size N, patterns that are not fft-shifted (zero frequency "
                  "in a corner instead of the centre) or a wrong position unit make a misfit "
                  "that no solver can lower")
    return (f"the misfit is {ratio:.1f} times the Poisson noise floor: " + "; ".join(causes))
