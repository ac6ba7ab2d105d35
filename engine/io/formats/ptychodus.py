"""Ptychodus files: a product ``.h5`` with its diffraction file, a diffraction file with the
product next to it, and the standard-layout folder (docs/formats.md §2-3).

Three formats of the registry share the reading: each finds the (product, diffraction) pair
its own way and :func:`read_pair` reads positions, probe and object from the product, patterns,
``/bad_pixels`` and the detector pixel size from the diffraction file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...config.schema import DataConfig
from ..diffraction import read_diffraction, write_diffraction
from ..h5files import open_h5
from ..issues import Issues, UnreadableFileError
from ..lazy import LazyPatterns, PatternArray
from ..product import read_product, write_product
from .base import RawSource, Source

PRODUCT_NAMES = ("product.h5", "product-in.h5")
DIFFRACTION_NAME = "diffraction.h5"


def _names(source: Source) -> set[str]:
    with open_h5(source.path, source.content) as h5:
        return set(h5.keys())


def is_product(source: Source) -> bool:
    if not source.is_hdf5:
        return False
    names = _names(source)
    return bool({"probe", "object", "probe_position_x_m", "probe_position_y_m"} & names)


def is_diffraction(source: Source) -> bool:
    if not source.is_hdf5:
        return False
    names = _names(source)
    return "patterns" in names and "probe" not in names


def pair_indexes(pattern_indexes: np.ndarray, position_indexes: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``(pattern rows, position rows)`` sharing a scan index, in the patterns' order.

    A repeated position index pairs with its first occurrence (duplicates are reported as
    problems by the readers).
    """
    uniq, first = np.unique(np.asarray(position_indexes, np.int64), return_index=True)
    pattern_indexes = np.asarray(pattern_indexes, np.int64)
    if not len(uniq):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    slot = np.clip(np.searchsorted(uniq, pattern_indexes), 0, len(uniq) - 1)
    rows = np.flatnonzero(uniq[slot] == pattern_indexes).astype(np.int64)
    return rows, first[slot[rows]].astype(np.int64)


def standard_layout(folder: Path) -> tuple[Path, Path]:
    """``(product, diffraction)`` of a standard-layout folder, or raise naming what is missing."""
    product = next((folder / n for n in PRODUCT_NAMES if (folder / n).is_file()), None)
    diffraction = folder / DIFFRACTION_NAME
    missing = ([] if product else [" or ".join(PRODUCT_NAMES)]) + \
        ([] if diffraction.is_file() else [DIFFRACTION_NAME])
    if missing:
        present = ", ".join(sorted(p.name for p in folder.iterdir())) or "nothing"
        raise UnreadableFileError(
            f"{folder}: expected a ptychodus standard-layout folder with "
            f"{' and '.join(missing)}, found {present}")
    assert product is not None
    return product, diffraction


