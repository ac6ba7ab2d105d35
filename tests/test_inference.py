"""Inference: checkpoints reload (weights_only) and infer identically; mismatches refused; the
dose follows the data being reconstructed."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from test_training_helpers import tiny_config

from engine.errors import CheckpointError
from engine.render import FIGURE_MARGIN, figure_zoom

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):  # noqa: F811 - the imported fixture
    from engine.runs import train

    run_dir = tmp_path_factory.mktemp("infer") / "run"
    result = train(tiny_config(tiny_data, run_dir, training__max_epochs=1))
    assert result.status == "completed"
    return result


def test_checkpoint_reloads_and_infers_identically(trained, tiny_data, tmp_path):
    from PIL import Image

    from engine.io import read_product
    from engine.runs import infer

    ckpt = trained.checkpoints["last"]
    # Only tensors and plain types inside: loads with weights_only.
    raw = torch.load(ckpt, weights_only=True)
    assert raw["hyper_parameters"]["normalisers"]["input_scale"] > 0
    assert raw["state_dict"]["net.probe"].dtype == torch.complex64

    cfg = tiny_config(tiny_data, tmp_path / "unused")
    a = infer(ckpt, tiny_data, tmp_path / "a.h5", config=cfg)
    b = infer(ckpt, tiny_data, tmp_path / "b.h5", config=cfg)
    assert a.status == "completed" and a.n_patterns == 64 and a.patterns_per_s > 0
    np.testing.assert_array_equal(a.obj, b.obj)
    assert np.isnan(a.obj).any() and np.isfinite(a.obj[a.mask]).all()

    # The reconstruction stored by training used the same network: same object.
    stored = read_product(trained.reconstruction).object
    np.testing.assert_allclose(stored[a.mask], a.obj[a.mask], rtol=1e-5, atol=1e-6)

    # The complex object is saved, not only pictures, and the pictures sit next to it.
    assert np.iscomplexobj(read_product(tmp_path / "a.h5").object)
    zoom = figure_zoom(a.obj.shape)  # figures: picture, colour bar, scale bar
    for png in (tmp_path / "a-amplitude.png", tmp_path / "a-phase.png"):
        with Image.open(png) as img:
            assert img.size[1] == a.obj.shape[0] * zoom + 2 * FIGURE_MARGIN
    assert a.quality is not None and a.ground_truth.endswith("truth.h5")


def _shrunk(data, n):
    """The same scan with patterns and probe cropped to n x n (a "different detector")."""
    lo = (data.N - n) // 2
    return dataclasses.replace(
        data, patterns=np.ascontiguousarray(data.patterns[:, lo:lo + n, lo:lo + n]),
        probe=np.ascontiguousarray(data.probe[:, lo:lo + n, lo:lo + n]))


def test_mismatched_checkpoint_is_refused_naming_both_values(trained, tiny_data, tmp_path):
    from engine.io import load_dataset
    from engine.runs import infer

    data = load_dataset(tiny_data)
    with pytest.raises(CheckpointError, match=r"checkpoint 32 x 32 px, data 16 x 16 px"):
        infer(trained.checkpoints["last"], _shrunk(data, 16), tmp_path / "x.h5")

    two_modes = dataclasses.replace(data, probe=np.concatenate([data.probe, data.probe]) / 2)
    with pytest.raises(CheckpointError, match=r"checkpoint \(1, 32, 32\), data \(2, 32, 32\)"):
        infer(trained.checkpoints["last"], two_modes, tmp_path / "x.h5")

    from engine.config import resolve_config

    cfg = resolve_config(overrides={"model.gridsize": 2, "model.n_neighbours": 7})
    with pytest.raises(CheckpointError, match=r"model.gridsize: checkpoint 3, configuration 2"):
        infer(trained.checkpoints["last"], data, tmp_path / "x.h5", config=cfg)
    assert not (tmp_path / "x.h5").exists()


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    from engine.runs import infer

    bogus = tmp_path / "notes.ckpt"
    bogus.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.ckpt: expected a ptycho-engine checkpoint"):
        infer(bogus, tmp_path / "data.npz", None)
    with pytest.raises(CheckpointError, match="checkpoint file not found"):
        infer(tmp_path / "missing.ckpt", tmp_path / "data.npz", None)


def test_cli_infer_writes_the_product(trained, tiny_data, tmp_path, capsys):
    from engine.cli.main import main

    out = tmp_path / "recon.h5"
    code = main(["infer", "--checkpoint", str(trained.checkpoints["last"]), "--data",
                 str(tiny_data), "--out", str(out), "--batch-size", "16", "--accelerator",
                 "cpu", "--no-progress-bar"])
    assert code == 0
    text = capsys.readouterr().out
    assert "patterns/s" in text and str(out) in text
    assert out.is_file() and (tmp_path / "recon-phase.png").is_file()


def test_cli_infer_mismatch_exits_2(trained, tmp_path, capsys):
    from engine.cli.main import main
    from engine.config import SessionConfig
    from engine.runs import simulate

    other = simulate(SessionConfig(), tmp_path / "n16", preset="tiny")  # N = 32 too ...
    data = other.files["dataset"]
    # ... so ask for a gridsize the checkpoint does not have.
    code = main(["infer", "--checkpoint", str(trained.checkpoints["last"]), "--data",
                 str(data), "--out", str(tmp_path / "r.h5"), "--set", "model.gridsize=1",
                 "--accelerator", "cpu"])
    assert code == 2
    err = capsys.readouterr().err
    assert "model.gridsize: checkpoint 3, configuration 1" in err and "Traceback" not in err


def test_inference_stop_token_cancels(trained, tiny_data, tmp_path):
    import threading

    from engine.runs import infer

    stop = threading.Event()
    stop.set()
    res = infer(trained.checkpoints["last"], tiny_data, tmp_path / "c.h5", stop=stop)
    assert res.status == "cancelled" and res.output is None
    assert not (tmp_path / "c.h5").exists()


def test_a_cancelled_inference_leaves_the_earlier_output_as_it_was(trained, tiny_data, tmp_path,
                                                                  capsys, monkeypatch):
    """Ctrl-C during ``ptycho-engine infer`` into an existing file: the file is untouched and
    the CLI says so, instead of claiming every pattern was reconstructed."""
    import contextlib

    from engine.cli import running
    from engine.cli.main import main

    out = tmp_path / "c.h5"
    args = ["infer", "--checkpoint", str(trained.checkpoints["last"]), "--data", str(tiny_data),
            "--out", str(out), "--no-progress-bar", "--accelerator", "cpu"]
    assert main(args) == 0
    before = out.read_bytes()
    capsys.readouterr()

    @contextlib.contextmanager
    def ctrl_c_already_pressed(stop):  # the first Ctrl-C of interrupt_sets, given at once
        stop.set()
        yield

    monkeypatch.setattr(running, "interrupt_sets", ctrl_c_already_pressed)
    assert main([*args, "--overwrite"]) == 1  # replacing it was asked for, then Ctrl-C
    text = capsys.readouterr()
    assert "inference cancelled after" in text.out and f"{out} is as it was" in text.out
    assert "patterns in" not in text.out and "stopped after" in text.err
    assert out.read_bytes() == before


def test_demo_end_to_end_on_the_tiny_preset(tmp_path, capsys):
    from engine.cli.main import main

    code = main(["demo", "--out", str(tmp_path), "--preset", "tiny", "--accelerator", "cpu",
                 "--no-progress-bar", "--set", "training.max_epochs=1",
                 "--set", "model.width=8", "--set", "model.depth=2"])
    assert code == 0
    text = capsys.readouterr().out
    assert "training scan" in text and "unseen object" in text and "patterns/s" in text
    report = json.loads((tmp_path / "demo.json").read_text())
    assert report["status"] == "completed"
    for key in ("training_scan", "unseen_object"):
        assert set(report["quality"][key]) == {"amplitude", "phase"}
        assert set(report["quality"][key]["phase"]) == {"psnr", "ssim", "frc_px"}
    assert report["speed"]["train_patterns_per_s"] > 0
    assert report["speed"]["inference_patterns_per_s"] > 0
    assert (tmp_path / "unseen" / "reconstruction.h5").is_file()
    # The demo owns its folder: running it again replaces its own files.
    assert main(["demo", "--out", str(tmp_path), "--preset", "tiny", "--accelerator", "cpu",
                 "--no-progress-bar", "--set", "training.max_epochs=1",
                 "--set", "model.width=8", "--set", "model.depth=2"]) == 0


def test_alignment_passes_remove_random_group_phases(tiny_data):
    """Patches that are exact up to a random phase per group stitch back into the truth."""
    from engine.io import load_dataset, read_product
    from engine.metrics.truth import quality
    from engine.model.reconstruct import reconstruct
    from engine.physics import extract_patches

    data = load_dataset(tiny_data)
    truth = read_product(tiny_data.parent / "truth.h5").object
    exact = extract_patches(torch.from_numpy(truth), torch.from_numpy(data.positions), data.N)
    lookup = {tuple(np.round(p, 6)): i for i, p in enumerate(data.positions)}
    rng = torch.Generator().manual_seed(0)

    class PhaseScrambled(torch.nn.Module):
        """Stands in for a network: the true patches, each group turned by a random phase."""

        N, gridsize, channels, amplitude_max = data.N, 2, 4, 2.0

        def __init__(self):
            super().__init__()
            self.probe = torch.from_numpy(data.probe)

        def effective_probe(self):
            return self.probe

        def consensus(self, patches, offsets):
            return patches  # the scrambled patches agree within each group already

        def forward(self, counts, offsets):
            raise AssertionError("unused")

    net = PhaseScrambled()
    positions_seen = []

    def fake_forward(counts, offsets):
        # Recover which patterns the batch holds from the positions the dataset returned.
        pos = positions_seen.pop(0)
        idx = [lookup[tuple(np.round(p, 6))] for p in pos.reshape(-1, 2).numpy()]
        patches = exact[idx].reshape(counts.shape).to(torch.complex64)
        turn = torch.rand(counts.shape[0], generator=rng) * 6.0 - 3.0
        return patches * torch.polar(torch.ones_like(turn), turn)[:, None, None, None]

    from engine.training import data as training_data

    original = training_data.GroupDataset.__getitems__

    def recording(self, indices):
        batch = original(self, indices)
        positions_seen.append(batch["positions"])
        return batch

    net.forward = fake_forward  # type: ignore[method-assign]
    training_data.GroupDataset.__getitems__ = recording
    try:
        scores = {}
        for passes in (0, 30):
            positions_seen.clear()
            st = reconstruct(net, data.patterns, data.positions, data.object_shape,
                             n_neighbours=7, seed=0, batch_size=64, device="cpu",
                             weighting="probe", refine_iterations=0, alignment_passes=passes)
            scores[passes] = quality(st.obj, truth, data.probe)["phase"]["ssim"]
    finally:
        training_data.GroupDataset.__getitems__ = original
    assert scores[0] < 0.5 < 0.9 < scores[30]


# ---------------------------------------------------------------- dose
def _at_dose(data, factor, seed=None):
    """The scan at ``factor`` x the dose: counts scaled exactly, or (``seed``) binomially
    thinned, which turns Poisson counts into Poisson counts of the lower dose."""
    counts = np.asarray(data.patterns)
    if seed is None:
        patterns = counts * factor
    else:
        patterns = np.random.default_rng(seed).binomial(np.rint(counts).astype(np.int64),
                                                        factor)
    return dataclasses.replace(data, patterns=patterns.astype(np.float32),
                               probe=(data.probe * np.sqrt(factor)).astype(np.complex64))


def _infer(checkpoint, data, data_path, tmp_path, name, normalisation="data"):
    from engine import infer

    # The refinement's smoothness prior follows the dose on purpose (a noisier scan gets a
    # stronger prior): held fixed here, so that what is compared is the network's part.
    cfg = tiny_config(data_path, tmp_path / "unused", inference__normalisation=normalisation,
                      refinement__smoothness_fluence=0.0)
    return infer(checkpoint, data, tmp_path / f"{name}.h5", config=cfg)


def test_a_scaled_dose_gives_the_same_reconstruction(trained, tiny_data, tmp_path):  # noqa: F811
    """A checkpoint applied to the same scan at another dose follows the data's dose
    (``inference.normalisation = "data"``): input normaliser from its mean counts, probe
    scaled to its photon count."""
    checkpoint = trained.checkpoints["last"]
    from engine.io import load_dataset, read_product

    full_data = load_dataset(tiny_data)
    full = _infer(checkpoint, full_data, tiny_data, tmp_path, "full")
    low = _infer(checkpoint, _at_dose(full_data, 0.1), tiny_data, tmp_path, "low")
    np.testing.assert_allclose(low.obj[full.mask], full.obj[full.mask], rtol=2e-3, atol=2e-3)
    norm_full, norm_low = full.normalisation, low.normalisation
    assert norm_low["mode"] == "data"
    assert norm_low["mean_counts_per_pattern"] == pytest.approx(
        0.1 * norm_full["mean_counts_per_pattern"], rel=1e-5)
    assert norm_low["probe_intensity_factor"] == pytest.approx(
        0.1 * norm_full["probe_intensity_factor"], rel=1e-5)
    # the photon scale lives in the probe written with the product
    p_full = np.sum(np.abs(read_product(full.output).probe) ** 2)
    p_low = np.sum(np.abs(read_product(low.output).probe) ** 2)
    assert p_low == pytest.approx(0.1 * p_full, rel=1e-4)
    assert low.to_dict()["normalisation"] == norm_low
    # the checkpoint's own normaliser applied to the other dose gives another object
    stale = _infer(checkpoint, _at_dose(full_data, 0.1), tiny_data, tmp_path, "stale",
                   normalisation="checkpoint")
    assert stale.normalisation["probe_intensity_factor"] == 1.0
    assert np.max(np.abs(stale.obj[full.mask] - full.obj[full.mask])) > 0.05


def test_ten_times_lower_dose_keeps_the_quality(trained, tiny_data, tmp_path):  # noqa: F811
    checkpoint = trained.checkpoints["last"]
    from engine.io import load_dataset

    full_data = load_dataset(tiny_data)
    full = _infer(checkpoint, full_data, tiny_data, tmp_path, "full")
    low = _infer(checkpoint, _at_dose(full_data, 0.1, seed=3), tiny_data, tmp_path, "low")
    assert full.quality is not None and low.quality is not None
    for name in ("amplitude", "phase"):
        assert low.quality[name]["ssim"] > full.quality[name]["ssim"] - 0.1
