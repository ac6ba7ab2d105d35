"""``evaluate``: align a reconstruction to the truth and score amplitude and phase."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DataError
from .alignment import (
    amplitude_scale,
    centre_crop,
    common_region,
    phase_difference_model,
    register_translation,
)
from .loading import load_object
from .measures import FRC_THRESHOLD, data_range, frc_curve, frc_resolution, masked_ssim, psnr

ObjectLike = np.ndarray | str | os.PathLike


def _as_object(value: ObjectLike, name: str) -> np.ndarray:
    if isinstance(value, str | os.PathLike):
        return load_object(value)
    array = np.asarray(value)
    if array.ndim != 2 or array.dtype.kind not in "iufc":
        raise DataError(f"evaluate: {name}: expected a 2-D complex array (H, W) or a file path, "
                        f"found {array.ndim}-D {array.dtype} of shape {array.shape}")
    return array.astype(np.complex128)


def _scores(estimate: np.ndarray, reference: np.ndarray, valid: np.ndarray
            ) -> tuple[dict[str, float], float, tuple[np.ndarray, np.ndarray]]:
    value_range = data_range(reference, valid)
    freq, frc = frc_curve(estimate, reference, valid)
    return {
        "psnr": psnr(estimate, reference, valid, value_range),
        "ssim": masked_ssim(estimate, reference, valid, value_range),
        "frc_px": frc_resolution(freq, frc),
    }, value_range, (freq, frc)


@dataclass
class Aligned:
    """A reconstruction brought into the frame of a reference (see :func:`align`).

    Attributes
    ----------
    reconstruction
        Complex, the region box's shape: registered, global phase (or plane) removed,
        amplitude scaled by the least-squares factor.
    truth
        The reference over the same box.
    valid
        bool, the box's shape: pixels compared.
    box
        ``(rows, cols)`` slices of the box in the (centre-cropped) inputs.
    details
        ``shift_px``, ``offset_rad``, ``ramp_x_rad_per_px``, ``ramp_y_rad_per_px``,
        ``amplitude_scale``.
    """

    reconstruction: np.ndarray
    truth: np.ndarray
    valid: np.ndarray
    box: tuple[slice, slice]
    details: dict[str, Any]

    @property
    def phase_difference(self) -> np.ndarray:
        """``wrap(phase_rec - phase_truth)`` in radians, NaN outside ``valid``."""
        diff = np.angle(self.reconstruction * np.conj(self.truth))
        return np.where(self.valid, diff, np.nan)

    @property
    def amplitude_difference(self) -> np.ndarray:
        """``|rec| - |truth|`` (after the scale), NaN outside ``valid``."""
        diff = np.abs(self.reconstruction) - np.abs(self.truth)
        return np.where(self.valid, diff, np.nan)


def align(reconstruction: ObjectLike, truth: ObjectLike, *, mask: np.ndarray | None = None,
          border: int | None = None, phase_ramp: bool = False, register: bool = True) -> Aligned:
    """Steps (1)-(4) of :func:`evaluate`: bring ``reconstruction`` onto ``truth``.

    Also what a comparison of two results shows: their difference after the same global
    phase and amplitude-scale removal the scores use. Parameters as for :func:`evaluate`.
    """
    rec = _as_object(reconstruction, "reconstruction")
    ref = _as_object(truth, "truth")
    shape = (min(rec.shape[0], ref.shape[0]), min(rec.shape[1], ref.shape[1]))
    rec, ref = centre_crop(rec, shape), centre_crop(ref, shape)
    if mask is not None:
        mask = centre_crop(np.asarray(mask, dtype=bool), shape)
    box, valid = common_region(rec, ref, mask, int(border or 0))
    rec, ref = rec[box], ref[box]
    shift = (0.0, 0.0)
    removed = {"offset_rad": 0.0, "ramp_x_rad_per_px": 0.0, "ramp_y_rad_per_px": 0.0}
    if register:
        if phase_ramp:
            # A phase ramp moves the cross-correlation peak: take it out before registering.
            model, removed = phase_difference_model(rec, ref, valid, plane=True)
            rec = np.where(valid, rec * np.exp(-1j * model), rec)
        rec, valid, shift = _register(rec, ref, valid)
    model, phase = phase_difference_model(rec, ref, valid, plane=phase_ramp)
    phase = {key: value + removed[key] for key, value in phase.items()}
    phase["offset_rad"] = math.remainder(phase["offset_rad"], 2 * math.pi)
    rec = rec * np.exp(-1j * model)
    scale = amplitude_scale(rec, ref, valid)
    return Aligned(reconstruction=rec * scale, truth=ref, valid=valid, box=box,
                   details={"shift_px": [shift[0], shift[1]], **phase, "amplitude_scale": scale})


def evaluate(reconstruction: ObjectLike, truth: ObjectLike, *, mask: np.ndarray | None = None,
             border: int | None = None, phase_ramp: bool = False,
             register: bool = True) -> dict[str, Any]:
    """Score a reconstruction against the ground-truth object (physics.md §7).

    Steps (:func:`align`): (1) if the shapes differ, both are centre-cropped to the common
    shape; (2) region = pixels finite in both (NaN = not illuminated) and inside ``mask``, its
    bounding box shrunk by ``border`` px; (3) ``register``: sub-pixel shift of the
    reconstruction onto the truth (complex cross-correlation, 1/100 px; wrapped edge pixels
    are dropped); (4) the global phase offset (``phase_ramp``: a phase plane) of
    ``rec * conj(truth)`` is removed and the amplitude scaled by the least-squares ratio;
    (5) scores on the region.

    Scores, separately for amplitude ``|O|`` and phase ``angle(O)`` (the reconstruction's phase
    is taken as ``phase_truth + wrap(phase_rec - phase_truth)``, so 2 pi wraps cost nothing):

    - ``psnr``: dB, data range = truth's max - min in the region; a perfect match gives the
      cap 100.0 (never ``inf``, so JSON stays valid);
    - ``ssim``: skimage SSIM with that data range, mean of the map over the region;
    - ``frc_px``: Fourier ring correlation between reconstruction and truth (of the amplitude
      image, respectively the phase image), resolution in pixels where it first drops below
      1/7; 2.0 (Nyquist) when it never does.

    Parameters
    ----------
    reconstruction, truth
        Complex ``(H, W)`` arrays or files (ptychodus product .h5, NPZ with ``object`` or
        ``objectGuess``, .npy).
    mask
        Optional bool ``(H, W)``, True = evaluate this pixel (after the centre crop).
    border
        Pixels removed from each side of the covered box (None: 0).
    phase_ramp
        Also remove a fitted linear phase ramp (needed when the probe was refined).
    register
        Register sub-pixel translation before scoring.

    Returns
    -------
    dict
        ``{"amplitude": {"psnr", "ssim", "frc_px"}, "phase": {...}, "frc": {...},
        "details": {...}}``; ``frc`` holds the curves: ``frequency_per_px`` (ring centres,
        cycles per pixel), ``amplitude``, ``phase`` and the ``threshold``; ``details`` holds
        the shift ``(dy, dx)`` px, phase offset and ramp, amplitude scale, data ranges, region
        box ``[row0, row1, col0, col1]`` and pixel count.

    Raises
    ------
    DataError
        Unreadable files, non-2-D inputs, no common region.
    """
    aligned = align(reconstruction, truth, mask=mask, border=border, phase_ramp=phase_ramp,
                    register=register)
    rec, ref, valid, box = aligned.reconstruction, aligned.truth, aligned.valid, aligned.box
    amp_rec, amp_ref = np.abs(rec), np.abs(ref)
    phase_ref = np.angle(ref)
    phase_rec = phase_ref + np.angle(rec * np.conj(ref))
    amp_rec, phase_rec = (np.where(valid, x, 0.0) for x in (amp_rec, phase_rec))
    amplitude, amp_range, amp_curve = _scores(amp_rec, np.where(valid, amp_ref, 0.0), valid)
    phase_scores, phase_range, phase_curve = _scores(
        phase_rec, np.where(valid, phase_ref, 0.0), valid)
    return {
        "amplitude": amplitude,
        "phase": phase_scores,
        "frc": {"frequency_per_px": amp_curve[0].tolist(), "amplitude": amp_curve[1].tolist(),
                "phase": phase_curve[1].tolist(), "threshold": FRC_THRESHOLD},
        "details": {
            **aligned.details,
            "amplitude_data_range": amp_range,
            "phase_data_range_rad": phase_range,
            "region": [box[0].start, box[0].stop, box[1].start, box[1].stop],
            "n_pixels": int(valid.sum()),
        },
    }


def _register(rec: np.ndarray, ref: np.ndarray, valid: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    moved, still_valid, shift = register_translation(rec, ref, valid)
    if still_valid.sum() < 49:
        raise DataError(f"evaluate: registration moved the reconstruction by {shift} px, "
                        f"leaving {int(still_valid.sum())} px to compare; expected at least "
                        f"7 x 7 (try --no-register)")
    return moved, still_valid, shift


def format_table(results: dict[str, Any]) -> str:
    """A small text table of ``evaluate`` results (amplitude and phase rows).

    Examples
    --------
    >>> print(format_table({"amplitude": {"psnr": 37.6, "ssim": 0.944, "frc_px": 2.0},
    ...                     "phase": {"psnr": 42.3, "ssim": 0.98, "frc_px": 2.1}}))
    quantity    PSNR (dB)    SSIM  FRC 1/7 (px)
    amplitude       37.60  0.9440          2.00
    phase           42.30  0.9800          2.10
    """
    lines = [f"{'quantity':<10}{'PSNR (dB)':>11}{'SSIM':>8}{'FRC 1/7 (px)':>14}"]
    for name in ("amplitude", "phase"):
        row = results.get(name)
        if not row:
            continue
        lines.append(f"{name:<10}{_num(row.get('psnr'), 2):>11}{_num(row.get('ssim'), 4):>8}"
                     f"{_num(row.get('frc_px'), 2):>14}")
    return "\n".join(lines)


def _num(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{float(value):.{digits}f}"
