"""``load_dataset``: any supported data source -> :class:`~engine.io.data.PtychoData`.

Sources: a PtychoPINN NPZ; a ptychodus product ``.h5`` with its diffraction file
(``data.diffraction_path``, default ``diffraction.h5`` next to it); a ptychodus standard-layout
folder (``product.h5`` or ``product-in.h5`` next to ``diffraction.h5``). Every source goes
through the same finishing steps: measurement domain, bad pixels, validation, selection of
the first ``n_images``, probe replacement, geometry overrides and the probe scale.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..config.schema import DataConfig, SessionConfig
from ..config.validation import ConfigIssue, validate
from ..errors import ConfigError, DataError
from .checks import (
    check_complex_array,
    check_positions,
    check_windows_inside,
    report_pattern_defects,
    sample_indices,
    scan_patterns,
)
from .data import PtychoData
from .diffraction import read_diffraction
from .geometry import Geometry
from .issues import Issues, UnreadableFileError
from .lazy import LazyPatterns, PatternArray
from .npz import open_npz, open_patterns, pattern_key, read_member, read_metadata
from .probe_scale import fill_bad_pixels, fit_probe_scale
from .product import fill_unilluminated, read_product

PRODUCT_NAMES = ("product.h5", "product-in.h5")
DIFFRACTION_NAME = "diffraction.h5"
OBJECT_MARGIN_PX = 2
"""Border added around the scan when the object size is derived from the positions."""


# -- configuration ------------------------------------------------------------------------------

def data_config(source: str | os.PathLike[str] | DataConfig, **overrides: Any) -> DataConfig:
    """A validated :class:`DataConfig` from a path or a config plus field overrides."""
    base = source if isinstance(source, DataConfig) else DataConfig(path=os.fspath(source))
    names = {f.name for f in dataclasses.fields(DataConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError([ConfigIssue(f"data.{k}", "unknown field of [data]", has_value=False)
                           for k in unknown])
    cfg = dataclasses.replace(base, **overrides)
    problems = [p for p in validate(SessionConfig(data=cfg)) if p.key.startswith("data.")]
    if problems:
        raise ConfigError(problems)
    return cfg


# -- source kinds -------------------------------------------------------------------------------

def _signature(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(8)
    except OSError:
        return b""


def source_kind(path: Path) -> str:
    """``"folder"``, ``"npz"`` or ``"h5"`` (by content first, then by suffix)."""
    if path.is_dir():
        return "folder"
    head = _signature(path)
    if head.startswith(b"\x89HDF"):
        return "h5"
    if head.startswith(b"PK"):
        return "npz"
    return "h5" if path.suffix.lower() in (".h5", ".hdf5", ".hdf", ".cxi", ".nxs") else "npz"


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


def _is_diffraction_file(path: Path) -> bool:
    from .h5files import open_h5

    with open_h5(path) as h5:
        return "patterns" in h5 and "probe" not in h5


def resolve_files(cfg: DataConfig) -> tuple[str, Path, Path | None]:
    """``(kind, main file, diffraction file)`` for a data config."""
    if not cfg.path:
        raise DataError("data.path: expected a data file or folder, found an empty setting")
    path = Path(cfg.path).expanduser()
    if not path.exists():
        raise UnreadableFileError(f"{path}: file not found")
    kind = source_kind(path)
    if kind == "folder":
        product, diffraction = standard_layout(path)
        return "layout", product, diffraction
    if kind == "npz":
        return "npz", path, None
    if cfg.diffraction_path:
        return "product", path, Path(cfg.diffraction_path).expanduser()
    if _is_diffraction_file(path):
        found = next((path.parent / n for n in PRODUCT_NAMES if (path.parent / n).is_file()),
                     None)
        if found is None:
            raise DataError(
                f"{path}: data.path: expected a product file with scan positions (or an NPZ, or "
                f"a folder), found a diffraction file without positions and no "
                f"{' or '.join(PRODUCT_NAMES)} next to it; give the product as data.path and "
                "this file as data.diffraction_path")
        return "product", found, path
    return "product", path, path.parent / DIFFRACTION_NAME


# -- readers --------------------------------------------------------------------------------

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
    indexes: np.ndarray | None = None
    legacy_layout: bool = False


def read_npz_source(path: Path, issues: Issues, lazy_over_bytes: float) -> RawSource:
    """The raw content of a PtychoPINN NPZ (see :mod:`engine.io.npz`)."""
    npz, zf = open_npz(path)
    with zf, npz:
        key = pattern_key(npz, issues)
        patterns = open_patterns(str(path), npz, zf, key, issues, lazy_over_bytes)
        for coord in ("xcoords", "ycoords"):
            if coord not in npz.files:
                raise issues.fail(coord, "scan positions in object pixels (M,)",
                                  f"no such key (keys: {', '.join(sorted(npz.files))})")
        xs = read_member(npz, "xcoords", issues).reshape(-1)
        ys = read_member(npz, "ycoords", issues).reshape(-1)
        for name, arr in (("xcoords", xs), ("ycoords", ys)):
            if arr.dtype.kind not in "iuf":
                raise issues.fail(name, "real numbers (object pixels)", f"dtype {arr.dtype}")
        if len(xs) != len(ys):
            issues.problem("xcoords, ycoords", "equal lengths",
                           f"{len(xs)} and {len(ys)} entries")
        m = min(len(xs), len(ys))
        positions = np.stack([xs[:m], ys[:m]], axis=1).astype(np.float64)
        probe = read_member(npz, "probeGuess", issues) if "probeGuess" in npz.files else None
        obj = read_member(npz, "objectGuess", issues) if "objectGuess" in npz.files else None
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
    return RawSource(
        patterns=patterns, patterns_key=key, positions=positions,
        positions_key="xcoords, ycoords", probe=probe, probe_key="probeGuess",
        object_guess=obj, object_key="objectGuess",
        stored=stored if stored in ("counts", "amplitude") else None,
        metadata=metadata, geometry=geometry, legacy_layout=legacy,
    )


def read_product_source(product_path: Path, diffraction_path: Path, issues: Issues,
                        lazy: bool | None, memory_budget_mb: float) -> RawSource:
    """Positions, probe and object from a product, patterns from its diffraction file."""
    product = read_product(product_path, issues=issues)
    if not diffraction_path.exists():
        raise UnreadableFileError(
            f"{diffraction_path}: diffraction file not found (paired with product "
            f"{product_path}; set data.diffraction_path)")
    diffraction = read_diffraction(diffraction_path, lazy=lazy, memory_budget_mb=memory_budget_mb,
                                   issues=issues)
    # Pair patterns with positions through the scan indexes, in the diffraction file's order.
    where = {int(i): k for k, i in enumerate(product.indexes)}
    keep = [(row, where[int(i)]) for row, i in enumerate(diffraction.indexes) if int(i) in where]
    n_pat, n_pos = len(diffraction.indexes), len(product.indexes)
    if not keep:
        issues.problem("/indexes", f"scan indexes shared with {product_path.name} "
                       "/probe_position_indexes", f"no index in common ({n_pat} patterns, "
                       f"{n_pos} positions)")
    elif len(keep) < max(n_pat, n_pos):
        issues.warn(f"{diffraction_path}: {len(keep)} patterns paired with positions; "
                    f"{n_pat - len(keep)} patterns without a position and "
                    f"{n_pos - len(keep)} positions without a pattern were dropped")
    rows = np.array([r for r, _ in keep], dtype=np.int64)
    pos_rows = np.array([p for _, p in keep], dtype=np.int64)
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
        bad_pixels=diffraction.bad_pixels,
        indexes=diffraction.indexes[rows] if len(rows) else np.zeros(0, np.int64),
    )


def read_probe_file(path: Path, issues: Issues) -> np.ndarray:
    """A replacement probe from an NPZ (``probeGuess``) or a product ``.h5`` (``/probe``)."""
    local = Issues(str(path))
    if source_kind(path) == "h5":
        probe = read_product(path, issues=local).probe
    else:
        npz, zf = open_npz(path)
        with zf, npz:
            if "probeGuess" not in npz.files:
                raise local.fail("probeGuess", "a probe array in the probe file",
                                 f"keys {', '.join(sorted(npz.files))}")
            probe = read_member(npz, "probeGuess", local)
    issues.warnings.extend(local.warnings)
    issues.problems.extend(f"{path}: {p}" for p in local.problems)
    return probe


# -- shared finishing steps ---------------------------------------------------------------------

def _decide_measurement(cfg: DataConfig, raw: RawSource, integer_fraction: float,
                        issues: Issues) -> tuple[str, str]:
    """``(domain, how it was decided)``."""
    if cfg.measurement != "auto":
        return cfg.measurement, "config (data.measurement)"
    if raw.stored is not None:
        return raw.stored, "file metadata" if raw.patterns_key in ("diffraction", "diff3d") \
            else "file format (ptychodus diffraction files hold counts)"
    domain = "counts" if integer_fraction > 0.99 else "amplitude"
    issues.warn(
        f"{issues.source}: the file does not say whether {raw.patterns_key} holds counts or "
        f"amplitudes; {100 * integer_fraction:.1f}% of the non-zero values are integers, so "
        f"they are taken as {domain} (rule: > 99% integers = counts). Set data.measurement "
        "to be sure")
    return domain, "heuristic (near-integer values)"


def _as_counts(patterns: PatternArray, amplitude: bool, legacy: bool,
               bad_pixels: np.ndarray | None) -> PatternArray:
    if isinstance(patterns, LazyPatterns):
        return LazyPatterns(patterns.backend, patterns.rows if not legacy else None,
                            amplitude=amplitude, legacy_layout=legacy, bad_pixels=bad_pixels)
    out = np.asarray(patterns)
    if legacy:
        out = np.moveaxis(out, 2, 0)
    out = np.array(out, dtype=np.float32, copy=True, order="C")
    if amplitude:
        np.square(out, out=out)
    if bad_pixels is not None:
        out[:, bad_pixels] = 0.0
    return out


def _derived_object_shape(positions: np.ndarray, n: int, issues: Issues
                          ) -> tuple[np.ndarray, tuple[int, int]]:
    """Object shape from the scan extent; shifts positions that start too close to 0."""
    finite = positions[np.isfinite(positions).all(axis=1)]
    if not len(finite):
        return positions, (n + 2 * OBJECT_MARGIN_PX, n + 2 * OBJECT_MARGIN_PX)
    half = (n - 1) / 2.0
    lo = finite.min(axis=0)
    low_limit = half + OBJECT_MARGIN_PX
    shift = np.where(lo < low_limit, np.ceil(low_limit - lo), 0.0)
    if shift.any():
        positions = positions + shift
        issues.warn(f"{issues.source}: positions shifted by (x, y) = ({shift[0]:g}, "
                    f"{shift[1]:g}) px so every window lies inside the object canvas")
        finite = finite + shift
    hi = finite.max(axis=0)
    width = int(np.ceil(hi[0] + half + 1 + OBJECT_MARGIN_PX))
    height = int(np.ceil(hi[1] + half + 1 + OBJECT_MARGIN_PX))
    return positions, (height, width)


def _object_guess(raw: RawSource, issues: Issues) -> np.ndarray | None:
    """The object guess as complex64 (H, W); non-finite pixels filled by the NaN rule."""
    obj = raw.object_guess
    if obj is None:
        return None
    if obj.ndim != 2:
        issues.problem(raw.object_key, "an (H, W) object", f"shape {obj.shape}")
        return None
    if obj.dtype.kind not in "iufc":
        issues.problem(raw.object_key, "a numeric (complex) object", f"dtype {obj.dtype}")
        return None
    obj = np.asarray(obj, np.complex64)
    bad = ~np.isfinite(obj)
    if bad.any():
        # A reconstruction used as a guess: NaN marks never-illuminated pixels, not an error.
        obj, _ = fill_unilluminated(obj)
        issues.warn(f"{issues.source}: {raw.object_key} has {int(bad.sum())} NaN or infinite "
                    "pixel(s); replaced by the mean of the others")
    return obj


def read_source(cfg: DataConfig, issues: Issues, *, lazy: bool | None = None,
                full_check: bool | None | str = "default") -> tuple[PtychoData, Any]:
    """Read and check a data source; problems go to ``issues`` (the probe is not rescaled).

    ``lazy`` forces file-backed (True) or in-memory (False) patterns (default: by
    ``data.memory_budget_mb``). ``full_check``: check every pattern (True), a sample (False),
    decide by size (None), or ``"default"`` = all when in memory, a sample when lazy.

    Returns the data and the :class:`~engine.io.checks.PatternScan` of the stored values.
    """
    kind, main, diffraction = resolve_files(cfg)
    budget = cfg.memory_budget_mb * 2**20
    if kind == "npz":
        raw = read_npz_source(main, issues, 0.0 if lazy else (np.inf if lazy is False else budget))
    else:
        assert diffraction is not None
        raw = read_product_source(main, diffraction, issues, lazy, cfg.memory_budget_mb)

    if raw.legacy_layout and not isinstance(raw.patterns, LazyPatterns):
        stored_view: PatternArray = np.moveaxis(np.asarray(raw.patterns), 2, 0)
    elif raw.legacy_layout:
        assert isinstance(raw.patterns, LazyPatterns)
        stored_view = LazyPatterns(raw.patterns.backend, legacy_layout=True)
    else:
        stored_view = raw.patterns
    n_patterns, n = len(stored_view), int(stored_view.shape[-1])
    if n_patterns == 0:
        issues.problem(raw.patterns_key, "at least one diffraction pattern", "none (0 patterns)")
    if stored_view.shape[-1] != stored_view.shape[-2]:
        issues.problem(raw.patterns_key, "square N x N patterns",
                       f"{stored_view.shape[-2]} x {stored_view.shape[-1]} px")
    # Default: in memory, check everything (cheap); lazy, check a bounded sample (never read
    # a large file whole just to load it). None: by size (see checks.FULL_SCAN_BYTES).
    full = not isinstance(stored_view, LazyPatterns) if full_check == "default" \
        else bool(full_check) if full_check is not None else None
    scan = scan_patterns(stored_view, full=full)
    domain, how = _decide_measurement(cfg, raw, scan.integer_fraction, issues)
    report_pattern_defects(issues, raw.patterns_key, scan,
                           "counts" if domain == "counts" else "amplitudes")
    if not scan.complete:
        issues.warn(f"{issues.source}: values checked on {scan.describe()} (the data are "
                    "read from disk on access)")
    patterns = _as_counts(raw.patterns, domain == "amplitude", raw.legacy_layout, raw.bad_pixels)

    positions = np.asarray(raw.positions, np.float64)
    positions_ok = check_positions(issues, raw.positions_key, positions, n_patterns,
                                   raw.patterns_key)
    metadata = dict(raw.metadata, measurement_source=how, format=kind)

    probe = raw.probe
    probe_key = raw.probe_key
    if cfg.probe_path:
        probe = read_probe_file(Path(cfg.probe_path).expanduser(), issues)
        probe_key = f"{Path(cfg.probe_path).name} probe"
        metadata["probe_source"] = str(cfg.probe_path)
    if probe is None:
        issues.problem(raw.probe_key, "a probe (N, N) or (modes, N, N) (or data.probe_path)",
                       "no such key")
        probe = np.zeros((1, n, n), np.complex64)
    elif probe.ndim not in (2, 3) or probe.size == 0:
        issues.problem(probe_key, "a probe (N, N) or (modes, N, N)", f"shape {probe.shape}")
        probe = np.zeros((1, n, n), np.complex64)
    elif probe.dtype.kind not in "iufc":  # text or bool: recorded, nothing to convert
        check_complex_array(issues, probe_key, probe, "probe", (n, n))
        probe = np.zeros((1, n, n), np.complex64)
    else:
        check_complex_array(issues, probe_key, probe, "probe", (n, n))
        probe = np.asarray(probe.reshape(-1, *probe.shape[-2:]), np.complex64)

    obj = _object_guess(raw, issues)
    if obj is not None:
        object_shape = (int(obj.shape[0]), int(obj.shape[1]))
        if positions_ok:
            check_windows_inside(issues, raw.positions_key, positions, n, object_shape,
                                 raw.object_key)
    else:
        positions, object_shape = _derived_object_shape(positions, n, issues)

    geometry = raw.geometry.overridden(
        photon_energy_ev=cfg.photon_energy_ev, detector_distance_m=cfg.detector_distance_m,
        detector_pixel_size_m=cfg.detector_pixel_size_m)
    data = PtychoData(
        patterns=patterns, positions=positions, probe=probe, object_shape=object_shape,
        object_guess=obj, bad_pixels=raw.bad_pixels, geometry=geometry, measurement=domain,
        indexes=(raw.indexes if raw.indexes is not None
                 else np.arange(n_patterns, dtype=np.int64)),
        metadata=metadata, source=str(cfg.path), warnings=issues.warnings,
    )
    if cfg.n_images and cfg.n_images < data.n_patterns and len(positions) == n_patterns:
        data = data.subset(np.arange(cfg.n_images))
        data.warnings = issues.warnings
    return data, scan


def measured_mean_counts(data: PtychoData) -> float:
    """Mean total counts per pattern (all patterns in memory, a bounded sample if lazy)."""
    if isinstance(data.patterns, LazyPatterns):
        block = np.asarray(data.patterns[sample_indices(data.n_patterns, 256)], np.float64)
    else:
        block = np.asarray(data.patterns, np.float64)
    if not len(block):
        return float("nan")
    mean = fill_bad_pixels(block.mean(axis=0), data.bad_pixels)
    return float(mean.sum())


def apply_probe_scale(data: PtychoData, mode: str, issues: Issues) -> None:
    """Fit (``"fit"``) or keep (``"file"``) the probe's intensity scale, recording it."""
    data.metadata["probe_scale"] = mode
    if mode != "fit":
        data.probe_scale_factor = 1.0
        return
    measured = measured_mean_counts(data)
    factor = fit_probe_scale(data.probe, measured, data.object_guess, data.positions)
    if not np.isfinite(factor) or factor <= 0:
        raise DataError(f"{data.source}: probe: expected a probe that predicts counts "
                        f"(non-zero), found one with zero intensity; cannot fit its scale to "
                        f"the data's {measured:.6g} mean counts per pattern")
    data.probe = (data.probe * np.float32(np.sqrt(factor))).astype(np.complex64)
    data.probe_scale_factor = factor
    data.metadata["mean_counts_per_pattern"] = measured
    if abs(factor - 1.0) > 0.01:
        issues.warn(f"{data.source}: probe intensity scaled by {factor:.6g} to match the data's "
                    f"mean of {measured:.6g} counts per pattern (data.probe_scale = 'fit')")


