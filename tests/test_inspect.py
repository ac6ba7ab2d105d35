"""``inspect`` and ``ptycho-engine inspect``: reports, and every malformed input named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine.cli.main import main
from engine.errors import DataError
from engine.io import (
    Geometry,
    inspect,
    load_dataset,
    write_diffraction,
    write_product,
    write_ptychopinn_npz,
)

sys.path.insert(0, str(Path(__file__).parent / "data" / "bad"))
from make_corpus import build_corpus  # noqa: E402

N = 16


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    entries = build_corpus(tmp_path_factory.mktemp("bad"))
    return {name: (path, words) for name, (path, kind, words) in entries.items()
            if kind == "data"}


@pytest.fixture(scope="module")
def good_npz(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    k = np.arange(20)
    pos = np.stack([12.0 + 3 * (k % 5), 12.0 + 3 * (k // 5)], axis=1)
    counts = np.random.default_rng(0).poisson(5.0, (20, N, N)).astype(np.float32)
    probe = np.ones((N, N), np.complex64)
    g = {"photon_energy_ev": 8000.0, "detector_distance_m": 2.0, "detector_pixel_size_m": 75e-6}
    return write_ptychopinn_npz(folder / "good.npz", measurement="counts",
                                patterns=counts, positions=pos, probe=probe,
                                metadata={"geometry": g}), counts, pos


def test_report_of_a_good_file(good_npz):
    path, counts, pos = good_npz
    report = inspect(path)
    assert report.ok and report.problems == []
    assert report.n_patterns == 20 and report.pattern_shape == (N, N)
    assert report.counts_min == counts.min() and report.counts_max == counts.max()
    assert report.mean_photons_per_pattern == pytest.approx(counts.sum((1, 2)).mean())
    assert report.stats_from == "all 20 patterns"
    assert report.positions_extent_px == (12.0, 24.0, 12.0, 21.0)
    dx = Geometry(8000.0, 2.0, 75e-6).object_pixel_size(N)
    assert report.scan_size_m == pytest.approx((12.0 * dx, 9.0 * dx))
    assert report.median_step_px == pytest.approx(3.0)
    assert report.probe_shape == (1, N, N) and report.probe_modes == 1
    assert report.measurement == "counts"
    assert report.probe_scale_fit == pytest.approx(counts.sum((1, 2)).mean() / N**2)
    payload = json.loads(report.to_json())
    assert payload["ok"] is True and payload["n_patterns"] == 20
    text = report.format()
    assert "20" in text and "16 x 16 px" in text and "status   OK" in text


def test_cli_inspect_json_and_exit_code_zero(good_npz, capsys):
    path, _, _ = good_npz
    assert main(["inspect", str(path), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["n_patterns"] == 20


def test_inspect_samples_large_files(tmp_path, monkeypatch):
    from engine.io import checks

    monkeypatch.setattr(checks, "FULL_SCAN_BYTES", 1024)  # make a small file count as large
    counts = np.ones((600, N, N), np.float32)
    k = np.arange(600)
    pos = np.stack([10.0 + (k % 30), 10.0 + (k // 30)], axis=1)
    path = write_ptychopinn_npz(tmp_path / "d.npz", measurement="counts",
                                patterns=counts, positions=pos,
                                probe=np.ones((N, N), np.complex64))
    report = inspect(path)
    assert report.stats_from == f"an evenly spaced sample of {checks.SAMPLE_PATTERNS} of 600 " \
                                "patterns"
    assert report.mean_photons_per_pattern == pytest.approx(N * N)


def test_inspect_product_alone_and_diffraction_alone(tmp_path):
    g = Geometry(8000.0, 2.0, 75e-6)
    pos = np.array([[20.0, 20.0], [24.0, 20.0]])
    write_product(tmp_path / "recon.h5", obj=np.ones((48, 48), np.complex64),
                  probe=np.ones((N, N), np.complex64), positions_px=pos,
                  object_pixel_size_m=g.object_pixel_size(N), geometry=g,
                  loss_epochs=np.arange(4), loss_values=np.ones(4))
    report = inspect(tmp_path / "recon.h5")
    assert report.ok and report.kind.startswith("ptychodus product")
    assert report.object_shape == (48, 48) and report.loss_epochs == 4
    assert report.n_patterns is None
    other = tmp_path / "only"
    other.mkdir()
    write_diffraction(other / "diffraction.h5", np.full((3, N, N), 2.0, np.float32))
    report = inspect(other / "diffraction.h5")
    assert report.ok and report.n_patterns == 3 and report.mean_photons_per_pattern == 2 * N * N
    assert any("no scan positions" in w for w in report.warnings)


CORPUS_NAMES = ["missing_key", "nan_counts", "inf_positions", "negative_counts",
                "mismatched_lengths", "mismatched_probe", "absurd_positions", "pickled_object",
                "truncated_npz", "zero_byte_npz", "text_as_npz", "text_as_h5",
                "product_missing_probe", "truncated_h5"]


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_malformed_input_is_named_by_load_and_inspect(corpus, name, capsys):
    path, words = corpus[name]
    with pytest.raises(DataError) as info:
        load_dataset(path)
    message = str(info.value).lower()
    assert str(path).lower() in message or path.name.lower() in message
    for word in words:
        assert word in message, (name, word, message)
    # The CLI: exit 2, the problem on stderr, no traceback.
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err.lower()
    assert "traceback" not in err
    for word in words:
        assert word in err, (name, word, err)


def test_every_corpus_data_entry_is_covered(corpus):
    # The corpus grows (tests/test_bad_inputs.py runs every entry through every entry point).
    assert set(CORPUS_NAMES) <= set(corpus)


def test_inspect_collects_several_problems_at_once(tmp_path):
    counts = np.ones((6, N, N), np.float32)
    counts[0, 0, 0] = np.nan
    counts[1, 1, 1] = -5
    np.savez(tmp_path / "two.npz", diffraction=counts, xcoords=np.full(5, 20.0),
             ycoords=np.full(5, 20.0), probeGuess=np.ones((N, N), np.complex64))
    report = inspect(tmp_path / "two.npz", measurement="counts")
    joined = "\n".join(report.problems)
    assert len(report.problems) == 3
    assert "finite" in joined and "negative" in joined and "one position per pattern" in joined


def test_product_with_unreadable_filter_or_missing_positions(tmp_path):
    with h5py.File(tmp_path / "p.h5", "w") as h5:
        h5["probe"] = np.ones((1, 1, N, N), np.complex64)
        h5["object"] = np.ones((1, 40, 40), np.complex64)
    report = inspect(tmp_path / "p.h5")
    assert not report.ok and "probe_position_x_m" in report.problems[0]


def test_cli_inspect_in_a_fresh_process_prints_no_traceback(corpus):
    path, _ = corpus["text_as_npz"]
    proc = subprocess.run([sys.executable, "-m", "engine.cli.main", "inspect", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "text.npz" in proc.stderr


def test_public_names_are_exported_lazily_from_engine():
    import engine
    import engine.io

    assert engine.load_dataset is engine.io.load_dataset
    assert engine.inspect is engine.io.inspect
