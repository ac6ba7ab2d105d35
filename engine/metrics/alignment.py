"""Bring a reconstruction into the frame of the truth before measuring (physics.md §7).

The rules are those of the shared scorer (``shared/tools/score_product.py``), so both give
the same numbers on the same files: the reconstruction is placed on the truth's pixel grid
through the two objects' centres; a sub-pixel translation is found by phase correlation
(:func:`registration_shift`) and applied as a Fourier shift (:func:`fourier_shift`); the
global phase offset (optionally a phase plane, :func:`phase_difference_model`) and the
least-squares amplitude scale (:func:`amplitude_scale`) are removed.
"""

from __future__ import annotations

import math

import numpy as np

REGISTRATION_UPSAMPLE = 50
"""Sub-pixel precision of registration: 1 / 50 px (the scorer's default)."""

REGISTRATION_TAPER = 0.25
"""Tukey window fraction applied to both images before phase correlation."""

SHIFT_PAD_PX = 32
"""Reflect padding around an image before it is Fourier-shifted (no wrap-around ringing)."""


def to_truth_grid(reconstruction: np.ndarray, truth_shape: tuple[int, int],
                  offset_yx: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, str | None]:
    """The reconstruction resampled onto the truth's pixel grid, NaN where it has no data.

    Truth pixel ``(r, c)`` sits at reconstruction pixel ``(r + dy, c + dx)`` with
    ``dy = offset_yx[0] + (h_rec - h_truth) / 2`` (likewise ``dx``): ``offset_yx`` is the
    truth's centre minus the reconstruction's, in pixels (0 for arrays that share a centre).
    Whole-pixel offsets are cropped or padded; fractional ones are interpolated (cubic).

    Returns
    -------
    array : np.ndarray
        complex128 of ``truth_shape``.
    note : str or None
        How the grids were matched, when they differ.
    """
    h_t, w_t = truth_shape
    h_r, w_r = reconstruction.shape
    off_y = float(offset_yx[0]) + (h_r - h_t) / 2
    off_x = float(offset_yx[1]) + (w_r - w_t) / 2
    iy, ix = round(off_y), round(off_x)
    if abs(off_y - iy) < 1e-3 and abs(off_x - ix) < 1e-3:
        out = np.full((h_t, w_t), np.nan + 0j, dtype=np.complex128)
        r0, r1 = max(0, -iy), min(h_t, h_r - iy)
        c0, c1 = max(0, -ix), min(w_t, w_r - ix)
        if r1 > r0 and c1 > c0:
            out[r0:r1, c0:c1] = reconstruction[r0 + iy:r1 + iy, c0 + ix:c1 + ix]
        note = None
        if (iy, ix) != (0, 0) or (h_r, w_r) != (h_t, w_t):
            note = (f"reconstruction grid {h_r}x{w_r} placed on the truth grid {h_t}x{w_t} "
                    f"with whole-pixel offset (row, col) = ({iy}, {ix})")
        return out, note
    from scipy.ndimage import map_coordinates

    yy, xx = np.mgrid[:h_t, :w_t].astype(np.float64)
    coords = np.array([yy + off_y, xx + off_x])
    finite = np.isfinite(reconstruction)
    data = np.where(finite, reconstruction, 0)
    re = map_coordinates(data.real, coords, order=3, mode="constant", cval=np.nan)
    im = map_coordinates(data.imag, coords, order=3, mode="constant", cval=np.nan)
    valid = map_coordinates(finite.astype(np.float64), coords, order=1, mode="constant",
                            cval=0.0)
    out = re + 1j * im
    out[valid < 0.999] = np.nan
    return out, (f"reconstruction grid offset by a fraction of a pixel (row, col) = "
                 f"({off_y:.3f}, {off_x:.3f}); interpolated (cubic) onto the truth grid")


