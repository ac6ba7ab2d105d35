"""Starting probes when the file has none (``probe.initial``), and probe resampling.

- ``disk``: a flat disk of ``probe.disk_diameter_px`` object pixels (0: 2.7 median scan
  steps: ptychography scans overlap by about 60-70 %);
- ``zone_plate``: a Fresnel zone plate's far field (a disk of numerical aperture
  ``lambda / (2 dr)``, ``dr`` the outermost zone width, optional central stop) with the
  defocus phase ``exp(-i pi lambda defocus f^2)``, brought to the sample plane by an inverse
  FFT: needs the photon energy, distance and detector pixel size;
- ``from_data``: the probe retrieved from the mean pattern: alternating projections between
  its far-field amplitude (the square root of the mean pattern; bad pixels left free) and a
  disk support of the ``disk`` probe's diameter, started from that disk, its dark speckle
  lifted to a floor. The mean pattern fixes only the far-field amplitude; the scan step
  fixes the size (the zero-phase inverse FFT used before refined to a far worse object);
- ``auto``: the file's probe, else the disk when its far field matches the mean pattern
  (:data:`DISK_MATCH`), else ``from_data``.

Scale: all are returned with unit peak amplitude; the probe scale fit
(``data.probe_scale = 'fit'``) brings them to the data's counts.
"""

from __future__ import annotations

import numpy as np

from ..config.schema import ProbeConfig
from ..errors import DataError
from .geometry import Geometry
from .lazy import FrameOps


def _centred_ifft(field: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(field), norm="ortho"))


def _centred_fft(field: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(field), norm="ortho"))


def _normalised(probe: np.ndarray) -> np.ndarray:
    peak = float(np.abs(probe).max())
    return (probe / peak if peak > 0 else probe).astype(np.complex64)[None]


DISK_STEPS = 2.7
"""Default disk diameter in median scan steps (a linear overlap of about 63 %)."""


def disk_diameter(n: int, diameter_px: float, step_px: float | None) -> float:
    """The ``disk`` probe's diameter: ``diameter_px``, else :data:`DISK_STEPS` median scan
    steps, else n / 2."""
    return float(diameter_px or (DISK_STEPS * step_px if step_px else n / 2))


def disk_probe(n: int, diameter_px: float, step_px: float | None = None) -> np.ndarray:
    """``(1, n, n)`` flat disk of ``diameter_px`` (0: :data:`DISK_STEPS` median scan steps
    ``step_px``, else n / 2)."""
    d = disk_diameter(n, diameter_px, step_px)
    yy, xx = np.mgrid[0:n, 0:n] - (n - 1) / 2
    return _normalised(((xx**2 + yy**2) <= (d / 2) ** 2).astype(np.complex64))


def zone_plate_probe(n: int, cfg: ProbeConfig, geometry: Geometry, source: str) -> np.ndarray:
    """``(1, n, n)`` zone-plate probe at the sample (see module doc)."""
    lam, z, p = geometry.wavelength_m, geometry.detector_distance_m, \
        geometry.detector_pixel_size_m
    missing = [name for name, v in (("data.photon_energy_ev", lam), ("data.detector_distance_m",
                                    z), ("data.detector_pixel_size_m", p),
                                    ("probe.zone_plate_outer_zone_m",
                                     cfg.zone_plate_outer_zone_m)) if not v]
    if missing:
        raise DataError(f"{source}: probe.initial = 'zone_plate': expected the photon energy, "
                        "detector distance and pixel size and the zone plate's outermost zone "
                        f"width, found none for {', '.join(missing)}; set them")
    assert lam and z and p
    dx = lam * z / (n * p)
    f = np.fft.fftshift(np.fft.fftfreq(n, d=dx))  # spatial frequency, 1/m
    fy, fx = np.meshgrid(f, f, indexing="ij")
    radius = np.hypot(fx, fy)
    na_freq = 1.0 / (2.0 * cfg.zone_plate_outer_zone_m)  # NA / lambda
    pupil = (radius <= na_freq).astype(np.float64)
    if cfg.zone_plate_central_stop:
        pupil[radius < cfg.zone_plate_central_stop * na_freq] = 0.0
    if not pupil.any():
        raise DataError(f"{source}: probe.zone_plate_outer_zone_m: expected a numerical "
                        f"aperture the detector resolves, found a pupil under one detector "
                        f"pixel ({cfg.zone_plate_outer_zone_m:g} m zones)")
    if pupil.all():
        raise DataError(f"{source}: probe.zone_plate_outer_zone_m: expected a numerical "
                        f"aperture inside the detector, found one that fills it "
                        f"({cfg.zone_plate_outer_zone_m:g} m zones: NA/lambda {na_freq:.3g} /m, "
                        f"the detector reaches {f.max():.3g} /m); check the zone width and "
                        "the geometry")
    phase = -np.pi * lam * cfg.defocus_m * radius**2
    return _normalised(_centred_ifft(pupil * np.exp(1j * phase)))


