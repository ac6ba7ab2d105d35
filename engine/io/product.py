"""Ptychodus product files (``*.h5``): read and write.

A product holds metadata, scan positions (metres), probe, object and loss history
(docs/formats.md §2). Conversions done here, both ways:

- positions: metres <-> object pixels, pixel-centre convention
  ``x_px = (x_m - center_x_m) / pixel_width_m + (W - 1) / 2``;
- probe: ptychodus ``(n_opr, n_modes, H, W)`` in its Fresnel convention <-> ours
  ``(modes, N, N)`` scaled to counts with a unitary FFT (``P_ours = F N * P_ptychodus``,
  ``F = dx^2 / (lambda z)``); we record the factor in the ``/probe`` attribute
  ``ptycho_pinn_probe_factor`` so our own files round-trip exactly;
- object: never-illuminated (NaN) pixels of a reconstruction are written as the complex mean
  of the illuminated pixels (ptychodus cannot hold NaN sensibly), and the boolean
  ``/illumination_mask`` (True = illuminated) is stored next to it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .checks import check_complex_array, report_duplicates, warn_if_real
from .geometry import Geometry, fresnel_probe_factor, metres_to_pixels, pixels_to_metres
from .h5files import attr, create_h5, float_attr, new_dataset, open_h5, read_dataset
from .h5links import check_root_links
from .issues import Issues

PROBE_FACTOR_ATTR = "ptycho_pinn_probe_factor"
"""``/probe`` attribute: stored probe * factor = probe in our count units (unitary FFT)."""

MASK_KEY = "illumination_mask"
"""Extra dataset: ``(H, W)`` bool, True where the object was illuminated (reconstructed)."""

DETECTOR_PIXEL_ATTR = "ptycho_pinn_detector_pixel_size_m"
SCALE_FACTOR_ATTR = "ptycho_pinn_probe_scale_factor"
UNKNOWN_PIXEL_ATTR = "ptycho_pinn_pixel_size_unknown"


@dataclass
class Product:
    """A ptychodus product, in the engine's units.

    Attributes
    ----------
    object
        ``(H, W)`` complex64, first layer, as stored (never-illuminated pixels filled; see
        ``mask`` and :attr:`object_masked`).
    probe
        ``(modes, N, N)`` complex64 of the first orthogonal-probe-relaxation mode, scaled to
        counts with a unitary FFT when the geometry allows the conversion (``probe_factor``).
    positions
        ``(P, 2)`` float64 window centres ``(x, y)`` in object pixels.
    indexes
        ``(P,)`` int64 scan index of each position.
    object_pixel_size_m, probe_pixel_size_m
        ``(width, height)`` in metres (``None`` when absent).
    object_center_m
        ``(x, y)`` of the object centre in the position frame, metres.
    geometry
        Photon energy, distance, object pixel size (and the detector pixel size when we wrote
        the file).
    loss_epochs, loss_values
        Loss history (older files: ``costs``, epochs numbered from 0).
    mask
        ``(H, W)`` bool illumination mask or ``None``.
    probe_factor
        Factor applied to the stored probe on read (``None``: unknown, taken as-is).
    name, comments
        Root attributes.
    metadata
        Every other root attribute, plus ``n_layers``, ``n_opr`` and ``probe_scale_factor``
        when present.
    source, warnings
        File path; conversions done on read.
    """

    object: np.ndarray
    probe: np.ndarray
    positions: np.ndarray
    indexes: np.ndarray
    object_pixel_size_m: tuple[float, float] | None
    probe_pixel_size_m: tuple[float, float] | None
    object_center_m: tuple[float, float]
    geometry: Geometry
    loss_epochs: np.ndarray
    loss_values: np.ndarray
    mask: np.ndarray | None = None
    probe_factor: float | None = None
    name: str = ""
    comments: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def object_masked(self) -> np.ndarray:
        """The object with NaN where it was never illuminated (per ``mask``)."""
        if self.mask is None:
            return self.object
        return np.where(self.mask, self.object, np.complex64(np.nan + 1j * np.nan))


def _promote(array: np.ndarray, ndim: int) -> np.ndarray:
    while array.ndim < ndim:
        array = array[None]
    return array


def _pair(obj: Any, wname: str, hname: str) -> tuple[float, float] | None:
    w, h = float_attr(obj, wname), float_attr(obj, hname)
    if w is None or w <= 0:
        return None
    return (w, h if h is not None and h > 0 else w)


def read_product(path: str | os.PathLike[str], *, issues: Issues | None = None,
                 content: bytes | None = None) -> Product:
    """Read a ptychodus product file (current and older attribute names).

    ``content``: the file's bytes already unpacked in memory (``path`` names it).

    Raises
    ------
    DataError
        Naming the file and every problem (missing ``/probe``, ``/object``, positions or pixel
        sizes, inconsistent lengths, non-finite values), unless ``issues`` is given.
    """
    source = str(path)
    own = issues is None
    issues = issues if issues is not None else Issues(source)
    with open_h5(path, content) as h5:
        check_root_links(h5, source)
        for key, what in (("probe", "a complex probe (n_opr, n_modes, H, W)"),
                          ("object", "a complex object (n_layers, H, W)"),
                          ("probe_position_x_m", "scan positions in metres"),
                          ("probe_position_y_m", "scan positions in metres")):
            if key not in h5 or not isinstance(h5[key], h5py.Dataset):
                raise issues.fail(f"/{key}", f"{what} (ptychodus product layout)",
                                  f"no such dataset (keys: {', '.join(sorted(h5)) or 'none'})")
        _check_position_lengths(h5, issues)
        probe_raw = read_dataset(h5, "probe", source)
        obj_raw = read_dataset(h5, "object", source)
        x_m = _real_vector(h5, "probe_position_x_m", source, issues)
        y_m = _real_vector(h5, "probe_position_y_m", source, issues)
        if "probe_position_indexes" in h5:
            indexes = np.asarray(read_dataset(h5, "probe_position_indexes", source)).reshape(-1)
            if indexes.dtype.kind not in "iu":
                issues.problem("/probe_position_indexes", "integer scan indexes",
                               f"dtype {indexes.dtype}")
                indexes = np.arange(len(x_m))
            else:
                report_duplicates(issues, "/probe_position_indexes", indexes, "positions")
        else:
            indexes = np.arange(len(x_m))
            issues.warn(f"{source}: no /probe_position_indexes; positions taken as scan "
                        f"indexes 0..{len(x_m) - 1}")
        probe_attrs = h5["probe"]
        obj_ds = h5["object"]
        probe_pixel = _pair(probe_attrs, "pixel_width_m", "pixel_height_m")
        obj_pixel = _pair(obj_ds, "pixel_width_m", "pixel_height_m")
        center = (float_attr(obj_ds, "center_x_m") or 0.0, float_attr(obj_ds, "center_y_m") or 0.0)
        stored_factor = float_attr(probe_attrs, PROBE_FACTOR_ATTR)
        loss_epochs, loss_values = _read_losses(h5, source)
        mask = None
        if MASK_KEY in h5:
            mask = np.asarray(read_dataset(h5, MASK_KEY, source)).astype(bool)
        root = {k: attr(h5, k) for k in h5.attrs}
        pixel_unknown = bool(attr(h5, UNKNOWN_PIXEL_ATTR, default=False))
        geometry = Geometry(
            photon_energy_ev=float_attr(h5, "photon_energy_eV", "probe_energy_eV"),
            detector_distance_m=float_attr(h5, "detector_object_distance_m"),
            detector_pixel_size_m=float_attr(h5, DETECTOR_PIXEL_ATTR),
            object_pixel_size_m=obj_pixel[0] if obj_pixel and not pixel_unknown else None,
        )

    for key, raw in (("/probe", probe_raw), ("/object", obj_raw)):
        if raw.dtype.kind not in "iufc":
            raise issues.fail(key, "complex numbers", f"dtype {raw.dtype}")
        if raw.size == 0:
            raise issues.fail(key, "a non-empty array", f"shape {raw.shape}")
    warn_if_real(issues, "/object", obj_raw.dtype)
    if probe_raw.ndim not in (2, 3, 4):
        raise issues.fail("/probe", "2 to 4 dimensions (n_opr, n_modes, H, W)",
                          f"shape {probe_raw.shape}")
    probe4 = _promote(probe_raw, 4)
    if probe4.shape[0] > 1:
        issues.warn(f"{source}: /probe has {probe4.shape[0]} orthogonal probe relaxation "
                    "modes; the first is used")
    probe = np.asarray(probe4[0], dtype=np.complex64)
    check_complex_array(issues, "/probe", probe, "probe")
    if obj_raw.ndim not in (2, 3):
        raise issues.fail("/object", "2 or 3 dimensions (n_layers, H, W)", f"shape {obj_raw.shape}")
    obj3 = _promote(obj_raw, 3)
    if obj3.shape[0] > 1:
        issues.warn(f"{source}: /object has {obj3.shape[0]} layers; the first is used")
    obj = np.asarray(obj3[0], dtype=np.complex64)
    if mask is not None and mask.shape != obj.shape:
        issues.problem(f"/{MASK_KEY}", f"a mask of the object's shape {obj.shape}",
                       f"shape {mask.shape}")
        mask = None
    if len(y_m) != len(x_m) or len(indexes) != len(x_m):
        issues.problem("/probe_position_x_m, /probe_position_y_m, /probe_position_indexes",
                       "equal lengths", f"{len(x_m)}, {len(y_m)} and {len(indexes)} entries")
        n = min(len(x_m), len(y_m), len(indexes))
        x_m, y_m, indexes = x_m[:n], y_m[:n], indexes[:n]
    if obj_pixel is None:
        issues.problem("/object attrs pixel_width_m, pixel_height_m",
                       "the object pixel size in metres (> 0)", "none")
        positions = np.full((len(x_m), 2), np.nan)
    else:
        height, width = obj.shape
        positions = np.stack([metres_to_pixels(x_m, center[0], obj_pixel[0], width),
                              metres_to_pixels(y_m, center[1], obj_pixel[1], height)], axis=1)

    factor = stored_factor
    if factor is None:
        factor = fresnel_probe_factor(geometry.object_pixel_size_m, geometry, probe.shape[-1])
        if factor is not None:
            issues.warn(f"{source}: probe converted from the ptychodus (Fresnel) convention "
                        f"to counts with a unitary FFT: multiplied by F*N = {factor:.6g}")
        else:
            issues.warn(f"{source}: probe scale unknown (no photon energy, distance or pixel "
                        "size): taken as stored; fit it to the data (data.probe_scale = 'fit')")
    if factor is not None:
        probe = (probe * np.float32(factor)).astype(np.complex64)

    name = str(root.pop("name", "") or "")
    comments = str(root.pop("comments", "") or "")
    metadata: dict[str, Any] = dict(root)
    metadata["n_layers"] = int(obj3.shape[0])
    metadata["n_opr"] = int(probe4.shape[0])
    if SCALE_FACTOR_ATTR in metadata:
        metadata["probe_scale_factor"] = metadata.pop(SCALE_FACTOR_ATTR)
    if own:
        issues.raise_if_any()
    return Product(
        object=obj, probe=probe, positions=positions, indexes=indexes.astype(np.int64),
        object_pixel_size_m=None if pixel_unknown else obj_pixel,
        probe_pixel_size_m=probe_pixel, object_center_m=center,
        geometry=geometry, loss_epochs=loss_epochs, loss_values=loss_values, mask=mask,
        probe_factor=factor, name=name, comments=comments, metadata=metadata, source=source,
        warnings=list(issues.warnings),
    )


def _check_position_lengths(h5: h5py.File, issues: Issues) -> None:
    """Refuse, from the declared shapes alone, position datasets of different lengths."""
    keys = ["probe_position_x_m", "probe_position_y_m"] + \
        (["probe_position_indexes"] if "probe_position_indexes" in h5 else [])
    sizes = []
    for key in keys:
        obj = h5[key]
        sizes.append(int(np.prod(obj.shape)) if isinstance(obj, h5py.Dataset) and obj.shape
                     is not None else -1)
    if len(set(sizes)) > 1:
        raise issues.fail(", ".join(f"/{k}" for k in keys), "one entry per scan position in "
                          "each (equal lengths)", f"{', '.join(map(str, sizes))} entries")


def _real_vector(h5: h5py.File, key: str, source: str, issues: Issues) -> np.ndarray:
    """Dataset ``key`` as a flat float64 array; other dtypes (text, complex) are refused."""
    raw = read_dataset(h5, key, source)
    if raw.dtype.kind not in "iuf":
        raise issues.fail(f"/{key}", "real numbers", f"dtype {raw.dtype}")
    return np.asarray(raw, np.float64).reshape(-1)


def _read_losses(h5: h5py.File, source: str) -> tuple[np.ndarray, np.ndarray]:
    # The loss history is informative only: one that is not numbers is ignored, not fatal.
    key = "loss_values" if "loss_values" in h5 else "costs" if "costs" in h5 else None
    raw = read_dataset(h5, key, source) if key else np.zeros(0)
    values = np.asarray(raw, np.float64).reshape(-1) if raw.dtype.kind in "iuf" \
        else np.zeros(0)
    epochs = np.arange(len(values))
    if key == "loss_values" and "loss_epochs" in h5:
        stored = np.asarray(read_dataset(h5, "loss_epochs", source)).reshape(-1)
        epochs = stored if stored.dtype.kind in "iu" else epochs
    n = min(len(values), len(epochs))
    return epochs[:n].astype(np.int64), values[:n]


def fill_unilluminated(obj: np.ndarray, mask: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The NaN rule: ``(filled object, illumination mask)``.

    Pixels that are NaN/inf or outside ``mask`` become the complex mean of the remaining
    pixels (``1 + 0j`` when none remain), so that other tools display a neutral value and can
    start from the product; the mask (True = illuminated) keeps the information.
    """
    obj = np.asarray(obj, dtype=np.complex64)
    valid = np.isfinite(obj)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    fill = np.complex64(obj[valid].mean()) if valid.any() else np.complex64(1.0)
    return np.where(valid, obj, fill).astype(np.complex64), valid


