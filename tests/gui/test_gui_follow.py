"""Runs > Follow a run folder… and Runs > Run on a cluster…: a folder another process writes is
followed live (status, epochs, loss curves, figures, "updated N s ago"); the cluster dialog
previews and writes the SLURM script, hands it to sbatch and follows the folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from engine.cluster import SCRIPT, write_cluster_job
from engine.config import resolve_config

ROOT = Path(__file__).resolve().parents[2]
WRITER = ROOT / "tests" / "run_writer.py"


def test_follow_a_folder_another_process_writes(window, qtbot, tmp_path):
    run = tmp_path / "run"
    write_cluster_job(resolve_config(overrides={"execution.devices": 1}), run)
    c = window.controller
    c.dialogs.choose_folder = lambda parent, caption, start: str(run)
    window.action_follow.trigger()
    follower = c.cluster.followers[-1]
    assert follower.isVisible() and follower.folder == run.resolve()
    assert follower.status_label.text().startswith("queued")
    # A training writes its figures when it ends: the placeholders say so meanwhile.
    assert "writes its figures when it ends" in follower.amplitude.text()
    follower.timer.setInterval(100)
    writer = subprocess.Popen([sys.executable, str(WRITER), str(run), "4", "0.5"], cwd=ROOT)
    try:
        seen: list[str] = []
        qtbot.waitUntil(lambda: seen.append(follower.status_label.text())
                        or seen[-1].startswith("completed"), timeout=15000)
    finally:
        writer.wait(timeout=10)
    running = [int(m.group(1)) for text in seen if (m := re.match(r"running · epoch (\d+)", text))]
    assert len(set(running)) >= 3 and running == sorted(running)  # followed epoch by epoch
    assert "train loss" in next(t for t in seen if t.startswith("running · epoch 2"))
    assert follower.status_label.text() == "completed · 4 epochs"
    assert follower.loss_view.history["train_loss"][1] == [1.0, 0.5, 1 / 3, 0.25]
    assert not follower.amplitude.pixmap().isNull() and not follower.phase.pixmap().isNull()
    assert re.fullmatch(r"updated \d+ s ago", follower.age_label.text())
    assert writer.returncode == 0  # the window never locked the writer out


def test_follow_an_empty_folder_says_so(window, tmp_path):
    follower = window.controller.cluster.follow(tmp_path)
    assert follower.status_label.text() == "no run files in this folder (yet)"
    assert follower.age_label.text() == "no files yet"
    (tmp_path / "session.toml").write_text("schema_version = 1\n")
    follower.poll()
    assert follower.status_label.text().startswith("queued")


def test_cluster_dialog_writes_submits_and_follows(window, qtbot, tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    received = tmp_path / "received.txt"
    (bin_dir / "sbatch").write_text(
        f'#!/bin/sh\necho "$@" > "{received}"\necho "Submitted batch job 77"\n')
    (bin_dir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    c = window.controller
    window.action_cluster.trigger()
    dialog = c.cluster.dialog
    assert dialog.submit_box.isEnabled() and dialog.submit_box.isChecked()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    dialog.folder_edit.setText(str(busy))
    dialog.nodes.setValue(2)
    dialog.devices.setValue(4)
    dialog.accelerator.setCurrentText("gpu")
    dialog.minutes.setValue(50)
    script = dialog.preview.toPlainText()
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4", "#SBATCH --gpus-per-node=4",
                 "#SBATCH --time=01:00:00"):
        assert line in script
    dialog.write_button.click()  # a folder holding files: refused, said in the dialog
    assert dialog.isVisible() and "already holds files (notes.txt)" in dialog.problem.text()
    assert not received.exists()
    job = tmp_path / "job"
    dialog.folder_edit.setText(str(job))
    dialog.write_button.click()
    assert not dialog.isVisible()
    assert received.read_text().strip() == str(job / SCRIPT)
    assert "#SBATCH --nodes=2" in (job / SCRIPT).read_text()
    assert "Submitted batch job 77" in window.state_label.text()
    follower = c.cluster.followers[-1]
    assert follower.folder == job.resolve() and follower.status_label.text().startswith("queued")
