"""Runs under faults (issue 12): one writer per folder, leftovers, a full disk at every write
site, refused resumes that change nothing, simulate into a used folder, continuous logs."""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from test_faults_helpers import (
    cli_settings,
    make_tiny_dataset,
    snapshot,
    start_holder,
    tiny_resolved,
)

import engine
from engine.cli.main import main
from engine.errors import RunError
from engine.locks import LOCK_NAME

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory)


@pytest.fixture(scope="module")
def finished_run(tiny_dataset, tmp_path_factory):
    """A completed one-epoch run (copied by each test that changes it)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    result = engine.train(tiny_resolved(tiny_dataset, run, execution__logger="csv",
                                        execution__log_every_n_steps=1))
    assert result.status == "completed"
    return run


def copy_run(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run, target)
    return target


def one_error_line(err: str) -> str:
    """The one ``error:`` line of a refused command (progress lines may precede it)."""
    lines = [line for line in err.splitlines() if line.startswith("error")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- one writer per folder ---------------------------------------------------------------------

def _commands(dataset: Path, run: Path, ckpt: Path) -> dict[str, list[str]]:
    return {
        "train": ["train", *cli_settings(dataset, run)],
        "resume": ["train", "--resume", str(run), "--no-progress-bar"],
        "simulate": ["simulate", "--preset", "tiny", "--out", str(run), "--no-progress-bar",
                     "--overwrite"],
        "infer": ["infer", "--checkpoint", str(ckpt), "--data", str(dataset), "--out",
                  str(run / "again.h5"), "--accelerator", "cpu", "--no-progress-bar"],
    }


@pytest.mark.parametrize("command", ["train", "resume", "simulate", "infer"])
def test_a_second_writer_is_refused_and_changes_nothing(command, finished_run, tiny_dataset,
                                                        tmp_path, capsys):
    run = copy_run(finished_run, tmp_path)
    ckpt = tmp_path / "model.ckpt"
    shutil.copy(run / "checkpoints" / "last.ckpt", ckpt)
    args = _commands(tiny_dataset, run, ckpt)[command]
    if command == "train":
        args += ["--set", "training.overwrite=true"]
    holder = start_holder(run)
    try:
        before = snapshot(run)
        assert main(args) == 2
        line = one_error_line(capsys.readouterr().err)
        assert f"{run}: in use by PID {holder.pid}" in line, line
        assert snapshot(run) == before
    finally:
        holder.communicate("\n", timeout=30)


@pytest.mark.slow
def test_two_resumes_at_once_one_is_refused(finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path)
    args = ["train", "--resume", str(run), "--no-progress-bar", "--set",
            "training.max_epochs=4"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    procs = [subprocess.Popen([sys.executable, "-m", "engine.cli.main", *args], cwd=tmp_path,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "in use by PID" in one_error_line(refused)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 4
    assert not list(run.rglob("*.tmp-*")) and not (run / LOCK_NAME).exists()


def test_a_dead_writers_lock_and_temporaries_are_taken_over(finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (run / LOCK_NAME).write_text(f"{dead}\nsomewhere\ntraining\n")
    leftovers = [run / ".summary.json.tmp-k1ll3d00.json",
                 run / "checkpoints" / ".last.ckpt.tmp-k1ll3d00.ckpt"]
    for path in leftovers:
        path.write_bytes(b"half")
    cfg = engine.resolve_config(session=run / "session.toml",
                                overrides={"training.max_epochs": 2})
    result = engine.train(cfg, resume=True)
    assert result.status == "completed" and result.epochs == 2
    assert not any(p.exists() for p in leftovers)
    assert not (run / LOCK_NAME).exists()


# -- refused resumes change nothing ------------------------------------------------------------

def test_a_refused_resume_changes_nothing(finished_run, tmp_path, capsys):
    run = copy_run(finished_run, tmp_path)

    class Payload:
        def __reduce__(self):
            return (os.getpid, ())

    torch.save({"state_dict": {}, "x": Payload()}, run / "checkpoints" / "last.ckpt")
    before = snapshot(run)
    assert main(["train", "--resume", str(run), "--no-progress-bar"]) == 2
    one_error_line(capsys.readouterr().err)
    assert snapshot(run) == before
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"


# -- simulate into a used folder ---------------------------------------------------------------

def test_simulate_refuses_a_non_empty_folder_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "sim"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    assert main(["simulate", "--preset", "tiny", "--out", str(out), "--no-progress-bar"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(out) in line and "--overwrite" in line
    assert snapshot(out) == before
    with pytest.raises(RunError, match="simulation.overwrite"):
        engine.simulate(engine.resolve_config(), out, preset="tiny")
    assert snapshot(out) == before
    result = engine.simulate(engine.resolve_config(overrides={"simulation.overwrite": True}),
                             out, preset="tiny")
    assert result.status == "completed"
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / LOCK_NAME).exists()


# -- Lightning's own logs after a resume -------------------------------------------------------

def _log_keys(run: Path) -> list[tuple[str, str]]:
    with (run / "logs" / "metrics.csv").open(newline="") as fh:
        return [(r.get("epoch", ""), r["step"]) for r in csv.DictReader(fh)]


def test_lightning_logs_stay_continuous_after_a_resume(tiny_dataset, tmp_path):
    settings = {"execution__logger": "csv", "execution__log_every_n_steps": 1}
    straight = tmp_path / "straight"
    engine.train(tiny_resolved(tiny_dataset, straight, training__max_epochs=3, **settings))
    split = tmp_path / "split"
    engine.train(tiny_resolved(tiny_dataset, split, training__max_epochs=1, **settings))
    # Rows logged after the last checkpoint by a run killed later must not survive a resume.
    log = split / "logs" / "metrics.csv"
    with log.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    with log.open("a", newline="") as fh:
        csv.DictWriter(fh, fieldnames=list(rows[0])).writerow(dict(rows[-1], step="999999"))
    engine.train(tiny_resolved(tiny_dataset, split, training__max_epochs=3, **settings),
                 resume=True)
    assert _log_keys(split) == _log_keys(straight)


# -- a full disk at every write site -----------------------------------------------------------

def inject_full_disk(monkeypatch, name: str) -> list[str]:
    """Make the atomic write of files called ``name`` fail with ENOSPC; return a hit log."""
    real = tempfile.mkstemp
    hits: list[str] = []

    def mkstemp(*args, **kwargs):
        prefix = kwargs.get("prefix") or ""
        if prefix.startswith(f".{name}.tmp-") or (name.startswith("*") and
                                                   prefix.endswith(f"{name[1:]}.tmp-")):
            hits.append(prefix)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    return hits


TRAIN_SITES = ["session.toml", "provenance.json", "metrics.csv", "last.ckpt",
               "reconstruction.h5", "*.png", "summary.json"]


@pytest.mark.parametrize("site", TRAIN_SITES)
def test_training_on_a_full_disk(site, tiny_dataset, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    hits = inject_full_disk(monkeypatch, site)
    assert main(["train", *cli_settings(tiny_dataset, run, training__max_epochs=2)]) == 2
    assert hits, f"{site} was never written"
    line = one_error_line(capsys.readouterr().err)
    assert "no space left on the disk" in line, line
    resumable = (run / "checkpoints" / "last.ckpt").is_file()
    assert (f"train --resume {run.resolve()}" if resumable
            else "--set training.overwrite=true") in line, line
    assert not list(run.rglob("*.tmp-*")) and not (run / LOCK_NAME).exists()
    if (run / "summary.json").exists():  # the last complete version: the failure recorded
        assert json.loads((run / "summary.json").read_text())["status"] == "failed"
    monkeypatch.undo()
    # Room again: the folder resumes (or, before any checkpoint, the run starts over).
    if (run / "checkpoints" / "last.ckpt").is_file():
        assert main(["train", "--resume", str(run), "--no-progress-bar"]) == 0
    else:
        assert main(["train", *cli_settings(tiny_dataset, run, training__max_epochs=2,
                                            training__overwrite=True)]) == 0
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"


@pytest.mark.parametrize("site", ["dataset.npz", "product.h5", "diffraction.h5", "truth.h5"])
def test_simulate_on_a_full_disk(site, tmp_path, monkeypatch, capsys):
    out = tmp_path / "sim"
    inject_full_disk(monkeypatch, site)
    assert main(["simulate", "--preset", "tiny", "--out", str(out), "--no-progress-bar"]) == 2
    assert "no space left on the disk" in one_error_line(capsys.readouterr().err)
    assert not list(out.rglob("*.tmp-*")) and not (out / LOCK_NAME).exists()


@pytest.mark.parametrize("site", ["recon.h5", "*.png"])
def test_infer_on_a_full_disk(site, finished_run, tiny_dataset, tmp_path, monkeypatch,
                              capsys):
    inject_full_disk(monkeypatch, site)
    out = tmp_path / "out"
    assert main(["infer", "--checkpoint", str(finished_run / "checkpoints" / "last.ckpt"),
                 "--data", str(tiny_dataset), "--out", str(out / "recon.h5"),
                 "--accelerator", "cpu", "--no-progress-bar"]) == 2
    assert "no space left on the disk" in one_error_line(capsys.readouterr().err)
    assert not list(out.rglob("*.tmp-*")) and not (out / LOCK_NAME).exists()
