"""Ptychodus assembled diffraction files (``diffraction.h5``): read and write.

Layout (docs/formats.md §3): ``/patterns`` ``(P, H, W)`` counts (integer or float, lzf or
gzip),
with attributes ``detector_pixel_width_m`` and ``detector_pixel_height_m``; ``/indexes``
``(P,)`` scan index of each pattern (pairs patterns with the product's positions);
``/bad_pixels`` ``(H, W)`` bool, True = bad.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from .bounds import check_h5_dataset
from .checks import check_real_dtype, report_duplicates
from .h5files import create_h5, float_attr, new_dataset, open_h5, read_dataset
from .h5links import check_root_links
from .issues import Issues
from .lazy import H5Backend, LazyPatterns, PatternArray


@dataclass
class DiffractionData:
    """The content of a diffraction file.

    Attributes
    ----------
    patterns
        ``(P, H, W)`` float32 values as stored (counts), in memory or lazy.
    indexes
        ``(P,)`` int64 scan index of each pattern.
    bad_pixels
        ``(H, W)`` bool, True = bad, or ``None``.
    detector_pixel_size_m
        ``(width, height)`` in metres, or ``None`` when not stated.
    stored_dtype
        The dtype in the file (``uint32``, ``float32``...).
    source
        The file path.
    warnings
        Things the reader did on its own (a missing /indexes replaced by 0..P-1).
    """

    patterns: PatternArray
    indexes: np.ndarray
    bad_pixels: np.ndarray | None
    detector_pixel_size_m: tuple[float, float] | None
    stored_dtype: str
    source: str
    warnings: list[str]


def read_diffraction(
    path: str | os.PathLike[str], *, lazy: bool | None = None,
    memory_budget_mb: float | None = None, issues: Issues | None = None,
    content: bytes | None = None,
) -> DiffractionData:
    """Read a ptychodus diffraction file.

    Parameters
    ----------
    path
        The ``diffraction.h5`` file.
    lazy
        Keep the patterns on disk (:class:`~engine.io.lazy.LazyPatterns`); None: only when
        they exceed ``memory_budget_mb`` as float32.
    memory_budget_mb
        ``data.memory_budget_mb``; needed when ``lazy`` is None.
    issues
        Collect problems here instead of raising (``inspect`` does this).
    content
        The file's bytes already unpacked in memory (``path`` names it; never lazy).

    Raises
    ------
    DataError
        Naming the file and every problem found (unless ``issues`` is given).
    """
    source = str(path)
    own = issues is None
    issues = issues if issues is not None else Issues(source)
    if content is not None:
        lazy = False
    with open_h5(path, content) as h5:
        check_root_links(h5, source)
        if "patterns" not in h5 or not isinstance(h5["patterns"], h5py.Dataset):
            raise issues.fail("/patterns", "a (P, H, W) dataset of diffraction patterns",
                              f"no such dataset (keys: {', '.join(sorted(h5)) or 'none'})")
        ds = h5["patterns"]
        shape = tuple(int(s) for s in ds.shape)
        stored_dtype = str(ds.dtype)
        if len(shape) != 3:
            raise issues.fail("/patterns", "3 dimensions (P, H, W)", f"shape {shape}")
        if not check_real_dtype(issues, "/patterns", ds.dtype):
            raise issues.fail("/patterns", "real-valued patterns", f"dtype {ds.dtype}")
        pixel = (float_attr(ds, "detector_pixel_width_m"),
                 float_attr(ds, "detector_pixel_height_m"))
        # Never trust the declared shape: it must be backed by stored chunks before anything
        # (an index array, a memory estimate) is sized from it.
        check_h5_dataset(ds, source, "/patterns")
        if "indexes" in h5:
            declared = h5["indexes"].shape if isinstance(h5["indexes"], h5py.Dataset) else None
            n_declared = math.prod(declared) if declared is not None else -1
            if n_declared != shape[0]:
                # Refused from the declared shape alone: nothing sized from it is read.
                raise issues.fail("/indexes", f"one scan index per pattern ({shape[0]}, as in "
                                  "/patterns)", f"shape {declared}" if declared is not None
                                  else "a group")
            indexes = np.asarray(read_dataset(h5, "indexes", source)).reshape(-1)
            if indexes.dtype.kind not in "iu":
                issues.problem("/indexes", "integer scan indexes", f"dtype {indexes.dtype}")
                indexes = np.arange(shape[0])
            else:
                report_duplicates(issues, "/indexes", indexes, "patterns")
        else:
            indexes = np.arange(shape[0])
            issues.warn(f"{source}: no /indexes dataset; patterns are taken as scan indexes "
                        f"0..{shape[0] - 1}")
        bad = None
        if "bad_pixels" in h5:
            bad = np.asarray(read_dataset(h5, "bad_pixels", source)).astype(bool)
            if bad.shape != shape[1:]:
                issues.problem("/bad_pixels", f"a {shape[1]} x {shape[2]} mask like the patterns",
                               f"shape {bad.shape}")
                bad = None
        nbytes = int(np.prod(shape)) * 4
        if lazy is None and memory_budget_mb is None:
            raise TypeError("read_diffraction: give lazy=True/False or memory_budget_mb "
                            "(data.memory_budget_mb)")
        keep_lazy = lazy if lazy is not None else nbytes > float(memory_budget_mb or 0) * 2**20
        if not keep_lazy and ds.dtype.kind in "iuf":
            patterns: PatternArray = read_dataset(h5, "patterns", source).astype(np.float32)
        else:
            patterns = LazyPatterns(H5Backend(str(path), "patterns", shape))
    if own:
        issues.raise_if_any()
    width, height = pixel
    detector = (width, height if height is not None else width) if width is not None else None
    return DiffractionData(
        patterns=patterns, indexes=indexes.astype(np.int64), bad_pixels=bad,
        detector_pixel_size_m=detector, stored_dtype=stored_dtype, source=source,
        warnings=list(issues.warnings),
    )


def write_diffraction(
    path: str | os.PathLike[str],
    patterns: PatternArray,
    indexes: np.ndarray | None = None,
    bad_pixels: np.ndarray | None = None,
    detector_pixel_size_m: float | tuple[float, float] | None = None,
    *,
    compression: str = "lzf",
    chunk: int = 256,
) -> Path:
    """Write a ptychodus diffraction file atomically; return its path.

    Parameters
    ----------
    patterns
        ``(P, H, W)`` counts. Integer arrays keep their dtype; anything else is written as
        float32. Lazy stacks are copied ``chunk`` patterns at a time.
    indexes
        Scan index of each pattern (default ``0..P-1``).
    bad_pixels
        ``(H, W)`` bool mask, True = bad (optional).
    detector_pixel_size_m
        Pixel side, or ``(width, height)``, in metres (optional; 0 is written when unknown).
    compression
        ``"lzf"`` (ptychodus's choice, fast) or ``"gzip"`` (level 4 with byte shuffling).
        Only gzip gives byte-identical files on rerun: liblzf leaves its hash table
        uninitialised, so its output (always decodable) can vary from run to run.
    """
    if compression not in ("lzf", "gzip"):
        raise ValueError(f"compression: expected 'lzf' or 'gzip', found {compression!r}")
    filters: dict = ({"compression": "lzf"} if compression == "lzf" else
                     {"compression": "gzip", "compression_opts": 4, "shuffle": True})
    shape = tuple(int(s) for s in patterns.shape)
    if len(shape) != 3:
        raise ValueError(f"patterns: expected shape (P, H, W), found {shape}")
    dtype = patterns.dtype if np.dtype(patterns.dtype).kind in "iu" else np.dtype(np.float32)
    idx = np.arange(shape[0]) if indexes is None else np.asarray(indexes).reshape(-1)
    if len(idx) != shape[0]:
        raise ValueError(f"indexes: expected {shape[0]} entries, found {len(idx)}")
    if detector_pixel_size_m is None:
        width = height = 0.0
    elif isinstance(detector_pixel_size_m, tuple):
        width, height = (float(v) for v in detector_pixel_size_m)
    else:
        width = height = float(detector_pixel_size_m)
    with create_h5(path) as h5:
        ds = h5.create_dataset("patterns", shape=shape, dtype=dtype,
                               chunks=(1, shape[1], shape[2]), track_times=False, **filters)
        for start in range(0, shape[0], chunk):
            ds[start:start + chunk] = np.asarray(patterns[start:start + chunk], dtype=dtype)
        ds.attrs["detector_pixel_width_m"] = width
        ds.attrs["detector_pixel_height_m"] = height
        new_dataset(h5, "indexes", idx.astype(np.int64))
        if bad_pixels is not None:
            mask = np.asarray(bad_pixels, dtype=bool)
            if mask.shape != shape[1:]:
                raise ValueError(f"bad_pixels: expected shape {shape[1:]}, found {mask.shape}")
            new_dataset(h5, "bad_pixels", mask)
    return Path(path)
