"""CXI: files built field by field as CDTools/PETRA III P25 write them, our writer, and
ptychodus 1.7's own CXI reader on our files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine.cli.main import main
from engine.errors import DataError
from engine.io import Geometry, load_dataset
from engine.io.formats import cxi, detect

EV = 1.602176634e-19
PTYCHODUS_PY = Path("/work/venv-ptychodus/bin/python")
BAD = [(0, 0), (3, 17), (10, 10), (31, 2), (20, 29)]


def p25_like(path: Path, m: int = 200, n: int = 32, *, entries: int = 1) -> Path:
    """A raw-data CXI mirroring the P25 example field by field: no probe, energy in joules,
    1.12 m, 55 um pixels, 5 bad pixels, the data under detector_1 with a soft link."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:n, 0:n] - n // 2
    beam = 400.0 * np.exp(-(xx**2 + yy**2) / 20.0)
    with h5py.File(path, "w") as h5:
        h5["cxi_version"] = 160
        for e in range(1, entries + 1):
            entry = h5.create_group(f"entry_{e}")
            det = entry.create_group("instrument_1/detector_1")
            det["data"] = rng.poisson(beam, size=(m, n, n)).astype(np.uint32)
            det["distance"] = 1.12
            det["x_pixel_size"] = 55e-6
            det["y_pixel_size"] = 55e-6
            mask = np.zeros((n, n), np.uint32)
            for r, c in BAD:
                mask[r, c] = 1
            det["mask"] = mask
            entry["instrument_1/source_1/energy"] = 12658.0 * EV
            k = np.arange(m)
            translation = np.zeros((m, 3))
            translation[:, 0] = (k % 20) * 0.5e-6
            translation[:, 1] = (k // 20) * 0.5e-6
            entry["sample_1/geometry_1/translation"] = translation
            entry.create_group("data_1")["data"] = h5py.SoftLink(
                f"/entry_{e}/instrument_1/detector_1/data")
    return path


def test_p25_like_cxi_is_detected_and_inspected(tmp_path, capsys):
    path = p25_like(tmp_path / "p25.cxi")
    fmt, _ = detect(path)
    assert fmt is cxi
    assert main(["inspect", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_patterns"] == 200
    assert report["geometry"]["photon_energy_ev"] == pytest.approx(12658.0)
    assert report["geometry"]["detector_distance_m"] == pytest.approx(1.12)
    assert report["geometry"]["detector_pixel_size_m"] == pytest.approx(55e-6)
    assert report["bad_pixels"] == 5
    assert report["probe_initial"] in ("disk", "from_data")  # auto: tests/test_probe_models.py
    assert any("no probe in the file" in c for c in report["corrections"])
    assert report["file_format"] == "cxi" and report["ok"] is True


def test_p25_like_cxi_loads_with_mask_positions_and_geometry(tmp_path):
    path = p25_like(tmp_path / "p25.cxi")
    data = load_dataset(path)
    assert data.n_patterns == 200 and data.N == 32
    assert int(data.bad_pixels.sum()) == 5
    assert all(data.bad_pixels[r, c] for r, c in BAD)
    assert (data.patterns[:, data.bad_pixels] == 0).all()
    dx = Geometry(12658.0, 1.12, 55e-6).object_pixel_size(32)
    steps = np.diff(np.unique(np.round(data.positions[:, 0], 6)))
    assert steps == pytest.approx(np.full(len(steps), 0.5e-6 / dx))


def test_several_entries_are_listed_and_data_entry_chooses(tmp_path):
    path = p25_like(tmp_path / "two.cxi", m=20, entries=2)
    with pytest.raises(DataError, match=r"entry_1, entry_2.*data\.entry"):
        load_dataset(path)
    assert load_dataset(path, entry="entry_2").n_patterns == 20
    with pytest.raises(DataError, match="entry_7.*entry_1, entry_2"):
        load_dataset(path, entry="entry_7")


def _recon(tmp_path):
    n, m = 16, 12
    rng = np.random.default_rng(3)
    k = np.arange(m)
    pos = np.stack([12.0 + 3 * (k % 4), 12.0 + 3 * (k // 4)], axis=1)
    yy, xx = np.mgrid[0:n, 0:n] - (n - 1) / 2
    probe = (np.exp(-(xx**2 + yy**2) / 10.0) * np.exp(0.2j * xx)).astype(np.complex64)[None]
    obj = np.exp(1j * rng.uniform(-1, 1, (36, 40))).astype(np.complex64)
    obj[0, 0] = np.nan
    counts = rng.poisson(50.0, (m, n, n)).astype(np.uint16)
    bad = np.zeros((n, n), bool)
    bad[2, 3] = bad[9, 9] = True
    g = Geometry(photon_energy_ev=9000.0, detector_distance_m=2.0,
                 detector_pixel_size_m=75e-6)
    return dict(positions_px=pos, probe=probe, obj=obj, patterns=counts, bad_pixels=bad,
                geometry=g, object_pixel_size_m=g.object_pixel_size(n))


def test_cxi_round_trip_of_data_and_reconstruction(tmp_path):
    parts = _recon(tmp_path)
    path = cxi.write(tmp_path / "r.cxi", **parts, loss_values=np.array([3.0, 2.0]))
    data = load_dataset(path, probe_scale="file")
    counts = parts["patterns"].astype(np.float32)
    counts[:, parts["bad_pixels"]] = 0
    assert np.array_equal(data.patterns, counts)
    assert np.array_equal(data.bad_pixels, parts["bad_pixels"])
    assert np.allclose(data.positions, parts["positions_px"], atol=1e-9)
    assert np.allclose(data.probe, parts["probe"], rtol=1e-5, atol=1e-6)
    assert data.object_shape == (36, 40)
    assert data.geometry.photon_energy_ev == pytest.approx(9000.0)
    assert data.geometry.detector_distance_m == pytest.approx(2.0)
    # Simulated data (no object): positions still round-trip through the stored canvas.
    path2 = cxi.write(tmp_path / "d.cxi", positions_px=parts["positions_px"],
                      object_pixel_size_m=parts["object_pixel_size_m"],
                      geometry=parts["geometry"], patterns=parts["patterns"],
                      probe=parts["probe"], object_shape=(36, 40))
    data2 = load_dataset(path2, probe_scale="file")
    assert np.allclose(data2.positions, parts["positions_px"], atol=1e-9)


PTYCHODUS_SCRIPT = r"""
import json, sys
from pathlib import Path
import numpy
from ptychodus.plugins.cxi_file import CXIDiffractionFileReader, CXIProductFileIO
path = Path(sys.argv[1])
ds = CXIDiffractionFileReader().read(path)
meta = ds.get_metadata()
patterns = numpy.concatenate([a.get_patterns() for a in ds])
product = CXIProductFileIO().read(path)
pos = product.probe_positions
print(json.dumps({
    "sum": float(patterns.astype(float).sum()), "shape": list(patterns.shape),
    "energy": meta.photon_energy_eV, "distance": meta.detector_distance_m,
    "pixel": meta.detector_pixel_geometry.width_m,
    "bad": int(numpy.asarray(ds.get_bad_pixels()).sum()),
    "x": [float(v) for v in pos.get_coordinates_x_m()],
    "y": [float(v) for v in pos.get_coordinates_y_m()],
}))
"""


@pytest.mark.skipif(not PTYCHODUS_PY.exists(), reason="ptychodus venv not installed")
def test_our_cxi_opens_in_ptychodus_with_the_same_content(tmp_path):
    parts = _recon(tmp_path)
    path = cxi.write(tmp_path / "ours.cxi", **parts)
    proc = subprocess.run([str(PTYCHODUS_PY), "-c", PTYCHODUS_SCRIPT, str(path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["shape"] == [12, 16, 16]
    assert out["sum"] == pytest.approx(float(parts["patterns"].astype(float).sum()))
    assert out["energy"] == pytest.approx(9000.0)
    assert out["distance"] == pytest.approx(2.0)
    assert out["pixel"] == pytest.approx(75e-6)
    assert out["bad"] == 2
    dx = parts["object_pixel_size_m"]
    x_px = np.array(out["x"]) / dx + (40 - 1) / 2
    y_px = np.array(out["y"]) / dx + (36 - 1) / 2
    assert np.allclose(np.stack([x_px, y_px], 1), parts["positions_px"], atol=1e-6)


def test_a_cxi_reconstruction_is_scored_like_a_product(tmp_path):
    from engine.metrics.loading import load_object

    parts = _recon(tmp_path)
    path = cxi.write(tmp_path / "r.cxi", **parts)
    obj = load_object(path)
    assert obj.shape == (36, 40) and np.isnan(obj[0, 0])  # never illuminated stays NaN
    assert np.allclose(obj[1:, 1:], parts["obj"][1:, 1:])
    with pytest.raises(DataError, match="image_2/data"):
        load_object(p25_like(tmp_path / "raw.cxi", m=4))
