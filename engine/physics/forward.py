"""The far-field forward model: exit wave, unitary FFT, incoherent mode sum (physics.md §2)."""

from __future__ import annotations

from typing import Any

import torch

from .tensors import as_complex


def probe_modes(probe: Any, device: torch.device | str | None = None) -> torch.Tensor:
    """Probe as a complex ``(M, N, N)`` tensor; a single ``(N, N)`` mode is promoted."""
    p = as_complex(probe, device=device)
    if p.ndim == 2:
        p = p[None]
    if p.ndim != 3 or p.shape[-1] != p.shape[-2]:
        raise ValueError(f"probe: expected complex (M, N, N) or (N, N), found shape "
                         f"{tuple(p.shape)}")
    return p


def probe_intensity(probe: Any) -> torch.Tensor:
    """Total probe intensity ``sum_m |P_m|^2`` as a real ``(N, N)`` tensor."""
    return probe_modes(probe).abs().square().sum(dim=0)


def forward_intensity(patches: torch.Tensor, probe: torch.Tensor) -> torch.Tensor:
    """Predicted far-field intensity ``sum_m |fftshift(fft2(P_m * O, norm="ortho"))|^2``.

    Autocast is disabled inside and half-precision inputs are promoted, so the FFTs always run
    in complex64 (complex128 inputs stay double). The unitary FFT gives Parseval:
    ``I.sum((-2, -1)) == (|P|^2 * |O|^2).sum((-2, -1))`` summed over modes.

    Parameters
    ----------
    patches
        Complex object patches ``(..., N, N)``.
    probe
        Complex probe ``(M, N, N)`` (incoherent modes) or ``(N, N)``.

    Returns
    -------
    torch.Tensor
        Real ``(..., N, N)`` intensity (float32, or float64 for double inputs), DC at the
        centre pixel ``(N // 2, N // 2)``.
    """
    with torch.autocast(device_type=patches.device.type, enabled=False):
        obj = as_complex(patches)
        modes = probe_modes(probe, device=obj.device).to(obj.dtype)
        if obj.shape[-2:] != modes.shape[-2:]:
            raise ValueError(f"patches {tuple(obj.shape[-2:])} and probe "
                             f"{tuple(modes.shape[-2:])} must have the same N x N size")
        exit_wave = obj.unsqueeze(-3) * modes  # (..., M, N, N)
        far = torch.fft.fft2(exit_wave, norm="ortho")
        intensity = (far.real.square() + far.imag.square()).sum(dim=-3)
        # Shifting the real intensity is cheaper than shifting the complex field, same result.
        return torch.fft.fftshift(intensity, dim=(-2, -1))