def bounding_box(region: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns of the smallest box holding every True pixel of ``region``."""
    rows = np.nonzero(region.any(axis=1))[0]
    cols = np.nonzero(region.any(axis=0))[0]
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def registration_shift(truth: np.ndarray, reconstruction: np.ndarray, region: np.ndarray,
                       upsample: int = REGISTRATION_UPSAMPLE) -> tuple[float, float] | None:
    """Shift ``(dy, dx)`` px that moves the reconstruction onto the truth, or None.

    Phase correlation (skimage ``phase_cross_correlation``, ``normalization='phase'``,
    ``upsample`` sub-pixel steps) of the complex images over the region's bounding box, each
    with its region mean removed and tapered by a Tukey window. None when the reconstruction
    is featureless in the region (nothing to register).
    """
    from scipy.signal.windows import tukey
    from skimage.registration import phase_cross_correlation

    box = bounding_box(region)
    inside = region[box]
    t = truth[box] - truth[box][inside].mean()
    r = reconstruction[box] - reconstruction[box][inside].mean()
    if np.std(r[inside]) < 1e-12 * max(1.0, float(np.abs(reconstruction[box][inside]).mean())):
        return None
    window = np.outer(tukey(t.shape[0], REGISTRATION_TAPER), tukey(t.shape[1],
                                                                    REGISTRATION_TAPER))
    shift, _, _ = phase_cross_correlation(t * window, r * window, upsample_factor=upsample,
                                          normalization="phase")
    return float(shift[0]), float(shift[1])


def fourier_shift(image: np.ndarray, shift_yx: tuple[float, float],
                  pad: int = SHIFT_PAD_PX) -> np.ndarray:
    """``image`` translated by ``shift_yx`` px (Fourier phase ramp, reflect-padded edges)."""
    from scipy.ndimage import fourier_shift as spectral_shift

    padded = np.pad(image, pad, mode="reflect")
    moved = np.fft.ifft2(spectral_shift(np.fft.fft2(padded), shift_yx))
    return moved[pad:-pad, pad:-pad]


def phase_difference_model(reconstruction: np.ndarray, truth: np.ndarray, valid: np.ndarray,
                           plane: bool) -> tuple[np.ndarray, dict[str, float]]:
    """The phase to subtract from the reconstruction: a constant, or a plane when asked.

    Constant: ``angle(sum(rec * conj(truth)))`` over ``valid``. Plane: a coarse gradient from
    the peak of the 4x zero-padded FFT of ``exp(i (phi_rec - phi_truth))`` (handles wraps),
    refined by a least-squares fit of the remaining small phase difference weighted by
    ``|rec| |truth|``.

    Returns
    -------
    model : np.ndarray
        Phase in radians, the inputs' shape.
    params : dict
        ``offset_rad`` at the image centre and ``ramp_x_rad_per_px``, ``ramp_y_rad_per_px``.
    """
    product = np.where(valid, reconstruction * np.conj(truth), 0)
    height, width = product.shape
    yy, xx = np.mgrid[:height, :width].astype(np.float64)
    yy -= (height - 1) / 2
    xx -= (width - 1) / 2
    gx = gy = 0.0
    if plane:
        unit = np.where(np.abs(product) > 0, product / np.maximum(np.abs(product), 1e-300), 0)
        spectrum = np.abs(np.fft.fft2(unit, s=(4 * height, 4 * width)))
        ky, kx = np.unravel_index(int(np.argmax(spectrum)), spectrum.shape)
        gy = 2 * math.pi * float(np.fft.fftfreq(4 * height)[ky])
        gx = 2 * math.pi * float(np.fft.fftfreq(4 * width)[kx])
    ramp = gx * xx + gy * yy
    offset = float(np.angle(np.sum(product * np.exp(-1j * ramp))))
    if plane:
        residual = np.angle(product * np.exp(-1j * (ramp + offset)))
        weight = np.sqrt(np.abs(product[valid]))
        design = np.stack([np.ones(weight.size), xx[valid], yy[valid]], axis=1) * weight[:, None]
        coef = np.linalg.lstsq(design, residual[valid] * weight, rcond=None)[0]
        offset += float(coef[0])
        gx += float(coef[1])
        gy += float(coef[2])
    model = offset + gx * xx + gy * yy
    return model, {"offset_rad": float(math.remainder(offset, 2 * math.pi)),
                   "ramp_x_rad_per_px": gx, "ramp_y_rad_per_px": gy}


def amplitude_scale(reconstruction: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> float:
    """Least-squares factor ``s`` minimising ``sum (s |rec| - |truth|)^2`` over ``valid``."""
    a = np.abs(reconstruction[valid])
    denom = float(np.sum(a * a))
    return float(np.sum(a * np.abs(truth[valid])) / denom) if denom > 0 else 1.0
