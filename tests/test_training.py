"""Training: the Trainer factory, determinism, run directory, cancel, resume, failures."""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from test_training_helpers import tiny_config

from engine.config import (
    ExecutionConfig,
    ModelConfig,
    SessionConfig,
    absolutize_paths,
    load_session,
)
from engine.errors import ConfigError, DataError, RunError
from engine.render import FIGURE_MARGIN, figure_zoom
from engine.reporting import Reporter

torch.set_num_threads(1)


# -- the one Trainer factory ------------------------------------------------------------------
def test_trainer_gets_exactly_the_execution_settings(tmp_path):
    from lightning.pytorch.accelerators import CPUAccelerator
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from engine.training import build_trainer

    was = torch.are_deterministic_algorithms_enabled()
    ex = ExecutionConfig(
        accelerator="cpu", devices="1", precision="bf16-mixed", deterministic=True,
        gradient_clip_val=0.5, gradient_clip_algorithm="value", accumulate_grad_batches=3,
        checkpoint_monitor="train_loss", checkpoint_save_top_k=2, checkpoint_every_n_epochs=4,
        early_stopping_patience=5, logger="csv", log_every_n_steps=7, progress_bar=False,
        matmul_precision="high")
    try:
        trainer = build_trainer(ex, max_epochs=9, run_dir=tmp_path, max_time_min=0.0)
        assert isinstance(trainer.accelerator, CPUAccelerator)
        assert trainer.num_devices == 1 and trainer.num_nodes == 1
        assert trainer.precision == "bf16-mixed"
        assert trainer.gradient_clip_val == 0.5
        assert str(trainer.gradient_clip_algorithm.value) == "value"
        assert trainer.accumulate_grad_batches == 3
        assert trainer.max_epochs == 9
        assert trainer.log_every_n_steps == 7
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.get_float32_matmul_precision() == "high"
        assert isinstance(trainer.logger, CSVLogger)
        assert Path(trainer.logger.log_dir).is_relative_to(tmp_path)
        ckpt = next(c for c in trainer.callbacks if isinstance(c, ModelCheckpoint))
        assert (ckpt.monitor, ckpt.mode, ckpt.save_top_k, ckpt.save_last) == \
            ("train_loss", "min", 2, True)
        assert ckpt._every_n_epochs == 4
        assert Path(ckpt.dirpath) == tmp_path / "checkpoints"
        stop = next(c for c in trainer.callbacks if isinstance(c, EarlyStopping))
        assert (stop.monitor, stop.patience) == ("train_loss", 5)
        assert not any(type(c).__name__ == "TQDMProgressBar" for c in trainer.callbacks)
    finally:
        torch.use_deterministic_algorithms(was)
        torch.set_float32_matmul_precision("highest")


def test_trainer_distributed_settings(tmp_path):
    from engine.training import build_trainer

    ex = ExecutionConfig(accelerator="cpu", devices=2, strategy="ddp", checkpointing=False,
                         logger="none", gradient_clip_val=0.0)
    trainer = build_trainer(ex, max_epochs=1, run_dir=tmp_path, max_time_min=0.0)
    assert type(trainer.strategy).__name__ == "DDPStrategy"
    assert trainer.num_devices == 2
    assert trainer.gradient_clip_val is None  # 0 means "no clipping"
    assert trainer.logger is None
    assert trainer.checkpoint_callback is None


def test_generator_registry_is_the_schema_choice_list():
    from engine.config import field_specs
    from engine.model import GENERATORS
    from engine.model.generators import count_parameters
    from engine.model.pinn import PINN, Normalisers

    assert field_specs()["model.generator"].meta.choices == tuple(GENERATORS)
    counts = torch.rand(2, 4, 64, 64) * 100
    probe = torch.randn(1, 64, 64, dtype=torch.complex64)
    for name in GENERATORS:
        net = PINN(ModelConfig(generator=name, width=8, gridsize=2, n_neighbours=7), probe,
                   Normalisers(0.1, 1e5), loss="poisson")
        out = net(counts)
        assert out.shape == (2, 4, 64, 64) and out.dtype == torch.complex64
        assert torch.isfinite(torch.view_as_real(out)).all()
    large = PINN(ModelConfig(generator="cnn_large", gridsize=2, n_neighbours=7), probe,
                 Normalisers(0.1, 1e5), loss="poisson").generator
    assert 2.0e6 < count_parameters(large) < 2.6e6  # the reference size at N = 64


