"""Exporting a reconstruction from the GUI: a ptychodus product .h5, PNG pictures
(rendered by :mod:`engine.render`, the same colours and levels as the screen), or float32
TIFF images of amplitude and phase that carry the pixel size (``tifffile``; Fiji/ImageJ read
it as the image's calibration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.atomic import atomic_path
from engine.render import Display, png_paths, write_object_pngs

from .jobs import Reconstruction


def export_reconstruction(recon: Reconstruction, path: str | Path,
                          displays: dict[str, Display] | None = None) -> list[Path]:
    """Write ``recon`` to ``path``: ``.png`` -> amplitude and phase pictures, else a product.

    ``displays`` (``"amplitude"``/``"phase"`` -> colour map and levels as on screen) make the
    pictures look like the screen; missing ones get the default display. Returns the files
    written.
    """
    target = Path(path)
    if target.suffix.lower() == ".png":
        return export_png(recon.obj, target, recon.object_pixel_size_m, displays)
    if target.suffix.lower() in TIFF_SUFFIXES:
        return export_tiff(recon.obj, target, recon.object_pixel_size_m)
    return [export_product(recon, target)]


TIFF_SUFFIXES = (".tif", ".tiff")


def tiff_paths(path: Path) -> tuple[Path, Path]:
    """``NAME.tif`` -> ``NAME-amplitude.tif``, ``NAME-phase.tif`` next to it."""
    return (path.with_name(f"{path.stem}-amplitude{path.suffix}"),
            path.with_name(f"{path.stem}-phase{path.suffix}"))


def export_tiff(obj: np.ndarray, path: Path,
                pixel_size_m: float | tuple[float, float] | None = None) -> list[Path]:
    """``<stem>-amplitude.tif`` and ``<stem>-phase.tif``: the values themselves (float32,
    phase in radians, NaN where never illuminated), with the pixel size in µm as ImageJ
    calibration and TIFF resolution (pixels per cm), when known."""
    import tifffile

    obj = np.asarray(obj)
    resolution: dict[str, object] = {}
    if pixel_size_m is not None:
        width, height = ((pixel_size_m, pixel_size_m) if np.isscalar(pixel_size_m)
                         else tuple(pixel_size_m))
        resolution = {"resolution": (1e-6 / float(width), 1e-6 / float(height)),
                      "metadata": {"unit": "um"}}
    written = []
    amplitude_path, phase_path = tiff_paths(path)
    for target, values in ((amplitude_path, np.abs(obj)), (phase_path, np.angle(obj))):
        values = values.astype(np.float32)
        values[~np.isfinite(obj)] = np.nan
        with atomic_path(target) as tmp:
            tifffile.imwrite(tmp, values, imagej=True, **resolution)  # type: ignore[arg-type]
        written.append(target)
    return written


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


def export_png(obj: np.ndarray, path: Path,
               pixel_size_m: float | tuple[float, float] | None = None,
               displays: dict[str, Display] | None = None) -> list[Path]:
    """``<stem>-amplitude.png`` and ``<stem>-phase.png`` as on screen: the screen's colours
    and levels (``displays``; NaN black), a labelled colour bar and a scale bar (in metres
    with ``pixel_size_m``)."""
    shown = displays or {}
    return list(write_object_pngs(obj, *png_paths(path), pixel_size_m=pixel_size_m,
                                  amplitude=shown.get("amplitude"), phase=shown.get("phase")))
