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
    truth = _truth()
    moved = _shifted(truth, (0.35, -0.6)) * np.exp(0.7j) * 1.3
    raw = evaluate(moved, truth, register=False)
    result = evaluate(moved, truth)
    for name in ("amplitude", "phase"):
        assert result[name]["psnr"] > 60
        assert result[name]["ssim"] > 0.999
        assert result[name]["frc_px"] < 2.1
        assert raw[name]["psnr"] < result[name]["psnr"] - 20  # registration mattered
    details = result["details"]
    np.testing.assert_allclose(details["shift_px"], [-0.35, 0.6], atol=0.011)
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


def test_format_table_lists_both_rows():
    table = format_table(evaluate(_truth(), _truth()))
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["quantity", "PSNR", "(dB)"]
    assert lines[1].split() == ["amplitude", "100.00", "1.0000", "2.00"]
    assert lines[2].split()[0] == "phase"


# ---------------------------------------------------------------- files and CLI
def _write_product(path, obj, mask=None):
    """A ptychodus-style product built field by field (formats.md §2), not by our writer."""
    with h5py.File(path, "w") as h5:
        h5.attrs["detector_object_distance_m"] = 2.0
        h5.attrs["photon_energy_eV"] = 10000.0
        h5.create_dataset("probe_position_indexes", data=np.arange(3))
        h5.create_dataset("probe_position_x_m", data=np.zeros(3))
        h5.create_dataset("probe_position_y_m", data=np.zeros(3))
        probe = h5.create_dataset("probe", data=np.ones((1, 1, 16, 16), np.complex64))
        probe.attrs["pixel_width_m"] = probe.attrs["pixel_height_m"] = 1e-8
        ds = h5.create_dataset("object", data=obj[None].astype(np.complex64))
        ds.attrs["pixel_width_m"] = ds.attrs["pixel_height_m"] = 1e-8
        ds.attrs["center_x_m"] = ds.attrs["center_y_m"] = 0.0
        h5.create_dataset("object_layer_spacing_m", data=np.zeros(0))
        if mask is not None:
            h5.create_dataset("illumination_mask", data=mask)


def test_cli_json_prints_exactly_the_structure(tmp_path, capsys):
    truth = _truth()
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
    assert set(payload) == {"amplitude", "phase"}
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
    assert "amplitude" in out and "100.00" in out


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
