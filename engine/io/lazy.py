"""Pattern stacks read from disk on access, so large inputs are never read whole.

:class:`LazyPatterns` looks like a read-only ``(M, N, N)`` float32 array of counts: ``len``,
``shape``, ``dtype`` and ``__getitem__`` with an int, a slice or an index array (any order,
repeats allowed). Behind it sits a *backend*: an HDF5 dataset (:class:`H5Backend`) or an
uncompressed NPZ member memory-mapped at its offset inside the zip file
(:class:`MemmapBackend`). Conversions happen per read: amplitude -> counts (squared), the
legacy ``(N, N, M)`` layout, and bad pixels zeroed.

Backends open their file on first use in each process and drop the handle when pickled, so a
``LazyPatterns`` can be handed to data-loader worker processes.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bounds import read_npy_header


class H5Backend:
    """An HDF5 dataset opened on demand (one handle per process)."""

    def __init__(self, path: str, key: str, shape: tuple[int, ...]) -> None:
        self.path = path
        self.key = key
        self.shape = tuple(int(s) for s in shape)
        self._file: Any = None
        self._pid: int | None = None

    def _dataset(self) -> Any:
        if self._file is None or self._pid != os.getpid():
            import h5py

            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file[self.key]

    def take(self, rows: np.ndarray, axis: int) -> np.ndarray:
        """Read the sorted, unique ``rows`` along ``axis`` (0, or 2 for a legacy layout)."""
        ds = self._dataset()
        index: Any = _as_slice(rows)
        if index is None:
            index = rows  # h5py fancy indexing needs increasing indexes: callers sort
        try:
            return np.asarray(ds[index] if axis == 0 else ds[:, :, index])
        except OSError as exc:  # a missing compression filter, a damaged chunk
            from .h5files import filter_message
            from .issues import UnreadableFileError

            raise UnreadableFileError(filter_message(self._file, self.key, self.path, exc)
                                      ) from None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
        self._pid = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_file"] = None
        state["_pid"] = None
        return state


class MemmapBackend:
    """A ``.npy`` array stored uncompressed inside a zip (NPZ), memory-mapped at its offset."""

    def __init__(self, path: str, offset: int, dtype: np.dtype, shape: tuple[int, ...],
                 fortran: bool) -> None:
        self.path = path
        self.offset = int(offset)
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(s) for s in shape)
        self.fortran = bool(fortran)
        self._map: np.memmap | None = None

    def array(self) -> np.memmap:
        if self._map is None:
            self._map = np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset,
                                  shape=self.shape, order="F" if self.fortran else "C")
        return self._map

    def take(self, rows: np.ndarray, axis: int) -> np.ndarray:
        arr = self.array()
        index: Any = _as_slice(rows)
        if index is None:
            index = rows
        return np.asarray(arr[index] if axis == 0 else arr[:, :, index])

    def close(self) -> None:
        self._map = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_map"] = None
        return state


@dataclass(frozen=True)
class FrameOps:
    """What turns a stored frame into the engine's: fft-shift, binning, central crop.

    Applied in this order to every read (after bad pixels are zeroed in the stored frame):
    ``shift`` moves the zero frequency from pixel [0, 0] to the centre; ``bin`` sums
    ``bin x bin`` blocks; ``crop`` keeps the central ``crop x crop`` pixels (0: all).
    """

    shift: bool = False
    bin: int = 1
    crop: int = 0

    @property
    def identity(self) -> bool:
        return not self.shift and self.bin == 1 and not self.crop

    def frame(self, stored: tuple[int, int]) -> tuple[int, int]:
        h, w = stored[0] // self.bin, stored[1] // self.bin
        return (self.crop, self.crop) if self.crop else (h, w)

    def apply(self, block: np.ndarray) -> np.ndarray:
        """``(k, H, W)`` stored values -> ``(k, h, w)``."""
        if self.shift:
            block = np.fft.fftshift(block, axes=(-2, -1))
        if self.bin > 1:
            k, h, w = block.shape
            b = self.bin
            block = block[:, : h - h % b, : w - w % b].reshape(
                k, h // b, b, w // b, b).sum(axis=(2, 4))
        if self.crop:
            h, w = block.shape[-2:]
            top, left = (h - self.crop) // 2, (w - self.crop) // 2
            block = block[:, top:top + self.crop, left:left + self.crop]
        return np.ascontiguousarray(block, dtype=np.float32)

    def mask(self, bad: np.ndarray | None) -> np.ndarray | None:
        """A stored-frame bad-pixel mask in the engine's frame (a binned pixel is bad when
        any of its detector pixels is)."""
        if bad is None:
            return None
        return self.apply(np.asarray(bad, np.float32)[None])[0] > 0


def _as_slice(rows: np.ndarray) -> slice | None:
    """A slice equal to the sorted ``rows`` when they are contiguous (faster reads)."""
    if rows.size and rows[-1] - rows[0] + 1 == rows.size:
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return None


@dataclass(frozen=True)
class NpyLayout:
    """Where an uncompressed ``.npy`` member's data start inside a zip file."""

    offset: int
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran: bool


