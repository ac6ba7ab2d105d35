"""HDF5 helpers shared by the ptychodus readers and writers.

Opening turns every low-level failure (missing, empty, truncated, not HDF5, missing
compression filter) into a :class:`~engine.io.issues.UnreadableFileError` naming the file.
Writing is reproducible: datasets are created without timestamps, so the same content gives
byte-identical files. Writing is atomic and survives a full disk (:func:`create_h5`).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..atomic import atomic_path, is_disk_full
from .bounds import check_h5_dataset, human_bytes
from .issues import UnreadableFileError, check_file, describe_head


def open_h5(path: str | os.PathLike[str], content: bytes | None = None) -> h5py.File:
    """Open an HDF5 file for reading, or raise :class:`UnreadableFileError` saying why.

    ``content``: the file's bytes already unpacked in memory (a ``.h5.gz``); ``path`` then
    only names it in messages.
    """
    p = Path(path)
    if content is not None:
        size, head = len(content), content[:8]
    else:
        size, head = check_file(p, "an HDF5 file")
    try:
        return h5py.File(io.BytesIO(content) if content is not None else p, "r")
    except OSError as exc:
        if head != b"\x89HDF\r\n\x1a\n":
            raise UnreadableFileError(
                f"{p}: expected an HDF5 file (signature \\x89HDF), found {describe_head(head)}"
            ) from None
        raise UnreadableFileError(
            f"{p}: HDF5 file cannot be opened, it is probably truncated or damaged "
            f"({size} bytes; {exc})") from None


def read_dataset(h5: h5py.File, key: str, source: str) -> np.ndarray:
    """Read a whole dataset, explaining a missing compression filter or a damaged file.

    The dataset's declared size is checked against what the file stores first
    (:func:`~engine.io.bounds.check_h5_dataset`), so a hostile declaration never allocates.
    """
    obj = h5[key]
    if not isinstance(obj, h5py.Dataset):
        raise UnreadableFileError(f"{source}: /{key.lstrip('/')}: expected a dataset, found "
                                  f"{type(obj).__name__.lower()}")
    check_h5_dataset(obj, source, f"/{key.lstrip('/')}")
    try:
        return np.asarray(obj[()])
    except OSError as exc:
        raise UnreadableFileError(filter_message(h5, key, source, exc)) from None
    except MemoryError:
        # Backed by stored bytes, but compressed far beyond the memory available.
        raise UnreadableFileError(
            f"{source}: /{key.lstrip('/')}: reading it needs "
            f"{human_bytes(obj.size * obj.dtype.itemsize)} of memory, more than is "
            "available") from None


def filter_message(h5: h5py.File, key: str, source: str, exc: Exception) -> str:
    try:
        filters = list(h5[key]._filters.keys())  # noqa: SLF001 - only for the message
    except Exception:  # pragma: no cover - best effort
        filters = []
    hint = (f"; it is compressed with filter(s) {', '.join(map(str, filters))}: install the "
            "hdf5plugin package if one is missing") if filters else ""
    return f"{source}: /{key.lstrip('/')}: cannot read the data ({exc}){hint}"


def attr(obj: Any, *names: str, default: Any = None) -> Any:
    """The first of ``names`` present in ``obj.attrs`` (str decoded, 1-element arrays unwrapped)."""
    for name in names:
        if name in obj.attrs:
            value = obj.attrs[name]
            if isinstance(value, bytes):
                return value.decode("utf-8", "replace")
            if isinstance(value, np.ndarray) and value.size == 1:
                value = value.reshape(()).item()
            if isinstance(value, np.generic):
                value = value.item()
            return value
    return default


def float_attr(obj: Any, *names: str) -> float | None:
    """A numeric attribute as float, or ``None`` when absent or not a number."""
    value = attr(obj, *names)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def new_dataset(h5: h5py.File, key: str, data: Any, **kwargs: Any) -> h5py.Dataset:
    """Create a dataset without timestamps (reproducible bytes)."""
    return h5.create_dataset(key, data=data, track_times=False, **kwargs)


class _FullDiskGuard(io.RawIOBase):
    """The file object HDF5 writes through (h5py's ``fileobj`` driver).

    HDF5 2.0 cannot recover from a failed write: its file stays open with a damaged cache and
    the process crashes (SIGSEGV) when the library shuts down. So the first failed write is
    recorded and every later write is dropped: HDF5 closes normally, the temporary file is
    discarded and the recorded error is raised afterwards.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = open(path, "w+b", buffering=0)  # noqa: SIM115 - closed by close()
        self.error: OSError | None = None

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._file.readinto(buffer) or 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self.error is None:
            try:
                done = 0
                while done < len(view):
                    done += self._file.write(view[done:]) or 0
            except OSError as exc:
                self.error = exc
        return len(view)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def truncate(self, size: int | None = None) -> int:
        if self.error is None:
            try:
                return self._file.truncate(size)
            except OSError as exc:
                self.error = exc
        return self._file.tell() if size is None else size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(OSError):
                self._file.close()
        super().close()

    def check(self) -> None:
        """Raise the recorded write error, if any."""
        if self.error is not None:
            raise self.error


@contextlib.contextmanager
def create_h5(path: str | os.PathLike[str]) -> Iterator[h5py.File]:
    """A new HDF5 file written atomically (:func:`~engine.atomic.atomic_path`).

    A full disk at any moment raises :class:`~engine.errors.DiskFullError` naming the file;
    the target keeps its previous version and no temporary file remains.
    """
    with atomic_path(path) as tmp:
        guard = _FullDiskGuard(tmp)
        try:
            with h5py.File(guard, "w") as h5:
                yield h5
        except BaseException as exc:
            guard.close()
            if guard.error is not None and not is_disk_full(exc):
                raise guard.error from exc
            raise
        guard.close()
        guard.check()
