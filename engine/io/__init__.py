"""Data formats: readers, writers, ``load_dataset`` and ``inspect`` (numpy and h5py, no torch).

Formats (docs/formats.md), one module each behind the registry :mod:`engine.io.formats`
(``FORMATS``, ``detect``, ``file_dialog_filters`` for the GUI's file dialogs): PtychoPINN NPZ,
CXI, ptychodus product HDF5, ptychodus diffraction HDF5, the ptychodus standard-layout folder,
declared layouts (``data.layout_*``), and gzip/bzip2-compressed forms of them. Every reader
validates what it reads and raises a :class:`~engine.errors.DataError` naming the file, the
key, what was expected and what was found; every writer writes atomically and reproducibly.
"""

from .arrays import ArrayInfo, list_arrays, read_array
from .data import PtychoData
from .diffraction import DiffractionData, read_diffraction, write_diffraction
from .formats import FORMATS, detect, file_dialog_filters, readable_suffixes
from .geometry import Geometry, metres_to_pixels, pixels_to_metres
from .inspection import InspectReport, inspect
from .lazy import LazyPatterns
from .loading import load_dataset
from .npz import write_ptychopinn_npz
from .probe_scale import fit_probe_scale
from .product import Product, fill_unilluminated, read_product, write_product

__all__ = [
    "FORMATS",
    "ArrayInfo",
    "DiffractionData",
    "Geometry",
    "InspectReport",
    "LazyPatterns",
    "Product",
    "PtychoData",
    "detect",
    "file_dialog_filters",
    "fill_unilluminated",
    "fit_probe_scale",
    "inspect",
    "list_arrays",
    "load_dataset",
    "metres_to_pixels",
    "pixels_to_metres",
    "read_diffraction",
    "read_array",
    "read_product",
    "readable_suffixes",
    "write_diffraction",
    "write_product",
    "write_ptychopinn_npz",
]
