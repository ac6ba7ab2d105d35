"""The data-format registry: one module per format behind one protocol, and ``detect``.

Every surface derives from :data:`FORMATS`: :func:`engine.io.load_dataset` and
:func:`engine.io.inspect` read through :func:`detect`, the simulator writes with the formats'
``write``, and the GUI's file dialogs use :func:`file_dialog_filters`. A format (see
:mod:`.base`) has a ``name``, a ``label``, ``suffixes``, ``sniff(source)`` and ``read(source,
cfg, issues, lazy_over_bytes)``; writers are optional.

Formats: PtychoPINN NPZ (:mod:`.ptychopinn`), ptychodus product / diffraction file /
standard-layout folder (:mod:`.ptychodus`), CXI (:mod:`.cxi`) and declared layouts
(:mod:`.layout`, chosen by ``data.layout_patterns``). gzip and bzip2 files
(:mod:`.compressed`) are unpacked in memory and read by the format of their content.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...config.schema import DataConfig
from ..issues import Issues, UnreadableFileError, check_file, describe_head
from . import cxi, layout, ptychopinn
from .base import DataFormat, RawSource, Source
from .compressed import COMPRESSIONS, compression_of, decompress
from .ptychodus import DiffractionFormat, FolderFormat, ProductFormat

FORMATS: tuple[DataFormat, ...] = (  # type: ignore[assignment]
    ptychopinn,
    cxi,
    ProductFormat(),
    DiffractionFormat(),
    FolderFormat(),
    layout,
)
"""Every data format, in sniffing order (the declared layout is chosen by its setting)."""

BY_NAME = {f.name: f for f in FORMATS}


def open_source(path: str | os.PathLike[str], memory_budget_mb: float | None = None) -> Source:
    """The file or folder at ``path``, unpacked in memory when gzip/bzip2-compressed (at
    most ``memory_budget_mb``; None: the ``data.memory_budget_mb`` default)."""
    budget = DataConfig().memory_budget_mb if memory_budget_mb is None else memory_budget_mb
    p = Path(path).expanduser()
    if not p.exists():
        raise UnreadableFileError(f"{p}: file not found")
    if p.is_dir():
        return Source(p)
    _size, head = check_file(p, "a data file")
    kind = compression_of(head)
    if kind is None:
        with open(p, "rb") as fh:
            return Source(p, fh.read(16))
    content = decompress(p, kind, budget * 2**20)
    return Source(p, content[:16], content, kind)


def detect(path: str | os.PathLike[str] | Source, cfg: DataConfig | None = None
           ) -> tuple[DataFormat, Source]:
    """``(format, source)`` for a data file or folder, by content (never by suffix alone).

    ``cfg.layout_patterns`` set: the declared layout. Otherwise each format's ``sniff``, in
    :data:`FORMATS` order. Raises :class:`~engine.io.issues.UnreadableFileError` naming what
    the file looks like when no format recognises it.
    """
    budget = cfg.memory_budget_mb if cfg is not None else None
    source = path if isinstance(path, Source) else open_source(path, budget)
    if cfg is not None and cfg.layout_patterns:
        return layout, source  # type: ignore[return-value]
    for fmt in FORMATS:
        if fmt.sniff(source):
            return fmt, source
    what = "an empty folder" if source.is_dir else describe_head(source.head)
    if source.is_zip:
        from ..npz import open_npz

        npz, zf = open_npz(source.path, source.content)
        with zf, npz:
            keys = ", ".join(sorted(npz.files)[:20]) or "none"
        what = f"an NPZ archive without 'diffraction' or 'diff3d' (keys: {keys})"
    elif source.is_hdf5:
        what = "an HDF5 file that is neither CXI (entry_1) nor a ptychodus file"
    raise UnreadableFileError(
        f"{source.path}: expected {supported_text()}, found {source.describe(what)}; for "
        "another layout, declare where the patterns and positions are (data.layout_patterns, "
        "data.layout_positions; docs/formats.md)")


def supported_text() -> str:
    """``"a PtychoPINN NPZ, a CXI file, ..."`` for messages."""
    return ", ".join(f.label for f in FORMATS if f.sniff is not layout.sniff) + \
        " (gzip or bzip2 compressed too)"


def read_raw(cfg: DataConfig, issues: Issues, lazy_over_bytes: float
             ) -> tuple[DataFormat, Source, RawSource]:
    """Detect and read ``cfg.path``: ``(format, source, raw content)``."""
    if not cfg.path:
        from ...errors import DataError

        raise DataError("data.path: expected a data file or folder, found an empty setting")
    fmt, source = detect(cfg.path, cfg)
    return fmt, source, fmt.read(source, cfg, issues, lazy_over_bytes)


def readable_suffixes() -> list[str]:
    """Every suffix a data file may end in, compressed forms included."""
    plain = sorted({s for f in FORMATS for s in f.suffixes})
    packed = [s + c for s in plain for _m, c in COMPRESSIONS.values()]
    return plain + packed


def file_dialog_filters() -> list[str]:
    """Qt file-dialog filters: all data files first, then one per format, then all files."""
    rows = [f"Data files ({' '.join('*' + s for s in readable_suffixes())})"]
    for fmt in FORMATS:
        if fmt.suffixes and fmt is not layout:
            rows.append(f"{fmt.label} ({' '.join('*' + s for s in fmt.suffixes)})")
    rows.append(f"Compressed ({' '.join('*' + c for _m, c in COMPRESSIONS.values())})")
    rows.append("All files (*)")
    return rows


__all__ = [
    "FORMATS",
    "DataFormat",
    "RawSource",
    "Source",
    "detect",
    "file_dialog_filters",
    "open_source",
    "read_raw",
    "readable_suffixes",
]
