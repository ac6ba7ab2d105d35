"""Faults a run can meet, turned into safe behaviour and clear errors.

- **Kills during a checkpoint write.** Lightning's default ``TorchCheckpointIO`` writes through
  an fsspec "transaction" whose temporary file lives in the system temp folder
  (``tempfile.mkstemp()``), then ``shutil.move``\\ s it onto the checkpoint. When the temp
  folder is on another file system (``/tmp`` on tmpfs, a run folder on NFS or Lustre: the
  usual cluster layout) that move is a copy into the destination, so a kill during it leaves
  a truncated ``last.ckpt``; nothing is fsynced either. :class:`AtomicCheckpointIO` writes
  every checkpoint to a temporary file *next to* it, fsyncs it and renames it into place
  (:func:`engine.atomic.atomic_path`): ``last.ckpt`` is always the previous complete file or
  the new complete file. It also loads checkpoints with ``weights_only=True`` only.
- **An output folder that cannot be written, or a full disk**: :func:`check_output_folder`
  runs before any work and raises :class:`RunError` naming the folder.
- **Out of memory in a batch, or the disk filling up during a run**:
  :func:`explain_faults` turns them into a :class:`RunError` that names the batch size and
  the setting to lower.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ..atomic import atomic_path
from ..errors import RunError

MIN_FREE_BYTES = 256 * 2**20
"""Free disk space a run's output folder must have before a run starts (256 MiB).

Room for the checkpoints (about 2 MiB each for the default ``cnn`` network with its Adam
state, some 30 MiB for ``cnn_large``), ``reconstruction.h5`` (8 bytes per object pixel, twice
with the mask and probe: a 2000 x 2000 object is about 40 MiB) and the logs, with a margin.
"""


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O that never leaves a partial checkpoint behind.

    Saves go to a temporary file in the checkpoint's own folder, are fsynced and renamed onto
    the target; loads use ``torch.load(weights_only=True)`` (Lightning's checkpoints of this
    engine hold only tensors and plain containers).
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO.save_checkpoint does not take storage_options")
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(self, path: Any, map_location: Callable[..., Any] | None = None,
                        weights_only: bool | None = None) -> dict[str, Any]:
        location: Any = map_location if map_location is not None else "cpu"
        return super().load_checkpoint(path, map_location=location, weights_only=True)


def _existing_ancestor(folder: Path) -> Path:
    """``folder`` itself when it exists, else its nearest existing parent."""
    for candidate in (folder, *folder.parents):
        try:
            if candidate.exists() or candidate.is_symlink():
                return candidate
        except OSError:
            continue
    return Path(folder.anchor or ".")


def check_output_folder(folder: str | os.PathLike[str], setting: str,
                        min_free_bytes: int = MIN_FREE_BYTES) -> None:
    """Refuse an output folder that cannot be written or whose disk is (nearly) full.

    Nothing is created: a folder that does not exist yet is judged by its nearest existing
    parent (which a run will create it in). A probe file is created and removed in the
    existing folder to test writability for real (permission bits do not stop root, a
    read-only mount does).

    Parameters
    ----------
    folder
        The folder a run will write into.
    setting
        The setting that named it (``training.output_dir``), used in messages.
    min_free_bytes
        Free space needed on its file system (:data:`MIN_FREE_BYTES`).

    Raises
    ------
    RunError
        Naming the folder and the reason: a file is in the way, it cannot be written, or too
        little space is free.
    """
    target = Path(folder).expanduser().absolute()
    base = _existing_ancestor(target)
    if not base.is_dir():
        raise RunError(f"{setting} = '{target}': expected a folder to write into, but "
                       f"'{base}' is a file")
    try:
        with tempfile.TemporaryFile(dir=base, prefix=".ptycho-write-test-"):
            pass
    except OSError as exc:
        raise RunError(f"{setting} = '{target}': cannot write into '{base}' "
                       f"({exc.strerror or exc}); choose a writable folder") from None
    free = shutil.disk_usage(base).free
    if free < min_free_bytes:
        raise RunError(
            f"{setting} = '{target}': only {free / 2**20:.0f} MiB free on its disk; a run "
            f"needs at least {min_free_bytes / 2**20:.0f} MiB (checkpoints, reconstruction, "
            "logs); free some space or choose a folder on another disk")


_OOM_WORDS = ("out of memory", "can't allocate memory", "not enough memory",
              "cannot allocate memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/MPS/CPU allocation failures (``OutOfMemoryError``, ``MemoryError``,
    or a ``RuntimeError`` whose message says the allocator ran out)."""
    if isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    return isinstance(exc, RuntimeError) and any(w in str(exc).lower() for w in _OOM_WORDS)


@contextlib.contextmanager
def explain_faults(stage: str, *, batch_size: int, setting: str, unit: str,
                   device: Any, folder: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Turn an out-of-memory error or a full disk inside the block into a :class:`RunError`.

    Parameters
    ----------
    stage
        What was running ("training", "inference").
    batch_size, setting, unit
        The batch size in force, the setting that sets it (``training.batch_size``) and what
        it counts ("groups", "patterns"); the message suggests half of it.
    device
        Where it ran (named in the message).
    folder
        The folder being written (named when the disk fills up).
    """
    try:
        yield
    except RunError:
        raise
    except BaseException as exc:
        if is_out_of_memory(exc):
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            hint = (f"try a smaller batch, e.g. --set {setting}={max(1, batch_size // 2)}"
                    if batch_size > 1 else
                    "the batch is already 1: try a smaller network (model.width) or a "
                    "device with more memory")
            raise RunError(f"out of memory during {stage} on {device} with a batch of "
                           f"{batch_size} {unit} ({setting} = {batch_size}): {hint} "
                           f"[{type(exc).__name__}: {first}]") from exc
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            where = f" while writing into '{folder}'" if folder is not None else ""
            raise RunError(f"no space left on the disk{where} during {stage} "
                           f"({exc.filename or 'a file'}); free some space and resume") from exc
        raise
