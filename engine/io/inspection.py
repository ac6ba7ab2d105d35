"""``inspect``: what is in a data file, and every problem with it, quickly.

The CLI (``ptycho-engine inspect``) and the GUI's data preview both call :func:`inspect`.
It collects problems instead of raising wherever the file can be opened at all, and it reads
a bounded amount of data: every pattern of a stack up to ``FULL_SCAN_BYTES`` (64 MiB),
otherwise an evenly spaced sample of 256 patterns (the report says which).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config.schema import DataConfig, ProbeConfig
from ..errors import DataError
from .checks import PatternScan, check_positions, report_pattern_defects, scan_patterns
from .diffraction import read_diffraction
from .formats import detect
from .formats.ptychodus import DIFFRACTION_NAME, DiffractionFormat, ProductFormat, paired_product
from .geometry import Geometry
from .issues import Issues, UnreadableFileError
from .loading import apply_probe_scale, data_config, read_source
from .product import read_product
from .sniff import median_step


@dataclass
class InspectReport:
    """A summary of a data source; ``problems`` lists everything that would stop loading.

    Lengths are in pixels unless the name ends in ``_m``; ``None`` means unknown or not
    applicable to this kind of file.
    """

    source: str
    kind: str
    n_patterns: int | None = None
    pattern_shape: tuple[int, int] | None = None
    measurement: str | None = None
    measurement_source: str | None = None
    counts_min: float | None = None
    counts_max: float | None = None
    mean_photons_per_pattern: float | None = None
    stats_from: str | None = None
    positions_extent_px: tuple[float, float, float, float] | None = None
    scan_size_px: tuple[float, float] | None = None
    scan_size_m: tuple[float, float] | None = None
    median_step_px: float | None = None
    probe_shape: tuple[int, ...] | None = None
    probe_modes: int | None = None
    probe_scale_fit: float | None = None
    object_shape: tuple[int, int] | None = None
    object_guess: bool = False
    bad_pixels: int | None = None
    geometry: dict[str, float | None] = field(default_factory=dict)
    object_pixel_size_m: float | None = None
    patterns_size_mb: float | None = None
    loss_epochs: int | None = None
    file_format: str | None = None
    files: list[str] = field(default_factory=list)
    probe_initial: str | None = None
    corrections: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing would stop :func:`~engine.io.load_dataset`."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-able mapping (tuples become lists, NaN becomes None)."""
        def clean(value: Any) -> Any:
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, (tuple, list)):
                return [clean(v) for v in value]
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            return value

        out = {k: clean(v) for k, v in asdict(self).items()}
        out["ok"] = self.ok
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def format(self) -> str:
        """A human-readable, multi-line summary."""
        rows: list[tuple[str, str]] = [("source", self.source), ("kind", self.kind)]

        def add(label: str, value: Any, fmt: str = "{}") -> None:
            if value is not None:
                rows.append((label, fmt.format(value)))

        add("patterns", self.n_patterns)
        if self.pattern_shape:
            add("pattern size", "{} x {} px".format(*self.pattern_shape))
        if self.measurement:
            add("stored as", f"{self.measurement} ({self.measurement_source})")
        if self.counts_min is not None:
            add("counts", f"min {_g(self.counts_min)}, max {_g(self.counts_max)}, "
                f"mean {_g(self.mean_photons_per_pattern)} photons per pattern "
                f"(from {self.stats_from})")
        if self.positions_extent_px:
            x0, x1, y0, y1 = self.positions_extent_px
            add("positions", f"x {x0:.2f} .. {x1:.2f}, y {y0:.2f} .. {y1:.2f} px")
        if self.scan_size_px:
            text = f"{self.scan_size_px[0]:.1f} x {self.scan_size_px[1]:.1f} px"
            if self.scan_size_m:
                text += f" = {self.scan_size_m[0] * 1e6:.4g} x {self.scan_size_m[1] * 1e6:.4g} um"
            add("scan size", text)
        add("median step", self.median_step_px, "{:.3g} px")
        if self.probe_shape:
            add("probe", f"{self.probe_modes} mode(s) of "
                f"{self.probe_shape[-2]} x {self.probe_shape[-1]} px")
        add("probe scale fit", self.probe_scale_fit, "{:.6g} (|P|^2 factor matching the counts)")
        if self.object_shape:
            add("object", "{} x {} px".format(*self.object_shape)
                + (" (object guess in file)" if self.object_guess else " (from the scan extent)"))
        add("bad pixels", self.bad_pixels)
        add("object pixel", self.object_pixel_size_m, "{:.4g} m")
        known = {k: v for k, v in self.geometry.items() if v is not None}
        if known:
            add("geometry", ", ".join(f"{k} {_g(v)}" for k, v in known.items()))
        add("size", self.patterns_size_mb, "{:.1f} MiB of patterns (float32)")
        add("loss history", self.loss_epochs, "{} epochs")
        add("starting probe", self.probe_initial)
        if len(self.files) > 1:
            add("files read", ", ".join(self.files))
        width = max(len(r[0]) for r in rows)
        lines = [f"{label:<{width}}  {value}" for label, value in rows]
        for title, items in (("corrections", self.corrections), ("warnings", self.warnings),
                             ("problems", self.problems)):
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines += [f"  - {item}" for item in items]
        lines.append("status   OK" if self.ok else f"status   {len(self.problems)} problem(s)")
        return "\n".join(lines)


