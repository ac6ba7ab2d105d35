"""``load_dataset``: any supported data source -> :class:`~engine.io.data.PtychoData`.

Sources: every format of the registry (:mod:`engine.io.formats`: PtychoPINN NPZ, CXI,
ptychodus product / diffraction / folder, declared layouts, gzip/bzip2-compressed forms).
Every source goes through the same finishing steps: measurement domain, detector mask (the
file's, flag values, gaps), fft-shift, binning and crop, positions to window centres in object
pixels, validation, selection of the first ``n_images``, the starting probe
(``probe.initial``), geometry overrides and the probe scale.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..config.schema import DataConfig, ProbeConfig, SessionConfig
from ..config.validation import ConfigIssue, validate
from ..errors import ConfigError, DataError
from .checks import (
    check_complex_array,
    check_positions,
    check_windows_inside,
    report_pattern_defects,
    sample_indices,
    scan_patterns,
    warn_if_real,
)
from .data import PtychoData
from .formats import open_source, read_raw
from .formats.base import RawSource
from .issues import Issues
from .lazy import FrameOps, LazyPatterns, PatternArray
from .npz import open_npz, read_member
from .probe_models import (
    DISK_MATCH,
    auto_start,
    disk_diameter,
    disk_probe,
    probe_from_data,
    resample_probe,
    zone_plate_probe,
)
from .probe_scale import fill_bad_pixels, fit_probe_scale
from .product import fill_unilluminated, read_product
from .sniff import check_position_units, detector_mask, is_unshifted, median_step

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


# -- sources -----------------------------------------------------------------------------------

def read_probe_file(path: Path, issues: Issues) -> np.ndarray:
    """A replacement probe from an NPZ (``probeGuess``) or a product ``.h5`` (``/probe``)."""
    local = Issues(str(path))
    source = open_source(path)
    if source.is_hdf5:
        probe = read_product(path, issues=local, content=source.content).probe
    else:
        npz, zf = open_npz(path, source.content)
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
            else "file format (its patterns hold counts)"
    domain = "counts" if integer_fraction > 0.99 else "amplitude"
    issues.warn(
        f"{issues.source}: the file does not say whether {raw.patterns_key} holds counts or "
        f"amplitudes; {100 * integer_fraction:.1f}% of the non-zero values are integers, so "
        f"they are taken as {domain} (rule: > 99% integers = counts). Set data.measurement "
        "to be sure")
    return domain, "heuristic (near-integer values)"


def _as_counts(patterns: PatternArray, amplitude: bool, legacy: bool,
               bad_pixels: np.ndarray | None, ops: FrameOps) -> PatternArray:
    """Stored values -> counts in the engine's frame (bad pixels zeroed in the stored frame,
    then ``ops``)."""
    if isinstance(patterns, LazyPatterns):
        return LazyPatterns(patterns.backend, patterns.rows if not legacy else None,
                            amplitude=amplitude, legacy_layout=legacy, bad_pixels=bad_pixels,
                            ops=ops)
    out = np.asarray(patterns)
    if legacy:
        out = np.moveaxis(out, 2, 0)
    out = np.array(out, dtype=np.float32, copy=True, order="C")
    if amplitude:
        np.square(out, out=out)
    if bad_pixels is not None:
        out[:, bad_pixels] = 0.0
    return out if ops.identity else ops.apply(out)


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
    warn_if_real(issues, raw.object_key, obj.dtype)
    obj = np.asarray(obj, np.complex64)
    bad = ~np.isfinite(obj)
    if bad.any():
        # A reconstruction used as a guess: NaN marks never-illuminated pixels, not an error.
        obj, _ = fill_unilluminated(obj)
        issues.warn(f"{issues.source}: {raw.object_key} has {int(bad.sum())} NaN or infinite "
                    "pixel(s); replaced by the mean of the others")
    return obj


def _frame_ops(cfg: DataConfig, raw: RawSource, scan: Any, stored_n: int,
               issues: Issues) -> FrameOps:
    """fft-shift (declared, or sniffed from the mean pattern), binning and crop."""
    shift = False
    if raw.fftshifted is False or cfg.fftshifted == "no":
        shift = True
        how = "data.fftshifted = 'no'" if cfg.fftshifted == "no" else "the file says so"
        issues.correct(f"{issues.source}: {raw.patterns_key}: zero frequency at pixel [0, 0] "
                       f"({how}); patterns fft-shifted to put it at the centre")
    elif cfg.fftshifted == "auto" and scan.pixel_sum is not None and scan.checked:
        unshifted, ratio = is_unshifted(scan.pixel_sum)
        if unshifted:
            shift = True
            issues.correct(
                f"{issues.source}: {raw.patterns_key}: the patterns are not fft-shifted (the "
                f"mean pattern has {ratio:.3g} times more power at the corners than at the "
                "centre): shifted to put the zero frequency at the centre; set "
                "data.fftshifted = 'no' to say so, or 'yes' to keep them as stored")
    binned = stored_n // cfg.bin
    if cfg.bin > 1 and stored_n % cfg.bin:
        issues.problem("data.bin", f"a factor dividing the {stored_n} px pattern side",
                       f"{cfg.bin}")
    if cfg.crop and cfg.crop > binned:
        issues.problem("data.crop", f"at most the (binned) pattern side {binned} px",
                       f"{cfg.crop} px")
    crop = cfg.crop if cfg.crop and cfg.crop < binned else 0
    return FrameOps(shift=shift, bin=cfg.bin, crop=crop)


def _positions_px(raw: RawSource, cfg: DataConfig, geometry: Any, stored_n: int,
                  ops: FrameOps, issues: Issues) -> np.ndarray | None:
    """Positions as window centres in the engine's object pixels (None: not convertible)."""
    positions = np.asarray(raw.positions, np.float64)
    if raw.positions_unit == "m":
        dx = cfg.object_pixel_size_m or geometry.object_pixel_size(stored_n)
        if not dx:
            issues.problem(raw.positions_key, "an object pixel size to convert positions in "
                           "metres to pixels", "no photon energy, distance or detector pixel "
                           "size in the file; set data.object_pixel_size_m (or "
                           "data.photon_energy_ev, data.detector_distance_m and "
                           "data.detector_pixel_size_m)")
            return None
        if raw.object_guess is not None or raw.object_shape_hint is not None:
            h, w = raw.object_guess.shape[-2:] if raw.object_guess is not None \
                else raw.object_shape_hint  # type: ignore[misc]
            cx, cy = raw.object_center_m or (0.0, 0.0)
            positions = np.stack([(positions[:, 0] - cx) / dx + (w - 1) / 2,
                                  (positions[:, 1] - cy) / dx + (h - 1) / 2], axis=1)
        else:
            # No object frame: the origin is arbitrary, so the scan starts inside the canvas.
            positions = positions / dx
            finite = positions[np.isfinite(positions).all(axis=1)]
            if len(finite):
                positions = positions - finite.min(axis=0) + (stored_n - 1) / 2.0 \
                    + OBJECT_MARGIN_PX + 1
    if raw.positions_corner:
        positions = positions + (stored_n - 1) / 2.0
    if stored_n // ops.bin <= 0:  # no pattern pixels: the patterns' own problem says so
        return positions
    final = ops.frame((stored_n, stored_n))[0]
    scale = final / (stored_n // ops.bin)
    if scale != 1.0:
        positions = positions * scale
    return positions


def _geometry_in_frame(geometry: Any, ops: FrameOps, stored_n: int) -> Any:
    """The geometry of the engine's frame (binned detector pixels; a crop coarsens a stated
    object pixel)."""
    if ops.bin > 1 and geometry.detector_pixel_size_m:
        geometry = geometry.overridden(
            detector_pixel_size_m=geometry.detector_pixel_size_m * ops.bin)
    final = ops.frame((stored_n, stored_n))[0]
    if final != stored_n // ops.bin and geometry.object_pixel_size_m:
        geometry = geometry.overridden(object_pixel_size_m=geometry.object_pixel_size_m
                                       * (stored_n // ops.bin) / final)
    return geometry


def _initial_probe(raw: RawSource, cfg: DataConfig, probe_cfg: ProbeConfig, ops: FrameOps,
                   stored_n: int, n: int, geometry: Any, patterns: PatternArray,
                   bad_pixels: np.ndarray | None, metadata: dict[str, Any],
                   issues: Issues, positions: np.ndarray | None) -> tuple[np.ndarray, str]:
    """The starting probe ``(modes, n, n)`` and the key it came from (``probe.initial``)."""
    probe = raw.probe
    key = raw.probe_key
    if cfg.probe_path:
        probe = read_probe_file(Path(cfg.probe_path).expanduser(), issues)
        key = f"{Path(cfg.probe_path).name} probe"
        metadata["probe_source"] = str(cfg.probe_path)
    mode = probe_cfg.initial
    if n <= 0:  # no pattern pixels (a problem already): no probe model to size
        return np.zeros((1, 0, 0), np.complex64), key or ""
    step = median_step(positions, distinct=True) if positions is not None else None
    diameter = disk_diameter(n, probe_cfg.disk_diameter_px, step)
    mean = np.zeros((n, n))  # of the engine's counts: every mask and conversion applied
    if mode == "from_data" or (mode == "auto" and probe is None):
        sampled = sampled_mean_pattern(patterns)
        mean = mean if sampled is None else sampled
    if mode == "auto":
        # Without a probe: the disk where its far field looks like the data's, else the probe
        # retrieved from the mean pattern (measured in docs/formats.md).
        mode = "file"
        if probe is None:
            mode, match = auto_start(mean, diameter, bad_pixels)
            how = (f"a disk of {diameter:.1f} px (probe.disk_diameter_px; 0: 2.7 median scan "
                   "steps)" if mode == "disk" else
                   "a probe retrieved from the mean pattern (probe.initial = 'from_data')")
            issues.correct(f"{issues.source}: {key}: no probe in the file; starting from "
                           f"{how}: the disk's far field matches the data's by {match:.2f} "
                           f"(the disk from {DISK_MATCH}; probe.initial = 'auto'); set "
                           "probe.initial (disk, zone_plate, from_data) or data.probe_path "
                           "to choose, and refine the probe (refinement.refine_probe)")
    metadata["probe_initial"] = mode
    if mode == "disk":
        return disk_probe(n, diameter), "probe.initial = 'disk'"
    if mode == "zone_plate":
        return zone_plate_probe(n, probe_cfg, geometry, issues.source), \
            "probe.initial = 'zone_plate'"
    if mode == "from_data":
        return probe_from_data(mean, diameter, bad_pixels), "probe.initial = 'from_data'"
    if probe is None:
        issues.problem(key, "a probe (N, N) or (modes, N, N)", "none in the file; set "
                       "probe.initial = 'from_data', 'disk' or 'zone_plate', or "
                       "data.probe_path")
        return np.zeros((1, n, n), np.complex64), key
    if probe.ndim not in (2, 3) or probe.size == 0:
        issues.problem(key, "a probe (N, N) or (modes, N, N)", f"shape {probe.shape}")
        return np.zeros((1, n, n), np.complex64), key
    if probe.dtype.kind not in "iufc":  # text or bool: recorded, nothing to convert
        check_complex_array(issues, key, probe, "probe", (stored_n, stored_n))
        return np.zeros((1, n, n), np.complex64), key
    check_complex_array(issues, key, probe, "probe", (stored_n, stored_n))
    probe = np.asarray(probe.reshape(-1, *probe.shape[-2:]), np.complex64)
    if probe.shape[-1] == stored_n and (ops.bin > 1 or ops.crop):
        probe = resample_probe(probe, ops, stored_n)
    return probe, key


def read_source(cfg: DataConfig, issues: Issues, *, lazy: bool | None = None,
                full_check: bool | None | str = "default",
                probe: ProbeConfig | None = None) -> tuple[PtychoData, Any]:
    """Read and check a data source; problems go to ``issues`` (the probe is not rescaled).

    ``lazy`` forces file-backed (True) or in-memory (False) patterns (default: by
    ``data.memory_budget_mb``). ``full_check``: check every pattern (True), a sample (False),
    decide by size (None), or ``"default"`` = all when in memory, a sample when lazy.
    ``probe``: the ``[probe]`` settings (``probe.initial``; default: the schema's).

    Returns the data and the :class:`~engine.io.checks.PatternScan` of the stored values.
    """
    probe_cfg = probe or ProbeConfig()
    budget = cfg.memory_budget_mb * 2**20
    fmt, source, raw = read_raw(cfg, issues, 0.0 if lazy else
                                (np.inf if lazy is False else budget))

    if raw.legacy_layout and not isinstance(raw.patterns, LazyPatterns):
        stored_view: PatternArray = np.moveaxis(np.asarray(raw.patterns), 2, 0)
    elif raw.legacy_layout:
        assert isinstance(raw.patterns, LazyPatterns)
        stored_view = LazyPatterns(raw.patterns.backend, legacy_layout=True)
    else:
        stored_view = raw.patterns
    n_patterns, stored_n = len(stored_view), int(stored_view.shape[-1])
    if n_patterns == 0:
        issues.problem(raw.patterns_key, "at least one diffraction pattern", "none (0 patterns)")
    if stored_view.shape[-1] != stored_view.shape[-2]:
        issues.problem(raw.patterns_key, "square N x N patterns",
                       f"{stored_view.shape[-2]} x {stored_view.shape[-1]} px")
    # Default: in memory, check everything (cheap); lazy, check a bounded sample (never read
    # a large file whole just to load it). None: by size (see checks.FULL_SCAN_BYTES).
    full = not isinstance(stored_view, LazyPatterns) if full_check == "default" \
        else bool(full_check) if full_check is not None else None
    scan = scan_patterns(stored_view, full=full, flag_values=parse_mask_values(cfg))
    domain, how = _decide_measurement(cfg, raw, scan.integer_fraction, issues)
    file_mask = raw.bad_pixels
    if file_mask is not None and file_mask.shape != tuple(stored_view.shape[-2:]):
        file_mask = None
    stored_bad, negatives_masked = detector_mask(scan, file_mask, issues, raw.patterns_key,
                                                 raw.mask_key or "mask")
    report_pattern_defects(issues, raw.patterns_key, scan,
                           "counts" if domain == "counts" else "amplitudes",
                           negatives_masked=negatives_masked)
    if not scan.complete:
        issues.warn(f"{issues.source}: values checked on {scan.describe()} (the data are "
                    "read from disk on access)")
    ops = _frame_ops(cfg, raw, scan, stored_n, issues)
    patterns = _as_counts(raw.patterns, domain == "amplitude", raw.legacy_layout, stored_bad,
                          ops)
    n = int(patterns.shape[-1])
    bad_pixels = ops.mask(stored_bad)

    geometry = raw.geometry.overridden(
        photon_energy_ev=cfg.photon_energy_ev, detector_distance_m=cfg.detector_distance_m,
        detector_pixel_size_m=cfg.detector_pixel_size_m)
    positions = _positions_px(raw, cfg, geometry, stored_n, ops, issues)
    positions_ok = positions is not None
    if positions is None:
        positions = np.full((len(raw.positions), 2), np.nan)
    geometry = _geometry_in_frame(geometry, ops, stored_n)
    if cfg.object_pixel_size_m:
        geometry = geometry.overridden(object_pixel_size_m=cfg.object_pixel_size_m * (
            (stored_n // ops.bin) / n))
    positions_ok = positions_ok and check_positions(issues, raw.positions_key, positions,
                                                    n_patterns, raw.patterns_key)
    if positions_ok and raw.positions_unit == "px":
        positions_ok = check_position_units(issues, raw.positions_key, positions, n)
    metadata = dict(raw.metadata, measurement_source=how, format=fmt.name,
                    format_label=source.describe(fmt.label), files=list(raw.files))
    probe_arr, _probe_key = _initial_probe(raw, cfg, probe_cfg, ops, stored_n, n, geometry,
                                           patterns, bad_pixels, metadata, issues,
                                           positions if positions_ok else None)

    obj = _object_guess(raw, issues) if not (ops.bin > 1 or ops.crop) else None
    if obj is not None:
        object_shape = (int(obj.shape[0]), int(obj.shape[1]))
        if positions_ok:
            check_windows_inside(issues, raw.positions_key, positions, n, object_shape,
                                 raw.object_key)
    else:
        positions, object_shape = _derived_object_shape(positions, n, issues)

    data = PtychoData(
        patterns=patterns, positions=positions, probe=probe_arr, object_shape=object_shape,
        object_guess=obj, bad_pixels=bad_pixels, geometry=geometry, measurement=domain,
        indexes=(raw.indexes if raw.indexes is not None
                 else np.arange(n_patterns, dtype=np.int64)),
        metadata=metadata, source=str(cfg.path),
        warnings=issues.warnings + issues.corrections,
    )
    if cfg.n_images and cfg.n_images < data.n_patterns and len(positions) == n_patterns:
        data = data.subset(np.arange(cfg.n_images))
        data.warnings = issues.warnings + issues.corrections
    return data, scan


def parse_mask_values(cfg: DataConfig) -> tuple[float, ...]:
    """``data.mask_values`` as numbers (checked by the config validation)."""
    return tuple(float(p) for p in cfg.mask_values.replace(";", ",").split(",") if p.strip())


SCALE_SAMPLE = 256
"""Patterns (evenly spaced) whose mean counts the probe scale is fitted to: the same rule
in memory and from disk, so ``inspect``, ``train`` and ``infer`` agree on the scale."""


def sampled_mean_pattern(patterns: PatternArray) -> np.ndarray | None:
    """Mean of up to :data:`SCALE_SAMPLE` evenly spaced patterns (None: no patterns)."""
    block = np.asarray(patterns[sample_indices(len(patterns), SCALE_SAMPLE)], np.float64)
    return block.mean(axis=0) if len(block) else None


def measured_mean_counts(data: PtychoData) -> float:
    """Mean total counts per pattern over up to :data:`SCALE_SAMPLE` evenly spaced patterns."""
    mean = sampled_mean_pattern(data.patterns)
    if mean is None:
        return float("nan")
    return float(fill_bad_pixels(mean, data.bad_pixels).sum())


def apply_probe_scale(data: PtychoData, mode: str, issues: Issues) -> None:
    """Fit (``"fit"``) or keep (``"file"``) the probe's intensity scale, recording it."""
    data.metadata["probe_scale"] = mode
    if mode != "fit":
        data.probe_scale_factor = 1.0
        return
    measured = measured_mean_counts(data)
    if not measured > 0:
        raise DataError(f"{data.source}: patterns: expected photon counts to fit the probe "
                        f"scale to, found a mean of {measured:.6g} counts per pattern "
                        "(all-zero patterns?); set data.probe_scale = 'file' to keep the "
                        "probe's own scale")
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


def load_dataset(source: str | os.PathLike[str] | DataConfig, *,
                 probe: ProbeConfig | None = None, **overrides: Any) -> PtychoData:
    """Load a dataset from a file, a folder or a :class:`DataConfig`, validated and in counts.

    Parameters
    ----------
    source
        A PtychoPINN NPZ, a ptychodus product ``.h5`` (its diffraction file from
        ``diffraction_path`` or next to it), a standard-layout folder, or a ``DataConfig``.
    probe
        The ``[probe]`` settings (where the starting probe comes from: ``probe.initial``);
        default: the schema's (the file's probe, else one estimated from the data).
    **overrides
        ``DataConfig`` fields, e.g. ``measurement="amplitude"``, ``n_images=100``,
        ``probe_scale="file"``, ``memory_budget_mb=64``, ``photon_energy_ev=8000``,
        ``layout_patterns="data"``.

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
    data, _scan = read_source(cfg, issues, probe=probe)
    issues.raise_if_any()
    apply_probe_scale(data, cfg.probe_scale, issues)
    data.warnings = list(issues.corrections) + list(issues.warnings)
    return data
