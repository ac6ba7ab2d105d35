"""Atomic file replacement: write to a temporary file in the same folder, then rename.

A crash, a kill or a full disk during a write never leaves a truncated file where a good one
was: readers see either the old complete file or the new complete file. A full disk (or
quota) becomes a one-line :class:`~engine.errors.DiskFullError` naming the file. Every writer of the
engine (sessions, products, NPZ, checkpoints, summaries) goes through :func:`atomic_path`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import DiskFullError, RunError

TEMP_MARK = ".tmp-"
"""Temporary files are named ``.NAME.tmp-XXXXXXXX[SUFFIX]`` next to their target ``NAME``."""


def is_temporary(name: str) -> bool:
    """True for the name of a temporary file made by :func:`atomic_path`."""
    return name.startswith(".") and TEMP_MARK in name[1:]


def remove_temporaries(folder: str | os.PathLike[str], levels: int = 2) -> list[Path]:
    """Remove the temporary files a killed writer left in ``folder`` (and its subfolders, up
    to ``levels`` levels: ``checkpoints/``); return what was removed.

    Call it only while holding the folder's writer lock (:func:`engine.locks.lock_folder`):
    then no live writer owns a temporary file there.
    """
    removed: list[Path] = []
    root = Path(folder)
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                if levels > 0:
                    removed += remove_temporaries(entry.path, levels - 1)
            elif is_temporary(entry.name) and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_DISK_FULL_WORDS = ("no space left on device", "disk quota exceeded")


def is_disk_full(exc: BaseException | None) -> bool:
    """True when ``exc`` (or an exception it was raised from) is a full disk or quota.

    Libraries report it differently: ``OSError(ENOSPC)`` from Python, an ``OSError`` whose
    message quotes the C error from HDF5, a ``RuntimeError`` from ``torch.save``.
    """
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return True
        if any(word in str(exc).lower() for word in _DISK_FULL_WORDS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def disk_full_error(path: str | os.PathLike[str], exc: BaseException,
                    advice: str = "free some space and try again") -> DiskFullError:
    """The one-line :class:`DiskFullError` for a failed write of ``path``."""
    if isinstance(exc, DiskFullError):
        return exc
    return DiskFullError(f"no space left on the disk while writing {path}; it was left as it "
                         f"was before this write; {advice}", str(path))


def refuse_symlink(path: str | os.PathLike[str], setting: str | None = None) -> None:
    """Refuse to write ``path`` when it is a symbolic link.

    A link in an output folder could make a run overwrite a file nobody named (its target);
    every writer refuses it instead of following or replacing it.

    Raises
    ------
    RunError
        Naming the link, its target and the setting (when given).
    """
    target = Path(path)
    if target.is_symlink():
        try:
            points = os.readlink(target)
        except OSError:
            points = "?"
        named = f"{setting} = '{target}'" if setting else f"'{target}'"
        raise RunError(f"{named} is a symbolic link (to {points}); refusing to write through "
                       "it: remove the link or choose another name")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    The temporary file keeps the destination's suffix (some libraries choose the format from
    it). On any exception the temporary file is removed and the destination is untouched.
    """
    target = Path(path)
    refuse_symlink(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}{TEMP_MARK}",
            suffix=suffix if suffix is not None else target.suffix,
            dir=target.parent,
        )
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(target, exc) from exc
        raise
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync(tmp)
        # mkstemp creates 0600; give the file the permissions a plain open() would have, so
        # colleagues can read results on a shared beamline disk.
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if is_disk_full(exc):
            raise disk_full_error(target, exc) from exc
        raise


def _umask() -> int:
    """The process umask, read without changing it (os.umask would race with other threads)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    return 0o022


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError), open(path, "rb") as fh:
        os.fsync(fh.fileno())


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