def read_pair(product_path: Path, diffraction_path: Path, issues: Issues,
              lazy_over_bytes: float, product_content: bytes | None = None,
              diffraction_content: bytes | None = None) -> RawSource:
    """Positions, probe and object from a product, patterns from its diffraction file."""
    product = read_product(product_path, issues=issues, content=product_content)
    if diffraction_content is None and not diffraction_path.exists():
        raise UnreadableFileError(
            f"{diffraction_path}: diffraction file not found (paired with product "
            f"{product_path}; set data.diffraction_path)")
    # The diffraction file's own problems name that file, not the product.
    local = Issues(str(diffraction_path))
    lazy = None if np.isfinite(lazy_over_bytes) and lazy_over_bytes > 0 else \
        (lazy_over_bytes == 0)
    try:
        diffraction = read_diffraction(diffraction_path, lazy=lazy,
                                       memory_budget_mb=lazy_over_bytes / 2**20, issues=local,
                                       content=diffraction_content)
    finally:
        issues.warnings.extend(w for w in local.warnings if w not in issues.warnings)
        issues.problems.extend(f"{diffraction_path}: {p}" for p in local.problems)
    # Pair patterns with positions through the scan indexes, in the diffraction file's order
    # (vectorised: files with millions of patterns).
    rows, pos_rows = pair_indexes(diffraction.indexes, product.indexes)
    n_pat, n_pos = len(diffraction.indexes), len(product.indexes)
    if not len(rows):
        issues.problem("/indexes", f"scan indexes shared with {product_path.name} "
                       "/probe_position_indexes", f"no index in common ({n_pat} patterns, "
                       f"{n_pos} positions)", where=str(diffraction_path))
    elif len(rows) < max(n_pat, n_pos):
        issues.warn(f"{diffraction_path}: {len(rows)} patterns paired with positions; "
                    f"{n_pat - len(rows)} patterns without a position and "
                    f"{n_pos - len(rows)} positions without a pattern were dropped")
    patterns: PatternArray = diffraction.patterns
    if len(rows) != len(diffraction.indexes) or not np.array_equal(rows, np.arange(len(rows))):
        patterns = patterns.subset(rows) if isinstance(patterns, LazyPatterns) \
            else patterns[rows]
    detector = diffraction.detector_pixel_size_m
    geometry = product.geometry
    if detector is not None:
        geometry = geometry.overridden(detector_pixel_size_m=detector[0])
    metadata = dict(product.metadata, name=product.name, comments=product.comments,
                    product=str(product_path), diffraction=str(diffraction_path),
                    probe_factor=product.probe_factor)
    return RawSource(
        patterns=patterns, patterns_key=f"{diffraction_path.name} /patterns",
        positions=product.positions[pos_rows] if len(pos_rows) else np.zeros((0, 2)),
        positions_key=f"{product_path.name} /probe_position_x_m, /probe_position_y_m",
        probe=product.probe, probe_key=f"{product_path.name} /probe",
        object_guess=product.object, object_key=f"{product_path.name} /object",
        stored="counts", metadata=metadata, geometry=geometry,
        bad_pixels=diffraction.bad_pixels, mask_key=f"{diffraction_path.name} /bad_pixels",
        indexes=diffraction.indexes[rows] if len(rows) else np.zeros(0, np.int64),
        fftshifted=True, files=[str(product_path), str(diffraction_path)],
    )


class ProductFormat:
    """A ptychodus product ``.h5``; patterns from ``data.diffraction_path`` or the
    ``diffraction.h5`` next to it."""

    name = "ptychodus-product"
    label = "ptychodus product + diffraction"
    suffixes = (".h5", ".hdf5")

    @staticmethod
    def write(path: Path, **kwargs: object) -> Path:
        return write_product(path, **kwargs)  # type: ignore[arg-type]

    def sniff(self, source: Source) -> bool:
        return is_product(source)

    def read(self, source: Source, cfg: DataConfig, issues: Issues,
             lazy_over_bytes: float) -> RawSource:
        diffraction = Path(cfg.diffraction_path).expanduser() if cfg.diffraction_path \
            else source.path.parent / DIFFRACTION_NAME
        return read_pair(source.path, diffraction, issues, lazy_over_bytes,
                         product_content=source.content)


class DiffractionFormat:
    """A ptychodus diffraction ``.h5``, read with the product next to it."""

    name = "ptychodus-diffraction"
    label = "ptychodus diffraction file"
    suffixes = (".h5", ".hdf5")

    @staticmethod
    def write(path: Path, **kwargs: object) -> Path:
        return write_diffraction(path, **kwargs)  # type: ignore[arg-type]

    def sniff(self, source: Source) -> bool:
        return is_diffraction(source)

    def read(self, source: Source, cfg: DataConfig, issues: Issues,
             lazy_over_bytes: float) -> RawSource:
        product = paired_product(source.path)
        if product is None:
            raise issues.fail(
                "data.path", "a product file with scan positions (or an NPZ, or a folder)",
                f"a diffraction file without positions and no {' or '.join(PRODUCT_NAMES)} "
                "next to it; give the product as data.path and this file as "
                "data.diffraction_path")
        return read_pair(product, source.path, issues, lazy_over_bytes,
                         diffraction_content=source.content)


def paired_product(diffraction: Path) -> Path | None:
    """The product next to a diffraction file, if any."""
    return next((diffraction.parent / n for n in PRODUCT_NAMES
                 if (diffraction.parent / n).is_file()), None)


class FolderFormat:
    """A ptychodus standard-layout folder (``product.h5`` or ``product-in.h5`` next to
    ``diffraction.h5``)."""

    name = "ptychodus-folder"
    label = "ptychodus standard-layout folder"
    suffixes: tuple[str, ...] = ()

    def sniff(self, source: Source) -> bool:
        return source.is_dir

    def read(self, source: Source, cfg: DataConfig, issues: Issues,
             lazy_over_bytes: float) -> RawSource:
        product, diffraction = standard_layout(source.path)
        return read_pair(product, diffraction, issues, lazy_over_bytes)