# -- a whole run --------------------------------------------------------------------------------
class Recorder(Reporter):
    """Records every event; sets ``stop`` after ``stop_after_batches`` training batches, or
    at the first event for which ``stop_when(kind, payload)`` is true."""

    def __init__(self, stop_after_batches: int | None = None,
                 stop: threading.Event | None = None,
                 stop_when: Callable[[str, object], bool] | None = None) -> None:
        self.events: list[tuple[str, object]] = []
        self.stop_after = stop_after_batches
        self.stop = stop
        self.stop_when = stop_when
        self.batches = 0

    def _record(self, kind, payload):
        self.events.append((kind, payload))
        if self.stop is not None and self.stop_when is not None \
                and self.stop_when(kind, payload):
            self.stop.set()

    def run_started(self, info):
        self._record("run_started", dict(info))

    def progress(self, progress):
        self._record("progress", progress)
        if progress.stage == "train":
            self.batches += 1
            if self.stop is not None and self.stop_after and self.batches >= self.stop_after:
                self.stop.set()

    def metrics(self, epoch, values):
        self._record("metrics", (epoch, dict(values)))

    def preview(self, frame):
        self._record("preview", frame)

    def log(self, level, message):
        self._record("log", (level, message))

    def run_finished(self, summary):
        self._record("run_finished", dict(summary))

    def of(self, kind):
        return [payload for k, payload in self.events if k == kind]


