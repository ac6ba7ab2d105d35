"""PtychoPINN NPZ (``diffraction`` or ``diff3d``, ``xcoords``/``ycoords``, ``probeGuess``...).

docs/formats.md §1. An optional ``mask`` or ``bad_pixels`` member ``(N, N)`` (nonzero = bad
pixel) is carried into ``PtychoData.bad_pixels``.
"""

from __future__ import annotations

import numpy as np

from ...config.schema import DataConfig
from ..geometry import Geometry
from ..issues import Issues
from ..npz import (
    MASK_KEYS,
    PATTERN_KEYS,
    open_npz,
    open_patterns,
    pattern_key,
    read_member,
    read_metadata,
    write_ptychopinn_npz,
)
from .base import RawSource, Source

name = "ptychopinn-npz"
label = "PtychoPINN NPZ"
suffixes = (".npz",)
write = write_ptychopinn_npz


def sniff(source: Source) -> bool:
    """A zip archive holding ``diffraction`` or ``diff3d`` (any other zip: see layouts)."""
    if not source.is_zip:
        return False
    npz, zf = open_npz(source.path, source.content)
    with zf, npz:
        return any(k in npz.files for k in PATTERN_KEYS)


def read(source: Source, cfg: DataConfig, issues: Issues, lazy_over_bytes: float) -> RawSource:
    """The raw content of a PtychoPINN NPZ (see :mod:`engine.io.npz`)."""
    path = source.path
    npz, zf = open_npz(path, source.content)
    with zf, npz:
        key = pattern_key(npz, issues)
        patterns = open_patterns(str(path), npz, zf, key, issues,
                                 np.inf if source.in_memory else lazy_over_bytes)
        for coord in ("xcoords", "ycoords"):
            if coord not in npz.files:
                raise issues.fail(coord, "scan positions in object pixels (M,)",
                                  f"no such key (keys: {', '.join(sorted(npz.files))}); "
                                  "declare the layout (data.layout_patterns and "
                                  "data.layout_positions)")
        xs = read_member(npz, "xcoords", issues).reshape(-1)
        ys = read_member(npz, "ycoords", issues).reshape(-1)
        for coord, arr in (("xcoords", xs), ("ycoords", ys)):
            if arr.dtype.kind not in "iuf":
                raise issues.fail(coord, "real numbers (object pixels)", f"dtype {arr.dtype}")
        if len(xs) != len(ys):
            issues.problem("xcoords, ycoords", "equal lengths",
                           f"{len(xs)} and {len(ys)} entries")
        m = min(len(xs), len(ys))
        positions = np.stack([xs[:m], ys[:m]], axis=1).astype(np.float64)
        probe = read_member(npz, "probeGuess", issues) if "probeGuess" in npz.files else None
        obj = read_member(npz, "objectGuess", issues) if "objectGuess" in npz.files else None
        mask_key = next((k for k in MASK_KEYS if k in npz.files), "")
        mask = read_member(npz, mask_key, issues) if mask_key else None
        metadata = read_metadata(npz, issues)
    shape = patterns.shape
    legacy = False
    n_probe = probe.shape[-1] if probe is not None and probe.ndim >= 2 else None
    if shape[0] != len(xs) and shape[0] == shape[1] and shape[2] == len(xs) and (
            n_probe is None or n_probe == shape[0]):
        legacy = True
        issues.warn(f"{path}: {key} has the legacy layout (N, N, M) = {shape}; transposed to "
                    f"(M, N, N) = ({shape[2]}, {shape[0]}, {shape[1]})")
    stored = metadata.get("measurement")
    geometry = Geometry.from_dict(metadata.get("geometry", metadata))
    shifted = metadata.get("fftshifted")
    return RawSource(
        patterns=patterns, patterns_key=key, positions=positions,
        positions_key="xcoords, ycoords", probe=probe, probe_key="probeGuess",
        object_guess=obj, object_key="objectGuess",
        stored=stored if stored in ("counts", "amplitude") else None,
        metadata=metadata, geometry=geometry, legacy_layout=legacy,
        bad_pixels=mask, mask_key=mask_key,
        fftshifted=shifted if isinstance(shifted, bool) else None,
        files=[str(path)],
    )
