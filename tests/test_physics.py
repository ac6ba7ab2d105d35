"""Physics core: forward model, losses, sub-pixel patches, stitching, grouping, overlap."""

import math

import numpy as np
import pytest
import torch

from engine.errors import DataError
from engine.physics import (
    OutOfBoundsError,
    Stitcher,
    amplitude_mae,
    extract_from_canvas,
    extract_patches,
    forward_intensity,
    fourier_shift,
    group_neighbours,
    group_offsets,
    merge_patches,
    overlap_constraint,
    place_patches,
    poisson_nll,
    probe_intensity,
    stitch,
)

torch.set_num_threads(1)
N = 32


def _rand_complex(*shape, seed=0, dtype=torch.complex128):
    g = torch.Generator().manual_seed(seed)
    return torch.complex(torch.randn(*shape, generator=g, dtype=torch.float64),
                         torch.randn(*shape, generator=g, dtype=torch.float64)).to(dtype)


def _disk_probe(n=N, radius=None, modes=1, seed=1):
    """A band-limited-ish probe: a soft disk with a phase curvature, optionally several modes."""
    radius = radius or n / 5
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    r2 = xx**2 + yy**2
    base = np.exp(-r2 / (2 * radius**2)) * np.exp(1j * 0.02 * r2)
    rng = np.random.default_rng(seed)
    out = [base * (0.5**m) * np.exp(1j * rng.uniform(0, 6, size=base.shape) * (m > 0))
           for m in range(modes)]
    return np.stack(out).astype(np.complex64)


def _smooth_object(h, w, seed=0):
    """Random smooth complex object: amplitude 0.5..1, phase within +-1.5 rad."""
    rng = np.random.default_rng(seed)
    spec = np.zeros((h, w), complex)
    k = 6
    spec[:k, :k] = rng.normal(size=(k, k)) + 1j * rng.normal(size=(k, k))
    field = np.fft.ifft2(spec)
    re, im = field.real / np.abs(field.real).max(), field.imag / np.abs(field.imag).max()
    return ((0.75 + 0.25 * re) * np.exp(1.5j * im)).astype(np.complex64)


def _psnr(est, ref):
    rng = ref.max() - ref.min()
    return 10 * np.log10(rng**2 / np.mean((est - ref) ** 2))


# ---------------------------------------------------------------- forward model
@pytest.mark.parametrize("modes", [1, 3])
def test_parseval_total_intensity_equals_exit_wave_energy(modes):
    patches = _rand_complex(5, N, N, seed=2, dtype=torch.complex64)
    probe = torch.from_numpy(_disk_probe(modes=modes))
    intensity = forward_intensity(patches, probe)
    assert intensity.shape == (5, N, N) and intensity.dtype == torch.float32
    expected = (probe.abs()[None] ** 2 * patches.abs()[:, None] ** 2).sum(dim=(1, 2, 3))
    torch.testing.assert_close(intensity.sum(dim=(-2, -1)), expected, rtol=1e-5, atol=0)


