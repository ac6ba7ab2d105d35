"""Illumination (probe) generators, N x N complex, normalised to unit total intensity.

The photon scale is applied later by the simulator (mean counts per pattern =
``simulation.photons_per_pattern``). Propagation uses the Fresnel (paraxial angular spectrum)
transfer function ``exp(-i pi (lambda z / dx^2) f^2)`` with ``f`` in cycles per pixel, so a
distance is given by the dimensionless number ``lambda z / dx^2`` (``simulation.defocus_px``).
Propagation is periodic in the N x N window: keep the probe well inside it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DataError

PROBE_KINDS = ("disk", "gaussian", "fzp", "file")
FZP_OUTER_FREQUENCY = 0.25
"""Outer radius of the zone-plate pupil in cycles/pixel (half of Nyquist: band-limited)."""
FZP_CENTRAL_STOP = 0.4
"""Central stop radius as a fraction of the outer radius."""


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates centred on the window centre ``(n - 1) / 2``."""
    c = (n - 1) / 2.0
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    return xx - c, yy - c


def _freq2(n: int) -> np.ndarray:
    f = np.fft.fftfreq(n)
    return f[None, :] ** 2 + f[:, None] ** 2


def propagate(field: np.ndarray, distance: float) -> np.ndarray:
    """Fresnel-propagate an ``(N, N)`` field by ``distance = lambda z / dx^2``."""
    if distance == 0:
        return field
    transfer = np.exp(-1j * np.pi * distance * _freq2(field.shape[-1]))
    return np.fft.ifft2(np.fft.fft2(field) * transfer)


def disk(n: int, diameter: float) -> np.ndarray:
    """A uniformly lit circular aperture with a one-pixel antialiased edge."""
    xx, yy = _grid(n)
    return np.clip(diameter / 2.0 - np.hypot(xx, yy) + 0.5, 0.0, 1.0).astype(np.complex128)


def gaussian(n: int, fwhm: float) -> np.ndarray:
    """A Gaussian beam of the given intensity FWHM, flat phase."""
    xx, yy = _grid(n)
    sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    # Intensity FWHM -> field: |E|^2 = exp(-r^2 / (2 sigma^2)), so E = exp(-r^2 / (4 sigma^2)).
    return np.exp(-(xx**2 + yy**2) / (4.0 * sigma**2)).astype(np.complex128)


def zone_plate(n: int, diameter: float) -> np.ndarray:
    """A zone-plate-like probe: annular pupil (central stop) focused, seen out of focus.

    The pupil is an annulus in the far field (radii ``0.4 f0`` to ``f0``, f0 = 0.25 cycles/px),
    so diffraction patterns show the annular bright field of real zone-plate data. The defocus
    is chosen so the beam's diameter in the sample plane is about ``diameter``:
    the cone grows as ``2 f0 z`` with ``z = lambda z / dx^2``.
    """
    f = np.sqrt(_freq2(n))
    pupil = ((f <= FZP_OUTER_FREQUENCY) & (f >= FZP_CENTRAL_STOP * FZP_OUTER_FREQUENCY))
    distance = diameter / (2.0 * FZP_OUTER_FREQUENCY)
    spectrum = pupil * np.exp(-1j * np.pi * distance * f**2)
    return np.fft.fftshift(np.fft.ifft2(spectrum))


def probe_from_file(path: str | os.PathLike[str], n: int) -> np.ndarray:
    """The first mode of a probe in an NPZ (``probeGuess``) or a product ``.h5`` (``/probe``)."""
    from ..io.issues import Issues
    from ..io.loading import read_probe_file

    p = Path(path)
    issues = Issues(str(p))
    probe = np.asarray(read_probe_file(p, issues))
    issues.raise_if_any()
    probe = probe.reshape(-1, *probe.shape[-2:])[0]
    if probe.shape != (n, n):
        raise DataError(f"{p}: simulation.probe_path: expected a {n} x {n} probe (model.N), "
                        f"found {probe.shape[0]} x {probe.shape[1]}")
    return probe.astype(np.complex128)


def make_probe(kind: str, n: int, *, diameter_px: float, defocus: float,
               path: str | os.PathLike[str]) -> np.ndarray:
    """A complex64 ``(1, N, N)`` probe with ``sum |P|^2 = 1``.

    Parameters
    ----------
    kind
        ``"disk"`` (circular aperture Fresnel-propagated by ``defocus``), ``"gaussian"``
        (propagated too), ``"fzp"`` (zone-plate-like, its own defocus) or ``"file"``.
    n
        Window side N.
    diameter_px
        Aperture diameter, Gaussian FWHM or zone-plate beam diameter, in object pixels.
    defocus
        Propagation distance ``lambda z / dx^2`` for ``disk`` and ``gaussian``.
    path
        Probe file for ``kind = "file"``.
    """
    if kind == "disk":
        field = propagate(disk(n, diameter_px), defocus)
    elif kind == "gaussian":
        field = propagate(gaussian(n, diameter_px), defocus)
    elif kind == "fzp":
        field = zone_plate(n, diameter_px)
    elif kind == "file":
        field = probe_from_file(path, n)
    else:
        raise ValueError(f"probe kind: expected one of {PROBE_KINDS}, found {kind!r}")
    energy = float(np.sum(np.abs(field) ** 2))
    if not energy > 0:
        raise DataError(f"{path or kind}: probe: expected a non-zero probe, found zero intensity")
    return (field / np.sqrt(energy)).astype(np.complex64)[None]
