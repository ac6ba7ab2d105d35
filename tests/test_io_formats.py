"""Readers and writers: round trips, and files built field by field as other tools write them."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from engine.errors import DataError
from engine.io import (
    Geometry,
    LazyPatterns,
    load_dataset,
    metres_to_pixels,
    pixels_to_metres,
    read_diffraction,
    read_product,
    write_diffraction,
    write_product,
    write_ptychopinn_npz,
)
from engine.io.geometry import HC_EV_M

N = 16
M = 12


def _probe(n: int = N) -> np.ndarray:
    yy, xx = np.mgrid[0:n, 0:n] - (n - 1) / 2
    amp = np.exp(-(xx**2 + yy**2) / 18.0)
    return (amp * np.exp(0.3j * xx)).astype(np.complex64)


def _object(shape=(48, 52), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    amp = rng.uniform(0.6, 1.0, shape)
    return (amp * np.exp(1j * rng.uniform(-1, 1, shape))).astype(np.complex64)


def _positions(m: int = M) -> np.ndarray:
    k = np.arange(m)
    return np.stack([14.0 + 4.0 * (k % 4) + 0.25, 14.0 + 4.0 * (k // 4) + 0.5], axis=1)


def _counts(m: int = M, n: int = N, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).poisson(30.0, size=(m, n, n)).astype(np.float32)


# -- pixel <-> metre convention -----------------------------------------------------------------

def test_pixel_metre_convention_is_pixel_centred():
    # The object centre sits at index (W - 1) / 2: x_m = center_x_m there.
    assert metres_to_pixels(np.array([5e-6]), 5e-6, 1e-8, 100)[0] == pytest.approx(49.5)
    assert metres_to_pixels(np.array([5e-6 + 1e-8]), 5e-6, 1e-8, 100)[0] == pytest.approx(50.5)
    px = np.array([0.0, 17.25, 99.0])
    assert np.allclose(metres_to_pixels(pixels_to_metres(px, 1e-6, 3e-8, 100), 1e-6, 3e-8, 100),
                       px)


def test_object_pixel_size_from_geometry():
    g = Geometry(photon_energy_ev=10_000, detector_distance_m=2.0, detector_pixel_size_m=75e-6)
    lam = HC_EV_M / 10_000
    assert g.object_pixel_size(64) == pytest.approx(lam * 2.0 / (64 * 75e-6))
    assert Geometry(photon_energy_ev=0.0).photon_energy_ev is None  # 0 means unknown


# -- PtychoPINN NPZ ---------------------------------------------------------------------------

def test_npz_round_trip_with_metadata(tmp_path):
    counts, pos, probe, obj = _counts(), _positions(), _probe()[None], _object()
    meta = {"nphotons": 1e6, "geometry": {"photon_energy_ev": 8000.0,
                                          "detector_distance_m": 2.0,
                                          "detector_pixel_size_m": 75e-6}}
    path = write_ptychopinn_npz(tmp_path / "d.npz", measurement="counts",
                                patterns=counts, positions=pos, probe=probe,
                                object_guess=obj, metadata=meta)
    data = load_dataset(path, probe_scale="file")
    assert np.array_equal(data.patterns, counts)
    assert np.array_equal(data.positions, pos)
    assert np.array_equal(data.probe, probe)
    assert np.array_equal(data.object_guess, obj)
    assert data.object_shape == obj.shape
    assert data.measurement == "counts"
    assert data.metadata["nphotons"] == 1e6
    assert data.geometry.photon_energy_ev == 8000.0
    assert data.geometry.detector_pixel_size_m == 75e-6
    assert data.probe_scale_factor == 1.0
    assert data.warnings == []


def test_npz_amplitude_written_and_read_back_as_counts(tmp_path):
    counts = _counts()
    path = write_ptychopinn_npz(tmp_path / "a.npz",
                                patterns=counts, positions=_positions(),
                                probe=_probe(), measurement="amplitude")
    with np.load(path, allow_pickle=False) as npz:
        assert np.allclose(npz["diffraction"] ** 2, counts, rtol=1e-5)
        assert json.loads(str(npz["_metadata"]))["measurement"] == "amplitude"
    data = load_dataset(path)
    assert data.measurement == "amplitude"
    assert np.allclose(data.patterns, counts, rtol=1e-5)


def test_foreign_npz_amplitude_without_metadata_is_detected_with_a_warning(tmp_path):
    counts = _counts()
    np.savez(tmp_path / "old.npz", diffraction=np.sqrt(counts), xcoords=_positions()[:, 0],
             ycoords=_positions()[:, 1], probeGuess=_probe())
    data = load_dataset(tmp_path / "old.npz")
    assert data.measurement == "amplitude"
    assert np.allclose(data.patterns, counts, rtol=1e-5)
    assert any("heuristic" in w or "integers" in w for w in data.warnings)
    # The user can state the domain: then no guess is made.
    stated = load_dataset(tmp_path / "old.npz", measurement="amplitude")
    assert not any("integers" in w for w in stated.warnings)


def test_foreign_npz_diff3d_counts_and_legacy_layout(tmp_path):
    counts = _counts()
    legacy = np.moveaxis(counts, 0, 2)  # (N, N, M)
    assert legacy.shape == (N, N, M)
    np.savez(tmp_path / "legacy.npz", diff3d=legacy, xcoords=_positions()[:, 0],
             ycoords=_positions()[:, 1], probeGuess=_probe())
    data = load_dataset(tmp_path / "legacy.npz")
    assert data.patterns.shape == (M, N, N)
    assert np.array_equal(data.patterns, counts)
    assert data.measurement == "counts"
    assert any("legacy layout" in w for w in data.warnings)
    # Without an object guess the object covers the scan plus the window.
    h, w = data.object_shape
    assert w >= data.positions[:, 0].max() + (N - 1) / 2 + 1
    assert h >= data.positions[:, 1].max() + (N - 1) / 2 + 1


def test_npz_positions_near_zero_are_shifted_into_the_canvas(tmp_path):
    pos = _positions() - 20.0  # negative centres, e.g. a scan centred on 0
    np.savez(tmp_path / "c.npz", diffraction=_counts(), xcoords=pos[:, 0], ycoords=pos[:, 1],
             probeGuess=_probe())
    data = load_dataset(tmp_path / "c.npz")
    assert data.positions.min() >= (N - 1) / 2
    assert np.allclose(np.diff(data.positions, axis=0), np.diff(pos, axis=0))
    assert any("shifted" in w for w in data.warnings)


def test_npz_reader_does_not_unpickle(tmp_path):
    np.savez(tmp_path / "p.npz", diffraction=np.array([{"a": 1}], dtype=object),
             xcoords=np.zeros(1), ycoords=np.zeros(1), probeGuess=_probe())
    with pytest.raises(DataError, match="diffraction.*objects"):
        load_dataset(tmp_path / "p.npz")


def test_n_images_selects_the_first_patterns(tmp_path):
    path = write_ptychopinn_npz(tmp_path / "d.npz", measurement="counts",
                                patterns=_counts(), positions=_positions(),
                                probe=_probe(), object_guess=_object())
    data = load_dataset(path, n_images=5)
    assert data.n_patterns == 5 and data.positions.shape == (5, 2)
    assert np.array_equal(data.positions, _positions()[:5])


def test_probe_path_replaces_the_probe(tmp_path):
    path = write_ptychopinn_npz(tmp_path / "d.npz", measurement="counts",
                                patterns=_counts(), positions=_positions(),
                                probe=_probe(), object_guess=_object())
    other = (2.0 * _probe()).astype(np.complex64)
    np.savez(tmp_path / "probe.npz", probeGuess=other)
    data = load_dataset(path, probe_path=str(tmp_path / "probe.npz"), probe_scale="file")
    assert np.allclose(data.probe[0], other)


# -- ptychodus product --------------------------------------------------------------------------

def test_product_round_trip(tmp_path):
    obj = _object()
    obj[:3, :] = np.nan  # a reconstruction with never-illuminated pixels
    probe = np.stack([_probe(), 0.3 * _probe()])  # two incoherent modes
    g = Geometry(photon_energy_ev=9000.0, detector_distance_m=3.0, detector_pixel_size_m=55e-6)
    dx = g.object_pixel_size(N)
    path = write_product(tmp_path / "p.h5", obj=obj, probe=probe, positions_px=_positions(),
                         object_pixel_size_m=dx, geometry=g, object_center_m=(1e-6, -2e-6),
                         indexes=np.arange(M) + 100, loss_epochs=np.arange(3),
                         loss_values=np.array([3.0, 2.0, 1.5]), name="recon", comments="c",
                         probe_scale_factor=0.5)
    product = read_product(path)
    assert np.allclose(product.probe, probe, rtol=1e-5, atol=1e-7)
    assert np.allclose(product.positions, _positions(), atol=1e-9)
    assert np.array_equal(product.indexes, np.arange(M) + 100)
    assert product.object_center_m == (1e-6, -2e-6)
    assert product.object_pixel_size_m == (dx, dx)
    assert np.array_equal(product.loss_epochs, [0, 1, 2])
    assert np.array_equal(product.loss_values, [3.0, 2.0, 1.5])
    assert product.name == "recon" and product.comments == "c"
    assert product.geometry == Geometry(9000.0, 3.0, 55e-6, dx)
    assert product.metadata["probe_scale_factor"] == 0.5
    # The NaN rule: never-illuminated pixels are stored filled (finite) with a mask.
    assert np.isfinite(product.object).all()
    assert np.array_equal(product.mask, np.isfinite(obj))
    assert np.allclose(product.object[3:], obj[3:])
    assert np.allclose(product.object[0, 0], obj[3:].mean(), rtol=1e-5)
    masked = product.object_masked
    assert np.isnan(masked[:3]).all() and np.allclose(masked[3:], obj[3:])


def test_product_probe_is_written_in_the_ptychodus_convention(tmp_path):
    g = Geometry(photon_energy_ev=10_000.0, detector_distance_m=2.0, detector_pixel_size_m=75e-6)
    dx = g.object_pixel_size(N)
    path = write_product(tmp_path / "p.h5", obj=_object(), probe=_probe(), object_pixel_size_m=dx,
                         positions_px=_positions(), geometry=g)
    with h5py.File(path, "r") as h5:
        stored = h5["probe"][()]
        assert stored.shape == (1, 1, N, N)
        # F N = dx^2 N / (lambda z) = dx / p when dx comes from the geometry.
        factor = dx / 75e-6
        assert h5["probe"].attrs["ptycho_pinn_probe_factor"] == pytest.approx(factor)
        assert np.allclose(stored[0, 0] * factor, _probe(), rtol=1e-5, atol=1e-7)
        x_m = h5["probe_position_x_m"][()]
        width = h5["object"].shape[-1]
    assert np.allclose(x_m, (_positions()[:, 0] - (width - 1) / 2) * dx)


def _foreign_product(path, *, old_names=False, probe_ndim=4, object_ndim=3, costs=False,
                     shape=(48, 52), center=(3e-6, -1e-6), dx=2e-8, energy=8000.0):
    """A product as ptychodus writes it, built field by field (not through our writer)."""
    height, width = shape
    pos_px = _positions()
    x_m = (pos_px[:, 0] - (width - 1) / 2) * dx + center[0]
    y_m = (pos_px[:, 1] - (height - 1) / 2) * dx + center[1]
    probe = _probe()
    probe_arr = {2: probe, 3: probe[None], 4: probe[None, None]}[probe_ndim]
    obj = _object(shape)
    with h5py.File(path, "w") as h5:
        h5.attrs["name"] = "foreign"
        h5.attrs["comments"] = ""
        h5.attrs["detector_object_distance_m"] = 2.0
        h5.attrs["probe_energy_eV" if old_names else "photon_energy_eV"] = energy
        h5.attrs["probe_photon_count"] = 0.0
        h5.attrs["exposure_time_s"] = 0.0
        h5.attrs["mass_attenuation_m2_kg" if old_names else "mass_attenuation_m2_per_kg"] = 0.0
        h5["probe_position_indexes"] = np.arange(M)
        h5["probe_position_x_m"] = x_m
        h5["probe_position_y_m"] = y_m
        ds = h5.create_dataset("probe", data=probe_arr)
        ds.attrs["pixel_width_m"] = dx
        ds.attrs["pixel_height_m"] = dx
        ds = h5.create_dataset("object", data=obj if object_ndim == 2 else obj[None])
        ds.attrs["center_x_m"] = center[0]
        ds.attrs["center_y_m"] = center[1]
        ds.attrs["pixel_width_m"] = dx
        ds.attrs["pixel_height_m"] = dx
        h5["object_layer_spacing_m"] = np.zeros(0)
        if costs:
            h5["costs"] = np.array([5.0, 4.0])
        else:
            h5["loss_epochs"] = np.arange(2)
            h5["loss_values"] = np.array([5.0, 4.0])
    return pos_px, probe, obj


@pytest.mark.parametrize("old_names, probe_ndim, object_ndim, costs",
                         [(False, 4, 3, False), (True, 2, 2, True), (False, 3, 2, False)])
def test_read_foreign_product(tmp_path, old_names, probe_ndim, object_ndim, costs):
    path = tmp_path / "product.h5"
    pos_px, probe, obj = _foreign_product(path, old_names=old_names, probe_ndim=probe_ndim,
                                          object_ndim=object_ndim, costs=costs)
    product = read_product(path)
    assert np.allclose(product.positions, pos_px, atol=1e-9)
    assert product.probe.shape == (1, N, N)
    assert product.object.shape == obj.shape and np.allclose(product.object, obj)
    assert product.geometry.photon_energy_ev == 8000.0
    assert np.array_equal(product.loss_values, [5.0, 4.0])
    assert np.array_equal(product.loss_epochs, [0, 1])
    # The probe is converted from the ptychodus convention: times F N = dx^2 N / (lambda z).
    lam = HC_EV_M / 8000.0
    factor = 2e-8**2 * N / (lam * 2.0)
    assert product.probe_factor == pytest.approx(factor)
    assert np.allclose(product.probe[0], probe * factor, rtol=1e-5)
    assert any("ptychodus (Fresnel) convention" in w for w in product.warnings)


# -- ptychodus diffraction + standard layout --------------------------------------------------

def test_diffraction_round_trip(tmp_path):
    counts = _counts().astype(np.uint32)
    bad = np.zeros((N, N), bool)
    bad[2, 3] = True
    path = write_diffraction(tmp_path / "diffraction.h5", counts, np.arange(M) * 2, bad,
                             detector_pixel_size_m=(75e-6, 70e-6))
    with h5py.File(path, "r") as h5:
        assert h5["patterns"].compression == "lzf"
        assert h5["patterns"].dtype == np.uint32
    d = read_diffraction(path, lazy=False)
    assert np.array_equal(d.patterns, counts) and d.patterns.dtype == np.float32
    assert np.array_equal(d.indexes, np.arange(M) * 2)
    assert np.array_equal(d.bad_pixels, bad)
    assert d.detector_pixel_size_m == (75e-6, 70e-6)
    gz = write_diffraction(tmp_path / "gz.h5", counts, compression="gzip")
    with h5py.File(gz, "r") as h5:
        assert h5["patterns"].compression == "gzip"
    assert np.array_equal(read_diffraction(gz, lazy=False).patterns, counts)
    lazy = read_diffraction(path, lazy=True)
    assert isinstance(lazy.patterns, LazyPatterns)
    assert np.array_equal(lazy.patterns[[5, 1, 5]], counts[[5, 1, 5]])
    assert np.array_equal(lazy.patterns[3:7], counts[3:7])


def test_standard_layout_pairs_positions_with_patterns_by_index(tmp_path):
    pos_px, _probe_ptychodus, obj = _foreign_product(tmp_path / "product-in.h5")
    counts = _counts()
    bad = np.zeros((N, N), bool)
    bad[0, 0] = True
    # Patterns stored in reverse scan order, one extra pattern without a position.
    order = np.arange(M)[::-1]
    extra = np.concatenate([counts[order], counts[:1]])
    with h5py.File(tmp_path / "diffraction.h5", "w") as h5:
        ds = h5.create_dataset("patterns", data=extra.astype(np.uint16), compression="lzf")
        ds.attrs["detector_pixel_width_m"] = 75e-6
        ds.attrs["detector_pixel_height_m"] = 75e-6
        h5["indexes"] = np.concatenate([order, [999]])
        h5["bad_pixels"] = bad
    data = load_dataset(tmp_path)
    assert data.n_patterns == M
    assert np.array_equal(data.indexes, order)
    assert np.allclose(data.positions, pos_px[order], atol=1e-9)
    expected = counts[order].copy()
    expected[:, 0, 0] = 0.0  # bad pixels are zeroed
    assert np.array_equal(data.patterns, expected)
    assert np.array_equal(data.bad_pixels, bad)
    assert data.object_shape == obj.shape
    assert data.geometry.detector_pixel_size_m == 75e-6
    assert any("without a position" in w for w in data.warnings)
    # Same through the product file and an explicit diffraction path.
    same = load_dataset(tmp_path / "product-in.h5",
                        diffraction_path=str(tmp_path / "diffraction.h5"))
    assert np.array_equal(same.patterns, data.patterns)


def test_product_without_diffraction_file_is_a_clear_error(tmp_path):
    _foreign_product(tmp_path / "p.h5")
    with pytest.raises(DataError, match="diffraction.h5: diffraction file not found"):
        load_dataset(tmp_path / "p.h5")


# -- probe scale ------------------------------------------------------------------------------

def test_probe_scale_fit_recovers_a_known_factor(tmp_path):
    from engine.config import SessionConfig, apply_preset
    from engine.simulation import simulate_scan

    scan = simulate_scan(apply_preset(SessionConfig(), "tiny").config)
    path = write_ptychopinn_npz(tmp_path / "d.npz", measurement="counts",
                                patterns=scan.counts,
                                positions=scan.positions, probe=scan.probe / 7.0,
                                object_guess=scan.obj)
    fitted = load_dataset(path)
    assert fitted.probe_scale_factor == pytest.approx(49.0, rel=0.01)
    assert np.allclose(np.abs(fitted.probe) ** 2, np.abs(scan.probe) ** 2,
                       rtol=0.02, atol=1e-3 * np.abs(scan.probe).max() ** 2)
    assert any("scaled by" in w for w in fitted.warnings)
    kept = load_dataset(path, probe_scale="file")
    assert kept.probe_scale_factor == 1.0
    assert np.allclose(kept.probe, scan.probe / 7.0)


# -- lazy loading -----------------------------------------------------------------------------

def test_large_uncompressed_npz_is_memory_mapped_and_not_read_whole(tmp_path, monkeypatch):
    from engine.io import lazy as lazy_mod

    m, n = 1100, 64  # 18 MB of float32: over a 16 MiB budget
    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0, size=(m, n, n)).astype(np.float32)
    k = np.arange(m)
    pos = np.stack([40.0 + 3 * (k % 33), 40.0 + 3 * (k // 33)], axis=1)
    np.savez(tmp_path / "big.npz", diffraction=counts, xcoords=pos[:, 0], ycoords=pos[:, 1],
             probeGuess=_probe(n))
    rows_read = []
    original = lazy_mod.MemmapBackend.take

    def spy(self, rows, axis):
        rows_read.append(len(rows))
        return original(self, rows, axis)

    monkeypatch.setattr(lazy_mod.MemmapBackend, "take", spy)
    data = load_dataset(tmp_path / "big.npz", memory_budget_mb=16, measurement="counts")
    assert data.is_lazy and isinstance(data.patterns, LazyPatterns)
    assert isinstance(data.patterns.backend, lazy_mod.MemmapBackend)
    assert sum(rows_read) < m  # validation and the scale fit read bounded samples only
    assert np.array_equal(data.patterns[1000], counts[1000])
    sub = data.subset([10, 3])
    assert np.array_equal(sub.patterns[:], counts[[10, 3]])
    assert np.array_equal(sub.positions, pos[[10, 3]])
    small = load_dataset(tmp_path / "big.npz", measurement="counts")  # default 4 GiB budget
    assert isinstance(small.patterns, np.ndarray)


def test_large_diffraction_h5_stays_lazy(tmp_path):
    m, n = 1100, 64
    counts = np.ones((m, n, n), np.float32)
    k = np.arange(m)
    pos = np.stack([40.0 + 3 * (k % 33), 40.0 + 3 * (k // 33)], axis=1)
    g = Geometry(8000.0, 2.0, 75e-6)
    write_product(tmp_path / "product.h5", obj=np.ones((200, 200), np.complex64),
                  probe=_probe(n), positions_px=pos, object_pixel_size_m=g.object_pixel_size(n),
                  geometry=g)
    write_diffraction(tmp_path / "diffraction.h5", counts)
    data = load_dataset(tmp_path, memory_budget_mb=16)
    assert data.is_lazy
    assert type(data.patterns.backend).__name__ == "H5Backend"
    assert data.patterns[7].shape == (n, n)


def test_diffraction_file_as_data_path_pairs_with_the_product_next_to_it(tmp_path):
    pos_px, _, _ = _foreign_product(tmp_path / "product.h5")
    write_diffraction(tmp_path / "diffraction.h5", _counts())
    data = load_dataset(tmp_path / "diffraction.h5")
    assert np.allclose(data.positions, pos_px, atol=1e-9)


def test_lazy_patterns_survive_a_copy_to_another_worker(tmp_path):
    import copy

    write_diffraction(tmp_path / "diffraction.h5", _counts())
    lazy = read_diffraction(tmp_path / "diffraction.h5", lazy=True).patterns
    _ = lazy[0]  # opens the file
    clone = copy.deepcopy(lazy)  # goes through __getstate__, like pickling for workers
    assert clone.backend._file is None
    assert np.array_equal(clone[2], _counts()[2])
    lazy.close()


def test_compressed_npz_over_budget_is_read_with_a_warning(tmp_path):
    m, n = 1100, 64
    counts = np.zeros((m, n, n), np.float32)
    k = np.arange(m)
    pos = np.stack([40.0 + 3 * (k % 33), 40.0 + 3 * (k // 33)], axis=1)
    np.savez_compressed(tmp_path / "c.npz", diffraction=counts, xcoords=pos[:, 0],
                        ycoords=pos[:, 1], probeGuess=_probe(n))
    data = load_dataset(tmp_path / "c.npz", memory_budget_mb=16, measurement="counts",
                        probe_scale="file")
    assert isinstance(data.patterns, np.ndarray)
    assert any("compressed" in w for w in data.warnings)


def test_object_guess_with_nan_is_filled_with_a_warning(tmp_path):
    obj = _object()
    obj[:4] = np.nan
    np.savez(tmp_path / "r.npz", diffraction=_counts(), xcoords=_positions()[:, 0],
             ycoords=_positions()[:, 1], probeGuess=_probe(), objectGuess=obj)
    data = load_dataset(tmp_path / "r.npz")
    assert np.isfinite(data.object_guess).all()
    assert np.allclose(data.object_guess[4:], obj[4:])
    assert any("NaN" in w for w in data.warnings)


def test_unreadable_chunks_of_a_lazy_file_name_the_file_and_dataset(tmp_path, monkeypatch):
    from engine.io import lazy as lazy_mod

    write_diffraction(tmp_path / "diffraction.h5", _counts())
    lazy = read_diffraction(tmp_path / "diffraction.h5", lazy=True).patterns

    class Broken:
        def __getitem__(self, key):
            raise OSError("Can't read data (required filter 'blosc' is not registered)")

    monkeypatch.setattr(lazy_mod.H5Backend, "_dataset", lambda self: Broken())
    with pytest.raises(DataError, match=r"diffraction.h5: /patterns: cannot read.*blosc"):
        lazy[0]


def test_product_without_geometry_round_trips_positions_in_pixels(tmp_path):
    path = write_product(tmp_path / "p.h5", obj=_object(), probe=_probe(),
                         positions_px=_positions(), object_pixel_size_m=None)
    product = read_product(path)
    assert product.object_pixel_size_m is None and product.geometry.object_pixel_size_m is None
    assert np.allclose(product.positions, _positions())
    assert np.allclose(product.probe[0], _probe())  # stored in our units, factor 1
