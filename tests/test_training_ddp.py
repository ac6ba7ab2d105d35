"""Two-process CPU DDP training (gloo) from the command line writes ONE consistent run."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import pytest
from test_training_helpers import TINY_SETTINGS


def _args(data, out):
    sets = []
    for key, value in TINY_SETTINGS.items():
        if key.startswith("execution."):
            continue
        sets += ["--set", f"{key}={value}"]
    return ["train", "--data", str(data), "--out", str(out), *sets, "--accelerator", "cpu",
            "--strategy", "ddp", "--devices", "2", "--no-progress-bar"]


def _check_run(out, proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert proc.stdout.count("training completed") == 1  # rank 0 reports, rank 1 is silent
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 2
    assert summary["device"]["world_size"] == 2
    assert summary["device"]["strategy"] == "DDPStrategy"
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["resolved"]["devices"] == 2
    with open(out / "metrics.csv", newline="") as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == [0, 1]  # no duplicate rows
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert (out / "reconstruction.h5").is_file()
    assert not list(out.glob(".*.tmp-*"))  # no half-written files from a second writer


@pytest.mark.slow
def test_ddp_two_processes_with_python_m(tiny_data, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "engine.cli.main", *_args(tiny_data, out)],
                          capture_output=True, text=True, timeout=300)
    _check_run(out, proc)
    assert "RuntimeWarning" not in proc.stderr


@pytest.mark.slow
def test_ddp_two_processes_with_the_console_script(tiny_data, tmp_path):
    script = shutil.which("ptycho-engine")
    if script is None:
        pytest.skip("the ptycho-engine console script is not installed (pip install -e .)")
    out = tmp_path / "run"
    proc = subprocess.run([script, *_args(tiny_data, out)], capture_output=True, text=True,
                          timeout=300)
    _check_run(out, proc)
