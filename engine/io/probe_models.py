"""Starting probes when the file has none (``probe.initial``), and probe resampling.

- ``disk``: a flat disk of ``probe.disk_diameter_px`` object pixels (0: 2.7 median scan
  steps: ptychography scans overlap by about 60-70 %);
- ``zone_plate``: a Fresnel zone plate's far field (a disk of numerical aperture
  ``lambda / (2 dr)``, ``dr`` the outermost zone width, optional central stop) with the
  defocus phase ``exp(-i pi lambda defocus f^2)``, brought to the sample plane by an inverse
  FFT: needs the photon energy, distance and detector pixel size;
- ``from_data``: the inverse FFT of the square root of the mean pattern (zero phase): a probe
  whose far-field intensity matches the data's mean, to be refined.

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


def _normalised(probe: np.ndarray) -> np.ndarray:
    peak = float(np.abs(probe).max())
    return (probe / peak if peak > 0 else probe).astype(np.complex64)[None]


DISK_STEPS = 2.7
"""Default disk diameter in median scan steps (a linear overlap of about 63 %)."""


def disk_probe(n: int, diameter_px: float, step_px: float | None = None) -> np.ndarray:
    """``(1, n, n)`` flat disk of ``diameter_px`` (0: :data:`DISK_STEPS` median scan steps
    ``step_px``, else n / 2)."""
    d = diameter_px or (DISK_STEPS * step_px if step_px else n / 2)
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


def probe_from_data(mean_pattern: np.ndarray) -> np.ndarray:
    """``(1, n, n)`` probe from the mean pattern: inverse FFT of its square root."""
    amplitude = np.sqrt(np.clip(np.nan_to_num(np.asarray(mean_pattern, np.float64)), 0, None))
    return _normalised(_centred_ifft(amplitude))


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
