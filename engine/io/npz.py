"""PtychoPINN-style NPZ archives: read and write (docs/formats.md §1).

Reading never unpickles: ``numpy.load(..., allow_pickle=False)``, and a member holding an
object array is refused with a :class:`~engine.errors.DataError`.

Large archives: ``numpy.load`` cannot memory-map inside an NPZ, but a member stored without
compression (``numpy.savez``) is a plain ``.npy`` at a fixed offset of the zip file, so the
patterns are memory-mapped there (:class:`~engine.io.lazy.MemmapBackend`). A compressed member
(``savez_compressed``) must be decompressed whole: it is read into memory, with a warning when
it exceeds the memory budget. Other keys are read one by one, only when needed.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from .bounds import check_npz_member, human_bytes
from .checks import check_real_dtype
from .issues import Issues, UnreadableFileError, check_file, describe_head
from .lazy import LazyPatterns, MemmapBackend, PatternArray, npz_member_layout

PATTERN_KEYS = ("diffraction", "diff3d")
MASK_KEYS = ("mask", "bad_pixels")
"""Optional detector mask member, (N, N), nonzero = bad pixel (first present wins)."""
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""Timestamp of every member we write, so archives are byte-identical for identical content."""


def open_npz(path: str | os.PathLike[str], content: bytes | None = None
             ) -> tuple[Any, zipfile.ZipFile]:
    """Open an NPZ archive: ``(numpy NpzFile, ZipFile)``, or raise :class:`UnreadableFileError`.

    ``content``: the archive's bytes already unpacked in memory (a ``.npz.bz2``); ``path``
    then only names it in messages.
    """
    p = Path(path)
    if content is not None:
        size, head = len(content), content[:8]
    else:
        size, head = check_file(p, "an NPZ archive")
    if not head.startswith(b"PK"):
        raise UnreadableFileError(f"{p}: expected an NPZ (zip) archive of named arrays, found "
                                  f"{describe_head(head)}")
    try:
        if content is not None:
            zf = zipfile.ZipFile(io.BytesIO(content))
            npz = np.load(io.BytesIO(content), allow_pickle=False)
        else:
            zf = zipfile.ZipFile(p)
            npz = np.load(p, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UnreadableFileError(
            f"{p}: NPZ archive cannot be opened, it is probably truncated or damaged "
            f"({size} bytes; {exc})") from None
    return npz, zf


def read_member(npz: Any, key: str, issues: Issues) -> np.ndarray:
    """One member, refusing object arrays, declared sizes the archive cannot hold (before
    anything is allocated) and explaining damaged members."""
    member = check_npz_member(issues.source, npz.zip, key)
    try:
        return np.asarray(npz[key])
    except MemoryError:
        need = f"{human_bytes(math.prod(member.shape) * member.dtype.itemsize)} of " \
            if member is not None else ""
        raise UnreadableFileError(f"{issues.source}: {key}: reading it needs {need}memory, "
                                  "more than is available") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise issues.fail(key, "a numeric array",
                              "an array of Python objects, which would need unpickling "
                              "(refused: loading it could execute code)") from None
        raise issues.fail(key, "a readable .npy member", f"an unreadable member ({exc})") from None
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
        raise UnreadableFileError(f"{issues.source}: {key}: member is truncated or damaged "
                                  f"({exc})") from None


def read_metadata(npz: Any, issues: Issues) -> dict[str, Any]:
    """The ``_metadata`` JSON (empty when absent; a warning when unreadable)."""
    if "_metadata" not in npz.files:
        return {}
    try:
        raw = np.asarray(npz["_metadata"])
    except ValueError:
        issues.warn(f"{issues.source}: _metadata is a pickled object and was ignored "
                    "(expected a JSON string)")
        return {}
    try:
        value = raw.item() if raw.shape == () or raw.size == 1 else None
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        data = json.loads(value) if isinstance(value, str) else None
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        issues.warn(f"{issues.source}: _metadata is not a JSON object and was ignored")
        return {}
    return data


def pattern_key(npz: Any, issues: Issues) -> str:
    """``diffraction`` (or the older ``diff3d``), or raise naming what is there."""
    present = [k for k in PATTERN_KEYS if k in npz.files]
    if not present:
        raise issues.fail("diffraction", "a key 'diffraction' (or older 'diff3d') holding "
                          "the (M, N, N) patterns",
                          f"keys {', '.join(sorted(npz.files)) or '(none)'}; for another "
                          "layout, declare its keys (data.layout_patterns, "
                          "data.layout_positions...; docs/formats.md)")
    if len(present) > 1:
        issues.warn(f"{issues.source}: both 'diffraction' and 'diff3d' present; "
                    "'diffraction' is used")
    return present[0]


def _drop_leading(shape: tuple[int, ...], squeeze: bool) -> tuple[int, ...]:
    while squeeze and len(shape) > 3 and shape[0] == 1:
        shape = shape[1:]
    return shape


def open_patterns(path: str, npz: Any, zf: zipfile.ZipFile, key: str, issues: Issues,
                  lazy_over_bytes: float, squeeze: bool = False) -> PatternArray:
    """The stored pattern array (raw values), memory-mapped when large and uncompressed.

    ``squeeze``: leading axes of size 1 are dropped (``(1, M, N, N)`` of a declared layout).
    """
    check_npz_member(path, zf, key)
    # Only an archive on disk can be memory-mapped (not one unpacked in memory).
    layout = npz_member_layout(path, zf, key) if zf.filename else None
    if layout is not None:
        if not check_real_dtype(issues, key, layout.dtype):
            raise issues.fail(key, "real-valued patterns", f"dtype {layout.dtype}")
        shape = _drop_leading(layout.shape, squeeze and not layout.fortran)
        if len(shape) != 3:
            raise issues.fail(key, "3 dimensions (M, N, N)", f"shape {layout.shape}")
        nbytes = int(np.prod(shape)) * 4
        if nbytes > lazy_over_bytes:
            backend = MemmapBackend(path, layout.offset, layout.dtype, shape, layout.fortran)
            # Raw stored values: the loader adds the domain, layout and bad-pixel conversions.
            return LazyPatterns(backend)
    array = read_member(npz, key, issues)
    if not check_real_dtype(issues, key, array.dtype):
        raise issues.fail(key, "real-valued patterns", f"dtype {array.dtype}")
    array = array.reshape(_drop_leading(array.shape, squeeze))
    if array.ndim != 3:
        raise issues.fail(key, "3 dimensions (M, N, N)", f"shape {array.shape}")
    if array.size * 4 > lazy_over_bytes:
        issues.warn(f"{issues.source}: {key} is compressed, so it was read into memory "
                    f"({array.size * 4 / 2**20:.0f} MiB, over the memory budget); save it "
                    "uncompressed (numpy.savez) or as HDF5 to stream it from disk")
    return array


def write_ptychopinn_npz(
    path: str | os.PathLike[str],
    *,
    patterns: PatternArray,
    positions: np.ndarray,
    probe: np.ndarray,
    object_guess: np.ndarray | None = None,
    metadata: dict[str, Any] | None = None,
    measurement: str,
    scan_index: np.ndarray | None = None,
    bad_pixels: np.ndarray | None = None,
    compress: bool = False,
) -> Path:
    """Write a PtychoPINN NPZ atomically and reproducibly; return its path.

    Parameters
    ----------
    patterns
        ``(M, N, N)`` counts (a lazy stack is read whole).
    positions
        ``(M, 2)`` window centres ``(x, y)`` in object pixels (``xcoords``, ``ycoords`` and
        the ``*_start`` copies).
    probe
        ``(modes, N, N)`` or ``(N, N)``; written as ``probeGuess`` ``(N, N)`` for one mode,
        ``(modes, N, N)`` otherwise (our reader accepts both).
    object_guess
        ``objectGuess`` (e.g. the ground truth of a simulation).
    metadata
        Extra ``_metadata`` JSON entries; ``measurement`` is always recorded.
    measurement
        ``"counts"`` or ``"amplitude"`` (then ``sqrt(counts)`` is stored).
    bad_pixels
        ``(N, N)`` bool detector mask, True = bad (written as the ``mask`` member).
    compress
        Deflate members (smaller, but then the patterns cannot be memory-mapped).
    """
    if measurement not in ("counts", "amplitude"):
        raise ValueError(f"measurement: expected 'counts' or 'amplitude', found {measurement!r}")
    counts = np.asarray(patterns, dtype=np.float32)
    stored = np.sqrt(counts) if measurement == "amplitude" else counts
    pos = np.asarray(positions, np.float64).reshape(-1, 2)
    probe_arr = np.asarray(probe, np.complex64)
    if probe_arr.ndim == 3 and probe_arr.shape[0] == 1:
        probe_arr = probe_arr[0]
    meta = dict(metadata or {})
    meta["measurement"] = measurement
    arrays: dict[str, np.ndarray] = {
        "diffraction": stored.astype(np.float32),
        "xcoords": pos[:, 0].copy(),
        "ycoords": pos[:, 1].copy(),
        "xcoords_start": pos[:, 0].copy(),
        "ycoords_start": pos[:, 1].copy(),
        "probeGuess": probe_arr,
        "scan_index": (np.zeros(len(pos), np.int64) if scan_index is None
                       else np.asarray(scan_index, np.int64)),
        "_metadata": np.array(json.dumps(meta, sort_keys=True)),
    }
    if object_guess is not None:
        arrays["objectGuess"] = np.asarray(object_guess, np.complex64)
    if bad_pixels is not None:
        arrays[MASK_KEYS[0]] = np.asarray(bad_pixels, bool)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=method,
                                                   allowZip64=True) as zf:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=FIXED_ZIP_TIME)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as member:
                # (ascontiguousarray would turn the 0-d _metadata string into 1-d.)
                np.lib.format.write_array(member, np.require(value, requirements="C"),
                                          allow_pickle=False)
    return Path(path)
