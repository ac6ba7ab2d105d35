"""What the views show of a run, a product file or a data file, as plain data (Qt-free): the
jobs (:mod:`ptycho_gui.jobs`) make these on their worker thread, the controllers hand them to
the window."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Reconstruction:
    """What the views and the export need from a finished run.

    Attributes
    ----------
    obj
        Complex object (H, W), NaN where never illuminated.
    probe, positions
        Probe (modes, N, N) and window centres (M, 2) in object pixels, when known.
    product_path
        The product file the run wrote (exported by reading and re-writing it).
    loss_epochs, loss_values
        Loss history for the loss view.
    object_pixel_size_m, probe_pixel_size_m
        ``(width, height)`` in metres when the product states them (axes and scale bars).
    wavelength_m
        The X-ray wavelength when the product states the photon energy (the probe's
        propagation needs it).
    """

    obj: np.ndarray
    probe: np.ndarray | None = None
    positions: np.ndarray | None = None
    product_path: Path | None = None
    loss_epochs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    loss_values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    object_pixel_size_m: tuple[float, float] | None = None
    probe_pixel_size_m: tuple[float, float] | None = None
    wavelength_m: float | None = None


@dataclass
class RunOutput:
    """A finished simulate/train/infer job, for the GUI thread."""

    kind: str
    status: str
    raw: Any = None
    folder: Path | None = None
    dataset_path: Path | None = None
    checkpoint: Path | None = None
    reconstruction: Reconstruction | None = None
    message: str = ""
    quality: dict[str, Any] | None = None
    ground_truth: str | None = None
    summary: dict[str, Any] | None = None
    """The run's summary (train, reconstruct: ``summary.json``; infer: its result's
    ``to_dict()``): per-stage quality and the misfit against its noise floor."""


@dataclass
class DataPreview:
    """What the data preview shows before any run.

    ``patterns`` is array-like (numpy, or the engine's lazy array for large files).
    """

    path: str
    report_text: str = ""
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    patterns: Any = None
    n_patterns: int = 0
    positions: np.ndarray | None = None
    probe: np.ndarray | None = None
    object_shape: tuple[int, int] | None = None
    object_guess: np.ndarray | None = None
    object_pixel_size_m: float | None = None
    bad_pixels: np.ndarray | None = None
    """The detector mask (True = bad pixel, never in a loss), when the data have one."""
    wavelength_m: float | None = None
    """The X-ray wavelength when the photon energy is known."""


def read_reconstruction(path: Path | None) -> Reconstruction | None:
    """Read a ptychodus product (ours or another tool's; None when there is none).

    Raises
    ------
    DataError
        The file is not a readable product.
    """
    if path is None or not Path(path).is_file():
        return None
    from engine.io import read_product

    product = read_product(path)
    return Reconstruction(
        obj=product.object_masked, probe=product.probe, positions=product.positions,
        product_path=Path(path), loss_epochs=np.asarray(product.loss_epochs),
        loss_values=np.asarray(product.loss_values),
        object_pixel_size_m=product.object_pixel_size_m,
        probe_pixel_size_m=product.probe_pixel_size_m,
        wavelength_m=product.geometry.wavelength_m)
