"""Exporting a reconstruction from the GUI: a ptychodus product .h5, or PNG pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from engine.atomic import atomic_path

from .jobs import Reconstruction
from .qtenv import pyqtgraph_module
from .views.image_panel import CYCLIC_MAP, LINEAR_MAP
from .views.imaging import PHASE_LEVELS, robust_levels


def export_reconstruction(recon: Reconstruction, path: str | Path) -> list[Path]:
    """Write ``recon`` to ``path``: ``.png`` -> amplitude and phase pictures, else a product.

    Returns the files written.
    """
    target = Path(path)
    if target.suffix.lower() == ".png":
        return export_png(recon.obj, target)
    return [export_product(recon, target)]


def export_product(recon: Reconstruction, path: Path) -> Path:
    """A ptychodus product (engine.io.write_product) with the run's probe, positions and loss."""
    from engine.io import read_product, write_product

    if recon.product_path is None:
        raise ValueError("this reconstruction has no product to export")
    product = read_product(recon.product_path)
    pixel = product.object_pixel_size_m or (1.0, 1.0)
    return write_product(
        path, obj=recon.obj, probe=product.probe, positions_px=product.positions,
        object_pixel_size_m=pixel, geometry=product.geometry, indexes=product.indexes,
        object_center_m=product.object_center_m, loss_epochs=product.loss_epochs,
        loss_values=product.loss_values, mask=np.isfinite(recon.obj),
        name=product.name or "ptycho-pinn reconstruction", comments=product.comments)


def export_png(obj: np.ndarray, path: Path) -> list[Path]:
    """``<stem>-amplitude.png`` and ``<stem>-phase.png`` (phase in a cyclic map, NaN black)."""
    amplitude = np.abs(obj).astype(np.float32)
    phase = np.angle(obj).astype(np.float32)
    written = []
    for name, image, cmap, levels in (
        ("amplitude", amplitude, LINEAR_MAP, robust_levels(amplitude, "amplitude")),
        ("phase", phase, CYCLIC_MAP, PHASE_LEVELS),
    ):
        target = path.with_name(f"{path.stem}-{name}.png")
        write_png(colorize(image, cmap, levels), target)
        written.append(target)
    return written


def colorize(image: np.ndarray, cmap: str, levels: tuple[float, float]) -> np.ndarray:
    """(H, W) float -> (H, W, 3) uint8 through a pyqtgraph colour map; NaN -> black."""
    pg = pyqtgraph_module()
    low, high = levels
    finite = np.isfinite(image)
    scaled = np.clip((np.where(finite, image, low) - low) / ((high - low) or 1.0), 0.0, 1.0)
    lut = pg.colormap.get(cmap).getLookupTable(nPts=256, alpha=False)
    rgb = lut[np.round(scaled * 255).astype(np.intp)][..., :3].astype(np.uint8)
    rgb[~finite] = 0
    return rgb


def write_png(rgb: np.ndarray, path: Path) -> Path:
    """Write an (H, W, 3) uint8 image atomically."""
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    with atomic_path(path) as tmp:
        if not image.save(str(tmp), "PNG"):
            raise OSError(f"cannot write PNG {path}")
    return path
