"""Optics of the views (numpy only): the probe's incoherent modes and their power, the
probe propagated along the beam (angular spectrum) and the object's spatial-frequency
spectrum."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PixelSize = tuple[float, float]


def mode_power_fractions(probe: np.ndarray) -> np.ndarray:
    """Each incoherent mode's share of the probe's total power (``(modes,)``, summing to 1;
    zeros for an all-zero probe). ``probe``: ``(modes, N, N)`` or ``(N, N)``."""
    modes = np.asarray(probe)
    if modes.ndim == 2:
        modes = modes[None]
    power = np.sum(np.abs(modes.astype(np.complex128)) ** 2, axis=(-2, -1))
    total = float(power.sum())
    return power / total if total > 0 else np.zeros_like(power)


def angular_spectrum(field: np.ndarray, distance_m: float, wavelength_m: float,
                     pixel_size_m: PixelSize) -> np.ndarray:
    """``field`` propagated by ``distance_m`` along the beam (angular-spectrum method).

    Each mode (the last two axes are ``(rows, columns)``) is multiplied in Fourier space by
    ``exp(2 pi i z (sqrt(1/lambda^2 - fx^2 - fy^2) - 1/lambda))``: the exact free-space
    transfer function without the common phase ``exp(2 pi i z / lambda)``; evanescent waves
    (``fx^2 + fy^2 > 1/lambda^2``) are dropped. Periodic: a beam that grows past the window
    wraps around, as in any FFT propagation. Returns complex128 of the same shape.

    Raises
    ------
    ValueError
        A wavelength or pixel size that is not finite and > 0, or a distance that is not
        finite (naming the value).
    """
    values = np.asarray(field, dtype=np.complex128)
    if not (math.isfinite(wavelength_m) and wavelength_m > 0):
        raise ValueError(f"wavelength: expected a length > 0 in metres, found {wavelength_m}")
    width, height = (float(v) for v in pixel_size_m)
    if not all(math.isfinite(v) and v > 0 for v in (width, height)):
        raise ValueError(f"pixel size: expected lengths > 0 in metres, found {pixel_size_m}")
    if not math.isfinite(distance_m):
        raise ValueError(f"distance: expected a finite length in metres, found {distance_m}")
    if distance_m == 0:
        return values.copy()
    rows, cols = values.shape[-2:]
    fy = np.fft.fftfreq(rows, d=height)[:, None]
    fx = np.fft.fftfreq(cols, d=width)[None, :]
    f2 = fx ** 2 + fy ** 2
    inv = 1.0 / wavelength_m
    propagating = f2 < inv ** 2
    # sqrt(k^2 - f^2) - k, written without cancellation: -f^2 / (k + sqrt(k^2 - f^2))
    kz = -f2 / (inv + np.sqrt(np.where(propagating, inv ** 2 - f2, 0.0)))
    transfer = np.where(propagating, np.exp(2j * np.pi * distance_m * kz), 0.0)
    return np.fft.ifft2(np.fft.fft2(values, axes=(-2, -1)) * transfer, axes=(-2, -1))


@dataclass(frozen=True)
class Spectrum:
    """The log amplitude of an image's centred 2-D FFT and its frequency grid.

    Attributes
    ----------
    log_amplitude
        ``log10 |FFT|`` (float32, ``(H, W)``), zero frequency at pixel ``(H // 2, W // 2)``.
    step
        ``(dfx, dfy)``: one pixel of the spectrum in cycles per metre (with a pixel size),
        else in cycles per pixel.
    in_metres
        True when ``step`` is per metre.
    """

    log_amplitude: np.ndarray
    step: tuple[float, float]
    in_metres: bool

    def extent(self) -> tuple[float, float, float, float]:
        """``(fx_min, fy_min, width, height)`` of the image's pixel edges, in the units of
        :attr:`step`; the zero frequency is at the centre of its pixel."""
        rows, cols = self.log_amplitude.shape
        dfx, dfy = self.step
        return (-(cols // 2 + 0.5) * dfx, -(rows // 2 + 0.5) * dfy, cols * dfx, rows * dfy)


def object_spectrum(obj: np.ndarray, pixel_size_m: PixelSize | None = None) -> Spectrum:
    """The spectrum of a complex object (NaN where never illuminated): never-illuminated
    pixels take the mean of the illuminated ones (no false edge at the scan's border), the
    mean is removed and a Hann window tapers the borders (the FFT's periodic wrap would
    otherwise draw a bright cross)."""
    values = np.asarray(obj, dtype=np.complex128)
    if values.ndim != 2 or min(values.shape) < 2:
        raise ValueError(f"object: expected a 2-D image of at least 2 x 2 pixels, found shape "
                         f"{values.shape}")
    finite = np.isfinite(values)
    mean = complex(values[finite].mean()) if finite.any() else 0j
    centred = np.where(finite, values, mean) - mean
    rows, cols = values.shape
    window = np.hanning(rows)[:, None] * np.hanning(cols)[None, :]
    amplitude = np.abs(np.fft.fftshift(np.fft.fft2(centred * window)))
    floor = amplitude[amplitude > 0].min() if (amplitude > 0).any() else 1.0
    log_amplitude = np.log10(np.maximum(amplitude, floor)).astype(np.float32)
    if pixel_size_m is not None:
        width, height = (float(v) for v in pixel_size_m)
        return Spectrum(log_amplitude, (1.0 / (cols * width), 1.0 / (rows * height)), True)
    return Spectrum(log_amplitude, (1.0 / cols, 1.0 / rows), False)


FREQUENCY_UNITS = (("1/nm", 1e9), ("1/µm", 1e6), ("1/mm", 1e3), ("1/m", 1.0))


def frequency_unit(max_per_metre: float) -> tuple[str, float]:
    """``(label, metres per unit)`` for spatial frequencies up to ``max_per_metre``: the
    largest unit in which the maximum is at least 1 (e.g. ``("1/µm", 1e6)`` for 25e6 / m)."""
    for label, scale in FREQUENCY_UNITS:
        if max_per_metre >= scale:
            return label, scale
    return FREQUENCY_UNITS[-1]
