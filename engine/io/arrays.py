"""The named arrays of an NPZ or HDF5 file, for declaring a layout (``data.layout_*``).

:func:`list_arrays` lists every array a ``data.layout_*`` setting could name, with its shape
and dtype, without reading the arrays (NPZ headers; HDF5 dataset metadata). HDF5 paths are
walked with the link rules of :mod:`engine.io.h5links`: soft links are followed (each dataset
is listed under the path a user would write), a link that loops or leads nowhere is skipped,
and external links are followed only where ``data.allow_external_links`` allows.
:func:`read_array` reads one of them (or only its first item). Both read gzip/bzip2-compressed
files in memory, as the loaders do.
"""

from __future__ import annotations

import os
import posixpath
import zipfile
from dataclasses import dataclass

import h5py
import numpy as np

from ..config.schema import DataConfig
from .formats import open_source
from .formats.base import Source
from .h5files import filter_message, open_h5
from .h5links import LinkPolicy, resolve
from .issues import UnreadableFileError, describe_head

MAX_ARRAYS = 2000
"""Arrays listed at most (a file with more lists the first ones, in walking order)."""


@dataclass(frozen=True)
class ArrayInfo:
    """One array of a file: the key (NPZ) or dataset path (HDF5) a setting names."""

    key: str
    shape: tuple[int, ...]
    dtype: str

    def describe(self) -> str:
        """``"data  (64, 128, 128) float32"``."""
        return f"{self.key}  {self.shape} {self.dtype}"


def list_arrays(path: str | os.PathLike[str], cfg: DataConfig | None = None
                ) -> list[ArrayInfo]:
    """Every array of the NPZ or HDF5 file at ``path`` (sorted by key), read from headers.

    Raises :class:`~engine.io.issues.UnreadableFileError` naming the file and what it is when
    it is neither NPZ nor HDF5 (gzip/bzip2-compressed ones are unpacked in memory).
    """
    cfg = cfg or DataConfig()
    source = open_source(path, cfg.memory_budget_mb)
    if source.is_zip:
        return _npz_arrays(source)
    if source.is_hdf5:
        return _h5_arrays(source, cfg)
    raise _not_arrays(source)


def _not_arrays(source: Source) -> UnreadableFileError:
    what = "a folder" if source.is_dir else describe_head(source.head)
    return UnreadableFileError(f"{source.path}: expected an NPZ or HDF5 file of named "
                               f"arrays, found {source.describe(what)}")


def read_array(path: str | os.PathLike[str], key: str, cfg: DataConfig | None = None, *,
               first: bool = False) -> np.ndarray:
    """The array ``key`` of the NPZ or HDF5 file at ``path`` (``first``: only its first item,
    e.g. pattern 0 of ``(M, H, W)`` patterns; leading axes of size 1 are dropped first).

    Raises :class:`~engine.io.issues.UnreadableFileError` naming the file and the key when
    there is no such array.
    """
    cfg = cfg or DataConfig()
    source = open_source(path, cfg.memory_budget_mb)
    if source.is_zip:
        from .npz import open_npz

        npz, zf = open_npz(source.path, source.content)
        with zf, npz:
            if key not in npz.files:
                raise UnreadableFileError(f"{source.path}: {key}: no such key (keys: "
                                          f"{', '.join(sorted(npz.files)) or 'none'})")
            array = np.asarray(npz[key])
        return _first(array) if first else array
    if not source.is_hdf5:
        raise _not_arrays(source)
    policy = LinkPolicy(str(source.path), source.path.parent, cfg.allow_external_links)
    try:
        with open_h5(source.path, source.content) as h5:
            obj = resolve(h5, key, policy)
            if not isinstance(obj, h5py.Dataset):
                raise UnreadableFileError(f"{source.path}: {key}: expected a dataset, found "
                                          f"{'nothing' if obj is None else 'a group'}")
            try:
                lead = 0
                while first and lead < obj.ndim - 2 and obj.shape[lead] == 1:
                    lead += 1
                if first and obj.ndim - lead > 2:
                    return np.asarray(obj[(0,) * (lead + 1)])
                return np.asarray(obj[()])
            except OSError as exc:
                raise UnreadableFileError(filter_message(obj.file, obj.name, str(source.path),
                                                         exc)) from None
    finally:
        policy.close()


def _first(array: np.ndarray) -> np.ndarray:
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    return array[0] if array.ndim > 2 else array


def _npz_arrays(source: Source) -> list[ArrayInfo]:
    try:
        zf = zipfile.ZipFile(source.fileobj() if source.in_memory else source.path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableFileError(f"{source.path}: NPZ archive cannot be opened ({exc})") \
            from None
    rows = []
    with zf:
        for name in zf.namelist()[:MAX_ARRAYS]:
            if not name.endswith(".npy"):
                continue
            try:
                with zf.open(name) as fh:
                    version = np.lib.format.read_magic(fh)
                    header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape, _order, dtype = header(fh)
            except (ValueError, OSError, zipfile.BadZipFile) as exc:
                raise UnreadableFileError(f"{source.path}: {name[:-4]}: not a readable array "
                                          f"({exc})") from None
            rows.append(ArrayInfo(name[:-4], tuple(int(s) for s in shape), str(dtype)))
    return sorted(rows, key=lambda r: r.key)


def _h5_arrays(source: Source, cfg: DataConfig) -> list[ArrayInfo]:
    policy = LinkPolicy(str(source.path), source.path.parent, cfg.allow_external_links)
    rows: list[ArrayInfo] = []
    try:
        with open_h5(source.path, source.content) as h5:
            pending = ["/"]
            seen: set[str] = set()
            while pending and len(rows) < MAX_ARRAYS:
                group_path = pending.pop()
                try:
                    group = resolve(h5, group_path, policy) if group_path != "/" else h5
                except UnreadableFileError:
                    continue  # a looping, dangling or forbidden link: nothing to pick there
                if not isinstance(group, h5py.Group):
                    continue
                ident = f"{group.file.filename}:{group.name}"
                if ident in seen:
                    continue  # reached again through a link
                seen.add(ident)
                for name in sorted(group.keys()):
                    child = posixpath.join(group_path, name)
                    try:
                        obj = resolve(h5, child, policy)
                    except UnreadableFileError:
                        continue
                    if isinstance(obj, h5py.Dataset):
                        rows.append(ArrayInfo(child.lstrip("/"), tuple(obj.shape),
                                              str(obj.dtype)))
                    elif isinstance(obj, h5py.Group):
                        pending.append(child)
    finally:
        policy.close()
    return sorted(rows, key=lambda r: r.key)
