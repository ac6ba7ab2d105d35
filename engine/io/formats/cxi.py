"""CXI (Coherent X-ray Imaging format 1.6): read measured data, write data and reconstructions.

Paths (docs/formats.md, the layout ptychodus 1.7's ``plugins/cxi_file.py`` reads and writes):

- patterns: ``/entry_N/data_1/data`` (often a soft link) or
  ``/entry_N/instrument_1/detector_1/data``, ``(M, H, W)`` counts;
- geometry: ``instrument_1/source_1/energy`` (joules), ``detector_1/distance`` (m),
  ``detector_1/x_pixel_size``, ``y_pixel_size`` (m);
- mask: ``detector_1/mask`` ``(H, W)``, nonzero = bad pixel (bit 0x1 = invalid);
- positions: ``sample_1/geometry_1/translation`` (legacy ``data_1/translation``) ``(M, 3)``
  metres, taken as probe positions ``(x, y)`` as ptychodus does;
- probe: ``image_1/data`` or ``instrument_1/source_1/illumination`` (optional: a file with no
  probe starts from ``probe.initial``);
- object: ``image_2/data`` (a reconstruction).

A file with several ``entry_N`` groups is read from ``data.entry``; the refusal lists them.
Every path is followed through :mod:`engine.io.h5links` (looping, dangling and out-of-folder
links refused, naming the link and its target).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ...config.schema import DataConfig
from ..bounds import check_h5_dataset
from ..checks import check_real_dtype
from ..geometry import Geometry, fresnel_probe_factor, pixels_to_metres
from ..h5files import create_h5, filter_message, open_h5
from ..h5links import LinkPolicy, resolve
from ..issues import Issues, UnreadableFileError
from ..lazy import H5Backend, LazyPatterns, PatternArray
from ..product import MASK_KEY, PROBE_FACTOR_ATTR, fill_unilluminated
from .base import RawSource, Source

name = "cxi"
label = "CXI (Coherent X-ray Imaging)"
suffixes = (".cxi",)

CXI_VERSION = 160
ELECTRON_VOLT_J = 1.602176634e-19
"""Joules per electronvolt (CXI stores the photon energy in joules)."""
PIXEL_IS_INVALID = 0x1
ENTRY = re.compile(r"^entry_\d+$")

PATTERN_PATHS = ("data_1/data", "instrument_1/detector_1/data")
POSITION_PATHS = ("sample_1/geometry_1/translation", "data_1/translation")
PROBE_PATHS = ("image_1/data", "instrument_1/source_1/illumination")
OBJECT_PATH = "image_2/data"
SHAPE_KEY = "ptycho_pinn_object_shape"
"""Extra dataset under ``ptychodus/``: the object canvas ``(H, W)`` the positions refer to."""
MASK_PATH = "instrument_1/detector_1/mask"


def sniff(source: Source) -> bool:
    """HDF5 with ``cxi_version`` or an ``entry_N`` group."""
    if not source.is_hdf5:
        return False
    with open_h5(source.path, source.content) as h5:
        return "cxi_version" in h5 or any(ENTRY.match(k) for k in h5.keys())


def entries(h5: h5py.File) -> list[str]:
    """The ``entry_N`` groups, in numeric order."""
    found = [k for k in h5.keys() if ENTRY.match(k)]
    return sorted(found, key=lambda k: int(k.split("_")[1]))


def choose_entry(h5: h5py.File, cfg: DataConfig, issues: Issues) -> str:
    """The entry to read: ``data.entry``, or the only one; else refuse listing them."""
    found = entries(h5)
    if cfg.entry:
        wanted = cfg.entry.strip("/")
        if wanted not in found:
            raise issues.fail(f"/{wanted}", "the CXI entry named by data.entry",
                              f"entries {', '.join(found) or '(none)'}; set data.entry to one "
                              "of them")
        return wanted
    if not found:
        raise issues.fail("/entry_1", "a CXI entry group (entry_1...)",
                          f"top-level keys {', '.join(sorted(h5.keys())) or '(none)'}")
    if len(found) > 1:
        raise issues.fail("/entry_N", "one CXI entry, or data.entry naming the one to read",
                          f"{len(found)} entries: {', '.join(found)}; set data.entry "
                          f"(e.g. data.entry = \"{found[0]}\")")
    return found[0]


def _first(h5: h5py.File, entry: str, paths: tuple[str, ...], policy: LinkPolicy
           ) -> tuple[str, Any] | tuple[None, None]:
    for rel in paths:
        obj = resolve(h5, f"/{entry}/{rel}", policy)
        if obj is not None:
            return f"/{entry}/{rel}", obj
    return None, None


def _scalar(h5: h5py.File, key: str, policy: LinkPolicy, issues: Issues) -> float | None:
    obj = resolve(h5, key, policy)
    if obj is None:
        return None
    if not isinstance(obj, h5py.Dataset) or obj.size != 1 or obj.dtype.kind not in "iuf":
        issues.problem(key, "a number", f"{type(obj).__name__} {getattr(obj, 'shape', '')} "
                       f"{getattr(obj, 'dtype', '')}".strip())
        return None
    return float(np.asarray(obj[()]).reshape(-1)[0])


def _read(obj: h5py.Dataset, key: str, source: str) -> np.ndarray:
    check_h5_dataset(obj, source, key)
    try:
        return np.asarray(obj[()])
    except OSError as exc:
        raise UnreadableFileError(filter_message(obj.file, obj.name, source, exc)) from None


def read(source: Source, cfg: DataConfig, issues: Issues, lazy_over_bytes: float) -> RawSource:
    path = source.path
    text = str(path)
    policy = LinkPolicy(text, path.parent, cfg.allow_external_links)
    try:
        with open_h5(path, source.content) as h5:
            return _read_entry(h5, source, cfg, issues, lazy_over_bytes, policy)
    finally:
        policy.close()


def _read_entry(h5: h5py.File, source: Source, cfg: DataConfig, issues: Issues,
                lazy_over_bytes: float, policy: LinkPolicy) -> RawSource:
    text = str(source.path)
    entry = choose_entry(h5, cfg, issues)
    key, ds = _first(h5, entry, PATTERN_PATHS, policy)
    if ds is None or not isinstance(ds, h5py.Dataset):
        raise issues.fail(f"/{entry}/data_1/data", "the (M, H, W) diffraction patterns (or "
                          f"/{entry}/instrument_1/detector_1/data)",
                          "no such dataset" if ds is None else f"a {type(ds).__name__}")
    assert key is not None
    shape = tuple(int(s) for s in ds.shape)
    if len(shape) != 3:
        raise issues.fail(key, "3 dimensions (M, H, W)", f"shape {shape}")
    if not check_real_dtype(issues, key, ds.dtype):
        raise issues.fail(key, "real-valued patterns", f"dtype {ds.dtype}")
    check_h5_dataset(ds, text, key)
    nbytes = int(np.prod(shape)) * 4
    patterns: PatternArray
    if source.in_memory or nbytes <= lazy_over_bytes:
        patterns = _read(ds, key, text).astype(np.float32)
    else:
        patterns = LazyPatterns(H5Backend(ds.file.filename, ds.name, shape))
    det = f"/{entry}/instrument_1/detector_1"
    energy_j = _scalar(h5, f"/{entry}/instrument_1/source_1/energy", policy, issues)
    geometry = Geometry(
        photon_energy_ev=energy_j / ELECTRON_VOLT_J if energy_j else None,
        detector_distance_m=_scalar(h5, f"{det}/distance", policy, issues),
        detector_pixel_size_m=_scalar(h5, f"{det}/x_pixel_size", policy, issues),
    )
    y_pixel = _scalar(h5, f"{det}/y_pixel_size", policy, issues)
    if y_pixel and geometry.detector_pixel_size_m and \
            abs(y_pixel - geometry.detector_pixel_size_m) > 1e-3 * y_pixel:
        issues.warn(f"{text}: {det}/y_pixel_size {y_pixel:g} m differs from x_pixel_size "
                    f"{geometry.detector_pixel_size_m:g} m; square pixels of the x size "
                    "are assumed")
    bad = None
    mask_key = f"/{entry}/{MASK_PATH}"
    mask_obj = resolve(h5, mask_key, policy)
    if mask_obj is not None:
        mask = _read(mask_obj, mask_key, text)
        if mask.shape != shape[1:]:
            issues.problem(mask_key, f"a {shape[1]} x {shape[2]} mask like the patterns",
                           f"shape {mask.shape}")
        else:
            bad = mask != 0
    pos_key, pos_obj = _first(h5, entry, POSITION_PATHS, policy)
    if pos_obj is None:
        raise issues.fail(f"/{entry}/sample_1/geometry_1/translation",
                          "(M, 3) scan positions in metres (or data_1/translation)",
                          "no such dataset; declare the layout (data.layout_patterns and "
                          "data.layout_positions)")
    translation = _read(pos_obj, pos_key or "", text)
    if translation.ndim != 2 or translation.shape[1] < 2 or translation.dtype.kind not in "iuf":
        raise issues.fail(pos_key or "", "(M, 3) positions in metres (x, y, z)",
                          f"shape {translation.shape}, dtype {translation.dtype}")
    positions = np.asarray(translation[:, :2], np.float64)
    probe_key, probe_obj = _first(h5, entry, PROBE_PATHS, policy)
    probe = None
    factor = None
    if probe_obj is not None:
        raw = _read(probe_obj, probe_key or "", text)
        probe = raw.reshape(-1, *raw.shape[-2:]) if raw.ndim >= 2 else raw
        factor = _attr_float(probe_obj, PROBE_FACTOR_ATTR)
    obj_key = f"/{entry}/{OBJECT_PATH}"
    obj_ds = resolve(h5, obj_key, policy)
    obj = None
    if obj_ds is not None:
        raw = _read(obj_ds, obj_key, text)
        obj = raw.reshape(-1, *raw.shape[-2:])[0] if raw.ndim >= 2 else raw
    extras = _ptychodus_extras(h5, entry, policy, issues)
    metadata: dict[str, Any] = {"cxi_entry": entry, **extras}
    if probe is not None and factor is not None:
        probe = (probe * np.float32(factor)).astype(np.complex64)
    elif probe is not None:
        dx = extras.get("object_pixel_width_m")
        f = fresnel_probe_factor(dx, geometry, probe.shape[-1])
        if f is not None:
            probe = (probe * np.float32(f)).astype(np.complex64)
    object_pixel = extras.get("object_pixel_width_m")
    if object_pixel:
        geometry = geometry.overridden(object_pixel_size_m=object_pixel)
    shape_obj = resolve(h5, f"/{entry}/ptychodus/{SHAPE_KEY}", policy)
    hint = None
    if shape_obj is not None and obj is None:
        value = np.asarray(shape_obj[()]).reshape(-1)
        hint = (int(value[0]), int(value[1])) if value.size == 2 else None
    files = [text] + [f for f in policy.files if f != text]
    return RawSource(
        patterns=patterns, patterns_key=key, positions=positions,
        positions_key=pos_key or "", probe=probe,
        probe_key=probe_key or f"/{entry}/image_1/data", object_guess=obj,
        object_key=obj_key, stored="counts", metadata=metadata, geometry=geometry,
        bad_pixels=bad, mask_key=mask_key, fftshifted=True, files=files,
        positions_unit="m", object_shape_hint=hint,
        object_center_m=(extras.get("object_center_x_m", 0.0),
                         extras.get("object_center_y_m", 0.0)),
    )


def read_object(source: Source, cfg: DataConfig | None = None) -> tuple[np.ndarray,
                                                                         np.ndarray | None]:
    """``(object (H, W) complex, illumination mask or None)`` of a CXI reconstruction
    (``image_2/data``, first layer), for scoring."""
    cfg = cfg or DataConfig(path=str(source.path))
    text = str(source.path)
    issues = Issues(text)
    policy = LinkPolicy(text, source.path.parent, cfg.allow_external_links)
    try:
        with open_h5(source.path, source.content) as h5:
            entry = choose_entry(h5, cfg, issues)
            key = f"/{entry}/{OBJECT_PATH}"
            obj = resolve(h5, key, policy)
            if not isinstance(obj, h5py.Dataset):
                raise issues.fail(key, "a reconstructed object (image_2/data)",
                                  "no such dataset (a CXI file of measured data only?)")
            raw = _read(obj, key, text)
            mask_obj = resolve(h5, f"/{entry}/image_2/{MASK_KEY}", policy)
            mask = None if mask_obj is None else _read(mask_obj, MASK_KEY, text).astype(bool)
    finally:
        policy.close()
    layer = raw.reshape(-1, *raw.shape[-2:])[0] if raw.ndim >= 2 else raw
    return layer, mask


def _attr_float(obj: Any, key: str) -> float | None:
    value = obj.attrs.get(key)
    try:
        return float(np.asarray(value).reshape(-1)[0]) if value is not None else None
    except (TypeError, ValueError):
        return None


def _ptychodus_extras(h5: h5py.File, entry: str, policy: LinkPolicy, issues: Issues
                      ) -> dict[str, float]:
    out = {}
    for key in ("object_pixel_width_m", "object_center_x_m", "object_center_y_m"):
        value = _scalar(h5, f"/{entry}/ptychodus/{key}", policy, issues)
        if value is not None:
            out[key] = value
    return out


# -- writing --------------------------------------------------------------------------------

def _group(parent: Any, path: str) -> Any:
    """Create (or open) the groups along ``path`` without timestamps (reproducible bytes)."""
    here = parent
    for name in path.split("/"):
        if name in here:
            here = here[name]
            continue
        gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
        gcpl.set_obj_track_times(False)
        here = h5py.Group(h5py.h5g.create(here.id, name.encode(), gcpl=gcpl))
    return here


def write(
    path: str | os.PathLike[str],
    *,
    positions_px: np.ndarray,
    object_pixel_size_m: float | None,
    geometry: Geometry | None = None,
    patterns: PatternArray | None = None,
    bad_pixels: np.ndarray | None = None,
    probe: np.ndarray | None = None,
    obj: np.ndarray | None = None,
    object_shape: tuple[int, int] | None = None,
    indexes: np.ndarray | None = None,
    loss_epochs: np.ndarray | None = None,
    loss_values: np.ndarray | None = None,
    name: str = "",
    chunk: int = 256,
) -> Path:
    """Write measured/simulated data and/or a reconstruction as CXI 1.6, atomically.

    Parameters
    ----------
    positions_px
        ``(M, 2)`` window centres ``(x, y)`` in object pixels; written in metres as
        ``sample_1/geometry_1/translation`` ``(M, 3)`` relative to the object centre
        (``(W - 1) / 2`` of ``obj`` or ``object_shape``), as ptychodus does.
    object_pixel_size_m
        Object pixel side in metres. Needed for positions in metres: when unknown, the
        geometry's ``lambda z / (N p)`` is used, and failing that ValueError.
    geometry
        Photon energy (written in joules), distance and detector pixel size.
    patterns
        ``(M, H, W)`` counts (integers keep their dtype), written at
        ``instrument_1/detector_1/data`` with the soft link ``data_1/data``; lazy stacks are
        copied ``chunk`` patterns at a time.
    bad_pixels
        ``(H, W)`` bool, True = bad: ``detector_1/mask`` (uint32, 0x1 = invalid).
    probe
        ``(modes, N, N)`` in our count units: ``image_1/data`` ``(1, modes, N, N)`` in the
        ptychodus (Fresnel) convention, with the factor in its ``ptycho_pinn_probe_factor``
        attribute.
    obj
        ``(H, W)`` reconstruction: ``image_2/data`` ``(1, H, W)``; NaN pixels follow the NaN
        rule and an illumination mask is stored next to it.
    """
    geometry = geometry or Geometry()
    pos = np.asarray(positions_px, np.float64).reshape(-1, 2)
    n = int(patterns.shape[-1]) if patterns is not None else \
        int(np.asarray(probe).shape[-1]) if probe is not None else None
    dx = object_pixel_size_m or (geometry.object_pixel_size(n) if n else None)
    if not dx:
        raise ValueError("object_pixel_size_m: CXI positions are in metres; give the object "
                         "pixel size or a complete geometry")
    if obj is not None:
        object_shape = tuple(np.asarray(obj).shape[-2:])  # type: ignore[assignment]
    height, width = object_shape if object_shape is not None else (0, 0)
    idx = np.arange(len(pos)) if indexes is None else np.asarray(indexes).reshape(-1)
    translation = np.zeros((len(pos), 3), np.float64)
    translation[:, 0] = pixels_to_metres(pos[:, 0], 0.0, dx, width) if width else pos[:, 0] * dx
    translation[:, 1] = pixels_to_metres(pos[:, 1], 0.0, dx, height) if height else \
        pos[:, 1] * dx
    with create_h5(path) as h5:
        h5.create_dataset("cxi_version", data=CXI_VERSION, track_times=False)
        e = _group(h5, "entry_1")
        if name:
            e.create_dataset("title", data=name, track_times=False)
        source = _group(e, "instrument_1/source_1")
        detector = _group(e, "instrument_1/detector_1")
        if geometry.photon_energy_ev:
            source.create_dataset("energy", data=geometry.photon_energy_ev * ELECTRON_VOLT_J,
                                  track_times=False)
        if geometry.detector_distance_m:
            detector.create_dataset("distance", data=geometry.detector_distance_m,
                                    track_times=False)
        if geometry.detector_pixel_size_m:
            for axis in ("x_pixel_size", "y_pixel_size"):
                detector.create_dataset(axis, data=geometry.detector_pixel_size_m,
                                        track_times=False)
        data_group = _group(e, "data_1")
        if patterns is not None:
            shape = tuple(int(s) for s in patterns.shape)
            dtype = patterns.dtype if np.dtype(patterns.dtype).kind in "iu" else \
                np.dtype(np.float32)
            ds = detector.create_dataset("data", shape=shape, dtype=dtype,
                                         chunks=(1, shape[1], shape[2]), compression="gzip",
                                         compression_opts=4, shuffle=True, track_times=False)
            for start in range(0, shape[0], chunk):
                ds[start:start + chunk] = np.asarray(patterns[start:start + chunk], dtype)
            data_group["data"] = h5py.SoftLink("/entry_1/instrument_1/detector_1/data")
        if bad_pixels is not None:
            mask = np.where(np.asarray(bad_pixels, bool), PIXEL_IS_INVALID, 0).astype(np.uint32)
            detector.create_dataset("mask", data=mask, track_times=False)
        _group(e, "sample_1/geometry_1").create_dataset("translation", data=translation,
                                                        track_times=False)
        data_group["translation"] = h5py.SoftLink("/entry_1/sample_1/geometry_1/translation")
        extras = _group(e, "ptychodus")
        extras.create_dataset("probe_position_indexes", data=idx.astype(np.int64),
                              track_times=False)
        if probe is not None:
            probe3 = np.asarray(probe, np.complex64)
            probe3 = probe3.reshape(-1, *probe3.shape[-2:])
            factor = fresnel_probe_factor(dx, geometry, probe3.shape[-1])
            stored = probe3 / np.float32(factor) if factor else probe3
            image = _group(e, "image_1")
            pds = image.create_dataset("data", data=stored[None].astype(np.complex64),
                                       track_times=False)
            pds.attrs["axes"] = "coherent:incoherent:y:x"
            pds.attrs[PROBE_FACTOR_ATTR] = float(factor) if factor else 1.0
            image.create_dataset("image_size", data=np.array(
                [dx * probe3.shape[-1], dx * probe3.shape[-2], 0.0]), track_times=False)
            source["illumination"] = h5py.SoftLink("/entry_1/image_1/data")
            for key in ("probe_pixel_width_m", "probe_pixel_height_m"):
                extras.create_dataset(key, data=float(dx), track_times=False)
        if obj is not None:
            filled, valid = fill_unilluminated(obj)
            image = _group(e, "image_2")
            ods = image.create_dataset("data", data=filled[None], track_times=False)
            ods.attrs["axes"] = "layer:y:x"
            image.create_dataset(MASK_KEY, data=valid, track_times=False)
            image.create_dataset("image_size", data=np.array(
                [dx * width, dx * height, 0.0]), track_times=False)
        if height:
            extras.create_dataset(SHAPE_KEY, data=np.array([height, width], np.int64),
                                  track_times=False)
        for key, value in (("object_pixel_width_m", dx), ("object_pixel_height_m", dx),
                           ("object_center_x_m", 0.0), ("object_center_y_m", 0.0)):
            extras.create_dataset(key, data=float(value), track_times=False)
        if loss_values is not None and len(loss_values):
            extras.create_dataset("loss_values", data=np.asarray(loss_values, np.float64),
                                  track_times=False)
            extras.create_dataset("loss_epochs", data=np.asarray(
                loss_epochs if loss_epochs is not None else np.arange(len(loss_values)),
                np.int64), track_times=False)
    return Path(path)
