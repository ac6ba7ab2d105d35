"""Faults: kill and resume, atomic checkpoints, unwritable or full output, out of memory."""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from test_faults_helpers import cli_settings, engine_cli, make_tiny_dataset, tiny_resolved

from engine.errors import RunError

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory)


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


# -- atomic checkpoints -------------------------------------------------------------------------
def test_runs_write_checkpoints_through_the_atomic_io(tmp_path):
    from engine.config import ExecutionConfig
    from engine.training import build_trainer
    from engine.training.faults import AtomicCheckpointIO

    trainer = build_trainer(ExecutionConfig(accelerator="cpu", logger="none"), max_epochs=1,
                            run_dir=tmp_path, max_time_min=0.0)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


def test_a_crash_during_a_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    from engine.training.faults import AtomicCheckpointIO

    io = AtomicCheckpointIO()
    last = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"epoch": 3, "state_dict": {"w": torch.ones(4)}}, last)
    good = last.read_bytes()

    def dies_half_way(obj, f, *args, **kwargs):
        f.write(good[: len(good) // 2])  # a truncated file, then the "kill"
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"epoch": 4, "state_dict": {"w": torch.zeros(4)}}, last)
    assert last.read_bytes() == good
    assert _load(last)["epoch"] == 3
    assert [p.name for p in last.parent.iterdir()] == ["last.ckpt"]  # no temporary left


def test_checkpoints_load_without_unpickling(tmp_path):
    from engine.training.faults import AtomicCheckpointIO

    class Payload:  # an arbitrary object: needs pickle to come back
        def __reduce__(self):
            return (os.mkdir, (str(tmp_path / "pwned"),))

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "x": Payload()}, path)
    with pytest.raises(Exception, match="(?i)weights.only|unpickl|unsupported"):
        AtomicCheckpointIO().load_checkpoint(path)
    assert not (tmp_path / "pwned").exists()


# -- kill and resume ----------------------------------------------------------------------------
@pytest.mark.slow
def test_sigkill_mid_run_then_resume_completes(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    epochs = 12
    args = ["train", "--no-progress-bar",
            *cli_settings(tiny_dataset, run, training__max_epochs=epochs,
                          training__gain_check_every=0)]  # every epoch, then the resume
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli.main", *args], cwd=tmp_path,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = run / "checkpoints" / "last.ckpt"
    metrics = run / "metrics.csv"
    deadline = time.monotonic() + 240
    try:
        # Kill once a checkpoint and two epochs of metrics exist: mid-run, mid-epoch.
        while time.monotonic() < deadline and proc.poll() is None:
            if last.is_file() and metrics.is_file() and \
                    len(metrics.read_text().splitlines()) >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "training ended before it could be killed: " + \
            proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "summary.json").exists()  # the killed run never finished
    killed_at = _load(last)["epoch"]  # always a complete, safely loadable checkpoint
    assert 0 <= killed_at < epochs - 1
    before = list(csv.DictReader(metrics.open()))

    done = engine_cli("train", "--resume", str(run), "--no-progress-bar", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["resumed"] is True
    assert summary["epochs"] == epochs
    rows = list(csv.DictReader(metrics.open()))
    assert [int(r["epoch"]) for r in rows] == list(range(epochs))
    # The epochs finished before the kill are kept as they were: the count continued.
    kept = [r for r in before if int(r["epoch"]) <= killed_at]
    assert kept and rows[: len(kept)] == kept
    assert _load(last)["epoch"] == epochs - 1
    assert f"{epochs} epochs" in done.stdout


# -- output folder --------------------------------------------------------------------------------
def test_output_under_a_file_is_refused_before_training(tiny_dataset, tmp_path):
    from engine.cli.main import main
    from engine.runs import train

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "run"
    with pytest.raises(RunError, match="a-file") as info:
        train(tiny_resolved(tiny_dataset, out))
    assert "training.output_dir" in str(info.value)
    assert blocker.read_text() == "not a folder"
    assert main(["train", *cli_settings(tiny_dataset, out)]) == 2


def test_a_full_disk_is_refused_before_training(tiny_dataset, tmp_path, monkeypatch, capsys):
    import shutil

    from engine.cli.main import main
    from engine.runs import train
    from engine.training import faults

    real = shutil.disk_usage

    def nearly_full(path):
        usage = real(path)
        return usage._replace(free=5 * 2**20)

    monkeypatch.setattr(faults.shutil, "disk_usage", nearly_full)
    out = tmp_path / "run"
    with pytest.raises(RunError, match=r"only 5 MiB free") as info:
        train(tiny_resolved(tiny_dataset, out))
    assert str(out) in str(info.value) and "256 MiB" in str(info.value)
    assert not out.exists()  # refused before anything was written
    assert main(["train", *cli_settings(tiny_dataset, out)]) == 2
    err = capsys.readouterr().err
    assert "MiB free" in err and "Traceback" not in err


def test_disk_filling_up_during_a_run_is_a_run_error(tiny_dataset, tmp_path, monkeypatch):
    from engine.runs import train
    from engine.training.faults import AtomicCheckpointIO

    def no_space(self, checkpoint, path, storage_options=None):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(AtomicCheckpointIO, "save_checkpoint", no_space)
    with pytest.raises(RunError, match="no space left"):
        train(tiny_resolved(tiny_dataset, tmp_path / "run"))


# -- out of memory ---------------------------------------------------------------------------------
@pytest.mark.parametrize("error", [
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate "
                 "memory: you tried to allocate 21474836480 bytes."),
])
def test_out_of_memory_in_a_training_batch_names_the_batch_size(tiny_dataset, tmp_path,
                                                                monkeypatch, error):
    from engine.model.pinn import PINN
    from engine.runs import train

    def forward(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(PINN, "forward", forward)
    run = tmp_path / "run"
    with pytest.raises(RunError) as info:
        train(tiny_resolved(tiny_dataset, run, training__batch_size=6))
    message = str(info.value)
    assert "out of memory" in message and "batch of 6 groups" in message
    assert "--set training.batch_size=3" in message
    summary = json.loads((run / "summary.json").read_text())  # the run had started
    assert summary["status"] == "failed" and "out of memory" in summary["error"]


def test_out_of_memory_at_inference_names_the_inference_batch(tiny_dataset, tmp_path,
                                                              monkeypatch):
    from engine.config import resolve_config
    from engine.model.pinn import PINN
    from engine.runs import infer, train

    result = train(tiny_resolved(tiny_dataset, tmp_path / "run"))

    def forward(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")

    monkeypatch.setattr(PINN, "forward", forward)
    cfg = resolve_config(overrides={"execution.accelerator": "cpu",
                                    "execution.inference_batch_size": 64})
    out = tmp_path / "recon.h5"
    with pytest.raises(RunError, match=r"batch of 64 patterns.*inference_batch_size=32"):
        infer(result.checkpoints["last"], tiny_dataset, out, config=cfg)
    assert not out.exists()


def test_cli_out_of_memory_is_exit_2_with_the_hint(tiny_dataset, tmp_path, monkeypatch,
                                                   capsys):
    from engine.cli.main import main
    from engine.model.pinn import PINN

    def forward(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(PINN, "forward", forward)
    assert main(["train", *cli_settings(tiny_dataset, tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "training.batch_size=4" in err and "Traceback" not in err
