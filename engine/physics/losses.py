"""Per-pattern data losses on counts (physics.md §3): Poisson NLL and amplitude MAE."""

from __future__ import annotations

import torch


def _valid(mask: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
    """Boolean "pixel counts" tensor broadcastable to ``like``, from a bad-pixel mask."""
    if mask is None:
        return None
    return ~torch.as_tensor(mask, device=like.device).to(torch.bool)


def poisson_nll(pred: torch.Tensor, counts: torch.Tensor, mask: torch.Tensor | None = None,
                eps: float = 1e-8) -> torch.Tensor:
    """Poisson negative log-likelihood per pattern, without the constant ``lgamma(y + 1)``.

    ``NLL = sum_pixels (lam - y * log(lam))`` with ``lam = clamp(pred, min=eps)``: pixels where
    the prediction is exactly zero (a band-limited probe makes them) stay finite.

    Parameters
    ----------
    pred
        Predicted intensity ``(..., N, N)`` in counts.
    counts
        Measured counts ``(..., N, N)`` (>= 0).
    mask
        Bad-pixel mask broadcastable to ``(..., N, N)``; True = bad, excluded from the sum.
    eps
        Floor of the predicted rate.

    Returns
    -------
    torch.Tensor
        ``(...)``: one value per pattern.
    """
    lam = pred.clamp(min=eps)
    nll = lam - counts * torch.log(lam)
    valid = _valid(mask, nll)
    if valid is not None:
        nll = torch.where(valid, nll, torch.zeros((), dtype=nll.dtype, device=nll.device))
    return nll.sum(dim=(-2, -1))


def amplitude_mae(pred: torch.Tensor, counts: torch.Tensor,
                  mask: torch.Tensor | None = None, eps: float = 1e-8) -> torch.Tensor:
    """Mean absolute amplitude error per pattern, ``mean |sqrt(pred) - sqrt(counts)|``.

    The mean runs over good pixels only (``mask`` True = bad). ``pred`` is clamped at ``eps``
    before the square root, whose gradient is infinite at zero.

    Returns
    -------
    torch.Tensor
        ``(...)``: one value per pattern.
    """
    err = (pred.clamp(min=eps).sqrt() - counts.clamp(min=0).sqrt()).abs()
    valid = _valid(mask, err)
    if valid is None:
        return err.mean(dim=(-2, -1))
    valid = valid.expand_as(err)
    total = torch.where(valid, err, torch.zeros((), dtype=err.dtype, device=err.device))
    return total.sum(dim=(-2, -1)) / valid.sum(dim=(-2, -1)).clamp(min=1).to(err.dtype)