def test_run_directory_holds_every_file(tiny_data, tmp_path):
    from PIL import Image

    from engine.io import read_product
    from engine.runs import train

    run_dir = tmp_path / "run"
    resolved = tiny_config(tiny_data, run_dir, execution__preview_interval_s=0.0)
    rec = Recorder()
    result = train(resolved, reporter=rec)

    assert result.status == "completed" and result.epochs == 2
    for name in ("session.toml", "provenance.json", "metrics.csv", "reconstruction.h5",
                 "amplitude.png", "phase.png", "summary.json", "checkpoints/last.ckpt"):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "checkpoints").glob("best-*.ckpt"))
    assert result.checkpoints["best"] is not None and result.checkpoints["best"].is_file()

    # session.toml re-runs as is: the same config, paths made absolute; settings left at
    # their default stay defaults there (outputs resolve inside the run folder)
    expected = copy.deepcopy(absolutize_paths(resolved.config, Path.cwd()))
    fresh = absolutize_paths(SessionConfig(), run_dir)
    for key in resolved.default_keys():
        *sections, name = key.split(".")
        target, source = expected, fresh
        for section in sections:
            target, source = getattr(target, section), getattr(source, section)
        setattr(target, name, getattr(source, name))
    assert load_session(run_dir / "session.toml") == expected
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1  # the final epoch, even when it did not improve val_loss

    with open(run_dir / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert set(rows[0]) == {"epoch", "train_loss", "val_loss", "lr", "epoch_time_s",
                            "patterns_per_s"}
    assert all(float(r["patterns_per_s"]) > 0 and np.isfinite(float(r["val_loss"]))
               for r in rows)

    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["sources"]["training.max_epochs"] == "api override"
    assert prov["resolved"]["accelerator"] == "cpu" and prov["resolved"]["devices"] == 1
    assert {"torch", "lightning", "ptycho-engine", "python", "platform"} <= set(prov["versions"])

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 2
    assert summary["throughput"]["train_patterns_per_s"] > 0
    assert summary["ground_truth"].endswith("truth.h5")
    assert set(summary["quality"]) >= {"amplitude", "phase"}
    assert -1 <= summary["quality"]["phase"]["ssim"] <= 1

    product = read_product(run_dir / "reconstruction.h5")
    assert product.object.shape == tuple(summary["quality"]["details"]["region"][1::2]) \
        or product.object.ndim == 2
    assert list(product.loss_epochs) == [0, 1]
    zoom = figure_zoom(product.object.shape)  # figures: picture, colour bar, scale bar
    for png in ("amplitude.png", "phase.png"):
        with Image.open(run_dir / png) as img:
            assert img.size[1] == product.object.shape[0] * zoom + 2 * FIGURE_MARGIN

    started = rec.of("run_started")[0]
    assert started["accelerator"] == "cpu" and started["devices"] == 1
    assert [e for e, _ in rec.of("metrics")] == [0, 1]
    progress = [p for p in rec.of("progress") if p.stage == "train"]
    assert progress and progress[-1].epoch == 1 and progress[-1].max_epochs == 2
    assert progress[-1].eta_s is not None and progress[-1].eta_s >= 0
    frames = rec.of("preview")
    assert frames and np.iscomplexobj(frames[-1].obj) and np.isnan(frames[-1].obj).any()
    assert rec.of("run_finished")[-1]["status"] == "completed"


def test_same_seed_same_losses(tiny_data, tmp_path):
    from engine.runs import train

    losses = []
    for name in ("a", "b"):
        cfg = tiny_config(tiny_data, tmp_path / name, execution__deterministic=True,
                          execution__checkpointing=False, training__val_fraction=0.0,
                          execution__checkpoint_monitor="train_loss")
        result = train(cfg)
        losses.append([row["train_loss"] for row in result.history])
    assert losses[0] == losses[1]
    assert not torch.are_deterministic_algorithms_enabled()  # restored after the run


def test_stop_token_cancels_with_a_loadable_checkpoint(tiny_data, tmp_path):
    from engine.runs import train

    stop = threading.Event()
    run_dir = tmp_path / "run"
    cfg = tiny_config(tiny_data, run_dir, training__max_epochs=50)
    rec = Recorder(stop_after_batches=1, stop=stop)  # set during the first batch's report
    result = train(cfg, reporter=rec, stop=stop)
    assert result.status == "cancelled"
    assert result.epochs <= 1  # stopped inside the first epoch, not after 50
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "cancelled"
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert "state_dict" in ckpt and ckpt["hyper_parameters"]["N"] == 32
    assert ckpt["global_step"] <= 2  # within one optimisation step of the request
    assert (run_dir / "reconstruction.h5").is_file()
    # No second pass of the network over the whole scan after a Stop: the cancelled run's
    # reconstruction is the live estimate training built (so a Stop is answered at once).
    stages = {p.stage for p in rec.of("progress")}
    assert "stitch" not in stages and "refine" not in stages, stages
    assert any("live training estimate" in message for _, message in rec.of("log"))


def test_a_stop_between_epochs_adds_no_epoch_and_keeps_the_live_estimate(tiny_data, tmp_path):
    """Ctrl-C as an epoch ends (the CLI case): the stop is taken before the next epoch's
    first batch. No phantom epoch repeating the last losses, and the cancelled run still
    writes the live estimate instead of stitching the whole scan through the network."""
    from engine.runs import train

    stop = threading.Event()
    run_dir = tmp_path / "run"
    cfg = tiny_config(tiny_data, run_dir, training__max_epochs=5)
    rec = Recorder(stop=stop, stop_when=lambda kind, _: kind == "metrics")  # first epoch's end
    result = train(cfg, reporter=rec, stop=stop)
    assert result.status == "cancelled" and result.epochs == 1
    assert [e for e, _ in rec.of("metrics")] == [0]
    assert len(result.history) == 1
    stages = {p.stage for p in rec.of("progress")}
    assert "stitch" not in stages, stages
    assert any("live training estimate" in message for _, message in rec.of("log"))
    assert (run_dir / "reconstruction.h5").is_file()


def test_a_stop_during_the_stitching_ends_the_run_as_cancelled(tiny_data, tmp_path):
    """Training finished, then Stop while the network stitches the scan: the stitching ends
    within a batch, the run is cancelled (not refined), its files are written."""
    from engine.runs import train

    stop = threading.Event()
    run_dir = tmp_path / "run"
    cfg = tiny_config(tiny_data, run_dir, execution__inference_batch_size=8)
    rec = Recorder(stop=stop, stop_when=lambda kind, p: kind == "progress"
                   and p.stage == "stitch" and p.done > 0)
    result = train(cfg, reporter=rec, stop=stop)
    assert result.status == "cancelled" and result.epochs == cfg.config.training.max_epochs
    stitched = [p for p in rec.of("progress") if p.stage == "stitch"]
    assert stitched and stitched[-1].done < stitched[-1].total  # ended early
    assert "refine" not in {p.stage for p in rec.of("progress")}
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "cancelled"
    assert (run_dir / "reconstruction.h5").is_file()


def test_resume_continues_the_epoch_count(tiny_data, tmp_path):
    from engine.cli.main import main

    run_dir = tmp_path / "run"
    first = tiny_config(tiny_data, run_dir)
    from engine.runs import train

    train(first)
    steps_2 = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    code = main(["train", "--resume", str(run_dir), "--set", "training.max_epochs=3"])
    assert code == 0
    with open(run_dir / "metrics.csv", newline="") as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == [0, 1, 2]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["epochs"] == 3 and summary["resumed"] is True
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == steps_2 * 3 // 2  # one more epoch of steps, not three


def test_a_previous_run_is_not_overwritten(tiny_data, tmp_path):
    from engine.runs import train

    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "session.toml").write_text("")
    with pytest.raises(RunError, match="already holds a run"):
        train(tiny_config(tiny_data, run_dir))


