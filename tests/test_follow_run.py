"""Following a run folder that another process writes (``engine.runs_index.watch_run``): the
status and epochs advance while the writer holds its lock, and nothing changes between polls
when nothing was written."""

import subprocess
import sys
import time
from pathlib import Path

from engine.cluster import write_cluster_job
from engine.config import resolve_config
from engine.runs_index import INCOMPLETE, watch_run

WRITER = Path(__file__).with_name("run_writer.py")
ROOT = Path(__file__).resolve().parents[1]


def start_writer(run: Path, epochs: int, interval_s: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WRITER), str(run), str(epochs),
                             str(interval_s)], cwd=ROOT, stderr=subprocess.PIPE, text=True)


def test_watcher_sees_a_cluster_run_advance(tmp_path):
    run = tmp_path / "run"
    write_cluster_job(resolve_config(overrides={"execution.devices": 1}), run)
    first = watch_run(run)
    assert first.state.status == INCOMPLETE and not first.state.started  # queued
    assert first.state.epochs is None and first.state.image is None
    assert watch_run(run, first.state).changed == frozenset()  # nothing written since

    writer = start_writer(run, epochs=4, interval_s=0.5)
    seen, state = [], first.state
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        changes = watch_run(run, state)
        state = changes.state
        if changes.changed:
            seen.append((state.status, state.epochs, changes.changed))
        if state.status == "completed":
            break
        time.sleep(0.05)
    writer.wait(timeout=10)
    assert writer.returncode == 0, writer.stderr.read()
    running = [epochs for status, epochs, _ in seen if status == INCOMPLETE and epochs]
    assert len(set(running)) >= 3 and running == sorted(running)  # followed epoch by epoch
    assert state.status == "completed" and state.epochs == 4 and state.started
    assert state.latest_metrics["epoch"] == 3 and state.latest_metrics["train_loss"] == 0.25
    assert state.image is not None and state.image.suffix == ".png"
    assert "status" in seen[-1][2] and any("image" in changed for _, _, changed in seen)
    assert 0 <= state.seconds_since_update() < 10
    assert watch_run(run, state).changed == frozenset()
