"""``evaluate``: align a reconstruction to the truth and score amplitude and phase.

The rules are those of the shared scorer (``shared/tools/score_product.py``, ptychodus's own
loader), so that ``ptycho-engine evaluate`` and the scorer agree on the same files
(docs/performance.md has the side-by-side table): scanned region = convex hull of the window
centres; sub-pixel phase-correlation registration kept only when it lowers the complex error
(and never larger than the probe diameter); global phase offset and amplitude scale removed;
PSNR over the region with the truth's peak-to-peak range, SSIM with 7 x 7 windows averaged
over the region eroded by 3 px, complex NRMSE.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DataError
from .alignment import (
    amplitude_scale,
    bounding_box,
    fourier_shift,
    phase_difference_model,
    registration_shift,
    to_truth_grid,
)
from .loading import H5_SUFFIXES, load_object
from .measures import FRC_THRESHOLD, data_range, frc_curve, frc_resolution, masked_ssim, psnr
from .region import probe_diameter_px, scanned_region

ObjectLike = np.ndarray | str | os.PathLike

DEFAULT_MAX_SHIFT_PX = 8.0
"""Largest registration shift when no probe is known (the scorer's default); with a probe
the limit is its diameter (:func:`engine.metrics.region.probe_diameter_px`)."""

MIN_REGION_SIDE = 7
"""The scored region's bounding box must be at least this many pixels on each side (one SSIM
window)."""


@dataclass
class _Source:
    """An object to score and what its file says about where it sits."""

    obj: np.ndarray
    positions: np.ndarray | None = None
    probe: np.ndarray | None = None
    center_m: tuple[float, float] | None = None
    pixel_m: tuple[float, float] | None = None


def _as_source(value: ObjectLike, name: str) -> _Source:
    if isinstance(value, str | os.PathLike):
        if str(value).lower().endswith(H5_SUFFIXES):
            from ..io import read_product

            product = read_product(value)
            return _Source(np.asarray(product.object_masked, dtype=np.complex128),
                           positions=product.positions, probe=product.probe,
                           center_m=product.object_center_m,
                           pixel_m=product.object_pixel_size_m)
        return _Source(load_object(value))
    array = np.asarray(value)
    if array.ndim != 2 or array.dtype.kind not in "iufc":
        raise DataError(f"evaluate: {name}: expected a 2-D complex array (H, W) or a file path, "
                        f"found {array.ndim}-D {array.dtype} of shape {array.shape}")
    return _Source(array.astype(np.complex128))


def _grid_offset(rec: _Source, ref: _Source) -> tuple[float, float]:
    """Truth centre minus reconstruction centre, in pixels (0 unless both files say)."""
    if rec.pixel_m is None or ref.pixel_m is None or rec.center_m is None \
            or ref.center_m is None:
        return (0.0, 0.0)
    for axis, (a, b) in enumerate(zip(rec.pixel_m, ref.pixel_m, strict=True)):
        if not math.isclose(a, b, rel_tol=1e-3):
            raise DataError(
                f"evaluate: object pixel {'width' if axis == 0 else 'height'} differs: "
                f"reconstruction {a:.6e} m, truth {b:.6e} m; expected equal sizes (within "
                "0.1 %), resampling to another pixel size is not scored")
    return ((ref.center_m[1] - rec.center_m[1]) / rec.pixel_m[1],
            (ref.center_m[0] - rec.center_m[0]) / rec.pixel_m[0])


def _fallback_region(rec: np.ndarray, ref: np.ndarray, mask: np.ndarray | None,
                     border: int) -> np.ndarray:
    """No positions: the finite pixels of both inside their bounding box minus ``border``."""
    valid = np.isfinite(rec) & np.isfinite(ref)
    if mask is not None:
        valid &= mask
    if not valid.any():
        raise DataError("evaluate: expected a region where reconstruction and truth are both "
                        "finite (and inside the mask), found none")
    box = bounding_box(valid)
    inner = np.zeros_like(valid)
    inner[box[0].start + border:box[0].stop - border,
          box[1].start + border:box[1].stop - border] = True
    return valid & inner


def _check_region(region: np.ndarray, how: str) -> None:
    if not region.any():
        raise DataError(f"evaluate: the scored region ({how}) is empty")
    box = bounding_box(region)
    height, width = box[0].stop - box[0].start, box[1].stop - box[1].start
    if min(height, width) < MIN_REGION_SIDE:
        raise DataError(f"evaluate: expected a scored region ({how}) of at least "
                        f"{MIN_REGION_SIDE} x {MIN_REGION_SIDE} px, found {height} x {width} px")


def _scores(truth: np.ndarray, rec: np.ndarray, region: np.ndarray) -> dict[str, Any]:
    """Scores after removing the global phase offset and the amplitude scale."""
    t, r = truth[region], rec[region]
    cross = np.sum(t * np.conj(r))
    offset = float(np.angle(cross)) if abs(cross) > 0 else 0.0
    energy = float(np.sum(np.abs(r) ** 2))
    scale = amplitude_scale(rec, truth, region)
    c = cross / energy if energy > 0 else 0.0
    nrmse = float(np.linalg.norm(c * r - t) / max(float(np.linalg.norm(t)), 1e-300))
    phase_t = np.angle(truth)
    images = {"amplitude": (np.abs(truth), scale * np.abs(rec)),
              "phase": (phase_t, phase_t + np.angle(rec * np.exp(1j * offset) * np.conj(truth)))}
    box = bounding_box(region)
    out: dict[str, Any] = {"nrmse": nrmse, "offset_rad": offset, "amplitude_scale": scale,
                           "frc": {"threshold": FRC_THRESHOLD}}
    for name, (ref_img, est_img) in images.items():
        rng = data_range(ref_img, region)
        freq, frc = frc_curve(est_img[box], ref_img[box], region[box])
        out["frc"]["frequency_per_px"] = np.asarray(freq).tolist()
        out["frc"][name] = np.asarray(frc).tolist()
        out[name] = {"psnr": psnr(est_img, ref_img, region, rng),
                     "ssim": masked_ssim(est_img, ref_img, region, rng),
                     "frc_px": frc_resolution(freq, frc)}
        out[f"{name}_range"] = rng
    return out


@dataclass
class Aligned:
    """A reconstruction brought into the frame of a reference (see :func:`align`).

    Attributes
    ----------
    reconstruction
        Complex, the region box's shape: on the reference's grid, registered, global phase
        (or plane) removed, amplitude scaled by the least-squares factor.
    truth
        The reference over the same box.
    valid
        bool, the box's shape: pixels compared.
    box
        ``(rows, cols)`` slices of the box in the reference's pixel grid.
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
          border: int | None = None, phase_ramp: bool = False, register: bool = True,
          max_shift_px: float | None = None) -> Aligned:
    """Bring ``reconstruction`` onto ``truth`` by the rules of :func:`evaluate`.

    What a comparison of two results shows: their difference on the reference's grid, after
    the same registration, global phase and amplitude-scale removal the scores use. The region
    is the pixels finite in both (inside ``mask``), ``border`` px in from their bounding box.
    """
    rec_src = _as_source(reconstruction, "reconstruction")
    ref_src = _as_source(truth, "truth")
    ref = ref_src.obj
    rec, _ = to_truth_grid(rec_src.obj, ref.shape, _grid_offset(rec_src, ref_src))
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
    valid = _fallback_region(rec, ref, mask, int(border or 0))
    _check_region(valid, "finite pixels of both")
    rec = np.where(np.isfinite(rec), rec, rec[valid].mean())
    ref = np.where(np.isfinite(ref), ref, ref[valid].mean())
    removed = {"offset_rad": 0.0, "ramp_x_rad_per_px": 0.0, "ramp_y_rad_per_px": 0.0}
    if phase_ramp:
        model, removed = phase_difference_model(rec, ref, valid, plane=True)
        rec = rec * np.exp(-1j * model)
    shift = (0.0, 0.0)
    limit = DEFAULT_MAX_SHIFT_PX if max_shift_px is None else float(max_shift_px)
    if register:
        found = registration_shift(ref, rec, valid)
        if found is not None and found != (0.0, 0.0) \
                and max(abs(found[0]), abs(found[1])) <= limit:
            moved = fourier_shift(rec, found)
            if _scores(ref, moved, valid)["nrmse"] < _scores(ref, rec, valid)["nrmse"]:
                rec, shift = moved, found
    model, phase = phase_difference_model(rec, ref, valid, plane=False)
    phase = {key: value + removed[key] for key, value in phase.items()}
    phase["offset_rad"] = math.remainder(phase["offset_rad"], 2 * math.pi)
    rec = rec * np.exp(-1j * model)
    scale = amplitude_scale(rec, ref, valid)
    box = bounding_box(valid)
    return Aligned(reconstruction=(rec * scale)[box], truth=ref[box], valid=valid[box], box=box,
                   details={"shift_px": [shift[0], shift[1]], **phase,
                            "amplitude_scale": scale})


