"""Beamtime models: training objects, the simulated stream, the supervised loss, the workflow,
the conditions a checkpoint records, and ``infer --network-only``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_training_helpers import tiny_config

from engine.errors import ConfigError
from engine.simulation.objects import TRAINING_KINDS, material_maps, random_object

torch.set_num_threads(1)

BEAMTIME = {"beamtime.steps_per_epoch": 3, "beamtime.groups_per_object": 4,
            "training.max_epochs": 1, "refinement.epochs": 2}


# -- training objects ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", TRAINING_KINDS)
def test_every_training_kind_draws_structured_maps_in_unit_range(kind):
    amp, phase = material_maps(kind, (48, 48), np.random.default_rng(1))
    for m in (amp, phase):
        assert m.shape == (48, 48) and m.min() >= 0.0 and m.max() <= 1.0
        assert m.std() > 0.02, f"{kind}: a flat map teaches nothing"


def test_random_objects_respect_their_amplitude_and_phase_ranges():
    rng = np.random.default_rng(3)
    objs = [random_object((40, 40), rng, TRAINING_KINDS, amplitude_min=0.5, phase_max=1.0)
            for _ in range(12)]
    for obj in objs:
        assert obj.dtype == np.complex64
        assert np.abs(obj).min() >= 0.5 - 1e-3 and np.abs(obj).max() <= 1.0 + 1e-3
        assert np.ptp(np.angle(obj)) <= 1.0 + 1e-3
    # different objects, not one object repeated
    assert np.abs(objs[0] - objs[1]).mean() > 0.01


# -- the stream -------------------------------------------------------------------------------
def _stream(tiny_data, **kw):
    from engine.io import load_dataset
    from engine.training.data import GroupDataset, SimulatedGroups, make_split

    cfg = tiny_config(tiny_data, tiny_data.parent / "unused").config
    data = load_dataset(cfg.data)
    split = make_split(data.positions, 2, 4, 0.0, 0)
    measured = GroupDataset(data.patterns, data.positions, split.groups)
    args = {"batch_size": 4, "steps": 5, "measured": measured, "measured_fraction": 0.0,
            "kinds": TRAINING_KINDS, "amplitude_min": 0.3, "phase_max": 2.0,
            "groups_per_object": 2, "bad_pixels": None, "seed": 7, **kw}
    return data, split, SimulatedGroups(data.probe, data.positions, split.groups, **args)


def test_simulated_batches_follow_the_scan_probe_and_dose(tiny_data):
    from engine.physics import forward_intensity

    data, split, stream = _stream(tiny_data)
    batch = stream.simulate_batch(np.random.default_rng(0))
    assert batch["counts"].shape == (4, 4, data.N, data.N)
    assert batch["truth"].shape == (4, 4, data.N, data.N)
    # the scan's own geometry: each group's positions are a scan group moved by whole pixels
    moved = batch["positions"].numpy() - data.positions[batch["index"].numpy()]
    assert np.allclose(moved, np.round(moved)) and np.allclose(moved, moved[:, :1])
    # counts are Poisson draws of the true patches through the scan's probe (its dose)
    expected = forward_intensity(batch["truth"], torch.as_tensor(data.probe)).sum((-1, -2))
    ratio = batch["counts"].sum((-1, -2)) / expected
    assert torch.allclose(ratio, torch.ones_like(ratio), atol=0.05)
    # streamed, not stored: each epoch draws new objects
    first, second = next(iter(stream)), next(iter(stream))
    assert not torch.equal(first["truth"], second["truth"])


def test_data_loader_workers_draw_new_objects_every_epoch(tiny_data):
    from torch.utils.data import DataLoader

    _, _, stream = _stream(tiny_data, steps=2)
    loader = DataLoader(stream, batch_size=None, num_workers=2,
                        generator=torch.Generator().manual_seed(0))
    first = [b["truth"] for b in loader]
    second = [b["truth"] for b in loader]
    assert len(first) == 2  # one batch per worker, not one per worker and step
    assert not torch.equal(first[0], first[1])  # the workers differ
    assert not torch.equal(first[0], second[0])  # and so do the epochs


def test_the_detector_mask_is_applied_and_measured_batches_are_mixed_in(tiny_data):
    bad = np.zeros((32, 32), bool)
    bad[3:6, 10:20] = True
    _, _, stream = _stream(tiny_data, bad_pixels=bad, measured_fraction=0.5, steps=20)
    batches = list(stream)
    simulated = [b for b in batches if "truth" in b]
    assert len(batches) == 20 and 3 < len(simulated) < 17
    mask = torch.as_tensor(bad)
    assert all(float((b["counts"] * mask).sum()) == 0.0 for b in simulated)
    assert all(float((b["counts"] * ~mask).sum()) > 0.0 for b in simulated)


# -- the supervised loss ------------------------------------------------------------------------
def test_supervised_loss_ignores_a_global_phase_and_sees_structure(tiny_data):
    from engine.config import ModelConfig
    from engine.model.pinn import PINN, Normalisers

    _, _, stream = _stream(tiny_data)
    net = PINN(ModelConfig(N=32, gridsize=2, width=8, depth=2), stream.probe,
               Normalisers(1.0, 1.0), "poisson")
    truth = stream.simulate_batch(np.random.default_rng(1))["truth"]
    assert float(net.supervised_loss(truth, truth)) < 1e-10
    assert float(net.supervised_loss(truth * np.exp(1j * 1.3), truth)) < 1e-10
    blurred = (truth + truth.roll(2, dims=-1)) / 2
    assert float(net.supervised_loss(blurred, truth)) > 1e-3


# -- the workflow ---------------------------------------------------------------------------------
def test_beamtime_training_records_its_conditions_and_infer_warns_on_another_scan(
        tiny_data, tmp_path):
    import dataclasses

    import engine
    from engine.io import load_dataset
    from engine.reporting import Reporter
    from engine.runs.beamtime import train_beamtime
    from engine.training.checkpoint import read_checkpoint

    cfg = tiny_config(tiny_data, tmp_path / "run", **BEAMTIME)
    result = train_beamtime(cfg)
    assert result.status == "completed"
    hp = read_checkpoint(result.checkpoints["last"])["hyper_parameters"]
    assert hp["beamtime"]["simulated_training"] and hp["beamtime"]["steps_per_epoch"] == 3
    data = load_dataset(cfg.config.data, probe=cfg.config.probe)
    cond = hp["conditions"]
    assert cond["n_positions"] == data.n_patterns
    assert cond["probe_shape"] == list(np.shape(data.probe))
    assert cond["scan_step_px"] > 0
    summary = json.loads((result.run_dir / "summary.json").read_text())
    # the solver refined the probe first (refinement.refine_probe), keeping its modes
    assert summary["beamtime"]["probe_origin"]["probe"] == "refined by the solver"
    assert summary["beamtime"]["probe_origin"]["epochs"] == 2
    session = (result.run_dir / "session.toml").read_text()
    assert "[beamtime]" in session and "simulated_training = true" in session

    class Logs(Reporter):
        def __init__(self):
            self.lines = []

        def log(self, level, message):
            self.lines.append((level, message))

    # the same scan: no warning about the conditions (network only: the check comes first)
    quick = tiny_config(tiny_data, tmp_path / "run", refinement__epochs=0)
    same = Logs()
    engine.infer(result.checkpoints["last"], data, None, config=quick, reporter=same)
    assert not [m for lv, m in same.lines if lv == "warning" and "beamtime" in m]
    # a scan with a 1.5x larger step: warned, naming both steps
    wider = dataclasses.replace(data, positions=(data.positions - data.positions.mean(0)) * 1.5
                                + data.positions.mean(0) * 1.5 + 2)
    wider = dataclasses.replace(wider, object_shape=(int(data.object_shape[0] * 1.5 + 8),
                                                     int(data.object_shape[1] * 1.5 + 8)))
    logs = Logs()
    engine.infer(result.checkpoints["last"], wider, None, config=quick, reporter=logs)
    warned = [m for lv, m in logs.lines if lv == "warning" and "beamtime model" in m]
    assert warned and f"{cond['scan_step_px']:.2f} px" in warned[0]


def test_unknown_object_kind_is_refused_before_anything_is_written(tiny_data, tmp_path):
    from engine.runs.beamtime import train_beamtime

    cfg = tiny_config(tiny_data, tmp_path / "run", **BEAMTIME,
                      beamtime__object_kinds="dead_leaves,kittens")
    with pytest.raises(ConfigError, match="beamtime.object_kinds.*kittens"):
        train_beamtime(cfg)
    assert not (tmp_path / "run").exists()


def test_cli_beamtime_train_then_network_only_infer(tiny_data, tmp_path, capsys):
    import h5py

    from engine.cli.main import main

    run = tmp_path / "run"
    sets = [a for k, v in {**BEAMTIME, "model.N": 32, "model.width": 8, "model.depth": 2,
                           "training.batch_size": 4, "execution.logger": "none"}.items()
            for a in ("--set", f"{k}={v}")]
    assert main(["train", "--beamtime", "--data", str(tiny_data), "--out", str(run),
                 "--no-progress-bar", *sets]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["beamtime"]["settings"]["simulated_training"]
    out = tmp_path / "net.h5"
    assert main(["infer", "--network-only", "--checkpoint", str(run / "checkpoints/last.ckpt"),
                 "--data", str(tiny_data), "--out", str(out), "--no-progress-bar"]) == 0
    text = capsys.readouterr().out
    assert "refined the whole object" not in text
    with h5py.File(out, "r") as f:
        assert "object" in f


def test_gpu_preset_enlarges_only_what_the_user_left_at_its_default(tiny_data, tmp_path):
    from engine.runs.beamtime import GPU_PRESET, apply_gpu_preset

    cfg = tiny_config(tiny_data, tmp_path / "run")  # sets model.width and batch_size itself
    same, applied = apply_gpu_preset(cfg, "cpu")
    assert same is cfg and applied == {}
    gpu, applied = apply_gpu_preset(cfg, "gpu")
    assert gpu.config.model.width == 8 and gpu.config.training.batch_size == 8  # the user's
    assert gpu.config.beamtime.steps_per_epoch == GPU_PRESET["beamtime.steps_per_epoch"]
    assert gpu.sources["beamtime.steps_per_epoch"] == "beamtime GPU preset"
    assert "model.width" not in applied and "beamtime.steps_per_epoch" in applied
