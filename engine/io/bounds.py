"""Never trust a declared size: what a file says it holds must fit in what it stores.

An HDF5 dataset declares its shape in a few bytes of metadata, and so does the header of a
``.npy`` member of an NPZ archive. A 3 KB file can declare 10^9 patterns: allocating an index
array, a whole-array read or a memory map from that declaration would take gigabytes before a
single value is read. Every reader therefore checks, before reading anything, that the bytes a
dataset declares are backed by bytes actually stored:

- HDF5, contiguous or unfiltered chunks: the storage HDF5 reports must hold the whole shape;
- HDF5, chunked: the allocated chunks must cover the shape (a chunk never written reads as the
  fill value: a pattern that was never measured), and filtered (compressed) storage may not
  claim a ratio above :data:`MAX_COMPRESSION_RATIO`;
- NPZ: the ``.npy`` header's shape must fit the member's size in the zip directory, the member
  must fit in the archive, and a deflated member may not claim more than deflate can produce.

A refusal is a :class:`DeclaredSizeError` naming the file, the dataset, what it declares and
what it stores.
"""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from .issues import UnreadableFileError

MAX_COMPRESSION_RATIO = 10_000
"""Largest declared/stored byte ratio accepted for compressed HDF5 data. Deflate cannot exceed
about 1032:1 and lzf about 100:1; real diffraction data compress far less."""

DEFLATE_MAX_RATIO = 1_100
"""Deflate's hard limit (about 1032:1) plus slack for tiny members."""


class DeclaredSizeError(UnreadableFileError):
    """A file declares more data than it stores (damaged, truncated or hostile)."""


def human_bytes(n: float) -> str:
    """``1.5 GiB``-style size."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover - loop always returns


def _declared(shape: tuple[int, ...], itemsize: int) -> tuple[int, int]:
    elements = math.prod(int(s) for s in shape)
    return elements, elements * int(itemsize)


def _refuse(source: str, key: str, shape: tuple[int, ...], dtype: Any, declared: int,
            stored: str) -> DeclaredSizeError:
    return DeclaredSizeError(
        f"{source}: {key}: declares shape {tuple(int(s) for s in shape)} of {np.dtype(dtype)} "
        f"({human_bytes(declared)}) but {stored}; refused without reading (the file is "
        "truncated, damaged or not what it claims)")


def _h5_file_size(ds: Any, source: str) -> int | None:
    """Bytes of the file holding ``ds`` (its own file: an external link's target, or one
    unpacked in memory), as HDF5 sees it."""
    try:
        return int(ds.file.id.get_filesize())
    except (AttributeError, OSError, RuntimeError, ValueError):
        return os.path.getsize(source) if os.path.isfile(source) else None


def check_h5_dataset(ds: Any, source: str, key: str | None = None) -> None:
    """Raise :class:`DeclaredSizeError` unless dataset ``ds`` stores what its shape declares."""
    key = key or ds.name
    shape = tuple(int(s) for s in (ds.shape or ()))
    elements, declared = _declared(shape, ds.dtype.itemsize)
    if elements == 0:
        return
    if ds.is_virtual or ds.external:
        raise DeclaredSizeError(
            f"{source}: {key}: stored in other files (HDF5 "
            f"{'virtual dataset' if ds.is_virtual else 'external storage'}); expected the data "
            "inside this file")
    stored = int(ds.id.get_storage_size())
    file_size = _h5_file_size(ds, source)
    where = f"the file stores {human_bytes(stored)} for it" + (
        f" ({human_bytes(file_size)} file)" if file_size is not None else "")
    if file_size is not None and stored > file_size:
        raise _refuse(source, key, shape, ds.dtype, declared,
                      f"its storage claims {human_bytes(stored)} in a "
                      f"{human_bytes(file_size)} file")
    chunks = ds.chunks
    if chunks is not None:
        n_chunks = int(ds.id.get_num_chunks())
        per_chunk = math.prod(int(c) for c in chunks)
        if n_chunks * per_chunk < elements:
            covered = n_chunks * per_chunk
            raise _refuse(source, key, shape, ds.dtype, declared,
                          f"only {n_chunks} chunk(s) of {chunks} were ever written "
                          f"({100 * covered / elements:.3g}% of the declared data; {where})")
    filtered = chunks is not None and ds.id.get_create_plist().get_nfilters() > 0
    if filtered:
        if stored * MAX_COMPRESSION_RATIO < declared:
            raise _refuse(source, key, shape, ds.dtype, declared,
                          f"{where}, a compression ratio above {MAX_COMPRESSION_RATIO}:1")
    elif stored < declared:
        raise _refuse(source, key, shape, ds.dtype, declared, where)


@dataclass(frozen=True)
class NpyMember:
    """What the header of one ``.npy`` member of an NPZ says, and where its data start."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    header_bytes: int
    info: zipfile.ZipInfo


def read_npy_header(zf: zipfile.ZipFile, key: str) -> NpyMember | None:
    """The header of member ``key.npy`` (``None`` when absent or not a readable ``.npy``)."""
    name = f"{key}.npy"
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    try:
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                return None
            header = fh.tell()
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError):
        return None
    return NpyMember(name, tuple(int(s) for s in shape), np.dtype(dtype), bool(fortran),
                     int(header), info)


def archive_size(zf: zipfile.ZipFile, path: str) -> int:
    """Bytes of the archive behind ``zf`` (an in-memory archive, or the file at ``path``)."""
    fp = zf.fp
    if fp is not None and hasattr(fp, "getbuffer"):
        return len(fp.getbuffer())
    return os.path.getsize(path)


def check_npz_member(path: str, zf: zipfile.ZipFile, key: str) -> NpyMember | None:
    """Raise :class:`DeclaredSizeError` unless member ``key`` stores what its header declares.

    Returns the parsed header (``None`` when the member is absent or its header unreadable:
    the normal reader then reports it).
    """
    member = read_npy_header(zf, key)
    if member is None or member.dtype.hasobject:
        return member
    info = member.info
    elements, declared = _declared(member.shape, member.dtype.itemsize)
    file_size = archive_size(zf, path)
    if info.header_offset + info.compress_size > file_size:
        raise _refuse(path, key, member.shape, member.dtype, declared,
                      f"the archive directory gives it {human_bytes(info.compress_size)} "
                      f"from offset {info.header_offset} of a {human_bytes(file_size)} file")
    holds = info.file_size - member.header_bytes
    if declared > holds:
        raise _refuse(path, key, member.shape, member.dtype, declared,
                      f"the member holds {human_bytes(max(holds, 0))} of data "
                      f"({human_bytes(file_size)} file)")
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size < info.file_size:
            raise _refuse(path, key, member.shape, member.dtype, declared,
                          f"the uncompressed member stores only "
                          f"{human_bytes(info.compress_size)}")
    elif info.file_size > max(info.compress_size, 1) * DEFLATE_MAX_RATIO:
        raise _refuse(path, key, member.shape, member.dtype, declared,
                      f"its {human_bytes(info.compress_size)} of compressed data would "
                      f"expand over {DEFLATE_MAX_RATIO}:1")
    return member


def unique_or_problem(values: np.ndarray) -> tuple[int, int, int] | None:
    """``None`` when ``values`` are distinct, else ``(n duplicated entries, value, count)``
    with the most repeated value and its count."""
    if len(values) < 2:
        return None
    uniq, counts = np.unique(values, return_counts=True)
    if len(uniq) == len(values):
        return None
    top = int(np.argmax(counts))
    return len(values) - len(uniq), int(uniq[top]), int(counts[top])