def test_bad_data_are_refused_before_a_run_directory_exists(tmp_path):
    from engine.runs import train

    run_dir = tmp_path / "run"
    cfg = tiny_config(tmp_path / "missing.npz", run_dir)
    with pytest.raises(DataError, match="missing.npz"):
        train(cfg)
    # Bad input writes nothing; a failure once the run started writes summary.json "failed"
    # (tests/test_faults.py: out of memory in a batch).
    assert not run_dir.exists()


def test_wrong_pattern_size_is_a_config_error(tiny_data, tmp_path):
    from engine.runs import train

    cfg = tiny_config(tiny_data, tmp_path / "run", model__N=64)
    with pytest.raises(ConfigError, match="model.N = 64.*32 x 32"):
        train(cfg)


def test_cli_train_bad_data_exits_2(tmp_path, capsys):
    from engine.cli.main import main

    code = main(["train", "--data", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "r"),
                 "--accelerator", "cpu"])
    assert code == 2
    err = capsys.readouterr().err
    assert "nope.npz" in err and "Traceback" not in err


def test_throughput_lightning_vs_plain(tiny_data):
    from engine.bench import measure_throughput

    cfg = tiny_config(tiny_data, Path("unused"))
    result = measure_throughput(cfg, steps=4, warmup=1)
    assert result["plain_patterns_per_s"] > 0 and result["lightning_patterns_per_s"] > 0
    assert result["patterns_per_step"] == 8 * cfg.config.model.gridsize**2
    assert np.isfinite(result["overhead_percent"])


def test_train_accepts_a_plain_session_config(tiny_data, tmp_path):
    from engine.runs import train

    cfg = dataclasses.replace(tiny_config(tiny_data, tmp_path / "run").config)
    cfg.training.max_epochs = 1
    result = train(cfg)
    prov = json.loads((result.run_dir / "provenance.json").read_text())
    assert prov["sources"]["training.max_epochs"] == "api SessionConfig"


def test_lazy_patterns_are_read_in_sorted_batches_and_match_memory(tiny_data, tmp_path):
    import h5py

    from engine.io import load_dataset
    from engine.io.lazy import H5Backend, LazyPatterns
    from engine.training.data import GroupDataModule, make_split

    data = load_dataset(tiny_data)
    path = tmp_path / "patterns.h5"
    with h5py.File(path, "w") as h5:
        h5["patterns"] = np.asarray(data.patterns)
    reads = []

    class Recording(LazyPatterns):
        def __getitem__(self, key):
            reads.append(np.asarray(key))
            return super().__getitem__(key)

    lazy = Recording(H5Backend(str(path), "patterns", tuple(np.shape(data.patterns))))
    split = make_split(data.positions, 2, 7, 0.25, seed=3)
    batches = {}
    for name, patterns in (("memory", data.patterns), ("lazy", lazy)):
        dm = GroupDataModule(patterns, data.positions, split, batch_size=8, num_workers=0,
                             pin_memory=False, persistent_workers=False, seed=3)
        batches[name] = list(dm.train_dataloader())
    assert len(batches["lazy"]) == len(batches["memory"]) == 6
    for a, b in zip(batches["memory"], batches["lazy"], strict=True):
        torch.testing.assert_close(a["counts"], b["counts"])
        torch.testing.assert_close(a["offsets"], b["offsets"])
    assert len(reads) == 6  # one read per batch, never the whole stack
    assert all(np.all(np.diff(r) > 0) and r.size <= 8 * 4 for r in reads)


