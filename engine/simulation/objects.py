"""Ground-truth objects: complex transmission functions with known structure.

Every generator draws a *material map* in [0, 1] and converts it to a complex transmission
``amplitude * exp(i phase)``: amplitude from 1 (map 0) down to ``amplitude_min`` (map 1), phase
spanning ``phase_range`` centred on 0 (a global phase is meaningless in ptychography). Edges are
slightly smoothed (Gaussian, sigma 0.6 px) so objects are not aliased on the pixel grid.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from ..errors import DataError

EDGE_SIGMA_PX = 0.6
OBJECT_KINDS = ("lines", "dead_leaves", "siemens_star", "image")
TRAINING_KINDS = ("dead_leaves", "texture", "siemens_star", "cells")
"""Object kinds a beamtime model is trained on (:func:`random_object`); every one is drawn
from a random generator alone (no image file)."""


def transmission(amplitude_map: np.ndarray, phase_map: np.ndarray, amplitude_min: float,
                 phase_range: float) -> np.ndarray:
    """Complex64 transmission from two material maps in [0, 1]."""
    amplitude = 1.0 - (1.0 - amplitude_min) * np.clip(amplitude_map, 0.0, 1.0)
    phase = phase_range * (np.clip(phase_map, 0.0, 1.0) - 0.5)
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def lines_map(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A grid of horizontal and vertical bars of random pitch, width and strength, plus a few
    diagonal lines (resolution-test-like)."""
    height, width = shape
    out = np.zeros(shape)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    for axis, size in ((0, height), (1, width)):
        pos = rng.uniform(2.0, 10.0)
        while pos < size - 2:
            bar_width = rng.uniform(1.0, 4.0)
            value = rng.uniform(0.3, 1.0)
            coord = yy if axis == 0 else xx
            out = np.maximum(out, value * ((coord >= pos) & (coord < pos + bar_width)))
            pos += bar_width + rng.uniform(3.0, 14.0)
    for _ in range(max(2, (height + width) // 64)):
        angle = rng.uniform(0, np.pi)
        offset = rng.uniform(-0.5, 0.5) * max(height, width)
        dist = (xx - width / 2) * np.sin(angle) - (yy - height / 2) * np.cos(angle) - offset
        out = np.maximum(out, rng.uniform(0.3, 1.0) * (np.abs(dist) < rng.uniform(0.7, 2.5)))
    return out


def dead_leaves_maps(shape: tuple[int, int], rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Occluding disks with power-law radii (scale-invariant, natural-image-like statistics);
    each leaf has its own independent amplitude and phase values."""
    height, width = shape
    amp = np.full(shape, rng.uniform())
    phase = np.full(shape, rng.uniform())
    r_min, r_max = 2.0, max(4.0, min(height, width) / 6.0)
    # Radii ~ r^-3 (inverse-CDF sampling) cover the plane several times over.
    mean_area = np.pi * 2 * r_min**2 * np.log(r_max / r_min) / (1 - (r_min / r_max) ** 2)
    count = int(4 * height * width / mean_area) + 10
    u = rng.uniform(size=count)
    radii = r_min / np.sqrt(1 - u * (1 - (r_min / r_max) ** 2))
    cx = rng.uniform(-r_max, width + r_max, size=count)
    cy = rng.uniform(-r_max, height + r_max, size=count)
    values = rng.uniform(size=(count, 2))
    for r, x, y, (a, p) in zip(radii, cx, cy, values, strict=True):
        x0, x1 = max(int(x - r), 0), min(int(x + r) + 2, width)
        y0, y1 = max(int(y - r), 0), min(int(y + r) + 2, height)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        inside = (xx - x) ** 2 + (yy - y) ** 2 <= r * r
        amp[y0:y1, x0:x1][inside] = a
        phase[y0:y1, x0:x1][inside] = p
    return amp, phase


def siemens_star_map(shape: tuple[int, int], rng: np.random.Generator,
                     spokes: int = 36, supersample: int = 4) -> np.ndarray:
    """A Siemens star (``spokes`` sectors, random rotation) filling the object, antialiased by
    supersampling."""
    height, width = shape
    s = supersample
    yy, xx = np.mgrid[0:height * s, 0:width * s].astype(np.float64)
    yy = (yy + 0.5) / s - height / 2
    xx = (xx + 0.5) / s - width / 2
    theta = np.arctan2(yy, xx) + rng.uniform(0, 2 * np.pi)
    radius = np.hypot(xx, yy)
    star = (np.sin(spokes / 2 * theta) > 0) & (radius < 0.48 * min(height, width)) \
        & (radius > 2.0)
    return star.reshape(height, s, width, s).mean(axis=(1, 3))


def image_map(path: str | os.PathLike[str], shape: tuple[int, int]) -> np.ndarray:
    """A grey-level image file resized to ``shape`` and scaled to [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    try:
        with Image.open(p) as img:
            grey = img.convert("F").resize((shape[1], shape[0]), Image.Resampling.BICUBIC)
            values = np.asarray(grey, np.float64)
    except FileNotFoundError:
        raise DataError(f"{p}: simulation.object_path: image file not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{p}: simulation.object_path: expected an image file (PNG, TIFF, "
                        f"JPEG...), found something else ({exc})") from None
    lo, hi = float(values.min()), float(values.max())
    return (values - lo) / (hi - lo) if hi > lo else np.zeros(shape)


def texture_map(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A natural-image-like texture: a Gaussian random field with a power-law spectrum
    ``1 / f^beta`` (beta drawn in [1.6, 3.2]: from grainy to smooth), percentile-stretched to
    [0, 1]; half of them pass a random soft threshold (patchy, edge-rich like photographs)."""
    height, width = shape
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    f = np.hypot(fy, fx)
    f[0, 0] = 1.0
    beta = rng.uniform(1.6, 3.2)
    spectrum = f ** (-beta / 2) * (rng.standard_normal(f.shape)
                                   + 1j * rng.standard_normal(f.shape))
    spectrum[0, 0] = 0.0
    field_ = np.fft.irfft2(spectrum, s=shape)
    lo, hi = np.percentile(field_, [1.0, 99.0])
    out = np.clip((field_ - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    if rng.uniform() < 0.5:
        sharpness = rng.uniform(4.0, 20.0)
        out = 1.0 / (1.0 + np.exp(-sharpness * (out - rng.uniform(0.3, 0.7))))
    return out


def cells_maps(shape: tuple[int, int], rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """Cell-like phase objects: overlapping smooth ellipses (cytoplasm) with a denser nucleus
    and a few small granules; the phase map is the optical thickness, the amplitude map a
    weak absorption of it (biological specimens are mostly phase objects)."""
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    thickness = np.zeros(shape)
    count = int(rng.integers(3, 9) * height * width / 128**2) + 1
    for _ in range(count):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        a, b = rng.uniform(6, 30, size=2) * max(height, width) / 128
        angle = rng.uniform(0, np.pi)
        u = ((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)) / a
        v = (-(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)) / b
        r2 = u * u + v * v
        cell = np.sqrt(np.clip(1.0 - r2, 0.0, None))  # dome profile of a rounded cell
        nucleus = np.sqrt(np.clip(1.0 - r2 / rng.uniform(0.08, 0.25), 0.0, None))
        thickness = np.maximum(thickness, rng.uniform(0.3, 0.7) * cell
                               + rng.uniform(0.2, 0.5) * nucleus)
    for _ in range(int(rng.integers(5, 40))):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(1.0, 3.0)
        thickness += rng.uniform(0.05, 0.3) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2)
                                                     / (2 * r * r))
    thickness = gaussian_filter(thickness, 1.0)
    peak = float(thickness.max()) or 1.0
    phase = thickness / peak
    return rng.uniform(0.1, 0.5) * phase, phase


def material_maps(kind: str, shape: tuple[int, int], rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude and phase material maps in [0, 1] of one of :data:`TRAINING_KINDS`."""
    if kind == "dead_leaves":
        return dead_leaves_maps(shape, rng)
    if kind == "cells":
        return cells_maps(shape, rng)
    if kind == "texture":
        return texture_map(shape, rng), texture_map(shape, rng)
    if kind == "siemens_star":
        star = siemens_star_map(shape, rng, spokes=int(rng.integers(12, 48)))
        return star, star
    raise ValueError(f"object kind: expected one of {TRAINING_KINDS}, found {kind!r}")


def random_object(shape: tuple[int, int], rng: np.random.Generator,
                  kinds: tuple[str, ...], *, amplitude_min: float,
                  phase_max: float) -> np.ndarray:
    """A random complex64 ``(H, W)`` training object (what a beamtime model learns from).

    The kind is drawn from ``kinds``; its amplitude spans ``1`` down to a minimum drawn in
    ``[amplitude_min, 0.95]`` and its phase a peak-to-peak range drawn in ``[0.1,
    phase_max]`` rad. Half of the objects take their phase from an independent map of a
    random kind (amplitude and phase of a real specimen need not look alike: ptychodus's
    test sets use two unrelated images), and half of the maps are inverted.
    """
    kind = kinds[int(rng.integers(len(kinds)))]
    amp, phase = material_maps(kind, shape, rng)
    if rng.uniform() < 0.5:
        phase = material_maps(kinds[int(rng.integers(len(kinds)))], shape, rng)[1]
    if rng.uniform() < 0.5:
        amp = 1.0 - amp
    if rng.uniform() < 0.5:
        phase = 1.0 - phase
    amp = gaussian_filter(amp, EDGE_SIGMA_PX, mode="nearest")
    phase = gaussian_filter(phase, EDGE_SIGMA_PX, mode="nearest")
    low = rng.uniform(min(amplitude_min, 0.95), 0.95)
    return transmission(amp, phase, low, rng.uniform(0.1, max(phase_max, 0.1)))


def make_object(kind: str, shape: tuple[int, int], rng: np.random.Generator, *,
                amplitude_min: float, phase_range: float,
                image_path: str | os.PathLike[str] = "") -> np.ndarray:
    """A complex64 ``(H, W)`` ground-truth object.

    Parameters
    ----------
    kind
        ``"lines"``, ``"dead_leaves"``, ``"siemens_star"`` or ``"image"``.
    shape
        ``(H, W)`` in pixels.
    rng
        Random generator (the object's own stream: see ``simulate_scan(object_seed=...)``).
    amplitude_min, phase_range
        Lowest amplitude, and peak-to-peak phase in radians.
    image_path
        The image for ``kind = "image"`` (grey level drives both amplitude and phase).
    """
    if kind == "dead_leaves":
        amp, phase = dead_leaves_maps(shape, rng)
    elif kind == "lines":
        amp = phase = lines_map(shape, rng)
    elif kind == "siemens_star":
        amp = phase = siemens_star_map(shape, rng)
    elif kind == "image":
        amp = phase = image_map(image_path, shape)
    else:
        raise ValueError(f"object kind: expected one of {OBJECT_KINDS}, found {kind!r}")
    amp = gaussian_filter(amp, EDGE_SIGMA_PX, mode="nearest")
    # Only dead leaves have an independent phase map; the others share one material map.
    phase = gaussian_filter(phase, EDGE_SIGMA_PX, mode="nearest") if kind == "dead_leaves" \
        else amp
    return transmission(amp, phase, amplitude_min, phase_range)
