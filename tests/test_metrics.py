"""Metrics: alignment and scores against a ground truth, file reading, the evaluate CLI."""

import json

import h5py
import numpy as np
import pytest
from scipy import ndimage

from engine.cli.main import main
from engine.errors import DataError
from engine.metrics import PSNR_CAP_DB, evaluate, format_table, frc_curve, frc_resolution


def _truth(h=96, w=112, seed=0):
    """Smooth random complex object with fine detail: amplitude 0.4..1, phase +-1.2 rad."""
    rng = np.random.default_rng(seed)
    spec = np.zeros((h, w), complex)
    k = 14
    spec[:k, :k] = rng.normal(size=(k, k)) + 1j * rng.normal(size=(k, k))
    field = np.fft.ifft2(spec)
    amp = 0.7 + 0.3 * field.real / np.abs(field.real).max()
    return (amp * np.exp(1.2j * field.imag / np.abs(field.imag).max())).astype(np.complex64)


def _textured(h=96, w=96, seed=0):
    """Broadband complex object (smoothed white noise, amplitude 0.5..1, phase +-1 rad): the
    kind of image phase correlation registers to 1/50 px."""
    rng = np.random.default_rng(seed)
    a, p = (ndimage.gaussian_filter(rng.normal(size=(h, w)), 1.0) for _ in range(2))
    amp = 0.75 + 0.25 * a / np.abs(a).max()
    return (amp * np.exp(1j * p / np.abs(p).max())).astype(np.complex64)


def _shifted(obj, shift):
    return np.fft.ifft2(ndimage.fourier_shift(np.fft.fft2(obj), shift))


def _assert_perfect(result):
    for name in ("amplitude", "phase"):
        assert result[name]["psnr"] == PSNR_CAP_DB
        assert result[name]["ssim"] == pytest.approx(1.0, abs=1e-9)
        assert result[name]["frc_px"] == 2.0


def test_truth_against_itself_is_perfect_and_json_safe():
    truth = _truth()
    result = evaluate(truth, truth)
    _assert_perfect(result)
    assert set(result["amplitude"]) == {"psnr", "ssim", "frc_px"}
    json.dumps(result, allow_nan=False)


def test_flat_object_scores_poorly():
    truth = _truth()
    flat = np.full(truth.shape, np.abs(truth).mean(), dtype=np.complex64)
    result = evaluate(flat, truth)
    for name in ("amplitude", "phase"):
        assert result[name]["ssim"] < 0.3
        assert result[name]["psnr"] < 25
        assert result[name]["frc_px"] > 20
    json.dumps(result, allow_nan=False)


def test_subpixel_shift_phase_offset_and_scale_are_removed():
    truth = _textured()
    moved = _shifted(truth, (0.35, -0.6)) * np.exp(0.7j) * 1.3
    positions = _positions(truth.shape)  # the scanned region keeps clear of wrapped edges
    raw = evaluate(moved, truth, positions=positions, register=False)
    result = evaluate(moved, truth, positions=positions)
    # phase correlation upsampled 50x (the scorer's) finds the shift to a few 1/100 px
    for name in ("amplitude", "phase"):
        assert result[name]["psnr"] > 38
        assert result[name]["ssim"] > 0.995
        assert result[name]["frc_px"] < 2.1
        assert raw[name]["psnr"] < result[name]["psnr"] - 15  # registration mattered
    details = result["details"]
    np.testing.assert_allclose(details["shift_px"], [-0.35, 0.6], atol=0.05)
    assert details["offset_rad"] == pytest.approx(0.7, abs=1e-3)
    assert details["amplitude_scale"] == pytest.approx(1 / 1.3, rel=1e-3)


