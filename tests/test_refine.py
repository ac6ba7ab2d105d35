"""The LSQML solver (engine.solvers.lsqml) under the solver driver: misfit, quality, stop token,
probe refinement, modes, data on disk."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest
import torch
from test_solvers_helpers import SHAPE, N, defocused_probe, smooth_object, ssim

from engine.config import RefinementConfig
from engine.physics import extract_patches, forward_intensity
from engine.reporting import Progress, Reporter
from engine.solvers import LsqmlSolver as Refiner
from engine.solvers import solve as refine_object


def _dataset(seed: int = 3, photons: float = 1e5, subpixel: bool = True):
    rng = np.random.default_rng(seed)
    obj = smooth_object(rng)
    probe = defocused_probe(12.0, photons)
    grid = np.arange(N / 2 + 2, SHAPE[0] - N / 2 - 2, 5.0)
    xy = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
    if subpixel:
        xy = xy + rng.uniform(-1, 1, xy.shape)
    positions = xy - 0.5  # window centres (x, y)
    clean = forward_intensity(extract_patches(obj, positions, N), torch.as_tensor(probe))
    counts = rng.poisson(clean.numpy()).astype(np.float32)
    return obj, probe, positions, counts


# The solver alone, as in the round before this one: fixed probe and positions, no
# background, every epoch run, large growing batches; each test turns on what it tests.
FIXED = dict(refine_probe=False, position_correction=False, background=False, patience=0,
             batch_size=192, batch_growth=4, smoothness_off_fluence=0.0, time_limit_s=0.0)


def _settings(**kw) -> RefinementConfig:
    return dataclasses.replace(RefinementConfig(), **{**FIXED, **kw})



def test_refinement_lowers_misfit_and_raises_ssim():
    truth, probe, positions, counts = _dataset()
    flat = np.ones(SHAPE, np.complex64)
    settings = _settings(epochs=15)
    refiner = Refiner(counts, positions, probe, SHAPE, settings, seed=0, initial=flat)
    start = refiner.misfit()
    result = refine_object(counts, positions, probe, SHAPE, settings, seed=0, initial=flat)
    end = Refiner(counts, positions, probe, SHAPE, settings, seed=0,
                  initial=np.nan_to_num(result.obj, nan=1.0)).misfit()
    assert result.completed and result.epochs == 15
    assert end < start - 0.01 * abs(start)
    before, after = ssim(flat, truth), ssim(result.obj, truth)
    assert after[0] > before[0] + 0.2 and after[1] > before[1] + 0.2, (before, after)
    assert min(after) > 0.8, after
    assert np.isnan(result.obj[0, 0]) and not result.mask[0, 0]  # never illuminated


def test_whole_pixel_positions_take_the_fast_path_and_converge():
    truth, probe, positions, counts = _dataset(subpixel=False)
    refiner = Refiner(counts, positions, probe, SHAPE, _settings(), seed=0)
    assert not refiner.subpixel
    result = refine_object(counts, positions, probe, SHAPE, _settings(epochs=15), seed=0)
    assert min(ssim(result.obj, truth)) > 0.8


class _Recorder(Reporter):
    def __init__(self, stop: threading.Event | None = None, after: int = 0) -> None:
        self.events: list[Progress] = []
        self.misfits: list[float] = []
        self.stop, self.after = stop, after

    def progress(self, progress: Progress) -> None:
        self.events.append(progress)

    def metrics(self, epoch: int, values) -> None:
        raise AssertionError("refinement epochs must not be reported as training metrics")

    def log(self, level: str, message: str) -> None:
        if message.startswith("refinement epoch"):
            self.misfits.append(float(message.split("misfit ")[1].split()[0]))
            if self.stop is not None and len(self.misfits) >= self.after:
                self.stop.set()


def test_stop_token_ends_within_two_seconds_keeping_the_best():
    truth, probe, positions, counts = _dataset()
    stop = threading.Event()
    reporter = _Recorder(stop, after=4)
    t0 = time.perf_counter()
    result = refine_object(counts, positions, probe, SHAPE, _settings(epochs=5000), seed=0,
                           reporter=reporter, stop=stop, job_share=(0.5, 1.0))
    assert time.perf_counter() - t0 < 2.0 + 4 * 2.0  # four epochs of a tiny set, then < 2 s
    assert not result.completed and result.epochs == 4
    # The object kept is the one with the lowest recorded misfit.
    assert result.chosen_epoch == int(np.argmin([result.misfit[0]] + reporter.misfits))
    assert min(ssim(result.obj, truth)) > 0.5
    fractions = [p.job_fraction for p in reporter.events]
    assert all(0.5 <= f <= 1.0 for f in fractions) and fractions == sorted(fractions)

    # A stop already set: the starting object comes back at once, unchanged.
    start = np.full(SHAPE, 0.9 + 0.1j, np.complex64)
    t0 = time.perf_counter()
    result = refine_object(counts, positions, probe, SHAPE, _settings(epochs=5000), seed=0,
                           initial=start, stop=stop)
    assert time.perf_counter() - t0 < 2.0
    assert result.epochs == 0 and not result.completed
    np.testing.assert_array_equal(result.obj[result.mask], start[result.mask])


def test_probe_refinement_from_a_wrong_defocus_ends_close_to_the_known_probe():
    truth, probe, positions, counts = _dataset(photons=1e6)
    known = refine_object(counts, positions, probe, SHAPE, _settings(epochs=40), seed=0)
    wrong = defocused_probe(30.0, float(np.sum(np.abs(probe) ** 2)))
    fixed = refine_object(counts, positions, wrong, SHAPE, _settings(epochs=40), seed=0)
    # Many probe updates: small batches that do not grow.
    refined = refine_object(counts, positions, wrong, SHAPE,
                            _settings(epochs=150, refine_probe=True, probe_start_epoch=3,
                                      batch_size=16, batch_growth=0), seed=0)
    s_known, s_fixed, s_refined = (ssim(r.obj, truth) for r in (known, fixed, refined))
    assert min(s_fixed) < min(s_known) - 0.05, (s_known, s_fixed)  # the wrong probe matters
    assert s_refined[0] > s_known[0] - 0.03 and s_refined[1] > s_known[1] - 0.03, \
        (s_known, s_refined)
    # Power held at the starting value.
    assert np.sum(np.abs(refined.probe) ** 2) == pytest.approx(np.sum(np.abs(wrong) ** 2),
                                                               rel=1e-4)


def test_probe_modes_are_added_orthogonal_with_the_power_kept():
    _, probe, positions, counts = _dataset()
    refiner = Refiner(counts, positions, probe, SHAPE, _settings(), seed=0, modes=3)
    modes = refiner.probe.reshape(3, -1)
    gram = (modes.conj() @ modes.T).abs()
    off = gram - torch.diag(torch.diagonal(gram))
    assert float(off.max()) < 1e-3 * float(gram.max())
    assert float(refiner.probe.abs().square().sum()) == pytest.approx(
        float(np.sum(np.abs(probe) ** 2)), rel=1e-4)
    result = refine_object(counts, positions, probe, SHAPE,
                           _settings(epochs=6, refine_probe=True, probe_start_epoch=2),
                           modes=3, seed=0)
    assert result.probe.shape == (3, N, N) and np.isfinite(result.obj[result.mask]).all()


def test_bad_settings_and_shapes_are_refused():
    _, probe, positions, counts = _dataset()
    with pytest.raises(ValueError, match="noise_model"):
        Refiner(counts, positions, probe, SHAPE, _settings(noise_model="laplace"), seed=0)
    with pytest.raises(ValueError, match="starting object"):
        Refiner(counts, positions, probe, SHAPE, _settings(), seed=0,
                initial=np.ones((10, 10), np.complex64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_refinement_on_cuda_matches_the_cpu():
    _, probe, positions, counts = _dataset()
    settings = _settings(epochs=5)
    cpu = refine_object(counts, positions, probe, SHAPE, settings, seed=0)
    gpu = refine_object(counts, positions, probe, SHAPE, settings, seed=0, device="cuda")
    np.testing.assert_allclose(gpu.obj[cpu.mask], cpu.obj[cpu.mask], atol=2e-3)
    assert gpu.misfit == pytest.approx(cpu.misfit, rel=1e-3)


def test_smoothness_follows_the_dose_and_is_off_where_the_data_fix_the_object():
    from engine.solvers.base import SMOOTHNESS_MAX, effective_smoothness

    def weight(smoothness, reference, fluence, off=0.0):
        return effective_smoothness(_settings(smoothness=smoothness,
                                              smoothness_fluence=reference,
                                              smoothness_off_fluence=off), fluence)

    assert weight(0.1, 1e4, 1e4) == pytest.approx(0.1)
    assert weight(0.1, 1e4, 1e3) == pytest.approx(0.1 * 10**0.18)
    assert weight(0.1, 1e4, 1e5) < 0.1  # brighter data: a weaker prior
    assert weight(0.1, 1e4, 1.0) == SMOOTHNESS_MAX
    assert weight(0.1, 0.0, 1e3) == 0.1  # scaling off
    assert weight(0.0, 1e4, 1e3) == 0.0  # no prior stays none
    assert weight(0.1, 1e4, 2e5, off=1e5) == 0.0  # the data fix the object: off
    assert weight(0.1, 1e4, 5e4, off=1e5) > 0.0


def test_low_dose_data_get_a_stronger_prior_and_a_better_image():
    obj, probe, positions, counts = _dataset(photons=3e3)
    fixed = refine_object(counts, positions, probe, SHAPE,
                          _settings(epochs=30, smoothness_fluence=0.0), seed=0)
    scaled = refine_object(counts, positions, probe, SHAPE, _settings(epochs=30), seed=0)
    assert fixed.smoothness == pytest.approx(0.1)
    assert scaled.fluence < 1e3 and scaled.smoothness > 0.15
    assert ssim(scaled.obj, obj)[0] > ssim(fixed.obj, obj)[0] + 0.01


def test_data_on_disk_are_read_in_runs_of_the_scan_and_refine_like_data_in_memory(tmp_path):
    import h5py

    from engine.io.lazy import H5Backend, LazyPatterns

    truth, probe, positions, counts = _dataset()
    with h5py.File(tmp_path / "d.h5", "w") as h5:
        h5.create_dataset("patterns", data=counts, chunks=(8, N, N), compression="gzip")
    lazy = LazyPatterns(H5Backend(str(tmp_path / "d.h5"), "patterns", counts.shape))
    settings = _settings(epochs=6, batch_size=24, batch_growth=0)
    refiner = Refiner(lazy, positions, probe, SHAPE, settings, seed=0)
    batches = refiner._batches(24)
    # Each batch is a run of consecutive patterns (every stored chunk read once per epoch),
    # the runs in random order, every pattern exactly once.
    assert all(np.array_equal(b, np.arange(b[0], b[0] + len(b))) for b in batches)
    assert [b[0] for b in batches] != sorted(b[0] for b in batches)
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(len(counts)))
    on_disk = refine_object(lazy, positions, probe, SHAPE, settings, seed=0)
    in_memory = refine_object(counts, positions, probe, SHAPE, settings, seed=0)
    assert abs(ssim(on_disk.obj, truth)[0] - ssim(in_memory.obj, truth)[0]) < 0.03
    assert abs(ssim(on_disk.obj, truth)[1] - ssim(in_memory.obj, truth)[1]) < 0.03