def npz_member_layout(path: str, zf: zipfile.ZipFile, key: str) -> NpyLayout | None:
    """The layout of member ``key`` (``key.npy``) when it can be memory-mapped, else ``None``.

    Possible only for members stored without compression (``numpy.savez``, not
    ``savez_compressed``) and written in ``.npy`` format version 1 or 2. Object dtypes return
    ``None`` too (callers refuse them separately: they would need unpickling).
    """
    member = read_npy_header(zf, key)
    if member is None or member.dtype.hasobject:
        return None
    info = member.info
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        return None
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        return None
    name_len = int.from_bytes(local[26:28], "little")
    extra_len = int.from_bytes(local[28:30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    return NpyLayout(start + member.header_bytes, member.dtype, member.shape, member.fortran)


class LazyPatterns:
    """A read-only, file-backed ``(M, N, N)`` float32 stack of counts.

    Parameters
    ----------
    backend
        :class:`H5Backend` or :class:`MemmapBackend` holding the stored array.
    rows
        Stored pattern index of each visible pattern (``None``: all, in order).
    amplitude
        The file holds amplitudes: square on read.
    legacy_layout
        The file holds ``(N, N, M)``: patterns are the last axis.
    bad_pixels
        Boolean mask of the stored frame: pixels zeroed on read (before ``ops``).
    ops
        :class:`FrameOps` applied to every read (fft-shift, binning, crop).
    """

    def __init__(self, backend: H5Backend | MemmapBackend, rows: np.ndarray | None = None, *,
                 amplitude: bool = False, legacy_layout: bool = False,
                 bad_pixels: np.ndarray | None = None, ops: FrameOps | None = None) -> None:
        self.backend = backend
        self.legacy_layout = legacy_layout
        stored = backend.shape
        n_stored = stored[2] if legacy_layout else stored[0]
        self.rows = np.arange(n_stored, dtype=np.int64) if rows is None else \
            np.asarray(rows, dtype=np.int64)
        frame = (stored[0], stored[1]) if legacy_layout else (stored[1], stored[2])
        self._stored_frame = (int(frame[0]), int(frame[1]))
        self.ops = ops or FrameOps()
        self._frame = self.ops.frame(self._stored_frame)
        self.amplitude = amplitude
        self.bad_pixels = bad_pixels

    # -- array protocol ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.rows), *self._frame)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float32)

    @property
    def ndim(self) -> int:
        return 3

    @property
    def nbytes(self) -> int:
        """Bytes the whole stack would take in memory as float32."""
        return int(np.prod(self.shape)) * 4

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return (f"LazyPatterns(shape={self.shape}, file={self.backend.path!r}, "
                f"amplitude={self.amplitude})")

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):
            first, rest = key[0], key[1:]
            return self[first][(slice(None), *rest) if not _is_int(first) else rest]
        if _is_int(key):
            idx = int(key)
            if idx < -len(self) or idx >= len(self):
                raise IndexError(f"pattern index {idx} out of range for {len(self)} patterns")
            return self._read(self.rows[[idx]])[0]
        return self._read(self.rows[key])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self._read(self.rows)
        return out if dtype is None else out.astype(dtype)

    def _read(self, stored_rows: np.ndarray) -> np.ndarray:
        stored_rows = np.asarray(stored_rows, dtype=np.int64).reshape(-1)
        if stored_rows.size == 0:
            return np.zeros((0, *self._frame), np.float32)
        unique, inverse = np.unique(stored_rows, return_inverse=True)
        block = self.backend.take(unique, axis=2 if self.legacy_layout else 0)
        if self.legacy_layout:
            block = np.moveaxis(block, 2, 0)
        # Fancy indexing copies, so the in-place conversions below never touch a memory map.
        out = np.asarray(block, dtype=np.float32)[inverse]
        if self.amplitude:
            np.square(out, out=out)
        if self.bad_pixels is not None:
            out[:, self.bad_pixels] = 0.0
        if not self.ops.identity:
            out = self.ops.apply(out)
        return out

    # -- helpers ----------------------------------------------------------------------------
    def subset(self, indices: Any) -> LazyPatterns:
        """A lazy view of some patterns (indexes into this stack)."""
        return LazyPatterns(self.backend, self.rows[np.asarray(indices, dtype=np.int64)],
                            amplitude=self.amplitude, legacy_layout=self.legacy_layout,
                            bad_pixels=self.bad_pixels, ops=self.ops)

    def iter_chunks(self, size: int = 256) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, block)`` pairs covering the stack in order, ``size`` patterns at a time."""
        for start in range(0, len(self), size):
            yield start, self._read(self.rows[start:start + size])

    def close(self) -> None:
        """Release the file handle (it reopens on the next read)."""
        self.backend.close()


def _is_int(key: Any) -> bool:
    return isinstance(key, (int, np.integer)) and not isinstance(key, bool)


PatternArray = np.ndarray | LazyPatterns
"""What ``PtychoData.patterns`` holds: counts in memory, or read from disk on access."""