def test_phase_ramp_is_removed_only_when_asked():
    truth = _truth()
    yy, xx = np.mgrid[:truth.shape[0], :truth.shape[1]]
    ramped = truth * np.exp(1j * (0.9 + 0.08 * xx - 0.05 * yy))
    with_ramp = evaluate(ramped, truth, phase_ramp=True)
    without = evaluate(ramped, truth, register=False)
    assert with_ramp["phase"]["psnr"] > 60 and with_ramp["phase"]["ssim"] > 0.999
    assert without["phase"]["psnr"] < 20
    assert with_ramp["details"]["ramp_x_rad_per_px"] == pytest.approx(0.08, abs=1e-4)
    assert with_ramp["details"]["ramp_y_rad_per_px"] == pytest.approx(-0.05, abs=1e-4)


def test_nan_pixels_are_excluded_and_border_crops():
    truth = _truth()
    rec = truth.astype(np.complex128).copy()
    rec[:10] = np.nan  # never illuminated
    rec[:, -7:] = np.nan
    result = evaluate(rec, truth, border=3)
    _assert_perfect(result)
    h, w = truth.shape
    assert result["details"]["region"] == [13, h - 3, 3, w - 10]
    # noise only inside the unilluminated part must not matter
    truth_noisy = truth.copy()
    truth_noisy[:10] = 0
    _assert_perfect(evaluate(rec, truth_noisy, border=3))


def test_noise_lowers_scores_monotonically():
    truth = _truth()
    rng = np.random.default_rng(1)
    noise = rng.normal(size=truth.shape) + 1j * rng.normal(size=truth.shape)
    scores = [evaluate(truth + s * noise, truth)["amplitude"] for s in (0.01, 0.05, 0.2)]
    psnrs = [s["psnr"] for s in scores]
    assert psnrs[0] > psnrs[1] > psnrs[2]
    assert scores[0]["ssim"] > scores[2]["ssim"]
    assert scores[0]["frc_px"] <= scores[2]["frc_px"]


def test_frc_resolution_of_a_blurred_image():
    truth = np.abs(_truth(128, 128, seed=3)) + np.random.default_rng(2).normal(size=(128, 128))
    region = np.ones(truth.shape, bool)
    assert frc_resolution(*frc_curve(truth, truth, region)) == 2.0
    blurred = ndimage.gaussian_filter(truth, 3.0) + 0.3 * np.random.default_rng(4).normal(
        size=truth.shape)
    res = frc_resolution(*frc_curve(blurred, truth, region))
    assert 5 < res < 40


def test_inputs_that_are_not_objects_raise_data_errors(tmp_path):
    with pytest.raises(DataError, match="2-D complex array"):
        evaluate(np.zeros((3, 4, 5)), _truth())
    with pytest.raises(DataError, match="finite"):
        evaluate(np.full((20, 20), np.nan), np.ones((20, 20)))
    with pytest.raises(DataError, match="7 x 7"):
        evaluate(np.ones((20, 20)), np.ones((20, 20)), border=8)
    rec = _truth()
    rec[40, 50] = np.nan
    with pytest.raises(DataError, match="1 non-finite pixels inside the scanned region"):
        evaluate(rec, _truth(), positions=_positions(_truth().shape))


# ------------------------------------------------- the scorer's rules, re-derived independently
def _positions(shape, step=6, margin=12):
    """A raster of window centres (x, y) well inside ``shape``, with a jitter."""
    ys, xs = np.mgrid[margin:shape[0] - margin:step, margin:shape[1] - margin:step]
    jitter = np.random.default_rng(7).uniform(-1, 1, size=(xs.size, 2))
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(float) + jitter