def test_physical_prior_is_bounded_and_closer_to_the_truth_when_refined(tiny_data):
    from engine.io import load_dataset, read_product
    from engine.metrics.truth import quality
    from engine.model.pinn import backpropagated_estimate, refine_estimate
    from engine.physics import Stitcher, group_neighbours
    from engine.training.data import GroupDataset

    data = load_dataset(tiny_data)
    truth = read_product(tiny_data.parent / "truth.h5").object
    groups = group_neighbours(data.positions, 2, 7, seed=0)
    batch = GroupDataset(data.patterns, data.positions, groups).__getitems__(
        list(range(len(groups))))
    probe = torch.from_numpy(data.probe)

    def stitched_ssim(patches):
        st = Stitcher(data.object_shape, probe)
        st.add(patches.reshape(-1, data.N, data.N), batch["positions"].reshape(-1, 2))
        q = quality(st.result()[0], truth, data.probe)
        return q["amplitude"]["ssim"], q["phase"]["ssim"]

    start = backpropagated_estimate(batch["counts"], probe)
    refined = refine_estimate(start, batch["counts"], probe, batch["offsets"], iterations=2)
    assert refined.shape == start.shape and refined.dtype == torch.complex64
    assert torch.isfinite(torch.view_as_real(refined)).all()
    assert float(refined.abs().max()) <= 2.0 + 1e-5  # bounded by model.amplitude_max
    (a0, p0), (a2, p2) = stitched_ssim(start), stitched_ssim(refined)
    assert a2 > a0 + 0.05 and p2 > p0 + 0.05  # measured: 0.54 -> 0.66, 0.28 -> 0.41


def test_the_live_estimate_keeps_what_an_epoch_cut_short_did_not_visit():
    """A Stop early in an epoch: the cancelled run's image (the live estimate) still covers
    the whole scan, with the newest patches where the cut epoch reached."""
    from engine.training.callbacks import PreviewCanvas

    n = 8
    r2 = (torch.arange(n) - 3.5)[:, None] ** 2 + (torch.arange(n) - 3.5)[None, :] ** 2
    probe = torch.exp(-r2 / 2.0).to(torch.complex64)[None]  # a beam fading to its edges
    canvas = PreviewCanvas((32, 32), probe)
    grid = [(x, y) for x in range(4, 29) for y in range(4, 29)]  # densely overlapping

    def add(points, value):
        pos = torch.tensor(points, dtype=torch.float64)[:, None, :]  # groups of one
        patches = torch.full((len(points), 1, n, n), value, dtype=torch.complex64)
        canvas.add({"positions": pos}, patches)

    add(grid, 1.0)          # a whole epoch
    canvas.end_epoch()
    add([(4.0, 4.0)], 2.0)  # the next one, stopped after one batch
    canvas.end_epoch()
    image = canvas.image()
    covered = np.isfinite(image)
    assert covered[4:28, 4:28].all()  # the whole scan, not the one batch
    assert image[16, 16] == pytest.approx(1.0)  # unvisited: the last full epoch
    assert abs(image[3, 3] - 2.0) < 0.2  # visited: mostly the newest patch


