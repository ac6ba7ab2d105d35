"""Declared layouts: any other beamline's NPZ or HDF5, read where the ``data.layout_*``
settings say (docs/formats.md, "Declared layouts").

``data.layout_patterns`` names the patterns (an NPZ key or an HDF5 dataset path);
``layout_positions``, ``layout_probe`` and ``layout_mask`` the rest. Positions may be
``(M, 2)`` with leading axes of size 1 (tike's ``(1, M, 2)``), in ``(x, y)`` or ``(row,
column)`` order, window centres or first (corner) pixels, in object pixels or metres
(micrometres, nanometres). Patterns may be stored with the zero frequency at pixel [0, 0]
(``data.fftshifted = 'no'``, or sniffed with ``'auto'``). The conversions themselves happen in
the shared finishing steps of :func:`engine.io.loading.read_source`.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

from ...config.schema import DataConfig
from ..bounds import check_h5_dataset
from ..checks import check_real_dtype
from ..geometry import Geometry
from ..h5files import filter_message, open_h5
from ..h5links import LinkPolicy, resolve
from ..issues import Issues, UnreadableFileError
from ..lazy import H5Backend, LazyPatterns, PatternArray
from ..npz import open_npz, open_patterns, read_member
from .base import RawSource, Source

name = "declared-layout"
label = "declared layout (data.layout_*)"
suffixes = (".npz", ".h5", ".hdf5", ".nxs")

UNIT_METRES = {"m": 1.0, "mm": 1e-3, "um": 1e-6, "nm": 1e-9}


def sniff(source: Source) -> bool:
    """Never chosen by content: only when ``data.layout_patterns`` is set."""
    return False


def squeeze_leading(array: np.ndarray, trailing: int) -> np.ndarray:
    """Drop leading axes of size 1 until ``trailing + 1`` axes remain (or none can go)."""
    while array.ndim > trailing + 1 and array.shape[0] == 1:
        array = array[0]
    return array


def read(source: Source, cfg: DataConfig, issues: Issues, lazy_over_bytes: float) -> RawSource:
    if not cfg.layout_positions:
        raise issues.fail("data.layout_positions", "the key or dataset of the scan positions "
                          "(with data.layout_patterns)", "an empty setting")
    if source.is_zip:
        arrays, patterns = _read_npz(source, cfg, issues, lazy_over_bytes)
    elif source.is_hdf5:
        arrays, patterns = _read_h5(source, cfg, issues, lazy_over_bytes)
    else:
        from ..issues import describe_head

        raise UnreadableFileError(f"{source.path}: data.layout_patterns: expected an NPZ or "
                                  f"HDF5 file, found {describe_head(source.head)}")
    files = arrays.pop("_files")
    positions = squeeze_leading(np.asarray(arrays["positions"]), 1)
    key = cfg.layout_positions
    if positions.ndim != 2 or positions.shape[-1] < 2 or positions.dtype.kind not in "iuf":
        raise issues.fail(key, "(M, 2) scan positions (leading axes of size 1 allowed)",
                          f"shape {positions.shape}, dtype {positions.dtype}")
    positions = np.asarray(positions[:, :2], np.float64)
    if cfg.layout_position_order == "rowcol":
        positions = positions[:, ::-1].copy()
    unit = cfg.layout_position_units
    if unit != "px":
        positions = positions * UNIT_METRES[unit]
    probe = arrays.get("probe")
    if probe is not None and probe.ndim >= 2:
        probe = probe.reshape(-1, *probe.shape[-2:])
    mask = arrays.get("mask")
    bad = None
    if mask is not None:
        mask = squeeze_leading(np.asarray(mask), 1)
        if mask.shape != tuple(patterns.shape[-2:]):
            issues.problem(cfg.layout_mask, f"an {patterns.shape[-2]} x {patterns.shape[-1]} "
                           "mask like the patterns (nonzero = bad)", f"shape {mask.shape}")
        else:
            bad = mask != 0
    shifted = {"yes": True, "no": False}.get(cfg.fftshifted)
    return RawSource(
        patterns=patterns, patterns_key=cfg.layout_patterns, positions=positions,
        positions_key=key, probe=probe, probe_key=cfg.layout_probe or "data.layout_probe",
        object_guess=None, object_key="(none)", stored=None,
        metadata={"layout": {k: getattr(cfg, k) for k in (
            "layout_patterns", "layout_positions", "layout_probe", "layout_mask",
            "layout_position_order", "layout_position_origin", "layout_position_units")}},
        geometry=Geometry(), bad_pixels=bad, mask_key=cfg.layout_mask,
        fftshifted=shifted, files=files,
        positions_unit="px" if unit == "px" else "m",
        positions_corner=cfg.layout_position_origin == "corner",
    )


def _read_npz(source: Source, cfg: DataConfig, issues: Issues, lazy_over_bytes: float
              ) -> tuple[dict[str, Any], PatternArray]:
    npz, zf = open_npz(source.path, source.content)
    with zf, npz:
        keys = sorted(npz.files)

        def need(setting: str, value: str) -> None:
            if value and value not in npz.files:
                raise issues.fail(value, f"the key named by data.{setting}",
                                  f"no such key (keys: {', '.join(keys)})")

        for setting in ("layout_patterns", "layout_positions", "layout_probe", "layout_mask"):
            need(setting, getattr(cfg, setting))
        patterns = open_patterns(str(source.path), npz, zf, cfg.layout_patterns, issues,
                                 np.inf if source.in_memory else lazy_over_bytes, squeeze=True)
        out: dict[str, Any] = {"positions": read_member(npz, cfg.layout_positions, issues),
                               "_files": [str(source.path)]}
        if cfg.layout_probe:
            out["probe"] = read_member(npz, cfg.layout_probe, issues)
        if cfg.layout_mask:
            out["mask"] = read_member(npz, cfg.layout_mask, issues)
    return out, patterns


def _read_h5(source: Source, cfg: DataConfig, issues: Issues, lazy_over_bytes: float
             ) -> tuple[dict[str, Any], PatternArray]:
    text = str(source.path)
    policy = LinkPolicy(text, source.path.parent, cfg.allow_external_links)
    try:
        with open_h5(source.path, source.content) as h5:
            def dataset(setting: str) -> h5py.Dataset:
                key = getattr(cfg, setting)
                obj = resolve(h5, key, policy)
                if not isinstance(obj, h5py.Dataset):
                    top = ", ".join(sorted(h5.keys())) or "(none)"
                    raise issues.fail(key, f"a dataset named by data.{setting}",
                                      "no such dataset" if obj is None else "a group"
                                      f" (top-level keys: {top})")
                check_h5_dataset(obj, text, key)
                return obj

            def whole(setting: str) -> np.ndarray:
                obj = dataset(setting)
                try:
                    return np.asarray(obj[()])
                except OSError as exc:
                    raise UnreadableFileError(filter_message(obj.file, obj.name, text, exc)
                                              ) from None

            ds = dataset("layout_patterns")
            shape = tuple(int(s) for s in ds.shape)
            while len(shape) > 3 and shape[0] == 1:
                shape = shape[1:]
            if len(shape) != 3:
                raise issues.fail(cfg.layout_patterns, "3 dimensions (M, H, W)",
                                  f"shape {tuple(ds.shape)}")
            if not check_real_dtype(issues, cfg.layout_patterns, ds.dtype):
                raise issues.fail(cfg.layout_patterns, "real-valued patterns",
                                  f"dtype {ds.dtype}")
            patterns: PatternArray
            if source.in_memory or ds.ndim != 3 or int(np.prod(shape)) * 4 <= lazy_over_bytes:
                patterns = whole("layout_patterns").reshape(shape).astype(np.float32)
            else:
                patterns = LazyPatterns(H5Backend(ds.file.filename, ds.name, shape))
            out: dict[str, Any] = {"positions": whole("layout_positions")}
            if cfg.layout_probe:
                out["probe"] = whole("layout_probe")
            if cfg.layout_mask:
                out["mask"] = whole("layout_mask")
            out["_files"] = [text] + [f for f in policy.files if f != text]
    finally:
        policy.close()
    return out, patterns