def _reference_scores(rec, truth, positions):
    """The shared scorer's rules (shared/tools/README.md) written out with numpy/skimage:
    hull by half-planes (scipy ConvexHull), offset and scale removal, PSNR, eroded SSIM."""
    from scipy.spatial import ConvexHull
    from skimage.metrics import structural_similarity

    rec, truth = rec.astype(np.complex128), truth.astype(np.complex128)
    hull = ConvexHull(positions)
    yy, xx = np.mgrid[:truth.shape[0], :truth.shape[1]]
    pts = np.stack([xx.ravel(), yy.ravel(), np.ones(xx.size)], axis=1)
    region = np.all(pts @ hull.equations.T <= 1e-9, axis=1).reshape(truth.shape)
    t, r = truth[region], rec[region]
    offset = np.angle(np.sum(t * np.conj(r)))
    scale = np.sum(np.abs(t) * np.abs(r)) / np.sum(np.abs(r) ** 2)
    c = np.sum(t * np.conj(r)) / np.sum(np.abs(r) ** 2)
    out = {"nrmse": np.linalg.norm(c * r - t) / np.linalg.norm(t)}
    rows, cols = np.nonzero(region.any(1))[0], np.nonzero(region.any(0))[0]
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    inner = ndimage.binary_erosion(region, np.ones((7, 7), bool))[box]
    phase_t = np.angle(truth)
    for name, a_t, a_r in (
            ("amplitude", np.abs(truth), scale * np.abs(rec)),
            ("phase", phase_t, phase_t + np.angle(rec * np.exp(1j * offset) * np.conj(truth)))):
        rng = np.ptp(a_t[region])
        mse = np.mean((a_t[region] - a_r[region]) ** 2)
        _, smap = structural_similarity(a_t[box], a_r[box], data_range=rng, win_size=7,
                                        full=True)
        out[name] = {"psnr": 10 * np.log10(rng**2 / mse), "ssim": smap[inner].mean()}
    return out


def _assert_close_to(result, reference, ssim_tol, psnr_tol):
    for name in ("amplitude", "phase"):
        assert result[name]["ssim"] == pytest.approx(reference[name]["ssim"], abs=ssim_tol)
        assert result[name]["psnr"] == pytest.approx(reference[name]["psnr"], abs=psnr_tol)
    assert result["nrmse"] == pytest.approx(reference["nrmse"], abs=0.002)


def test_scores_follow_the_scorer_rules_on_the_hull_of_the_centres():
    truth = _textured()
    positions = _positions(truth.shape)
    noise = np.random.default_rng(3).normal(size=truth.shape) * (1 + 1j)
    rec = 1.4 * np.exp(-0.8j) * (truth + 0.08 * noise)
    rec[:5] = np.nan  # outside the hull: ignored
    result = evaluate(rec, truth, positions=positions, register=False)
    reference = _reference_scores(np.where(np.isfinite(rec), rec, 0), truth, positions)
    _assert_close_to(result, reference, 1e-9, 1e-9)
    assert 0.2 < result["amplitude"]["ssim"] < 0.98  # a case where the rules matter
    assert result["details"]["region_kind"] == "hull of the window centres"
    assert result["details"]["amplitude_scale"] == pytest.approx(1 / 1.4, rel=0.05)


def test_registered_scores_equal_those_of_the_unshifted_reconstruction():
    truth = _textured()
    positions = _positions(truth.shape)
    noise = np.random.default_rng(4).normal(size=truth.shape) * (1 + 1j)
    rec = truth + 0.05 * noise
    moved = _shifted(rec, (1.4, -2.3))
    result = evaluate(moved, truth, positions=positions)
    assert result["details"]["registration"]["applied"]
    np.testing.assert_allclose(result["details"]["shift_px"], [-1.4, 2.3], atol=0.05)
    _assert_close_to(result, _reference_scores(rec, truth, positions), 0.01, 0.3)
    assert result["unregistered"]["amplitude"]["ssim"] < result["amplitude"]["ssim"] - 0.1