def evaluate(reconstruction: ObjectLike, truth: ObjectLike, *,
             positions: np.ndarray | None = None, probe: np.ndarray | None = None,
             mask: np.ndarray | None = None, border: int | None = None,
             phase_ramp: bool = False, register: bool = True,
             max_shift_px: float | None = None) -> dict[str, Any]:
    """Score a reconstruction against the ground-truth object (physics.md §7).

    Steps: (1) the reconstruction is placed on the truth's pixel grid (through both objects'
    centres when both are product files, else centred); (2) region = convex hull of the window
    centres (``positions``, else those of the truth file, else of the reconstruction file),
    inside ``mask``; without any positions: the pixels finite in both, inside ``mask``, in
    their bounding box minus ``border`` px; (3) ``phase_ramp``: a fitted phase plane is
    removed; (4) ``register``: a sub-pixel shift by phase correlation, applied as a Fourier
    shift only when it lowers the complex NRMSE and is at most ``max_shift_px`` (default: the
    probe diameter, from ``probe`` or the files; 8 px when no probe is known); otherwise no
    shift, with a note; (5) global phase offset and least-squares amplitude scale removed;
    (6) scores.

    Scores, separately for amplitude ``|O|`` and phase ``angle(O)`` (the reconstruction's phase
    is taken as ``phase_truth + wrap(phase_rec - phase_truth)``, so 2 pi wraps cost nothing):

    - ``psnr``: dB, data range = the truth's peak-to-peak in the region; a perfect match gives
      the cap 200.0 (never ``inf``, so JSON stays valid);
    - ``ssim``: skimage SSIM with that data range and 7 x 7 windows, the map averaged over
      the region eroded by 3 px;
    - ``frc_px``: Fourier ring correlation resolution (1/7 threshold) in pixels.

    plus ``nrmse``: ``||c rec - truth|| / ||truth||`` with the best complex scalar ``c``.

    Parameters
    ----------
    reconstruction, truth
        Complex ``(H, W)`` arrays or files (ptychodus product .h5, NPZ with ``object`` or
        ``objectGuess``, .npy).
    positions
        ``(M, 2)`` window centres ``(x, y)`` on the truth's pixel grid.
    probe
        Complex probe (its 90 %-energy diameter bounds the registration shift).
    mask
        Optional bool array of the truth's shape, True = evaluate this pixel.
    border
        Without positions only: pixels removed from each side of the covered box (None: 0).
    phase_ramp
        Also remove a fitted linear phase ramp (needed when the probe was refined).
    register
        Register sub-pixel translation before scoring.
    max_shift_px
        Largest registration shift applied (None: the probe diameter, see above).

    Returns
    -------
    dict
        ``{"amplitude": {"psnr", "ssim", "frc_px"}, "phase": {...}, "nrmse": float,
        "unregistered": {same three}, "details": {...}}``; ``details`` holds the applied
        ``shift_px`` ``(dy, dx)``, ``registration`` (``found_px``, ``applied``,
        ``max_shift_px``, ``note``), phase offset and ramp, amplitude scale, data ranges, the
        region kind, its bounding box ``[row0, row1, col0, col1]``, pixel count and ``notes``.

    Raises
    ------
    DataError
        Unreadable files, non-2-D inputs, different pixel sizes, an empty or too small
        region, non-finite reconstruction pixels inside the scanned region.
    """
    rec_src = _as_source(reconstruction, "reconstruction")
    ref_src = _as_source(truth, "truth")
    ref = ref_src.obj
    offset = _grid_offset(rec_src, ref_src)
    rec, grid_note = to_truth_grid(rec_src.obj, ref.shape, offset)
    notes = [grid_note] if grid_note else []
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != ref.shape:
            raise DataError(f"evaluate: mask: expected the truth's shape {ref.shape}, found "
                            f"{mask.shape}")
    if positions is None and ref_src.positions is not None:
        positions = ref_src.positions
    elif positions is None and rec_src.positions is not None:
        shift_rows = offset[0] + (rec_src.obj.shape[0] - ref.shape[0]) / 2
        shift_cols = offset[1] + (rec_src.obj.shape[1] - ref.shape[1]) / 2
        positions = rec_src.positions - np.array([shift_cols, shift_rows])
    if positions is not None:
        kind = "hull of the window centres"
        region = scanned_region(np.asarray(positions), ref.shape) & np.isfinite(ref)
        if mask is not None:
            region &= mask
        _check_region(region, kind)
        bad = int(np.sum(~np.isfinite(rec) & region))
        if bad:
            raise DataError(f"evaluate: the reconstruction has {bad} non-finite pixels inside "
                            "the scanned region (convex hull of the window centres); expected "
                            "finite values there")
    else:
        kind = "finite pixels of both"
        region = _fallback_region(rec, ref, mask, int(border or 0))
        _check_region(region, kind)
    rec = np.where(np.isfinite(rec), rec, rec[region].mean())
    ref = np.where(np.isfinite(ref), ref, ref[region].mean())

    removed = {"offset_rad": 0.0, "ramp_x_rad_per_px": 0.0, "ramp_y_rad_per_px": 0.0}
    if phase_ramp:
        model, removed = phase_difference_model(rec, ref, region, plane=True)
        rec = rec * np.exp(-1j * model)

    probe_known = probe if probe is not None else (
        ref_src.probe if ref_src.probe is not None else rec_src.probe)
    if max_shift_px is not None:
        limit, limit_why = float(max_shift_px), "max_shift_px"
    elif probe_known is not None:
        limit, limit_why = probe_diameter_px(probe_known), "probe diameter"
    else:
        limit, limit_why = DEFAULT_MAX_SHIFT_PX, "no probe known"
    unregistered = _scores(ref, rec, region)
    best, found, applied, note = unregistered, None, False, None
    if register:
        found = registration_shift(ref, rec, region)
        if found is None:
            note = "the reconstruction is featureless in the region: registration skipped"
        elif max(abs(found[0]), abs(found[1])) > limit:
            note = (f"registration found a shift of ({found[0]:.2f}, {found[1]:.2f}) px, more "
                    f"than the limit {limit:.1f} px ({limit_why}): not applied")
        elif found != (0.0, 0.0):
            moved = _scores(ref, fourier_shift(rec, found), region)
            if moved["nrmse"] < unregistered["nrmse"]:
                best, applied = moved, True
            else:
                note = "the registration shift did not lower the complex error: not applied"
    if note:
        notes.append(note)

    box = bounding_box(region)
    details = {
        "shift_px": list(found) if applied and found else [0.0, 0.0],
        "registration": {"found_px": list(found) if found else None, "applied": applied,
                         "max_shift_px": limit, "note": note},
        # the reconstruction's phase minus the truth's (the scorer reports its negative)
        "offset_rad": math.remainder(removed["offset_rad"] - best["offset_rad"], 2 * math.pi),
        "ramp_x_rad_per_px": removed["ramp_x_rad_per_px"],
        "ramp_y_rad_per_px": removed["ramp_y_rad_per_px"],
        "amplitude_scale": best["amplitude_scale"],
        "amplitude_data_range": best["amplitude_range"],
        "phase_data_range_rad": best["phase_range"],
        "region_kind": kind,
        "region": [box[0].start, box[0].stop, box[1].start, box[1].stop],
        "n_pixels": int(region.sum()),
        "notes": notes,
    }
    return {
        "amplitude": best["amplitude"],
        "phase": best["phase"],
        "nrmse": best["nrmse"],
        "frc": best["frc"],
        "unregistered": {key: unregistered[key] for key in ("amplitude", "phase", "nrmse")},
        "details": details,
    }


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
    if results.get("nrmse") is not None:
        lines.append(f"complex NRMSE {_num(results['nrmse'], 4)}")
    return "\n".join(lines)


def _num(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{float(value):.{digits}f}"
