"""Read a complex object from a file for evaluation: product .h5, NPZ or .npy.

Products and NPZ archives are read through :mod:`engine.io` (same validation and messages as
everywhere else); never unpickles. Never-illuminated pixels come back as NaN when the file
says which they are (``illumination_mask``, True = illuminated).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..io import read_product
from ..io.formats import cxi, detect
from ..io.issues import Issues
from ..io.npz import open_npz, read_member
from ..io.product import MASK_KEY

H5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".cxi")
NPZ_OBJECT_KEYS = ("object", "objectGuess")


def load_object(path: str | os.PathLike[str]) -> np.ndarray:
    """The complex ``(H, W)`` object stored in ``path``, NaN where not illuminated.

    Supported: ptychodus product HDF5 (:func:`engine.io.read_product`: first object layer,
    ``/illumination_mask`` if present), NPZ (``object`` or ``objectGuess``;
    ``illumination_mask`` if present) and ``.npy`` holding a 2-D complex array.

    Raises
    ------
    DataError
        Naming the file, the key, what was expected and what was found.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: expected an object file (.h5, .npz or .npy), found "
                        f"{'a folder' if p.is_dir() else 'no such file'}")
    suffix = p.suffix.lower()
    try:  # a CXI reconstruction (image_2, compressed too), read through the format registry
        found: tuple[Any, Any] | None = detect(p)
    except DataError:  # not a data file (an object-only NPZ, a .npy): read below
        found = None
    if found is not None and found[0] is cxi:
        obj, mask = cxi.read_object(found[1])
        return _check(p, "image_2/data", obj, mask)
    if suffix in H5_SUFFIXES:
        return np.asarray(read_product(p).object_masked, dtype=np.complex128)
    if suffix == ".npz":
        obj, mask, key = _read_npz(p)
    elif suffix == ".npy":
        obj, mask, key = _read_npy(p), None, "array"
    else:
        raise DataError(f"{p}: expected a file ending in .h5, .hdf5, .cxi, .npz or .npy, "
                        f"found suffix {suffix or '(none)'!r}")
    return _check(p, key, obj, mask)


def _read_npz(p: Path) -> tuple[np.ndarray, np.ndarray | None, str]:
    issues = Issues(str(p))
    npz, zf = open_npz(p)
    with npz, zf:
        key = next((k for k in NPZ_OBJECT_KEYS if k in npz.files), None)
        if key is None:
            raise issues.fail(" or ".join(NPZ_OBJECT_KEYS), "the complex object",
                              f"no such key (keys: {', '.join(npz.files) or 'none'})")
        obj = read_member(npz, key, issues)
        mask = read_member(npz, MASK_KEY, issues) if MASK_KEY in npz.files else None
    return obj, mask, key


def _read_npy(p: Path) -> np.ndarray:
    try:
        return np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{p}: expected a .npy array without pickled objects, found an "
                        f"unreadable file ({exc})") from None


def _check(p: Path, key: str, obj: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    if obj.ndim != 2 or obj.dtype.kind not in "iufc":
        raise DataError(f"{p}: {key}: expected a 2-D complex object (H, W), found "
                        f"{obj.ndim}-D {obj.dtype} of shape {obj.shape}")
    obj = obj.astype(np.complex128)
    if mask is not None:
        if mask.shape != obj.shape:
            raise DataError(f"{p}: {MASK_KEY}: expected a boolean mask of shape {obj.shape}, "
                            f"found shape {mask.shape}")
        obj = np.where(mask.astype(bool), obj, np.nan + 1j * np.nan)
    return obj