def test_registration_never_moves_by_more_than_the_probe_diameter():
    truth = _truth(128, 128)
    positions = _positions(truth.shape, margin=20)
    probe = np.zeros((32, 32), complex)
    probe[12:20, 12:20] = 1  # 90 % of the energy within r = 5 px: diameter 10 px
    far = np.roll(truth, (13, -4), axis=(0, 1))  # a true but implausible shift
    result = evaluate(far, truth, positions=positions, probe=probe)
    reg = result["details"]["registration"]
    assert reg["max_shift_px"] == 10.0
    assert not reg["applied"] and result["details"]["shift_px"] == [0.0, 0.0]
    assert "probe diameter" in reg["note"] and reg["note"] in result["details"]["notes"]
    np.testing.assert_allclose(reg["found_px"], [-13, 4], atol=0.05)
    near = evaluate(np.roll(truth, (3, -4), axis=(0, 1)), truth, positions=positions,
                    probe=probe)
    assert near["details"]["registration"]["applied"]
    assert near["amplitude"]["ssim"] > 0.99


def test_product_files_are_placed_on_the_truth_grid_by_their_centres(tmp_path):
    truth = _truth(96, 96)
    positions = _positions(truth.shape)
    big = np.full((110, 104), 1.0 + 0j)
    big[10:106, 3:99] = truth  # truth pixel (r, c) at (r + 10, c + 3)
    pixel = 1e-8
    _write_product(tmp_path / "truth.h5", truth, positions=positions)
    # the big canvas's centre, in the truth's frame: ((104 - 1) / 2 - 3 - 47.5) px, likewise y
    centre = (((104 - 1) / 2 - 3 - 47.5) * pixel, ((110 - 1) / 2 - 10 - 47.5) * pixel)
    _write_product(tmp_path / "rec.h5", big, positions=positions + [3, 10], center=centre)
    result = evaluate(tmp_path / "rec.h5", tmp_path / "truth.h5")
    _assert_perfect(result)
    assert "whole-pixel offset (row, col) = (10, 3)" in result["details"]["notes"][0]


def test_format_table_lists_both_rows():
    table = format_table(evaluate(_truth(), _truth()))
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["quantity", "PSNR", "(dB)"]
    assert lines[1].split() == ["amplitude", "200.00", "1.0000", "2.00"]
    assert lines[2].split()[0] == "phase"


# ---------------------------------------------------------------- files and CLI
def _write_product(path, obj, mask=None, positions=None, center=(0.0, 0.0), pixel=1e-8):
    """A ptychodus-style product built field by field (formats.md §2), not by our writer;
    ``positions`` (x, y) in pixels of ``obj``, default: a raster over it."""
    if positions is None:
        positions = _positions(obj.shape)
    height, width = obj.shape
    x_m = (positions[:, 0] - (width - 1) / 2) * pixel + center[0]
    y_m = (positions[:, 1] - (height - 1) / 2) * pixel + center[1]
    with h5py.File(path, "w") as h5:
        h5.attrs["detector_object_distance_m"] = 2.0
        h5.attrs["photon_energy_eV"] = 10000.0
        h5.create_dataset("probe_position_indexes", data=np.arange(len(x_m)))
        h5.create_dataset("probe_position_x_m", data=x_m)
        h5.create_dataset("probe_position_y_m", data=y_m)
        probe = h5.create_dataset("probe", data=np.ones((1, 1, 16, 16), np.complex64))
        probe.attrs["pixel_width_m"] = probe.attrs["pixel_height_m"] = pixel
        ds = h5.create_dataset("object", data=obj[None].astype(np.complex64))
        ds.attrs["pixel_width_m"] = ds.attrs["pixel_height_m"] = pixel
        ds.attrs["center_x_m"], ds.attrs["center_y_m"] = center
        h5.create_dataset("object_layer_spacing_m", data=np.zeros(0))
        if mask is not None:
            h5.create_dataset("illumination_mask", data=mask)


