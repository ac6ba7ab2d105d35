"""Writing a simulated scan in every format (reproducibly: same settings, same bytes)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..config import SessionConfig
from ..io.formats import cxi
from ..io.formats.ptychodus import DiffractionFormat, ProductFormat
from ..io.formats.ptychopinn import write as write_ptychopinn_npz
from .simulate import SimulatedScan

DATASET_NAME = "dataset.npz"
PRODUCT_NAME = "product.h5"
DIFFRACTION_NAME = "diffraction.h5"
TRUTH_NAME = "truth.h5"
CXI_NAME = "dataset.cxi"


def scan_metadata(scan: SimulatedScan, config: SessionConfig) -> dict[str, object]:
    """The ``_metadata`` JSON of a simulated NPZ (no paths of the output, no timestamps)."""
    return {
        "nphotons": scan.photons_per_pattern,
        "measurement": "counts",
        "seed": scan.seed,
        "object_seed": scan.object_seed,
        "N": scan.N,
        "geometry": scan.geometry.to_dict(),
        "simulation": dataclasses.asdict(config.simulation),
        "generator": "ptycho-engine simulate",
    }


def write_outputs(scan: SimulatedScan, out_dir: Path, config: SessionConfig) -> dict[str, Path]:
    """Write ``dataset.npz``, ``product.h5``, ``diffraction.h5``, ``truth.h5`` and
    ``dataset.cxi``, each with its format's writer from the registry
    (:mod:`engine.io.formats`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    g = scan.geometry
    common: dict[str, Any] = dict(probe=scan.probe, positions_px=scan.positions,
                                  object_pixel_size_m=scan.object_pixel_size_m, geometry=g,
                                  comments=f"simulated by ptycho-engine, seed {scan.seed}")
    files = {
        "dataset": write_ptychopinn_npz(out_dir / DATASET_NAME, measurement="counts",
                                        patterns=scan.counts, positions=scan.positions,
                                        probe=scan.probe, object_guess=scan.obj,
                                        metadata=scan_metadata(scan, config)),
        "diffraction": DiffractionFormat.write(
            out_dir / DIFFRACTION_NAME, patterns=scan.counts,
            indexes=np.arange(scan.n_patterns), detector_pixel_size_m=g.detector_pixel_size_m,
            compression="gzip"),  # reproducible
        "product": ProductFormat.write(
            out_dir / PRODUCT_NAME, obj=np.ones_like(scan.obj), name="initial guess", **common),
        "truth": ProductFormat.write(
            out_dir / TRUTH_NAME, obj=scan.obj, name="ground truth", **common),
        "cxi": cxi.write(
            out_dir / CXI_NAME, positions_px=scan.positions, patterns=scan.counts,
            probe=scan.probe, object_pixel_size_m=scan.object_pixel_size_m, geometry=g,
            object_shape=tuple(scan.obj.shape), name="simulated by ptycho-engine"),
    }
    return files
