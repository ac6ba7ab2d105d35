"""Exporting a reconstruction from the GUI: a ptychodus product .h5, a CXI file (the CXI
writer of the engine's format registry, ``engine.io.FORMATS``), PNG pictures (rendered by
:mod:`engine.render`, the same colours and levels as the screen), or float32 TIFF images of
amplitude and phase that carry the pixel size (``tifffile``; Fiji/ImageJ read it as the
image's calibration)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.atomic import atomic_path
from engine.render import Display, png_paths, write_object_pngs

from .model.products import Reconstruction
from .model.units import valid_pixel_size


def export_reconstruction(recon: Reconstruction, path: str | Path,
                          displays: dict[str, Display] | None = None) -> list[Path]:
    """Write ``recon`` to ``path``: ``.png`` -> amplitude and phase pictures, ``.tif`` ->
    float32 images, ``.cxi`` -> CXI, else a product.

    ``displays`` (``"amplitude"``/``"phase"`` -> colour map and levels as on screen) make the
    pictures look like the screen; missing ones get the default display. Returns the files
    written.
    """
    target = Path(path)
    if target.suffix.lower() == ".png":
        return export_png(recon.obj, target, recon.object_pixel_size_m, displays)
    if target.suffix.lower() in TIFF_SUFFIXES:
        return export_tiff(recon.obj, target, recon.object_pixel_size_m)
    if target.suffix.lower() == CXI_SUFFIX:
        return [export_cxi(recon, target)]
    return [export_product(recon, target)]


CXI_SUFFIX = ".cxi"


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
    pixel = valid_pixel_size(pixel_size_m)
    if pixel is not None:
        width, height = pixel
        resolution = {"resolution": (1e-6 / width, 1e-6 / height),
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


def _source_product(recon: Reconstruction) -> Any:
    """The product the reconstruction was read from (its probe, positions, geometry, loss)."""
    from engine.io import read_product

    if recon.product_path is None:
        raise ValueError("this reconstruction has no product to export (its probe and "
                         "positions are unknown): export it as PNG or TIFF")
    return read_product(recon.product_path)


def export_cxi(recon: Reconstruction, path: Path) -> Path:
    """A CXI 1.6 file (object ``image_2``, probe modes ``image_1``, positions in metres,
    geometry, loss), written by the registry's CXI writer (atomically)."""
    from engine.io import FORMATS

    write = next((getattr(fmt, "write", None) for fmt in FORMATS if fmt.name == "cxi"), None)
    if write is None:
        raise ValueError("this engine has no CXI writer (engine.io.FORMATS)")
    product = _source_product(recon)
    pixel = product.object_pixel_size_m
    return Path(write(
        path, positions_px=product.positions, object_pixel_size_m=pixel[0] if pixel else None,
        geometry=product.geometry, probe=product.probe, obj=recon.obj,
        indexes=product.indexes, loss_epochs=product.loss_epochs,
        loss_values=product.loss_values, name=product.name or "ptycho-pinn reconstruction"))


def export_product(recon: Reconstruction, path: Path) -> Path:
    """A ptychodus product (engine.io.write_product) with the run's probe, positions and loss."""
    from engine.io import write_product

    product = _source_product(recon)
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