def _g(value: float | None) -> str:
    return "?" if value is None or not math.isfinite(value) else f"{value:.6g}"


def _stats(report: InspectReport, scan: PatternScan) -> None:
    report.counts_min = scan.minimum
    report.counts_max = scan.maximum
    report.mean_photons_per_pattern = scan.mean_total
    report.stats_from = scan.describe()


def _positions(report: InspectReport, positions: np.ndarray, pixel_m: float | None) -> None:
    finite = positions[np.isfinite(positions).all(axis=1)] if len(positions) else positions
    if not len(finite):
        return
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    report.positions_extent_px = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
    size = (float(hi[0] - lo[0]), float(hi[1] - lo[1]))
    report.scan_size_px = size
    if pixel_m is not None:
        report.scan_size_m = (size[0] * pixel_m, size[1] * pixel_m)
    report.median_step_px = median_step(finite)


def _geometry(report: InspectReport, geometry: Geometry, n: int | None) -> None:
    report.geometry = geometry.to_dict()
    report.object_pixel_size_m = geometry.object_pixel_size(n) if n else \
        geometry.object_pixel_size_m


def inspect(path: str | os.PathLike[str] | DataConfig, *, probe: ProbeConfig | None = None,
            **overrides: Any) -> InspectReport:
    """Summarise a data source and list every problem found in it.

    Parameters
    ----------
    path
        Anything :func:`~engine.io.load_dataset` reads, a product ``.h5`` alone (for example
        a reconstruction), or a diffraction ``.h5`` alone.
    probe
        The ``[probe]`` settings (``probe.initial``), as loading would use them.
    **overrides
        ``DataConfig`` fields (``measurement``, ``diffraction_path``, ``layout_patterns``...).

    Returns
    -------
    InspectReport
        Sizes, count statistics (bounded sample on large files), scan extent in pixels and
        metres, probe, object, measurement domain, the detector mask, the files read,
        corrections made, warnings and problems. Derived numbers (pattern size, mask count,
        probe scale) come from the same function as loading's.

    Raises
    ------
    DataError
        Only when the file cannot be opened at all (missing, empty, truncated, wrong format).
    """
    cfg = data_config(path, **overrides)
    source = str(cfg.path)
    report = InspectReport(source=source, kind="unknown")
    issues = Issues(source)
    if not cfg.path:
        raise DataError("data.path: expected a data file or folder, found an empty setting")
    fmt, src = detect(cfg.path, cfg)
    report.file_format = fmt.name
    if isinstance(fmt, DiffractionFormat) and paired_product(src.path) is None:
        # A diffraction file with no product next to it: report its patterns alone.
        return _inspect_diffraction(src.path, report, issues, src.content)
    if isinstance(fmt, ProductFormat) and not cfg.diffraction_path and \
            not (src.path.parent / DIFFRACTION_NAME).exists():
        return _inspect_product(src.path, report, issues, src.content)
    report.kind = src.describe(fmt.label)
    try:
        data, scan = read_source(cfg, issues, lazy=True, full_check=None, probe=probe)
    except UnreadableFileError:
        raise
    except DataError as exc:
        report.problems = issues.problems + [_strip_source(str(exc), source)]
        report.warnings = list(issues.warnings)
        report.corrections = list(issues.corrections)
        return report
    n = data.N
    report.n_patterns = data.n_patterns
    report.pattern_shape = (int(data.patterns.shape[-2]), n)
    report.patterns_size_mb = data.n_patterns * n * n * 4 / 2**20
    report.measurement = data.measurement
    report.measurement_source = data.metadata.get("measurement_source")
    _stats(report, scan if data.measurement == "counts" else scan_patterns(data.patterns))
    _geometry(report, data.geometry, n)
    if report.object_pixel_size_m is None:
        issues.warn(f"{source}: geometry unknown (no photon energy, detector distance or "
                    "detector pixel size): results are given in object pixels; set "
                    "data.photon_energy_ev, data.detector_distance_m and "
                    "data.detector_pixel_size_m (or data.object_pixel_size_m) for metres")
    _positions(report, data.positions, report.object_pixel_size_m)
    report.probe_shape = tuple(int(s) for s in data.probe.shape)
    report.probe_modes = int(data.probe.shape[0])
    report.probe_initial = data.metadata.get("probe_initial")
    report.object_shape = data.object_shape
    report.object_guess = data.object_guess is not None
    report.bad_pixels = None if data.bad_pixels is None else int(data.bad_pixels.sum())
    report.files = list(data.metadata.get("files", [source]))
    if not issues.problems:
        try:
            apply_probe_scale(data, "fit", Issues(source))
            report.probe_scale_fit = data.probe_scale_factor
        except DataError as exc:
            issues.problems.append(_strip_source(str(exc), source))
    report.problems = list(issues.problems)
    report.warnings = list(issues.warnings)
    report.corrections = list(issues.corrections)
    return report