def load_dataset(source: str | os.PathLike[str] | DataConfig, **overrides: Any) -> PtychoData:
    """Load a dataset from a file, a folder or a :class:`DataConfig`, validated and in counts.

    Parameters
    ----------
    source
        A PtychoPINN NPZ, a ptychodus product ``.h5`` (its diffraction file from
        ``diffraction_path`` or next to it), a standard-layout folder, or a ``DataConfig``.
    **overrides
        ``DataConfig`` fields, e.g. ``measurement="amplitude"``, ``n_images=100``,
        ``probe_scale="file"``, ``memory_budget_mb=64``, ``photon_energy_ev=8000``.

    Returns
    -------
    PtychoData
        Patterns in counts (lazy when over ``memory_budget_mb``), positions in object pixels,
        the probe scaled to the data (``probe_scale = 'fit'``), and every warning.

    Raises
    ------
    DataError
        Naming the file and listing every problem (key, expected, found).
    ConfigError
        For invalid overrides.

    Examples
    --------
    >>> data = load_dataset("scan.npz", n_images=500)        # doctest: +SKIP
    >>> data.patterns.shape, data.positions.shape, data.probe.shape   # doctest: +SKIP
    ((500, 64, 64), (500, 2), (1, 64, 64))
    """
    cfg = data_config(source, **overrides)
    issues = Issues(str(cfg.path))
    data, _scan = read_source(cfg, issues)
    issues.raise_if_any()
    apply_probe_scale(data, cfg.probe_scale, issues)
    data.warnings = list(issues.warnings)
    return data