def test_gain_check_stops_training_where_the_network_adds_too_little(tiny_data, tmp_path):
    """training.gain_check_every: after each check the run says what the network's start
    gave the solver; a gain below the threshold ends training early (the threshold 1.0 is
    out of reach: only a start already at the noise floor meets it), the run is still a
    completed one with its reconstruction, and summary.json carries the checks and the
    per-stage time and quality (the tiny data have a truth)."""
    from engine.runs import train

    run_dir = tmp_path / "run"
    cfg = tiny_config(tiny_data, run_dir, training__max_epochs=4,
                      training__gain_check_every=1, training__gain_check_min_gain=1.0,
                      training__gain_check_patterns=32, refinement__epochs=2)
    rec = Recorder()
    result = train(cfg, reporter=rec)
    assert result.status == "completed" and result.epochs == 1  # not 4
    summary = json.loads((run_dir / "summary.json").read_text())
    gain = summary["network_gain"]
    assert gain["every"] == 1 and len(gain["checks"]) == 1
    check = gain["checks"][0]
    assert check["epoch"] == 1 and check["decision"] == "stop" and check["patterns"] == 32
    assert check["misfit_flat"] > 0 and check["misfit_network"] > 0
    assert gain["stopped"].startswith("stopped after epoch 1")
    assert any("gain check after epoch 1" in m and "training stops" in m
               for _, m in rec.of("log"))
    stages = summary["stages"]
    assert stages["network"]["train_seconds"] > 0 and stages["network"]["stitch_seconds"] > 0
    assert stages["solver"]["epochs"] == 2 and stages["solver"]["seconds"] > 0
    for stage in ("network", "solver"):
        assert 0 < stages[stage]["quality"]["amplitude_ssim"] <= 1
    assert any(m.startswith("stages: network") for _, m in rec.of("log"))
    assert (run_dir / "reconstruction.h5").is_file()


def test_infer_reports_the_time_and_quality_of_each_stage(tiny_data, tmp_path):
    """infer's result (what the CLI and GUI receive) and its log carry the network's and the
    solver's seconds and, with a truth next to the data, their SSIMs."""
    from engine.runs import train
    from engine.runs.infer import infer

    cfg = tiny_config(tiny_data, tmp_path / "run", training__max_epochs=1,
                      refinement__epochs=2)
    trained = train(cfg)
    rec = Recorder()
    result = infer(trained.checkpoints["last"], tiny_data, tmp_path / "out.h5", config=cfg,
                   reporter=rec)
    stages = result.to_dict()["stages"]
    assert stages["start"]["kind"] == "network" and stages["start"]["seconds"] > 0
    assert stages["solver"]["epochs"] == 2 and stages["solver"]["seconds"] > 0
    for stage in ("start", "solver"):
        assert 0 < stages[stage]["quality"]["phase_ssim"] <= 1
    assert any(m.startswith("stages: network") and "solver" in m for _, m in rec.of("log"))


def test_gain_check_goes_on_while_the_network_gains_and_stops_when_it_stops_gaining():
    """The decision rule alone (a stand-in solver): a start that removes 30 % then 60 % of
    the flat start's excess misfit keeps training; one that then stays at 61 % stops it."""
    from types import SimpleNamespace

    from engine.training.callbacks import NetworkGainCheck

    positions = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2)
    data = SimpleNamespace(positions=positions, probe=np.ones((1, 4, 4), np.complex64),
                           subset=lambda idx: SimpleNamespace(n=len(idx)))
    canvas = SimpleNamespace(image=lambda: np.ones((8, 8), np.complex64))
    misfits = iter([11.0, 8.0, 5.0, 4.9])  # flat (once), then the network's three starts
    blocks = []

    def solve(block, obj, mask, probe):
        blocks.append(block.n)
        return SimpleNamespace(misfit=next(misfits), completed=True,
                               solve={"noise_floor": 1.0})

    checks = []
    gain = NetworkGainCheck(data, canvas, solve, every=2, patterns=16, min_gain=0.05,
                            on_check=checks.append)
    decisions = [gain.measure(epoch, data.probe)["decision"] for epoch in (2, 4, 6)]
    assert decisions == ["continue", "continue", "stop"]
    assert [round(c["gain"], 2) for c in checks] == [0.3, 0.6, 0.61]
    assert checks == gain.checks
    assert blocks == [16, 16, 16, 16]
    assert gain.stopped_reason.startswith("stopped after epoch 6: the network's start gained")
