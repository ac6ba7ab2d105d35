"""Exact sub-pixel translation by a Fourier phase ramp: the one translate primitive.

Every sub-pixel move in the engine (patch extraction, placement, stitching, the overlap
constraint, probe weights) goes through :func:`fourier_shift`, so all code paths share one sign
convention and extraction and placement are exact inverses of each other.
"""

from __future__ import annotations

import math

import torch

from .tensors import real_dtype_of


def fourier_shift(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Resample windows at a sub-pixel offset: ``y[k] = x(k + shift)``.

    The window is treated as one period of a band-limited periodic signal (discrete Fourier
    interpolation), so the operation is unitary: ``fourier_shift(fourier_shift(x, d), -d)``
    returns ``x`` to round-off, and a shift by a whole number of pixels is a circular roll.
    Content therefore wraps around at the window edges; callers keep the physically relevant
    part (the probe footprint) away from the edges.

    Parameters
    ----------
    x
        Complex tensor ``(..., Ny, Nx)``.
    shift
        Real tensor ``(..., 2)`` broadcastable against ``x.shape[:-2]``; columns ``(dx, dy)``
        in pixels (x = column, y = row). ``y[row, col] = x(row + dy, col + dx)``, i.e. a
        positive shift moves the content towards lower indices.

    Returns
    -------
    torch.Tensor
        Complex tensor with the shape and dtype of ``x``.
    """
    ny, nx = x.shape[-2], x.shape[-1]
    rdt = real_dtype_of(x.dtype)
    shift = shift.to(device=x.device, dtype=rdt)
    fx = torch.fft.fftfreq(nx, device=x.device, dtype=rdt)
    fy = torch.fft.fftfreq(ny, device=x.device, dtype=rdt)
    # Separable ramp: exp(2 pi i (fx dx + fy dy)) = ramp_x (..., 1, Nx) * ramp_y (..., Ny, 1).
    ramp_x = torch.polar(torch.ones((), dtype=rdt, device=x.device),
                         2.0 * math.pi * shift[..., 0, None] * fx)
    ramp_y = torch.polar(torch.ones((), dtype=rdt, device=x.device),
                         2.0 * math.pi * shift[..., 1, None] * fy)
    ramp = ramp_y[..., :, None] * ramp_x[..., None, :]
    return torch.fft.ifft2(torch.fft.fft2(x) * ramp)
