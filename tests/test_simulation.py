"""The simulator: generators, photon scale, determinism, presets, outputs and the CLI."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from engine.config import PRESETS, SessionConfig, apply_preset, resolve_config
from engine.io import load_dataset, read_diffraction, read_product
from engine.physics import extract_patches, forward_intensity
from engine.reporting import Reporter
from engine.runs import simulate
from engine.simulation import (
    make_object,
    make_probe,
    make_scan,
    simulate_scan,
)

torch.set_num_threads(1)


def tiny(**overrides) -> SessionConfig:
    base = apply_preset(SessionConfig(), "tiny").config
    return resolve_config(overrides=overrides, base=base).config if overrides else base


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    return simulate(SessionConfig(), out / "a", preset="tiny")


def test_tiny_outputs_in_every_format(tiny_run):
    scan = tiny_run.scan
    assert tiny_run.status == "completed"
    assert scan.counts.shape == (64, 32, 32) and scan.probe.shape == (1, 32, 32)
    assert tiny_run.sources["model.N"] == "preset tiny"
    files = tiny_run.files
    assert {p.name for p in files.values()} == {"dataset.npz", "product.h5", "diffraction.h5",
                                                "truth.h5", "dataset.cxi"}
    cxi = load_dataset(files["cxi"], probe_scale="file")
    assert np.array_equal(cxi.patterns, scan.counts)
    assert np.allclose(cxi.positions, scan.positions, atol=1e-9)
    assert np.allclose(cxi.probe, scan.probe, rtol=1e-5, atol=1e-6)
    npz = load_dataset(files["dataset"], probe_scale="file")
    assert np.array_equal(npz.patterns, scan.counts)
    assert np.array_equal(npz.object_guess, scan.obj)
    assert np.array_equal(npz.positions, scan.positions)
    assert npz.measurement == "counts" and npz.metadata["measurement_source"] == "file metadata"
    assert npz.metadata["nphotons"] == pytest.approx(1e6)
    assert npz.metadata["seed"] == scan.seed
    assert npz.geometry.object_pixel_size_m == pytest.approx(scan.object_pixel_size_m)
    layout = load_dataset(tiny_run.out_dir, probe_scale="file")
    assert np.array_equal(layout.patterns, scan.counts)
    assert np.allclose(layout.positions, scan.positions, atol=1e-9)
    assert np.allclose(layout.probe, scan.probe, rtol=1e-5, atol=1e-6)
    assert np.array_equal(layout.object_guess, np.ones_like(scan.obj))  # flat initial guess
    truth = read_product(files["truth"])
    assert np.array_equal(truth.object, scan.obj)
    assert np.array_equal(read_diffraction(files["diffraction"], lazy=False).patterns, scan.counts)


def test_counts_follow_the_forward_model_and_the_photon_setting(tiny_run):
    scan = tiny_run.scan
    expected = forward_intensity(extract_patches(scan.obj, scan.positions, scan.N),
                                 torch.from_numpy(scan.probe)).numpy().astype(np.float64)
    # Mean total expected counts per pattern is the setting; counts are Poisson around it.
    assert expected.sum((1, 2)).mean() == pytest.approx(1e6, rel=1e-4)
    assert scan.counts.sum((1, 2)).mean() == pytest.approx(1e6, rel=1e-3)
    assert np.array_equal(scan.counts, np.round(scan.counts))
    bright = expected > 1000
    z = (scan.counts[bright] - expected[bright]) / np.sqrt(expected[bright])
    assert abs(z.mean()) < 0.05 and 0.9 < z.std() < 1.1


def test_same_seed_gives_byte_identical_files(tiny_run):
    again = simulate(SessionConfig(), tiny_run.out_dir.parent / "b", preset="tiny")
    for kind, path in tiny_run.files.items():
        assert path.read_bytes() == again.files[kind].read_bytes(), kind


def test_other_seed_gives_other_data():
    a = simulate_scan(tiny())
    b = simulate_scan(tiny(**{"simulation.seed": 99}))
    assert not np.array_equal(a.counts, b.counts)
    assert not np.allclose(a.positions, b.positions)


def test_second_object_with_the_same_probe_and_scan():
    first = simulate_scan(tiny())
    second = simulate_scan(tiny(), object_seed=7)
    assert np.array_equal(second.probe, first.probe)  # same beam, scaled for the first object
    assert np.array_equal(second.positions, first.positions)
    assert second.obj.shape == first.obj.shape
    assert np.abs(second.obj - first.obj).mean() > 0.05
    assert second.photons_per_pattern == pytest.approx(1e6, rel=0.3)
    # An explicit probe is used as is.
    third = simulate_scan(tiny(), object_seed=8, probe=first.probe)
    assert np.array_equal(third.probe, first.probe)


def test_default_preset_sizes_and_overlap():
    config = apply_preset(SessionConfig(), "default").config
    sim = config.simulation
    assert config == SessionConfig()  # "default" is exactly the schema defaults
    assert 500 <= sim.n_positions <= 1000 and config.model.N == 0  # 0: simulated at 64 px
    overlap = 1.0 - sim.step_px / sim.probe_diameter_px
    assert 0.6 <= overlap <= 0.8
    scan = make_scan(sim.scan, sim.n_positions, sim.step_px, 0.0, np.random.default_rng(0))
    assert scan.shape == (784, 2)
    assert np.allclose(np.diff(np.unique(scan[:, 0])), sim.step_px)


def test_default_preset_writes_784_patterns_of_64(tmp_path):
    result = simulate(SessionConfig(), tmp_path, preset="default")
    assert result.scan.counts.shape == (784, 64, 64)
    assert 200 <= result.scan.obj.shape[0] <= 300
    assert load_dataset(tmp_path / "dataset.npz").n_patterns == 784


def test_lowdose_preset_changes_only_the_photons():
    config = apply_preset(SessionConfig(), "lowdose").config
    assert config.simulation.photons_per_pattern == 1e4
    assert set(PRESETS) >= {"default", "tiny", "lowdose"}


@pytest.mark.parametrize("kind", ["lines", "dead_leaves", "siemens_star"])
def test_objects_are_structured_within_the_stated_ranges(kind):
    obj = make_object(kind, (96, 80), np.random.default_rng(1), amplitude_min=0.5,
                      phase_range=1.5)
    assert obj.shape == (96, 80) and obj.dtype == np.complex64
    amp, phase = np.abs(obj), np.angle(obj)
    assert amp.min() >= 0.5 - 1e-6 and amp.max() <= 1.0 + 1e-6
    assert phase.max() - phase.min() <= 1.5 + 1e-6
    assert amp.std() > 0.05  # not flat


def test_image_object(tmp_path):
    from PIL import Image

    ramp = np.tile(np.linspace(0, 255, 40, dtype=np.uint8), (30, 1))
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    obj = make_object("image", (60, 80), np.random.default_rng(0), amplitude_min=0.2,
                      phase_range=1.0, image_path=tmp_path / "ramp.png")
    amp = np.abs(obj)
    assert amp[:, 2].mean() > amp[:, -3].mean()  # dark side absorbs: 1 -> 0.2
    assert amp.min() == pytest.approx(0.2, abs=0.02)


@pytest.mark.parametrize("kind", ["disk", "gaussian", "fzp"])
def test_probes_are_normalised_and_centred(kind):
    probe = make_probe(kind, 64, diameter_px=20.0, defocus=30.0, path="")
    assert probe.shape == (1, 64, 64)
    intensity = np.abs(probe[0]) ** 2
    assert intensity.sum() == pytest.approx(1.0, rel=1e-5)
    yy, xx = np.mgrid[0:64, 0:64]
    assert (intensity * xx).sum() == pytest.approx(31.5, abs=1.0)
    assert (intensity * yy).sum() == pytest.approx(31.5, abs=1.0)
    # The beam is about the requested width: most energy within one diameter of the centre,
    # little beyond two.
    r = np.hypot(xx - 31.5, yy - 31.5)
    assert intensity[r < 20].sum() > 0.85
    assert intensity[r > 40].sum() < 0.02


def test_fzp_probe_is_band_limited():
    probe = make_probe("fzp", 64, diameter_px=20.0, defocus=0.0, path="")
    far = np.abs(np.fft.fftshift(np.fft.fft2(probe[0], norm="ortho"))) ** 2
    f = np.hypot(*(np.mgrid[0:64, 0:64] - 32)) / 64
    assert far[f > 0.27].sum() < 1e-6 * far.sum()  # nothing outside the zone plate
    assert far[f < 0.08].sum() < 1e-6 * far.sum()  # central stop


def test_spiral_scan_step():
    scan = make_scan("spiral", 400, 5.0, 0.0, np.random.default_rng(0))
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(scan).query(scan, k=2)
    assert np.median(dist[:, 1]) == pytest.approx(5.0, rel=0.15)


def test_cancel_writes_nothing(tmp_path):
    class Recorder(Reporter):
        def __init__(self):
            self.finished = None

        def run_finished(self, summary):
            self.finished = summary

    stop = threading.Event()
    stop.set()
    rec = Recorder()
    result = simulate(tiny(), tmp_path / "x", reporter=rec, stop=stop)
    assert result.status == "cancelled" and result.files == {}
    assert rec.finished["status"] == "cancelled"
    assert not (tmp_path / "x").exists()


def test_object_size_too_small_is_a_config_error():
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match="simulation.object_size"):
        simulate_scan(tiny(**{"simulation.object_size": 32}))


def test_cli_simulate_preset_seed_and_set(tmp_path, capsys):
    from engine.cli.main import main
    from engine.cli.simulate_cmd import PRESET_NAMES

    assert tuple(PRESETS) == PRESET_NAMES
    out = tmp_path / "cli"
    code = main(["simulate", "--out", str(out), "--preset", "tiny", "--seed", "5",
                 "--set", "simulation.n_positions=16", "--no-progress-bar"])
    assert code == 0
    data = load_dataset(out / "dataset.npz")
    assert data.n_patterns == 16 and data.N == 32  # --set wins over the preset
    assert data.metadata["seed"] == 5
    assert "16 patterns of 32 x 32 px" in capsys.readouterr().out