def write_product(
    path: str | os.PathLike[str],
    *,
    obj: np.ndarray,
    probe: np.ndarray,
    positions_px: np.ndarray,
    object_pixel_size_m: float | tuple[float, float] | None,
    geometry: Geometry | None = None,
    indexes: np.ndarray | None = None,
    object_center_m: tuple[float, float] = (0.0, 0.0),
    loss_epochs: np.ndarray | None = None,
    loss_values: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    name: str = "",
    comments: str = "",
    probe_photon_count: float | None = None,
    exposure_time_s: float = 0.0,
    probe_scale_factor: float | None = None,
) -> Path:
    """Write a ptychodus product atomically; return its path.

    Parameters
    ----------
    obj
        ``(H, W)`` complex object; NaN/inf pixels follow the NaN rule
        (:func:`fill_unilluminated`) and an ``/illumination_mask`` is stored.
    probe
        ``(modes, N, N)`` or ``(N, N)`` complex probe in our count units; written in the
        ptychodus convention (divided by ``F N``) when energy and distance are known.
    positions_px
        ``(P, 2)`` window centres ``(x, y)`` in object pixels.
    object_pixel_size_m
        Object (and probe) pixel side, or ``(width, height)``, in metres. ``None`` (unknown
        geometry): written as 1.0 with the root attribute ``ptycho_pinn_pixel_size_unknown``,
        so positions still round-trip in pixels; the reader reports the size as unknown.
    geometry
        Photon energy and distance (written as 0 when unknown) and detector pixel size.
    indexes
        Scan index of each position (default ``0..P-1``).
    object_center_m
        Object centre in the position frame (metres).
    loss_epochs, loss_values
        Loss history (default: empty).
    mask
        Illumination mask (True = illuminated); combined with the object's finite pixels.
    probe_photon_count
        Root attribute; default: the probe's total intensity (photons per pattern with a
        transparent object).
    probe_scale_factor
        The intensity factor fitted on load (recorded as an attribute), if any.
    """
    geometry = geometry or Geometry()
    unknown_pixel = object_pixel_size_m is None
    size = 1.0 if object_pixel_size_m is None else object_pixel_size_m
    pw, ph = size if isinstance(size, tuple) else (size, size)
    pw, ph = float(pw), float(ph)
    filled, valid = fill_unilluminated(obj, mask)
    if filled.ndim != 2:
        raise ValueError(f"obj: expected shape (H, W), found {filled.shape}")
    height, width = filled.shape
    probe3 = _promote(np.asarray(probe, np.complex64), 3)
    positions = np.asarray(positions_px, np.float64).reshape(-1, 2)
    idx = np.arange(len(positions)) if indexes is None else np.asarray(indexes).reshape(-1)
    factor = None if unknown_pixel else fresnel_probe_factor(pw, geometry, probe3.shape[-1])
    stored_probe = probe3 / np.float32(factor) if factor is not None else probe3
    photons = float(np.sum(np.abs(probe3) ** 2)) if probe_photon_count is None \
        else float(probe_photon_count)
    epochs = np.zeros(0, np.int64) if loss_epochs is None else np.asarray(loss_epochs, np.int64)
    values = np.zeros(0, np.float64) if loss_values is None else np.asarray(loss_values,
                                                                             np.float64)
    with create_h5(path) as h5:
        h5.attrs["name"] = name
        h5.attrs["comments"] = comments
        h5.attrs["detector_object_distance_m"] = geometry.detector_distance_m or 0.0
        h5.attrs["photon_energy_eV"] = geometry.photon_energy_ev or 0.0
        h5.attrs["probe_photon_count"] = photons
        h5.attrs["exposure_time_s"] = float(exposure_time_s)
        h5.attrs["mass_attenuation_m2_per_kg"] = 0.0
        h5.attrs["tomography_angle_deg"] = 0.0
        h5.attrs[DETECTOR_PIXEL_ATTR] = geometry.detector_pixel_size_m or 0.0
        if probe_scale_factor is not None:
            h5.attrs[SCALE_FACTOR_ATTR] = float(probe_scale_factor)
        if unknown_pixel:
            h5.attrs[UNKNOWN_PIXEL_ATTR] = True
        new_dataset(h5, "probe_position_indexes", idx.astype(np.int64))
        new_dataset(h5, "probe_position_x_m",
                    pixels_to_metres(positions[:, 0], object_center_m[0], pw, width))
        new_dataset(h5, "probe_position_y_m",
                    pixels_to_metres(positions[:, 1], object_center_m[1], ph, height))
        ds = new_dataset(h5, "probe", stored_probe[None].astype(np.complex64))
        ds.attrs["pixel_width_m"] = pw
        ds.attrs["pixel_height_m"] = ph
        ds.attrs[PROBE_FACTOR_ATTR] = float(factor) if factor is not None else 1.0
        ds = new_dataset(h5, "object", filled[None])
        ds.attrs["center_x_m"] = float(object_center_m[0])
        ds.attrs["center_y_m"] = float(object_center_m[1])
        ds.attrs["pixel_width_m"] = pw
        ds.attrs["pixel_height_m"] = ph
        new_dataset(h5, "object_layer_spacing_m", np.zeros(0, np.float64))
        new_dataset(h5, MASK_KEY, valid)
        new_dataset(h5, "loss_epochs", epochs)
        new_dataset(h5, "loss_values", values)
    return Path(path)
