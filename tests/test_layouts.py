"""Declared layouts (data.layout_*): any NPZ/HDF5, and the tike file as published."""

from __future__ import annotations

import bz2
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

import engine
from engine.cli.main import main
from engine.errors import DataError
from engine.io import inspect, load_dataset

ROOT = Path(__file__).resolve().parents[1]
TIKE_SESSION = ROOT / "resources" / "examples" / "tike_siemens_star.toml"
TIKE_FILE = ROOT.parent / "shared" / "data" / "real" / "tike_siemens_star" / \
    "siemens-star-small.npz.bz2"
N = 16


def _scan(m: int = 12):
    """Centred, fft-shifted counts and (x, y) window centres, plus the probe."""
    rng = np.random.default_rng(0)
    k = np.arange(m)
    centres = np.stack([14.0 + 3 * (k % 4), 14.0 + 3 * (k // 4)], axis=1)
    yy, xx = np.mgrid[0:N, 0:N] - N // 2
    beam = 300.0 * np.exp(-(xx**2 + yy**2) / 8.0)
    counts = rng.poisson(beam, (m, N, N)).astype(np.float32)
    probe = np.exp(-(xx**2 + yy**2) / 12.0).astype(np.complex64)
    return counts, centres, probe


def test_tike_like_npz_corner_rowcol_unshifted(tmp_path):
    counts, centres, probe = _scan()
    corner_rc = (centres - (N - 1) / 2)[:, ::-1][None].astype(np.float32)  # (1, M, 2)
    stored = np.fft.ifftshift(counts, axes=(-2, -1))[None]                  # (1, M, N, N)
    np.savez(tmp_path / "t.npz", data=stored, scan=corner_rc,
             probe=probe[None, None, None, None])
    raw = (tmp_path / "t.npz").read_bytes()
    (tmp_path / "t.npz.bz2").write_bytes(bz2.compress(raw))
    data = load_dataset(tmp_path / "t.npz.bz2", layout_patterns="data", layout_positions="scan",
                        layout_probe="probe", layout_position_order="rowcol",
                        layout_position_origin="corner", fftshifted="no", probe_scale="file")
    assert np.array_equal(data.patterns, counts)
    assert np.allclose(data.positions, centres)
    assert np.allclose(data.probe[0], probe)
    assert any("fft-shifted" in w for w in data.warnings)


def test_positions_in_metres_need_and_use_the_object_pixel(tmp_path):
    counts, centres, probe = _scan()
    with h5py.File(tmp_path / "b.h5", "w") as h5:
        h5["/scan/frames"] = counts
        h5["/scan/pos_um"] = centres * 0.02  # 20 nm object pixels, in micrometres
        h5["/scan/probe"] = probe
    common = dict(layout_patterns="/scan/frames", layout_positions="/scan/pos_um",
                  layout_probe="/scan/probe", layout_position_units="um")
    with pytest.raises(DataError, match="data.object_pixel_size_m"):
        load_dataset(tmp_path / "b.h5", **common)
    data = load_dataset(tmp_path / "b.h5", object_pixel_size_m=20e-9, **common)
    steps = np.diff(data.positions, axis=0)
    assert np.allclose(np.abs(steps[0]), [3.0, 0.0])
    assert data.object_pixel_size_m == pytest.approx(20e-9)


def test_declared_keys_that_are_missing_are_named_with_what_is_there(tmp_path):
    counts, centres, probe = _scan()
    np.savez(tmp_path / "x.npz", frames=counts, pos=centres)
    with pytest.raises(DataError, match=r"posxy: expected the key named by "
                       r"data\.layout_positions, found no such key \(keys: frames, pos\)"):
        load_dataset(tmp_path / "x.npz", layout_patterns="frames", layout_positions="posxy")


def test_metres_written_as_pixels_name_the_likely_unit(tmp_path):
    counts, centres, probe = _scan()
    np.savez(tmp_path / "m.npz", diffraction=counts, xcoords=centres[:, 0] * 1e-8,
             ycoords=centres[:, 1] * 1e-8, probeGuess=probe)
    report = inspect(tmp_path / "m.npz")
    assert not report.ok
    assert any("look like metres" in p and "layout_position_units" in p
               for p in report.problems)


@pytest.mark.skipif(not TIKE_FILE.exists(), reason="tike Siemens star not available")
def test_tike_file_as_published_loads_through_the_example_session(capsys):
    assert main(["inspect", "--session", str(TIKE_SESSION), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_patterns"] == 516 and report["pattern_shape"] == [128, 128]
    assert report["probe_shape"] == [1, 128, 128]
    assert report["median_step_px"] == pytest.approx(9.04, abs=0.05)
    assert any("fft-shifted" in c for c in report["corrections"])
    assert any("geometry unknown" in w for w in report["warnings"])
    cfg = engine.resolve_config(session=TIKE_SESSION).config
    data = load_dataset(cfg.data, probe=cfg.probe)
    # inspect and loading agree on every derived number.
    assert data.probe_scale_factor == pytest.approx(report["probe_scale_fit"], rel=1e-12)
    assert data.N == 128 and cfg.model.N == 0  # the network follows the data
    mean = data.mean_pattern()
    assert mean[56:72, 56:72].sum() > 100 * mean[:8, :8].sum()  # zero frequency centred


def test_layout_as_a_table_and_as_three_part_keys(tmp_path):
    """[data.layout] in a session and --set data.layout.NAME name the data.layout_* fields."""
    session = tmp_path / "s.toml"
    session.write_text(
        "schema_version = 1\n[data]\npath = 'scan.npz'\n"
        "[data.layout]\npatterns = 'data'\npositions = 'scan'\n"
        "position_order = 'rowcol'\nfftshifted = 'no'\n", encoding="utf-8")
    cfg = engine.resolve_config(session, overrides={"data.layout.probe": "probe"}).config.data
    layout = (cfg.layout_patterns, cfg.layout_positions, cfg.layout_probe)
    assert layout == ("data", "scan", "probe")
    assert (cfg.layout_position_order, cfg.fftshifted) == ("rowcol", "no")
    bad = tmp_path / "bad.toml"
    bad.write_text("schema_version = 1\n[data.layout]\npatterns_key = 'data'\n", encoding="utf-8")
    with pytest.raises(engine.ConfigError, match="data.layout.patterns_key"):
        engine.resolve_config(bad)