FROM_DATA_ITERATIONS = 100
"""Alternating projections of the ``from_data`` probe."""
FROM_DATA_FLOOR = 0.2
"""Least amplitude of the ``from_data`` probe inside its support, as a fraction of its RMS
amplitude there (images_a: 9 % of the support was under 1e-3 of the peak intensity, and two
pixels of the scanned region went unreconstructed)."""


def probe_from_data(mean_pattern: np.ndarray, diameter_px: float,
                    bad_pixels: np.ndarray | None = None,
                    iterations: int = FROM_DATA_ITERATIONS) -> np.ndarray:
    """``(1, n, n)`` probe whose far-field amplitude is the square root of ``mean_pattern``
    (centred, counts; ``bad_pixels`` True = not measured) and which lies inside a disk of
    ``diameter_px`` (see module doc)."""
    mean = np.clip(np.nan_to_num(np.asarray(mean_pattern, np.float64)), 0, None)
    n = mean.shape[-1]
    free = np.zeros(mean.shape, bool) if bad_pixels is None else np.asarray(bad_pixels, bool)
    amplitude = np.sqrt(mean)
    support = np.abs(disk_probe(n, diameter_px)[0]) > 0
    probe = support.astype(np.complex128)
    if not amplitude[~free].any():
        return _normalised(probe)
    for _ in range(max(0, int(iterations))):
        far = _centred_fft(probe)
        far = np.where(free, far, amplitude * np.exp(1j * np.angle(far)))
        probe = _centred_ifft(far) * support
    # Retrieval leaves dark speckle inside the support; lit like the disk, every pixel of the
    # scanned region is seen (the solvers leave out pixels under 1e-3 of the peak coverage).
    amp = np.abs(probe)
    floor = FROM_DATA_FLOOR * np.sqrt(np.mean(amp[support] ** 2))
    probe = np.where(support & (amp < floor), floor * np.exp(1j * np.angle(probe)), probe)
    return _normalised(probe)


DISK_MATCH = 0.8
"""``auto`` without a probe in the file starts from the disk when the correlation of its
far-field amplitude with the data's (:func:`disk_match`) is at least this, else from the
data. Measured: simulated defocused-disk probes 0.91-0.93 (the disk refines best there);
zone-plate-like probes with a central stop 0.25-0.45 (the disk fails, ``from_data`` works;
docs/formats.md)."""


def disk_match(mean_pattern: np.ndarray, diameter_px: float,
               bad_pixels: np.ndarray | None = None) -> float:
    """Correlation (cosine, over the measured pixels) of the far-field amplitude of the disk
    of ``diameter_px`` with the square root of the centred ``mean_pattern``; 0 when either is
    zero."""
    mean = np.clip(np.nan_to_num(np.asarray(mean_pattern, np.float64)), 0, None)
    good = np.ones(mean.shape, bool) if bad_pixels is None else ~np.asarray(bad_pixels, bool)
    data = np.sqrt(mean)[good]
    disk = np.abs(_centred_fft(disk_probe(mean.shape[-1], diameter_px)[0]))[good]
    norm = float(np.linalg.norm(data) * np.linalg.norm(disk))
    return float(data @ disk) / norm if norm > 0 else 0.0


def auto_start(mean_pattern: np.ndarray, diameter_px: float,
               bad_pixels: np.ndarray | None = None) -> tuple[str, float]:
    """``("disk" | "from_data", disk_match)``: the start ``auto`` takes without a probe in
    the file (see :data:`DISK_MATCH`)."""
    match = disk_match(mean_pattern, diameter_px, bad_pixels)
    return ("disk" if match >= DISK_MATCH else "from_data"), match


def resample_probe(probe: np.ndarray, ops: FrameOps, stored: int) -> np.ndarray:
    """A file's probe (stored frame) brought to the engine's frame: binning the detector by
    ``b`` shrinks the field of view (central ``N / b`` of the probe); cropping the detector
    to ``C`` coarsens the object pixel (central ``C`` of the probe's spectrum)."""
    out: np.ndarray = np.asarray(probe, np.complex64)
    if ops.bin > 1:
        m = stored // ops.bin
        top = (out.shape[-1] - m) // 2
        out = out[..., top:top + m, top:top + m]
    if ops.crop:
        spec = np.fft.fftshift(np.fft.fft2(out, norm="ortho"), axes=(-2, -1))
        top = (spec.shape[-1] - ops.crop) // 2
        spec = spec[..., top:top + ops.crop, top:top + ops.crop]
        out = np.fft.ifft2(np.fft.ifftshift(spec, axes=(-2, -1)), norm="ortho")
    return np.ascontiguousarray(out, np.complex64)