def _strip_source(message: str, source: str) -> str:
    prefix = f"{source}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def _inspect_product(path: Path, report: InspectReport, issues: Issues,
                     content: bytes | None = None) -> InspectReport:
    report.kind = "ptychodus product (no diffraction file next to it)"
    try:
        product = read_product(path, issues=issues, content=content)
    except UnreadableFileError:
        raise
    except DataError as exc:
        report.problems = issues.problems + [_strip_source(str(exc), str(path))]
        return report
    n = int(product.probe.shape[-1])
    report.probe_shape = tuple(int(s) for s in product.probe.shape)
    report.probe_modes = int(product.probe.shape[0])
    report.object_shape = (int(product.object.shape[0]), int(product.object.shape[1]))
    report.object_guess = True
    report.loss_epochs = len(product.loss_epochs)
    _geometry(report, product.geometry, n)
    # The same position checks as loading (a unit error: metres read as pixels...).
    check_positions(issues, "/probe_position_x_m, /probe_position_y_m", product.positions,
                    None)
    _positions(report, product.positions, report.object_pixel_size_m)
    report.problems = list(issues.problems)
    report.warnings = list(issues.warnings)
    return report


def _inspect_diffraction(path: Path, report: InspectReport, issues: Issues,
                         content: bytes | None = None) -> InspectReport:
    report.kind = "ptychodus diffraction file (no product with positions next to it)"
    try:
        diffraction = read_diffraction(path, lazy=True, issues=issues, content=content)
    except UnreadableFileError:
        raise
    except DataError as exc:
        report.problems = issues.problems + [_strip_source(str(exc), str(path))]
        return report
    patterns = diffraction.patterns
    report.n_patterns = len(patterns)
    report.pattern_shape = (int(patterns.shape[1]), int(patterns.shape[2]))
    report.patterns_size_mb = float(np.prod(patterns.shape)) * 4 / 2**20
    report.measurement, report.measurement_source = "counts", "file format"
    scan = scan_patterns(patterns)
    report_pattern_defects(issues, "/patterns", scan, "counts")
    _stats(report, scan)
    report.bad_pixels = None if diffraction.bad_pixels is None else \
        int(diffraction.bad_pixels.sum())
    if diffraction.detector_pixel_size_m:
        report.geometry = Geometry(detector_pixel_size_m=diffraction.detector_pixel_size_m[0]
                                   ).to_dict()
    issues.warn(f"{path}: no scan positions in a diffraction file; pair it with a product "
                "(data.path = product .h5, data.diffraction_path = this file)")
    report.problems = list(issues.problems)
    report.warnings = list(issues.warnings)
    return report
