"""SIGKILL at random moments (issue 12): simulate, train and infer over 12 seeds each.

Each workflow is killed at a random moment of an undisturbed run's duration
(``tests/kill_harness.py``, which forks from one warm interpreter so a seed costs only the
workflow). After each kill, every final file present must load completely; then recovery
(resume when a checkpoint exists, otherwise the same run again) must complete and leave no
temporary file behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_faults_helpers import make_tiny_dataset

SEEDS = 12
"""Kills per workflow in the test suite, at random moments of the whole run (20 before the
suite outgrew its 12 minutes; a longer campaign: ``python tests/kill_harness.py KIND WORKDIR
DATA 100``)."""
HARNESS = Path(__file__).with_name("kill_harness.py")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory)


@pytest.fixture(scope="module")
def checkpoint(tiny_dataset, tmp_path_factory):
    import torch

    import engine

    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("kill-ckpt") / "run"
    values = {"data.path": str(tiny_dataset), "training.output_dir": str(run),
              "model.N": 32, "model.width": 8, "model.depth": 2, "training.max_epochs": 1,
              "execution.accelerator": "cpu", "execution.progress_bar": False,
              "execution.logger": "none"}
    return engine.train(engine.resolve_config(overrides=values)).checkpoints["last"]


def run_harness(kind: str, workdir: Path, data: Path, checkpoint: Path | None = None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore",
               OMP_WAIT_POLICY="PASSIVE")
    args = [sys.executable, str(HARNESS), kind, str(workdir), str(data), str(SEEDS)]
    if checkpoint is not None:
        args.append(str(checkpoint))
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-4000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check(report: dict, recoveries: set[str]) -> None:
    seeds = report["seeds"]
    assert len(seeds) == SEEDS
    for entry in seeds:
        assert entry["after_kill"] == [], entry          # final paths complete or absent
        assert entry["recovery_exit"] == 0, entry        # recovery always works
        assert entry["recovery"] in recoveries, entry
        assert entry["after_recovery"] == [], entry
        assert entry["left_after_recovery"] == [], entry  # no leftovers once reopened
    assert sum(e["killed"] for e in seeds) >= SEEDS // 2, seeds  # kills mostly hit mid-run


@pytest.mark.slow
def test_kills_during_simulate(tiny_dataset, tmp_path):
    check(run_harness("simulate", tmp_path, tiny_dataset), {"rerun"})


@pytest.mark.slow
def test_kills_during_training(tiny_dataset, tmp_path):
    report = run_harness("train", tmp_path, tiny_dataset)
    check(report, {"resume", "restart", "finished"})
    assert any(e["recovery"] == "resume" for e in report["seeds"])


@pytest.mark.slow
def test_kills_during_inference(tiny_dataset, checkpoint, tmp_path):
    check(run_harness("infer", tmp_path, tiny_dataset, checkpoint), {"rerun"})
