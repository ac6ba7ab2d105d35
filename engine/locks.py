"""One writer per output folder: an OS-level lock held for the whole run.

Training, resuming, simulating and inference each lock the folder they write into before
writing anything (:func:`lock_folder`). The lock is ``fcntl.flock`` on the hidden file
``.ptycho-engine.lock`` in that folder, which holds the holder's PID, host and task so that a
second writer can say who has it: it fails at once with :class:`FolderInUseError` ("in use by
PID N") and changes nothing. The operating system releases a ``flock`` when its process dies
(even by SIGKILL), so a lock file left by a dead process is simply taken over; no PID is ever
probed or trusted. A folder opened for writing is also cleaned of the temporary files that a
killed writer left (:func:`engine.atomic.remove_temporaries`), which is safe only because the
lock guarantees no live writer owns them.

File systems without ``flock`` support (``ENOLCK``/``EOPNOTSUPP``, some network mounts) run
unlocked: :attr:`FolderLock.held` is then False.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from .atomic import remove_temporaries
from .errors import RunError

LOCK_NAME = ".ptycho-engine.lock"
"""Name of the lock file inside a locked folder."""

_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


class FolderInUseError(RunError):
    """Another live process holds the folder's lock.

    Attributes
    ----------
    folder
        The folder.
    pid
        The holder's PID as it wrote it (``None`` when unreadable).
    """

    def __init__(self, folder: Path, pid: int | None, host: str, task: str) -> None:
        self.folder = folder
        self.pid = pid
        who = f"PID {pid}" if pid is not None else "another process"
        if host and host != socket.gethostname():
            who += f" on host {host}"
        doing = f" ({task})" if task else ""
        super().__init__(f"{folder}: in use by {who}{doing}; wait for it to finish or stop it, "
                         "then try again (one writer per folder)")


class FolderLock:
    """A held folder lock; release it with :meth:`release` or by leaving a ``with`` block."""

    def __init__(self, folder: Path, fd: int | None, removed: list[Path]) -> None:
        self.folder = folder
        self.path = folder / LOCK_NAME
        self._fd = fd
        self._owner = os.getpid()
        self.removed_temporaries = removed
        """Temporary files of a dead writer removed when the lock was taken."""

    @property
    def held(self) -> bool:
        """True while this process holds the lock (False on file systems without flock)."""
        return self._fd is not None

    def release(self) -> None:
        """Remove the lock file (while still holding it) and release the lock; idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            # A forked child (a data-loader worker) only drops its copy of the descriptor:
            # the lock stays with the process that took it.
            if os.getpid() == self._owner and _same_file(fd, self.path):
                self.path.unlink()
        os.close(fd)

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def __del__(self) -> None:  # a forgotten lock must not outlive its object
        with contextlib.suppress(Exception):
            self.release()


def _same_file(fd: int, path: Path) -> bool:
    """True when ``path`` still names the file open as ``fd`` (not unlinked or replaced)."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def read_holder(path: Path) -> tuple[int | None, str, str]:
    """``(pid, host, task)`` written in a lock file (``None``/empty when unreadable)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None, "", ""
    pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
    host = lines[1].strip() if len(lines) > 1 else ""
    task = lines[2].strip() if len(lines) > 2 else ""
    return pid, host, task


def lock_folder(folder: str | os.PathLike[str], task: str = "", *,
                clean: bool = True) -> FolderLock:
    """Create ``folder`` if needed and take its writer lock, or raise :class:`FolderInUseError`.

    Parameters
    ----------
    folder
        The output folder (run directory, simulation folder, folder of an inference output).
    task
        What the holder is doing ("training", "simulate"...), shown to a second writer.
    clean
        Remove temporary files of a dead writer (``.NAME.tmp-*``) once the lock is held.

    Raises
    ------
    FolderInUseError
        Another live process holds the lock. Nothing was written.
    RunError
        The folder cannot be created or the lock file cannot be opened.
    """
    target = Path(folder).expanduser().absolute()
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"{target}: cannot create the output folder "
                       f"({exc.strerror or exc})") from None
    path = target / LOCK_NAME
    for _attempt in range(20):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise RunError(f"{target}: cannot open its lock file {LOCK_NAME} "
                           f"({exc.strerror or exc}); choose a writable folder") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderInUseError(target, *read_holder(path)) from None
        except OSError as exc:
            os.close(fd)
            if exc.errno in _UNSUPPORTED:
                return FolderLock(target, None,
                                  remove_temporaries(target) if clean else [])
            raise RunError(f"{target}: cannot lock {LOCK_NAME} ({exc.strerror or exc})"
                           ) from None
        if not _same_file(fd, path):
            # The previous holder removed the file between our open and our lock: retry on
            # the file that now has the name, so two writers never lock two different files.
            os.close(fd)
            continue
        _write_holder(fd, task)
        return FolderLock(target, fd, remove_temporaries(target) if clean else [])
    raise RunError(f"{target}: its lock file {LOCK_NAME} keeps being replaced; another "
                   "writer is starting and stopping in this folder")


def _write_holder(fd: int, task: str) -> None:
    """Record who holds the lock (best effort: a full disk must not stop the run here)."""
    text = f"{os.getpid()}\n{socket.gethostname()}\n{task}\n".encode()
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)


def held_files(folder: str | os.PathLike[str]) -> list[str]:
    """Sorted names of what ``folder`` holds, its writer lock left out ([] when it does not
    exist or cannot be read): what writing into it with ``overwrite`` would replace."""
    try:
        return sorted(p.name for p in Path(folder).iterdir() if p.name != LOCK_NAME)
    except OSError:
        return []


@contextlib.contextmanager
def open_output_folder(folder: str | os.PathLike[str], task: str, *, overwrite: bool,
                       setting: str = "", flag: str = "") -> Iterator[FolderLock]:
    """Hold ``folder``'s writer lock for a block that writes into it.

    The folder is created if needed (and removed again if the block leaves it empty); a dead
    writer's temporaries are removed. With ``overwrite`` False, a folder already holding files
    is refused naming ``setting``/``flag``, before anything is written.

    Raises
    ------
    FolderInUseError
        Another process writes there.
    RunError
        ``folder`` is a file, cannot be created, or holds files and ``overwrite`` is False.
    """
    target = Path(folder).expanduser().absolute()
    existed = target.exists()
    if existed and not target.is_dir():
        raise RunError(f"{target}: expected an output folder, found a file")
    lock = lock_folder(target, task)
    try:
        if not overwrite:
            present = held_files(target)
            if present:
                shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
                how = f" with {flag} ({setting} = true)" if flag else \
                    f" by setting {setting} = true" if setting else ""
                raise RunError(f"{target}: the output folder already holds files ({shown}); "
                               f"choose an empty folder, or replace them{how}")
        yield lock
    finally:
        lock.release()
        if not existed:
            with contextlib.suppress(OSError):
                target.rmdir()  # only when the block wrote nothing
