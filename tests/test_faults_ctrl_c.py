"""Ctrl-C is answered within 2 s in every stage of ``ptycho-engine train`` (issue 21, fault 8):
during start-up (imports, data, set-up: nothing is made) and during the epochs (the run is
written "cancelled" with a loadable checkpoint)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_faults_helpers import cli_settings, make_tiny_dataset, tiny_resolved

import engine

LIMIT_S = 2.0


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory)


def _launch(args: list[str], cwd: Path) -> tuple[subprocess.Popen[bytes], list[str]]:
    """Start ``ptycho-engine ARGS`` as the console script runs it; collect its output lines
    (progress bars included) as they come."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", "from engine.cli.main import run; run()",
                             *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(4096):
            lines.extend(chunk.decode(errors="replace").replace("\r", "\n").splitlines())

    threading.Thread(target=read, daemon=True).start()
    return proc, lines


def _interrupt(proc: subprocess.Popen[bytes]) -> float:
    """Send Ctrl-C; seconds until the process has ended."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    return time.monotonic() - sent


def _train_args(data: Path, run: Path) -> list[str]:
    return ["train", *cli_settings(data, run, training__max_epochs=500,
                                   execution__progress_bar=True)]


@pytest.mark.parametrize("delay", [0.3, 1.5])
def test_ctrl_c_during_start_up_ends_at_once_and_makes_nothing(tiny_dataset, tmp_path, delay):
    run = tmp_path / "run"
    proc, lines = _launch(_train_args(tiny_dataset, run), tmp_path)
    time.sleep(delay)
    latency = _interrupt(proc)
    assert latency < LIMIT_S, (latency, lines[-5:])
    assert proc.returncode != 0
    assert not run.exists(), lines[-5:]


def test_ctrl_c_during_the_epochs_is_a_clean_cancel_within_2_s(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    proc, lines = _launch(_train_args(tiny_dataset, run), tmp_path)
    deadline = time.monotonic() + 240
    while not any("train epoch 2/" in line for line in lines):
        assert proc.poll() is None and time.monotonic() < deadline, lines[-10:]
        time.sleep(0.05)
    latency = _interrupt(proc)
    assert latency < LIMIT_S, (latency, lines[-5:])
    assert proc.returncode == 1  # cancelled
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "cancelled" and summary["epochs"] >= 1
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "reconstruction.h5").is_file()  # the live estimate


def test_a_stop_requested_before_the_run_starts_writes_nothing(tiny_dataset, tmp_path):
    """The API's view of a Ctrl-C during start-up: the run checks the stop request before it
    makes its folder and again before training, and returns "cancelled" at once."""
    stop = threading.Event()
    stop.set()
    run = tmp_path / "run"
    result = engine.train(tiny_resolved(tiny_dataset, run), stop=stop)
    assert result.status == "cancelled" and result.epochs == 0
    assert not run.exists()