def test_cli_json_prints_exactly_the_structure(tmp_path, capsys):
    truth = _textured()
    np.savez(tmp_path / "truth.npz", objectGuess=truth, probeGuess=np.ones((8, 8), np.complex64))
    rec = _shifted(truth, (0.25, 0.5)) * np.exp(-2.0j) * 0.5
    mask = np.ones(truth.shape, bool)
    mask[:5] = False
    _write_product(tmp_path / "rec.h5", rec, mask)
    code = main(["evaluate", "--reconstruction", str(tmp_path / "rec.h5"),
                 "--truth", str(tmp_path / "truth.npz"), "--json"])
    out = capsys.readouterr().out
    assert code == 0
    payload = json.loads(out)
    assert out.strip().count("\n") == 0
    assert set(payload) == {"amplitude", "phase", "nrmse", "registration"}
    assert payload["registration"]["applied"] and payload["nrmse"] < 0.01
    for name in ("amplitude", "phase"):
        assert set(payload[name]) == {"psnr", "ssim", "frc_px"}
        assert payload[name]["psnr"] > 40 and payload[name]["ssim"] > 0.99


def test_cli_table_and_flags(tmp_path, capsys):
    truth = _truth()
    np.save(tmp_path / "truth.npy", truth)
    np.savez(tmp_path / "rec.npz", object=truth * np.exp(0.3j))
    code = main(["evaluate", "--reconstruction", str(tmp_path / "rec.npz"),
                 "--truth", str(tmp_path / "truth.npy"), "--no-register", "--phase-ramp",
                 "--border", "4"])
    out = capsys.readouterr().out
    assert code == 0
    assert "amplitude" in out and "200.00" in out


@pytest.mark.parametrize("content, expected", [
    (None, "no such file"),
    (b"not an archive", "expected an NPZ"),
    ("npz-wrong-key", "objectGuess"),
    ("h5-no-object", "/object"),
])
def test_cli_bad_files_exit_2_naming_the_file(tmp_path, capsys, content, expected):
    truth = tmp_path / "truth.npy"
    np.save(truth, _truth())
    if content == "npz-wrong-key":
        bad = tmp_path / "bad.npz"
        np.savez(bad, diffraction=np.zeros((2, 4, 4), np.float32))
    elif content == "h5-no-object":
        bad = tmp_path / "bad.h5"
        with h5py.File(bad, "w") as h5:
            h5.create_dataset("probe", data=np.ones((4, 4), np.complex64))
    else:
        bad = tmp_path / "bad.npz"
        if content is not None:
            bad.write_bytes(content)
    code = main(["evaluate", "--reconstruction", str(bad), "--truth", str(truth)])
    err = capsys.readouterr().err
    assert code == 2
    assert str(bad) in err and expected in err
    assert "Traceback" not in err


def test_metrics_do_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, engine.metrics, engine.cli.evaluate_cmd; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_evaluate_returns_the_frc_curves_it_scored():
    truth = _truth()
    rng = np.random.default_rng(3)
    noisy = truth + 0.05 * (rng.normal(size=truth.shape) + 1j * rng.normal(size=truth.shape))
    result = evaluate(noisy, truth)
    curves = result["frc"]
    freq = np.asarray(curves["frequency_per_px"])
    assert freq.size == min(truth.shape) // 2 and np.all(np.diff(freq) > 0)
    for name in ("amplitude", "phase"):
        frc = np.asarray(curves[name])
        assert frc.shape == freq.shape
        assert frc_resolution(freq, frc) == result[name]["frc_px"]
    json.dumps(result, allow_nan=False)


def test_align_removes_global_phase_and_scale_like_evaluate():
    from engine.metrics import align

    truth = _truth()
    rec = truth * np.exp(-2.0j) * 0.5
    rec[:5] = np.nan
    aligned = align(rec, truth, register=False)
    assert aligned.details["amplitude_scale"] == pytest.approx(2.0, rel=1e-4)
    assert aligned.details["offset_rad"] == pytest.approx(-2.0, abs=1e-4)
    assert np.nanmax(np.abs(aligned.phase_difference)) < 1e-4
    assert np.nanmax(np.abs(aligned.amplitude_difference)) < 1e-4
    assert aligned.box[0].start == 5  # rows never illuminated are outside the region
    assert np.isnan(aligned.phase_difference[~aligned.valid]).all()
