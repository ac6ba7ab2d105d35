"""The runs listing: run folders as the training writes them, damaged and unfinished ones."""

from __future__ import annotations

import math
import os
import time

import engine
from engine.config import SessionConfig
from engine.runs_index import INCOMPLETE, list_runs, loss_history, read_run
from engine.training.rundir import RunDirectory


def _run(folder, *, status="completed", started="2026-12-01T08:00:00", epochs=3, quality=None,
         checkpoint=False, data="/data/scan.npz"):
    run = RunDirectory(folder)
    run.path.mkdir(parents=True)
    run.checkpoints.mkdir()
    cfg = SessionConfig()
    cfg.data.path = data
    cfg.training.max_epochs = 10
    run.write_session(cfg)
    run.write_provenance({"started": started, "data": {"source": data, "n_patterns": 64}})
    run.write_metrics([{"epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": 2.0 / (e + 1),
                        "lr": 1e-3, "epoch_time_s": 1.5, "patterns_per_s": 40.0}
                       for e in range(epochs)])
    if status is not None:
        run.write_summary({"status": status, "epochs": epochs, "max_epochs": 10,
                           "started": started, "wall_time_s": 12.5, "quality": quality,
                           "ground_truth": "/data/truth.h5" if quality else None,
                           "error": "RunError: boom" if status == "failed" else None})
    if checkpoint:
        run.last_checkpoint.write_bytes(b"not read by the listing")
    return run.path


def test_lists_runs_newest_first_with_what_the_table_shows(tmp_path):
    quality = {"amplitude": {"psnr": 30.0, "ssim": 0.912, "frc_px": 2.5},
               "phase": {"psnr": 31.0, "ssim": 0.881, "frc_px": 2.2},
               "frc": {"frequency_per_px": [0.1, 0.2], "amplitude": [0.9, 0.5],
                       "phase": [0.95, 0.6], "threshold": 1 / 7}}
    _run(tmp_path / "run-001", started="2026-12-01T08:00:00", quality=quality)
    _run(tmp_path / "run-002", status="cancelled", started="2026-12-01T09:30:00",
         checkpoint=True)
    (tmp_path / "not-a-run").mkdir()
    runs = list_runs(tmp_path)
    assert [r.name for r in runs] == ["run-002", "run-001"]
    newest, oldest = runs
    assert newest.status == "cancelled" and newest.resumable
    assert oldest.status == "completed" and not oldest.resumable
    assert oldest.data_file == "/data/scan.npz"
    assert (oldest.epochs, oldest.max_epochs, oldest.wall_time_s) == (3, 10, 12.5)
    assert oldest.quality_text == "amplitude SSIM 0.912, phase SSIM 0.881"
    assert oldest.frc["phase"] == [0.95, 0.6]
    assert newest.quality_text == "" and newest.frc is None
    assert oldest.reconstruction is None  # not written
    assert oldest.session_file.is_file()
    assert engine.list_runs(tmp_path)[0].path == newest.path  # the public name


def test_folder_that_is_itself_a_run_is_listed(tmp_path):
    _run(tmp_path / "out")
    assert [r.name for r in list_runs(tmp_path / "out")] == ["out"]
    assert list_runs(tmp_path / "missing") == []


def test_unfinished_and_damaged_runs_are_listed_with_problems(tmp_path):
    killed = _run(tmp_path / "killed", status=None, epochs=2, checkpoint=True)
    info = read_run(killed)
    assert info.status == INCOMPLETE and info.epochs == 2 and info.resumable
    assert info.wall_time_s is None and info.max_epochs == 10  # from session.toml
    damaged = _run(tmp_path / "damaged")
    (damaged / "summary.json").write_text("{not json", encoding="utf-8")
    (damaged / "session.toml").write_text("[data\n", encoding="utf-8")
    past = time.time() - 3600
    os.utime(damaged, (past, past))
    info = read_run(damaged)
    assert info.status == INCOMPLETE
    assert len(info.problems) == 2 and "summary.json: expected JSON" in info.problems[0]
    assert info.started is not None and info.data_file == "/data/scan.npz"  # provenance
    failed = read_run(_run(tmp_path / "failed", status="failed"))
    assert failed.error == "RunError: boom"


def test_loss_history_reads_metrics_csv(tmp_path):
    folder = _run(tmp_path / "r", epochs=4)
    epochs, values = loss_history(folder)
    assert epochs == [0, 1, 2, 3]
    assert values["train_loss"][1] == 0.5 and values["val_loss"][3] == 0.5
    assert loss_history(tmp_path) == ([], {})
    assert all(not math.isnan(v) for v in values["val_loss"])
