"""The solver seam (engine.solvers): registry and schema agree, every solver reconstructs,
the stopping rule uses a misfit that means the same at every epoch, the noise floor, the
detector mask in every term, position correction, probe refinement that keeps the contrast,
and the run-workflow entry point refine_stage."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from test_solvers_helpers import SHAPE, N, defocused_probe, smooth_object, ssim

from engine.config import RefinementConfig, SessionConfig, field_specs
from engine.physics import extract_patches, forward_intensity
from engine.reporting import Reporter
from engine.solvers import SOLVERS, LsqmlSolver, expected_deviance, get_solver, solve
from engine.solvers.driver import run_solver


def _star() -> np.ndarray:
    """A Siemens star: 16 spokes of amplitude 0.5 / phase 0.8 rad on a 1 / 0 background."""
    y, x = np.mgrid[:SHAPE[0], :SHAPE[1]] - (np.array(SHAPE)[:, None, None] - 1) / 2
    spokes = (np.sin(8 * np.arctan2(y, x)) > 0).astype(float)
    return ((1 - 0.5 * spokes) * np.exp(0.8j * spokes)).astype(np.complex64)


def _positions(rng: np.random.Generator, step: float = 5.0) -> np.ndarray:
    grid = np.arange(N / 2 + 3, SHAPE[0] - N / 2 - 3, step)
    xy = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
    return xy + rng.uniform(-1, 1, xy.shape) - 0.5


def _counts(obj, probe, positions, rng, background=0.0):
    clean = forward_intensity(extract_patches(obj, positions, N), torch.as_tensor(probe))
    return rng.poisson(clean.numpy() + background).astype(np.float32)


def _dataset(seed: int = 3, photons: float = 1e5, obj=None):
    rng = np.random.default_rng(seed)
    obj = smooth_object(rng) if obj is None else obj
    probe = defocused_probe(12.0, photons)
    positions = _positions(rng)
    return obj, probe, positions, _counts(obj, probe, positions, rng)


def _settings(**kw) -> RefinementConfig:
    base = dict(refine_probe=False, position_correction=False, background=False,
                time_limit_s=0.0)
    return dataclasses.replace(RefinementConfig(), **{**base, **kw})



def test_the_registry_is_the_schema_choice_and_each_algorithm_has_its_options_section():
    specs = field_specs()
    assert tuple(SOLVERS) == specs["refinement.algorithm"].meta.choices
    session = SessionConfig()
    for name, cls in SOLVERS.items():
        assert cls.name == name and isinstance(getattr(session, name), cls.options_class)
    with pytest.raises(ValueError, match="refinement.algorithm.*lsqml"):
        get_solver("dm")


@pytest.mark.parametrize("algorithm", ["lsqml", "rpie", "gradient"])
def test_every_solver_reconstructs_from_a_flat_start(algorithm):
    truth, probe, positions, counts = _dataset()
    result = solve(counts, positions, probe, SHAPE, _settings(epochs=12, patience=0),
                   algorithm=algorithm, seed=0)
    assert result.algorithm == algorithm and result.epochs == 12
    assert result.misfit[-1] < 0.5 * result.misfit[0], result.misfit
    amp, phase = ssim(result.obj, truth)
    assert amp > 0.6 and phase > 0.6, (algorithm, amp, phase)


def test_the_misfit_does_not_depend_on_the_batch_size_and_the_rule_keeps_its_minimum():
    truth, probe, positions, counts = _dataset()
    small = LsqmlSolver(counts, positions, probe, SHAPE, _settings(batch_size=8), seed=0,
                        initial=truth)
    whole = LsqmlSolver(counts, positions, probe, SHAPE, _settings(batch_size=4096), seed=0,
                        initial=truth)
    assert small.misfit() == pytest.approx(whole.misfit(), rel=1e-5)
    # Growing batches (8 -> whole scan): the old running misfit jumped when the batches
    # grew. A plateau with batches smaller than the scan grows them instead of stopping, so
    # the run stops with whole-scan batches; the state kept is the last one when its misfit
    # is within patience x tolerance of the lowest, else the lowest.
    solver = LsqmlSolver(counts, positions, probe, SHAPE,
                         _settings(epochs=80, batch_size=8, batch_growth=30, patience=5,
                                   tolerance=1e-3), seed=0)
    result = run_solver(solver)
    assert result.stop_reason == "plateau" and result.epochs < 80
    assert solver.batch_size() == solver.m  # grown by the rule, not by the schedule
    assert result.epochs < 30 * int(np.log2(solver.m / 8) + 1)
    lowest = float(np.min(result.misfit))
    kept = result.misfit[result.chosen_epoch]
    assert kept <= lowest * (1 + 5 * 1e-3)
    assert result.chosen_epoch in (int(np.argmin(result.misfit)), result.epochs)
    assert min(ssim(result.obj, truth)) > 0.8
    assert "plateau" in result.summary()["stop_reason"]


def test_a_misfit_that_rose_keeps_the_epoch_of_its_minimum():
    """A state that fits worse than an earlier one by more than the rule's tolerance (a
    probe step gone wrong) is not returned: the lowest-misfit epoch is."""
    truth, probe, positions, counts = _dataset()
    solver = LsqmlSolver(counts, positions, probe, SHAPE,
                         _settings(epochs=6, patience=0), seed=0, initial=truth)
    original_epoch = solver.epoch

    def spoiled(*args, **kwargs):
        out = original_epoch(*args, **kwargs)
        if solver.epochs_done >= 4:  # the last two epochs blur the object
            solver.obj = solver.obj * 0.8
        return out

    solver.epoch = spoiled
    result = run_solver(solver)
    assert result.epochs == 6 and result.chosen_epoch == 3
    assert result.misfit[3] == min(result.misfit)


def test_the_noise_floor_of_the_truth_is_its_expected_deviance():
    rates = torch.tensor([0.1, 1.0, 1000.0])
    assert expected_deviance(rates).tolist() == pytest.approx([0.477, 1.146, 1.0002], abs=0.01)
    truth, probe, positions, counts = _dataset(photons=3e4)
    at_truth = LsqmlSolver(counts, positions, probe, SHAPE, _settings(), seed=0, initial=truth)
    # The true object fits the data to the photon noise: misfit / floor ~ 1.
    assert at_truth.misfit() / at_truth.noise_floor() == pytest.approx(1.0, abs=0.05)
    # A wrong (unshifted) data layout is far above its floor, and the result says what to try.
    wrong = np.fft.ifftshift(counts, axes=(-2, -1))
    result = solve(wrong, positions, probe, SHAPE, _settings(epochs=5, patience=0), seed=0)
    assert result.misfit_ratio > 3 and "fft-shifted" in result.hint


def test_bad_pixels_change_nothing_in_any_term():
    truth, probe, positions, counts = _dataset()
    bad = np.zeros((N, N), bool)
    bad[:, 20:22] = True                      # a gap
    bad[3, 5] = True                          # a hot pixel
    garbage = counts.copy()
    garbage[:, :, 20:22] = 0.0
    garbage[:, 3, 5] = 5e4
    settings = _settings(epochs=8, patience=0, refine_probe=True, probe_start_epoch=2,
                         position_correction=True, position_start_epoch=2, background=True)
    masked = solve(garbage, positions, probe, SHAPE, settings, bad_pixels=bad, seed=0)
    clean = solve(counts * ~bad, positions, probe, SHAPE, settings, bad_pixels=bad, seed=0)
    np.testing.assert_allclose(masked.obj[masked.mask], clean.obj[clean.mask], atol=1e-4)
    np.testing.assert_allclose(masked.positions, clean.positions, atol=1e-6)
    assert masked.background[3, 5] == clean.background[3, 5]
    assert masked.misfit == pytest.approx(clean.misfit, rel=1e-6)


def test_position_correction_moves_the_positions_towards_the_truth():
    rng = np.random.default_rng(5)
    truth = smooth_object(rng)
    probe = defocused_probe(12.0, 1e6)
    true = _positions(rng)
    counts = _counts(truth, probe, true, rng)
    nominal = true + rng.normal(0.0, 1.0, true.shape)

    def rms(p):
        d = p - true
        d = d - d.mean(axis=0)
        return float(np.sqrt((d ** 2).sum(axis=1).mean()))

    result = solve(counts, nominal, probe, SHAPE,
                   _settings(epochs=40, patience=0, position_correction=True,
                             position_start_epoch=3), seed=0)
    assert rms(nominal) > 1.2 and rms(result.positions) < 0.5 * rms(nominal), \
        (rms(nominal), rms(result.positions))
    assert result.position_rms_px > 0.8


def test_probe_refined_from_a_defocused_guess_keeps_the_star_and_the_probe_right():
    """The inverted-spokes failure: with the default batch settings a probe refined from a
    defocused guess must stay close to the true probe and the star's contrast must not
    invert (amplitude of the spokes below the background's)."""
    star = _star()
    rng = np.random.default_rng(7)
    probe = defocused_probe(12.0, 1e6)
    positions = _positions(rng, step=4.0)
    counts = _counts(star, probe, positions, rng)
    guess = defocused_probe(40.0, float(np.sum(np.abs(probe) ** 2)))
    defaults = RefinementConfig()
    result = solve(counts, positions, guess, SHAPE,
                   dataclasses.replace(defaults, epochs=30, position_correction=False,
                                       time_limit_s=0.0), seed=0)
    p, t = result.probe[0].ravel(), probe[0].ravel()
    overlap = abs(np.vdot(p, t)) / (np.linalg.norm(p) * np.linalg.norm(t))
    g = guess[0].ravel()
    before = abs(np.vdot(g, t)) / (np.linalg.norm(g) * np.linalg.norm(t))
    assert overlap > max(0.9, before + 0.1), (before, overlap)
    spokes = np.sin(8 * np.arctan2(*(np.mgrid[:88, :88] - 43.5))) > 0
    inner = result.mask & (np.hypot(*(np.mgrid[:88, :88] - 43.5)) > 8)
    amp = np.abs(result.obj)
    assert np.nanmean(amp[inner & spokes]) < 0.8 * np.nanmean(amp[inner & ~spokes])


def test_refine_stage_dispatches_through_the_registry_and_returns_what_the_product_needs():
    from engine.io import PtychoData
    from engine.runs.refinement import refine_stage

    truth, probe, positions, counts = _dataset()
    data = PtychoData(patterns=counts, positions=positions, probe=probe, object_shape=SHAPE)
    session = SessionConfig()
    session.refinement = _settings(epochs=4, patience=0, algorithm="rpie")
    session.probe.modes = 2
    logs: list[str] = []

    class Log(Reporter):
        def log(self, level, message):
            logs.append(message)

    refined = refine_stage(data, None, None, probe, session, "cpu", Log(), None)
    assert refined.solve["algorithm"] == "rpie" and refined.probe.shape == (2, N, N)
    assert sum(refined.solve["mode_power"]) == pytest.approx(1.0)
    assert refined.positions.shape == positions.shape and refined.epochs == 4
    assert any("kept epoch" in m and "noise floor" in m for m in logs)


def test_the_time_cap_ends_the_run_before_an_epoch_that_would_pass_it():
    truth, probe, positions, counts = _dataset()
    result = solve(counts, positions, probe, SHAPE,
                   _settings(epochs=5000, patience=0, time_limit_s=2.0), seed=0)
    assert result.stop_reason == "time" and 1 <= result.epochs < 5000
    per_epoch = result.seconds / (result.epochs + 1)  # + the start's misfit and the floor
    assert result.seconds < 2.0 + 2 * per_epoch + 0.5, (result.seconds, result.epochs)
    assert "time cap" in result.describe()


def test_the_background_is_fitted_also_with_the_probe_fixed():
    rng = np.random.default_rng(11)
    truth = smooth_object(rng)
    probe = defocused_probe(12.0, 1e5)
    positions = _positions(rng)
    counts = _counts(truth, probe, positions, rng, background=2.0)
    result = solve(counts, positions, probe, SHAPE,
                   _settings(epochs=15, patience=0, background=True, probe_start_epoch=2),
                   seed=0, initial=truth)
    assert float(np.median(result.background)) == pytest.approx(2.0, rel=0.3)
    assert result.misfit_ratio < 1.1


def test_holding_the_probe_tilt_moves_the_ambiguous_ramp_back_out_of_the_object():
    """``O e^{ik.r}`` with ``P e^{-ik.u}`` fits the data as well as ``O`` with ``P``; with
    ``refinement.hold_probe_tilt`` the probe's tilt returns to the start's and the object
    loses the ramp, the misfit unchanged."""
    truth, probe, positions, counts = _dataset()
    solver = LsqmlSolver(counts, positions, probe, SHAPE, _settings(hold_probe_tilt=True),
                         seed=0, initial=truth)
    before = solver.misfit()
    ky, kx = 0.01, -0.02  # rad / px
    u = torch.arange(N, dtype=torch.float64)
    yy = torch.arange(SHAPE[0], dtype=torch.float64)[:, None]
    xx = torch.arange(SHAPE[1], dtype=torch.float64)[None, :]
    solver.probe = solver.probe * torch.polar(torch.ones(N, N, dtype=torch.float64),
                                              -(ky * u[:, None] + kx * u[None, :])).to(
        solver.probe.dtype)
    solver.obj = solver.obj * torch.polar(torch.ones(SHAPE, dtype=torch.float64),
                                          ky * yy + kx * xx).to(solver.obj.dtype)
    ramped = solver.misfit()
    assert ramped == pytest.approx(before, rel=0.02)  # the data hardly see the ramp
    assert np.angle(solver.obj.numpy() / truth).std() > 0.5  # a 2.6 rad tilt in the image
    solver._hold_probe_tilt()
    assert solver.misfit() == pytest.approx(before, rel=2e-3)
    assert np.angle(solver.obj.numpy() / truth).std() < 0.01
