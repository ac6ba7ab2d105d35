"""gzip- and bzip2-compressed data files, read in memory without unpacking to disk.

A ``.npz.bz2`` or ``.h5.gz`` is decompressed into memory (bounded by
``data.memory_budget_mb``: a larger content is refused, naming the size reached), and the
content is then read by the format its own first bytes name (NPZ, HDF5, CXI...). h5py opens
HDF5 content from a file object and ``zipfile``/``numpy.load`` read NPZ content from one, so
nothing is written to disk. Patterns of a compressed file are therefore always in memory.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from pathlib import Path

from ..bounds import human_bytes
from ..issues import UnreadableFileError

COMPRESSIONS: dict[str, tuple[bytes, str]] = {
    "gzip": (b"\x1f\x8b", ".gz"),
    "bzip2": (b"BZh", ".bz2"),
}
"""Compression name -> (magic bytes, file suffix)."""

CHUNK = 4 * 2**20


def compression_of(head: bytes) -> str | None:
    """``"gzip"``, ``"bzip2"`` or ``None`` from a file's first bytes."""
    for name, (magic, _suffix) in COMPRESSIONS.items():
        if head.startswith(magic):
            return name
    return None


def decompress(path: Path, kind: str, limit_bytes: float) -> bytes:
    """The whole decompressed content of ``path``, refusing more than ``limit_bytes``."""
    opener = gzip.open if kind == "gzip" else bz2.open
    parts: list[bytes] = []
    total = 0
    try:
        with opener(path, "rb") as fh:
            while True:
                block = fh.read(CHUNK)
                if not block:
                    break
                total += len(block)
                if total > limit_bytes:
                    raise UnreadableFileError(
                        f"{path}: expected {kind}-compressed content within the memory budget "
                        f"({human_bytes(limit_bytes)}, data.memory_budget_mb), found more than "
                        f"{human_bytes(total)} once unpacked; raise data.memory_budget_mb or "
                        "unpack the file")
                parts.append(block)
    except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
        raise UnreadableFileError(f"{path}: {kind}-compressed file cannot be unpacked, it is "
                                  f"probably truncated or damaged ({exc})") from None
    return b"".join(parts)
