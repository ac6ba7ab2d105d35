"""The protocol every data format implements, and what a format reader returns.

A format (one module of :mod:`engine.io.formats`) has a ``name``, a ``label`` (what a user
reads in ``inspect`` and in a file dialog), file ``suffixes``, ``sniff(source)`` (does this
content look like mine? from the first bytes and, for HDF5, the names inside), ``read(source,
cfg, issues, lazy_over_bytes)`` -> :class:`RawSource` (the file's content in its own units;
:func:`engine.io.loading.read_source` applies the shared finishing steps that make it a
:class:`~engine.io.data.PtychoData`) and optionally ``write``.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ...config.schema import DataConfig
from ..geometry import Geometry
from ..issues import Issues
from ..lazy import PatternArray


@dataclasses.dataclass(frozen=True)
class Source:
    """A data file or folder as given, and its content when it had to be unpacked.

    Attributes
    ----------
    path
        The file or folder the user named (every message names it).
    head
        The first bytes of the content (after decompression).
    content
        The decompressed bytes of a gzip/bzip2 file, else ``None`` (read from ``path``).
    compression
        ``"gzip"``, ``"bzip2"`` or ``None``.
    """

    path: Path
    head: bytes = b""
    content: bytes | None = None
    compression: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.content is None and self.path.is_dir()

    @property
    def is_hdf5(self) -> bool:
        return self.head.startswith(b"\x89HDF")

    @property
    def is_zip(self) -> bool:
        return self.head.startswith(b"PK")

    @property
    def in_memory(self) -> bool:
        """True when the content was unpacked in memory (no memory map, no lazy reads)."""
        return self.content is not None

    def fileobj(self) -> io.BytesIO:
        """A fresh file object over the unpacked content (each reader gets its own)."""
        assert self.content is not None
        return io.BytesIO(self.content)

    def describe(self, label: str) -> str:
        """``label``, with the compression when there is one."""
        return f"{label} ({self.compression}-compressed)" if self.compression else label


@dataclasses.dataclass
class RawSource:
    """What a format reader found, before the shared finishing steps."""

    patterns: PatternArray          # stored values (domain ``stored``)
    patterns_key: str
    positions: np.ndarray
    positions_key: str
    probe: np.ndarray | None
    probe_key: str
    object_guess: np.ndarray | None
    object_key: str
    stored: str | None              # "counts" / "amplitude" when the format says so
    metadata: dict[str, Any]
    geometry: Geometry
    bad_pixels: np.ndarray | None = None
    mask_key: str = ""
    indexes: np.ndarray | None = None
    legacy_layout: bool = False
    fftshifted: bool | None = None  # None: unknown (sniffed), else what the file/layout says
    positions_unit: str = "px"      # "px", or "m" (converted once the pixel size is known)
    positions_corner: bool = False  # positions name each window's first pixel, not its centre
    object_center_m: tuple[float, float] | None = None
    """Position of the object guess's centre pixel, for positions in metres."""
    object_shape_hint: tuple[int, int] | None = None
    """Object canvas the positions were written for (no object guess in the file)."""
    files: list[str] = dataclasses.field(default_factory=list)
    """Every file the data are read from (the data file, a paired diffraction file, the
    targets of HDF5 external links)."""


class DataFormat(Protocol):
    """One data format of the registry (see the module docstring)."""

    name: str
    label: str
    suffixes: tuple[str, ...]

    def sniff(self, source: Source) -> bool: ...

    def read(self, source: Source, cfg: DataConfig, issues: Issues,
             lazy_over_bytes: float) -> RawSource: ...