def test_forward_puts_dc_at_centre_and_accepts_2d_probe():
    flat = torch.ones(N, N, dtype=torch.complex64)
    intensity = forward_intensity(flat, torch.ones(N, N, dtype=torch.complex64))
    assert int(intensity.argmax()) == (N // 2) * N + N // 2
    assert float(intensity[N // 2, N // 2]) == pytest.approx(N * N, rel=1e-5)


def test_forward_under_bfloat16_autocast_stays_float32_and_finite():
    patches = _rand_complex(2, 4, N, N, dtype=torch.complex64)
    probe = torch.from_numpy(_disk_probe(modes=2))
    reference = forward_intensity(patches, probe)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        intensity = forward_intensity(patches, probe)
    assert intensity.dtype == torch.float32
    assert torch.isfinite(intensity).all()
    torch.testing.assert_close(intensity, reference)


def test_probe_intensity_sums_modes():
    probe = _disk_probe(modes=2)
    torch.testing.assert_close(probe_intensity(probe),
                               torch.from_numpy((np.abs(probe) ** 2).sum(0)))


# ---------------------------------------------------------------- losses
def test_poisson_nll_is_minimal_at_the_true_intensity():
    rng = np.random.default_rng(3)
    truth = torch.from_numpy(rng.uniform(0, 50, size=(4, N, N)).astype(np.float32))
    truth[:, :3] = 0.0  # exact zeros as a band-limited probe makes them
    counts = torch.poisson(truth, generator=torch.Generator().manual_seed(0))
    scales = np.linspace(0.5, 2.0, 31)
    losses = [float(poisson_nll(s * truth, counts).sum()) for s in scales]
    assert all(math.isfinite(v) for v in losses)
    assert abs(scales[int(np.argmin(losses))] - 1.0) < 0.06


def test_poisson_nll_zero_prediction_finite_and_mask_excludes_pixels():
    pred = torch.zeros(2, N, N, requires_grad=True)
    counts = torch.full((2, N, N), 3.0)
    loss = poisson_nll(pred, counts)
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(pred.grad).all()
    mask = torch.zeros(N, N, dtype=torch.bool)
    mask[0, 0] = True
    bad = counts.clone()
    bad[:, 0, 0] = 1e6  # a hot pixel: excluded, so the loss must not see it
    torch.testing.assert_close(poisson_nll(counts, bad, mask=mask),
                               poisson_nll(counts, counts, mask=mask))
    assert ((poisson_nll(counts, bad) - poisson_nll(counts, bad, mask=mask)).abs() > 1e5).all()


def test_amplitude_mae_values_and_mask():
    pred = torch.full((1, N, N), 4.0)
    counts = torch.full((1, N, N), 9.0)
    assert float(amplitude_mae(pred, counts)) == pytest.approx(1.0)
    counts[0, 0, 0] = 1e4
    mask = torch.zeros(N, N, dtype=torch.bool)
    mask[0, 0] = True
    assert float(amplitude_mae(pred, counts, mask=mask)) == pytest.approx(1.0)
    zero = torch.zeros(1, N, N, requires_grad=True)
    amplitude_mae(zero, counts).sum().backward()
    assert torch.isfinite(zero.grad).all()


# ---------------------------------------------------------------- extract / place
def test_integer_extraction_follows_the_window_convention():
    obj = _rand_complex(40, 50)
    # Centre x = 10 + (N - 1) / 2 -> first column 10; y likewise first row 5.
    patch = extract_patches(obj, [[10 + (N - 1) / 2, 5 + (N - 1) / 2]], N)[0]
    torch.testing.assert_close(patch, obj[5:5 + N, 10:10 + N])


def test_float32_round_off_below_an_integer_start_does_not_wrap():
    obj = _rand_complex(40, 50, dtype=torch.complex64)
    pos = torch.tensor([[10 + (N - 1) / 2 - 2e-5, 5 + (N - 1) / 2]], dtype=torch.float32)
    patch = extract_patches(obj, pos, N)[0]
    assert float((patch - obj[5:5 + N, 10:10 + N]).abs().max()) < 1e-3


def test_half_pixel_extraction_equals_fourier_shifted_window():
    obj = _rand_complex(48, 48)
    cx, cy = 7 + (N - 1) / 2, 9 + (N - 1) / 2
    window = obj[9:9 + N, 7:7 + N]
    got = extract_patches(obj, [[cx + 0.5, cy]], N)[0]
    expected = fourier_shift(window, torch.tensor([0.5, 0.0]))
    torch.testing.assert_close(got, expected)
    # floor, not round-half-even: x + 1.5 is the window one column on, shifted by 0.5
    got = extract_patches(obj, [[cx + 1.5, cy + 0.25]], N)[0]
    expected = fourier_shift(obj[9:9 + N, 8:8 + N], torch.tensor([0.5, 0.25]))
    torch.testing.assert_close(got, expected)


def test_fourier_shift_moves_content_by_the_documented_sign():
    impulse = torch.zeros(N, N, dtype=torch.complex128)
    impulse[10, 12] = 1.0
    moved = fourier_shift(impulse, torch.tensor([2.0, 3.0]))  # y[k] = x(k + d)
    assert divmod(int(moved.abs().argmax()), N) == (7, 10)
    torch.testing.assert_close(fourier_shift(fourier_shift(impulse, torch.tensor([0.3, -0.7])),
                                             torch.tensor([-0.3, 0.7])), impulse)


def test_extract_place_round_trips_on_non_overlapping_windows():
    shape = (3 * N + 4, 2 * N + 6)
    pos = torch.tensor([[(N - 1) / 2 + 0.3, (N - 1) / 2 + 0.6],
                        [N + 2 + (N - 1) / 2 + 0.5, N + 1 + (N - 1) / 2 + 0.1],
                        [(N - 1) / 2 + 1.7, 2 * N + 2 + (N - 1) / 2 + 0.9]])
    patches = _rand_complex(3, N, N, seed=5)
    canvas = place_patches(patches, pos, shape)
    torch.testing.assert_close(extract_patches(canvas, pos, N), patches)
    # place(extract(canvas)) == canvas inside the windows, 0 elsewhere
    obj = _rand_complex(*shape, seed=6)
    back = place_patches(extract_patches(obj, pos, N), pos, shape)
    covered = place_patches(torch.ones(3, N, N, dtype=torch.complex128), pos, shape).abs() > 0.5
    torch.testing.assert_close(back[covered], obj[covered])
    assert float(back[~covered].abs().max()) < 1e-12


def test_place_is_the_adjoint_of_extract():
    shape = (50, 60)
    pos = torch.tensor([[20.3, 25.8], [30.9, 22.1], [40.5, 33.25]])
    obj, patches = _rand_complex(*shape, seed=7), _rand_complex(3, N, N, seed=8)
    lhs = torch.vdot(extract_patches(obj, pos, N).reshape(-1), patches.reshape(-1))
    rhs = torch.vdot(obj.reshape(-1), place_patches(patches, pos, shape).reshape(-1))
    torch.testing.assert_close(lhs, rhs)


def test_out_of_bounds_window_raises_a_clear_error():
    obj = _rand_complex(40, 40)
    with pytest.raises(OutOfBoundsError, match=r"x in \[15.5, 23.5\]") as info:
        extract_patches(obj, [[20.0, 20.0], [5.0, 20.0]], N)
    assert isinstance(info.value, ValueError) and isinstance(info.value, DataError)
    assert "window #1" in str(info.value)


# ---------------------------------------------------------------- stitching
def _raster(h, w, step, jitter, seed=0, n=N):
    rng = np.random.default_rng(seed)
    margin = (n - 1) / 2 + 2
    xs = np.arange(margin, w - margin, step)
    ys = np.arange(margin, h - margin, step)
    grid = np.array([(x, y) for y in ys for x in xs], dtype=np.float64)
    return grid + rng.uniform(-jitter, jitter, size=grid.shape)


@pytest.mark.parametrize("weighting", ["probe", "mask"])
def test_stitching_true_patches_reproduces_the_object(weighting):
    h, w = 128, 112
    obj = _smooth_object(h, w, seed=1)
    pos = _raster(h, w, step=8, jitter=1.5, seed=2)
    patches = extract_patches(obj, pos, N)
    probe = _disk_probe(modes=2)
    stitched, mask = stitch(patches.numpy(), pos, (h, w), probe, weighting=weighting,
                            batch_size=7)
    assert stitched.dtype == np.complex64 and mask.dtype == bool
    # scanned region (window interiors) is covered; the corners far from any centre are not
    assert mask[h // 2, w // 2] and not mask[0, 0] and not mask[h - 1, w - 1]
    assert np.isnan(stitched[~mask]).all() and np.isfinite(stitched[mask]).all()
    ref = obj[mask]
    assert _psnr(np.abs(stitched[mask]), np.abs(ref)) > 40
    assert _psnr(np.angle(stitched[mask]), np.angle(ref)) > 40


def test_stitcher_streaming_equals_one_batch_and_reports_nothing_before_add():
    h, w = 80, 80
    obj = _smooth_object(h, w, seed=3)
    pos = _raster(h, w, step=9, jitter=1.0, seed=4)
    patches = extract_patches(obj, pos, N)
    probe = _disk_probe()
    empty = Stitcher((h, w), probe)
    assert not empty.result()[1].any()
    one = Stitcher((h, w), probe)
    one.add(patches, pos)
    many = Stitcher((h, w), probe)
    for i in range(0, len(pos), 3):
        many.add(patches[i:i + 3], pos[i:i + 3])
    a, ma = one.result()
    b, mb = many.result()
    assert (ma == mb).all()
    np.testing.assert_allclose(a[ma], b[mb], rtol=1e-4, atol=1e-5)


def test_stitch_wrong_offset_sign_is_detected():
    """A mirrored position convention must not pass the stitching check (physics.md §9)."""
    h, w = 96, 96
    obj = _smooth_object(h, w, seed=5)
    pos = _raster(h, w, step=8, jitter=0.0, seed=0)
    patches = extract_patches(obj, pos, N)
    mirrored = pos[::-1].copy()
    stitched, mask = stitch(patches, mirrored, (h, w), _disk_probe(), weighting="probe",
                            batch_size=64)
    assert _psnr(np.abs(stitched[mask]), np.abs(obj[mask])) < 30


# ---------------------------------------------------------------- grouping
def test_group_neighbours_deterministic_and_near():
    pos = _raster(200, 200, step=10, jitter=2.0, seed=1, n=8)
    a = group_neighbours(pos, gridsize=2, n_neighbours=7, seed=3)
    b = group_neighbours(pos, gridsize=2, n_neighbours=7, seed=3)
    c = group_neighbours(pos, gridsize=2, n_neighbours=7, seed=4)
    assert a.shape == (len(pos), 4) and a.dtype == np.int64
    assert (a == b).all() and not (a == c).all()
    assert (a[:, 0] == np.arange(len(pos))).all()
    assert all(len(set(row)) == 4 for row in a)
    # every member is among the 7 nearest of its anchor (brute force rank, self excluded)
    all_dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    np.fill_diagonal(all_dist, np.inf)
    dist = np.linalg.norm(pos[a[:, 1:]] - pos[a[:, :1]], axis=-1)
    seventh = np.sort(all_dist, axis=1)[:, 6]
    assert (dist <= seventh[:, None] + 1e-12).all()
    # members after the anchor come in increasing distance
    assert (np.diff(dist, axis=1) >= -1e-12).all()
    sampled = group_neighbours(pos, gridsize=2, n_neighbours=7, seed=3, n_groups=10)
    assert sampled.shape == (10, 4)
    assert (group_neighbours(pos, 1, 7, 0) == np.arange(len(pos))[:, None]).all()
    with pytest.raises(ValueError, match="needs 8 neighbours"):
        group_neighbours(pos, gridsize=3, n_neighbours=4, seed=0)


def test_group_offsets_are_relative_to_the_centroid():
    pos = np.array([[[10.0, 20.0], [14.0, 20.0], [10.0, 26.0], [14.0, 26.0]]])
    off = group_offsets(pos)
    np.testing.assert_allclose(off[0, 0], [-2.0, -3.0])
    torch.testing.assert_close(group_offsets(torch.from_numpy(pos)), torch.from_numpy(off))


# ---------------------------------------------------------------- overlap constraint
def _group_from_object(seed=0, jitter=False):
    """Two groups of 4 true patches of a smooth object.

    Without jitter every window starts on a whole object pixel (centres at k + 15.5), so the
    true patches are exact object windows; with jitter they are Fourier-resampled.
    """
    obj = torch.from_numpy(_smooth_object(96, 96, seed=seed)).to(torch.complex128)
    centres = torch.tensor([[[40.5, 41.5], [48.5, 41.5], [40.5, 49.5], [48.5, 49.5]],
                            [[50.5, 50.5], [57.5, 50.5], [50.5, 57.5], [57.5, 57.5]]],
                           dtype=torch.float64)
    if jitter:
        centres = centres + torch.tensor([[0.2, 0.1], [0.3, -0.45], [-0.7, 0.2], [0.5, 0.6]])
    patches = torch.stack([extract_patches(obj, c, N) for c in centres])
    return patches, group_offsets(centres)


def test_overlap_constraint_keeps_consistent_patches():
    patches, offsets = _group_from_object()
    torch.testing.assert_close(overlap_constraint(patches, offsets), patches)
    # jittered members are resampled: exact up to Fourier wrap-around at the window edges,
    # so the probe-lit centre agrees closely
    patches, offsets = _group_from_object(jitter=True)
    out = overlap_constraint(patches, offsets)
    inner = slice(N // 4, 3 * N // 4)
    err = (out - patches)[..., inner, inner].abs()
    assert float(err.max()) < 0.05 * float(patches.abs().max())


def test_merge_extract_round_trip_and_coverage_counts():
    patches, offsets = _group_from_object(seed=2, jitter=True)
    canvas, weight = merge_patches(patches, offsets)
    assert canvas.shape[-1] == weight.shape[-1] and weight.max() == 4
    assert (canvas[weight == 0] == 0).all()
    # non-overlapping layout: merge then extract returns every patch exactly
    apart = torch.tensor([[[-20.3, -18.6], [19.7, -21.2], [-18.9, 20.4], [21.1, 19.25]]],
                         dtype=torch.float64)
    single = _rand_complex(1, 4, N, N, seed=11)
    canvas, weight = merge_patches(single, apart)
    assert weight.max() == 1
    torch.testing.assert_close(extract_from_canvas(canvas, apart, N), single)


def test_overlap_constraint_averages_disagreeing_patches():
    patches, offsets = _group_from_object(seed=3)
    noisy = patches + 0.2 * _rand_complex(*patches.shape, seed=9)
    out = overlap_constraint(noisy, offsets)
    # each output pixel averages the covering noisy patches: closer to the truth than input
    assert (out - patches).abs().square().mean() < 0.6 * (noisy - patches).abs().square().mean()


def test_gradients_flow_through_overlap_forward_and_poisson_loss():
    patches, offsets = _group_from_object(seed=4)
    probe = torch.from_numpy(_disk_probe(modes=2)) * 30
    counts = torch.poisson(forward_intensity(patches, probe).float())
    guess = (patches * 0.9).to(torch.complex64).detach().requires_grad_(True)
    loss = poisson_nll(forward_intensity(overlap_constraint(guess, offsets.float()), probe),
                       counts).mean()
    loss.backward()
    assert torch.isfinite(guess.grad).all()
    assert float(guess.grad.abs().sum()) > 0
    assert guess.grad.abs().amax(dim=(-2, -1)).min() > 0  # every patch receives gradient


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_results_match_cpu():
    patches, offsets = _group_from_object(seed=6, jitter=True)
    patches = patches.to(torch.complex64)
    probe = torch.from_numpy(_disk_probe(modes=2))
    cpu = forward_intensity(overlap_constraint(patches, offsets.float()), probe)
    gpu = forward_intensity(overlap_constraint(patches.cuda(), offsets.float().cuda()),
                            probe.cuda())
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-4)
    pos = _raster(80, 80, step=9, jitter=1.0, seed=4)
    obj = _smooth_object(80, 80, seed=3)
    true_patches = extract_patches(torch.from_numpy(obj).cuda(), pos, N)
    assert true_patches.device.type == "cuda"
    stitched, mask = stitch(true_patches, pos, (80, 80), probe.cuda(), weighting="probe",
                            batch_size=64)
    assert _psnr(np.abs(stitched[mask]), np.abs(obj[mask])) > 40
