"""Experiment geometry and the pixel <-> metre conversion of scan positions.

Conventions (docs/formats.md, shared physics contract):

- object pixel size ``dx = lambda * z / (N * detector_pixel_size)``,
  ``lambda[m] = 1.239841984e-6 / E[eV]``;
- pixel-centre convention of current ptychodus: pixel index ``i`` has its centre at coordinate
  ``i`` and the object centre sits at index ``(W - 1) / 2``, so
  ``x_px = (x_m - center_x_m) / pixel_width_m + (W - 1) / 2`` (same for y with the height).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

HC_EV_M = 1.239841984e-6
"""Planck constant times speed of light in eV * m: ``lambda[m] = HC_EV_M / E[eV]``."""


def _known(value: float | None) -> float | None:
    """``value`` when it is a finite positive number, else ``None`` (unknown)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) and value > 0 else None


@dataclass(frozen=True)
class Geometry:
    """Where the detector sits and what it sees; any field may be ``None`` (unknown).

    Attributes
    ----------
    photon_energy_ev
        Photon energy in eV.
    detector_distance_m
        Sample-detector distance in metres.
    detector_pixel_size_m
        Detector pixel side in metres (square pixels assumed; ptychodus stores width and
        height, we keep the width).
    object_pixel_size_m
        Object pixel side in metres, when a file states it (otherwise derived, see
        :meth:`object_pixel_size`).
    """

    photon_energy_ev: float | None = None
    detector_distance_m: float | None = None
    detector_pixel_size_m: float | None = None
    object_pixel_size_m: float | None = None

    def __post_init__(self) -> None:
        # Zero, negative and NaN all mean "unknown" in files; normalise them to None once.
        for name in ("photon_energy_ev", "detector_distance_m", "detector_pixel_size_m",
                     "object_pixel_size_m"):
            object.__setattr__(self, name, _known(getattr(self, name)))

    @property
    def wavelength_m(self) -> float | None:
        """X-ray wavelength in metres, or ``None`` when the energy is unknown."""
        if self.photon_energy_ev is None:
            return None
        return HC_EV_M / self.photon_energy_ev

    def object_pixel_size(self, n: int) -> float | None:
        """The object pixel size in metres: as stated, else ``lambda z / (N p)``, else ``None``."""
        if self.object_pixel_size_m is not None:
            return self.object_pixel_size_m
        lam, z, p = self.wavelength_m, self.detector_distance_m, self.detector_pixel_size_m
        if lam is None or z is None or p is None:
            return None
        return lam * z / (n * p)

    def overridden(self, **values: float) -> Geometry:
        """A copy where every given value that is known (> 0) replaces the stored one."""
        known = {k: v for k, v in values.items() if _known(v) is not None}
        return replace(self, **known) if known else self

    def to_dict(self) -> dict[str, float | None]:
        """Plain JSON-able mapping (``None`` for unknown fields)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Geometry:
        """Build from a mapping, ignoring keys that are not geometry fields."""
        if not isinstance(data, dict):
            return cls()
        names = ("photon_energy_ev", "detector_distance_m", "detector_pixel_size_m",
                 "object_pixel_size_m")
        values = {}
        for name in names:
            value = data.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values[name] = float(value)
        return cls(**values)


def metres_to_pixels(
    coords_m: np.ndarray, center_m: float, pixel_size_m: float, size_px: int
) -> np.ndarray:
    """Positions in metres -> object pixels (pixel-centre convention, see module doc)."""
    return (np.asarray(coords_m, np.float64) - center_m) / pixel_size_m + (size_px - 1) / 2.0


def pixels_to_metres(
    coords_px: np.ndarray, center_m: float, pixel_size_m: float, size_px: int
) -> np.ndarray:
    """Object pixels -> metres, the exact inverse of :func:`metres_to_pixels`."""
    return (np.asarray(coords_px, np.float64) - (size_px - 1) / 2.0) * pixel_size_m + center_m


def fresnel_probe_factor(
    object_pixel_size_m: float | None, geometry: Geometry, n: int
) -> float | None:
    """Amplitude factor from a ptychodus-convention probe to our count-scaled probe.

    Ptychodus predicts ``counts = (F N)^2 |fftshift(FFT2_ortho(P Q O))|^2`` with
    ``F = dx^2 / (lambda z)``; our forward model is ``|fftshift(FFT2_ortho(P O))|^2``. So
    ``P_ours = F N * P_ptychodus`` (the quadratic phase Q does not change the total).
    ``None`` when the wavelength, the distance or the pixel size is unknown.
    """
    lam, z = geometry.wavelength_m, geometry.detector_distance_m
    dx = _known(object_pixel_size_m)
    if lam is None or z is None or dx is None:
        return None
    return dx * dx / (lam * z) * n
