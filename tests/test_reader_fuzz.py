"""Property tests: random NPZ and HDF5 contents never raise anything but the engine's errors.

Files are generated near the real layouts (formats.md), so most examples get past the first
checks and reach the deeper ones: each known key is present or missing, has the right shape
or a random one, the right dtype or another (integers, bool, complex, strings), and may carry
NaN, infinities, negative or huge values. The readers (``engine.io.load_dataset``,
``engine.io.inspect``, ``read_product``, ``read_diffraction``) must answer with a report or an
:class:`engine.errors.EngineError` subclass, never with another exception.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.errors import EngineError
from engine.io import inspect, load_dataset, read_diffraction, read_product

DTYPES = ("float32", "float64", "int16", "int64", "uint8", "bool", "complex64", "complex128",
          "U3", "S2")
SPECIALS = ("none", "nan", "inf", "negative", "huge", "zeros")
FUZZ = settings(max_examples=60, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])


@st.composite
def arrays(draw, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """An array of roughly ``shape`` and ``dtype`` (either may be replaced by a random one)."""
    if draw(st.integers(0, 9)) < 2:
        shape = tuple(draw(st.lists(st.integers(0, 5), max_size=4)))
    if draw(st.integers(0, 9)) < 2:
        dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    size = int(np.prod(shape)) if shape else 1
    values = rng.poisson(20.0, size=size).astype(np.float64) + rng.random(size)
    special = draw(st.sampled_from(SPECIALS))
    if size and special != "none":
        idx = rng.integers(0, size, size=max(1, size // 7))
        values[idx] = {"nan": np.nan, "inf": np.inf, "negative": -3.0, "huge": 1e300,
                       "zeros": 0.0}[special]
    if dtype.startswith(("U", "S")):
        return np.array([str(v)[:2] for v in values]).astype(dtype).reshape(shape)
    with np.errstate(all="ignore"):
        if dtype.startswith("complex"):
            return (values + 1j * values[::-1]).astype(dtype).reshape(shape)
        if dtype == "bool":
            return (values > 20).reshape(shape)
        if dtype.startswith(("int", "uint")):
            return np.nan_to_num(values, posinf=1e6, neginf=-1e6).astype(dtype).reshape(shape)
        return values.astype(dtype).reshape(shape)


@st.composite
def npz_contents(draw) -> dict[str, np.ndarray]:
    m = draw(st.integers(0, 6))
    n = draw(st.sampled_from([1, 2, 4, 8]))
    layout = {
        "diffraction": ((m, n, n), "float32"), "diff3d": ((m, n, n), "float32"),
        "xcoords": ((m,), "float64"), "ycoords": ((m,), "float64"),
        "xcoords_start": ((m,), "float64"), "ycoords_start": ((m,), "float64"),
        "probeGuess": ((n, n), "complex64"), "objectGuess": ((3 * n, 3 * n), "complex64"),
        "scan_index": ((m,), "int64"), "Y": ((m, n, n), "complex64"),
    }
    keys = draw(st.sets(st.sampled_from(sorted(layout)), max_size=len(layout)))
    contents = {k: draw(arrays(*layout[k])) for k in keys}
    if draw(st.booleans()):
        meta = draw(st.one_of(
            st.dictionaries(st.sampled_from(["measurement", "nphotons", "N", "x"]),
                            st.one_of(st.text(max_size=6), st.floats(), st.integers()),
                            max_size=3).map(json.dumps),
            st.text(max_size=20)))
        contents["_metadata"] = np.array(meta)
    extra = draw(st.dictionaries(st.text("abcxyz_", min_size=1, max_size=6),
                                 arrays((2,), "float32"), max_size=2))
    contents.update({k: v for k, v in extra.items() if k not in contents})
    return contents


def _only_engine_errors(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except EngineError as exc:
        assert str(exc).strip()
        return None


@FUZZ
@given(contents=npz_contents(), measurement=st.sampled_from(["auto", "counts", "amplitude"]))
@example(contents={"diffraction": np.zeros((0, 0, 0), np.float32),  # found by CI: a division
                   "xcoords": np.float32(22.0), "ycoords": np.zeros(0)},  # by the 0-px size
         measurement="auto")
def test_random_npz_contents(tmp_path_factory, contents, measurement):
    path = tmp_path_factory.mktemp("npz") / "fuzz.npz"
    np.savez(path, **contents)
    report = _only_engine_errors(inspect, path, measurement=measurement)
    if report is not None:
        assert isinstance(report.format(), str)
    data = _only_engine_errors(load_dataset, path, measurement=measurement)
    if data is not None:  # what loads is what the engine promises
        assert data.patterns.ndim == 3 and data.positions.shape == (data.n_patterns, 2)
        assert np.isfinite(np.asarray(data.patterns)).all()
        assert (np.asarray(data.patterns) >= 0).all()


@st.composite
def h5_layout(draw) -> tuple[dict, dict]:
    """``(product, diffraction)``: ``{"attrs": {...}, "datasets": {name: (array, attrs)}}``."""
    m = draw(st.integers(0, 5))
    n = draw(st.sampled_from([2, 4, 8]))
    number = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5),
                       st.text(st.characters(blacklist_characters="\x00",
                                             blacklist_categories=("Cs",)), max_size=4))
    attr_names = ["detector_object_distance_m", "photon_energy_eV", "probe_energy_eV",
                  "probe_photon_count", "exposure_time_s", "name", "comments"]
    product_attrs = draw(st.dictionaries(st.sampled_from(attr_names), number, max_size=6))
    pix = st.dictionaries(st.sampled_from(["pixel_width_m", "pixel_height_m", "center_x_m",
                                           "center_y_m"]), number, max_size=4)
    layout = {
        "probe_position_indexes": ((m,), "int64"), "probe_position_x_m": ((m,), "float64"),
        "probe_position_y_m": ((m,), "float64"), "probe": ((1, 1, n, n), "complex64"),
        "object": ((1, 3 * n, 3 * n), "complex64"), "loss_values": ((2,), "float64"),
        "object_layer_spacing_m": ((0,), "float64"), "opr_weights": ((m, 1), "float64"),
        "loss_epochs": ((2,), "int64"), "costs": ((3,), "float64"),
        "illumination_mask": ((3 * n, 3 * n), "bool"),
    }
    keys = draw(st.sets(st.sampled_from(sorted(layout)), max_size=len(layout)))
    product = {"attrs": product_attrs,
               "datasets": {k: (draw(arrays(*layout[k])), draw(pix)) for k in keys}}
    diff_layout = {"patterns": ((m, n, n), "float32"), "indexes": ((m,), "int64"),
                   "bad_pixels": ((n, n), "bool")}
    keys = draw(st.sets(st.sampled_from(sorted(diff_layout)), max_size=3))
    detector = st.dictionaries(st.sampled_from(["detector_pixel_width_m",
                                                "detector_pixel_height_m"]), number,
                               max_size=2)
    diffraction = {"attrs": {},
                   "datasets": {k: (draw(arrays(*diff_layout[k])), draw(detector))
                                for k in keys}}
    return product, diffraction


def _write_h5(path, spec: dict) -> None:
    with h5py.File(path, "w") as h5:
        for key, value in spec["attrs"].items():
            h5.attrs[key] = value
        for name, (array, attrs) in spec["datasets"].items():
            if array.dtype.kind == "U":  # HDF5 stores text as bytes
                array = array.astype("S")
            ds = h5.create_dataset(name, data=array)
            for key, value in attrs.items():
                ds.attrs[key] = value


@FUZZ
@given(layout=h5_layout())
def test_random_hdf5_products_and_diffraction(tmp_path_factory, layout):
    folder = tmp_path_factory.mktemp("h5")
    product, diffraction = layout
    _write_h5(folder / "product.h5", product)
    _write_h5(folder / "diffraction.h5", diffraction)
    _only_engine_errors(read_product, folder / "product.h5")
    _only_engine_errors(read_diffraction, folder / "diffraction.h5", lazy=False)
    _only_engine_errors(read_diffraction, folder / "diffraction.h5", lazy=True)
    for source in (folder, folder / "product.h5", folder / "diffraction.h5"):
        report = _only_engine_errors(inspect, source)
        if report is not None:
            assert isinstance(report.format(), str)
    data = _only_engine_errors(load_dataset, folder)
    if data is not None:
        assert np.isfinite(np.asarray(data.patterns)).all()


@FUZZ
@given(blob=st.binary(max_size=600), suffix=st.sampled_from([".npz", ".h5", ".hdf5", ""]))
def test_random_bytes_with_a_data_extension(tmp_path_factory, blob, suffix):
    path = tmp_path_factory.mktemp("bytes") / f"junk{suffix}"
    path.write_bytes(blob)
    _only_engine_errors(inspect, path)
    _only_engine_errors(load_dataset, path)
