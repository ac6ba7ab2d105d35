"""Runs > Follow a run folder… and Runs > Run on a cluster…: a folder another process writes is
followed live (status, epochs, loss curves, figures, "updated N s ago"); the cluster dialog
previews and writes the SLURM script, hands it to sbatch and follows the folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

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
    # Nothing to show before the job's first frame: the placeholders say what will come.
    assert "live preview appears" in follower.amplitude.text()
    follower.timer.setInterval(100)
    writer = subprocess.Popen([sys.executable, str(WRITER), str(run), "4", "0.5"], cwd=ROOT)
    live: list[tuple[int, str, int]] = []

    def look() -> bool:
        seen.append(follower.status_label.text())
        if follower.live is not None:
            live.append((follower.live.epoch, follower.live_label.text(),
                         follower.amplitude.source.cacheKey()))
        return seen[-1].startswith("completed")

    try:
        seen: list[str] = []
        qtbot.waitUntil(look, timeout=15000)
    finally:
        writer.wait(timeout=10)
    # While it ran, the pictures were its live preview, replaced as new frames came.
    epochs = [epoch for epoch, _, _ in live]
    assert len(set(epochs)) >= 3 and epochs == sorted(epochs)
    assert re.fullmatch(r"live preview · train · epoch \d · step \d+ · updated \d+ s ago",
                        live[-1][1])
    assert len({key for _, _, key in live}) >= 3  # a new image per frame
    assert follower.live is None and follower.live_label.text() == ""  # the figures now
    running = [int(m.group(1)) for text in seen if (m := re.match(r"running · epoch (\d+)", text))]
    assert len(set(running)) >= 3 and running == sorted(running)  # followed epoch by epoch
    assert "train loss" in next(t for t in seen if t.startswith("running · epoch 2"))
    assert follower.status_label.text() == "completed · 4 epochs"
    assert follower.loss_view.history["train_loss"][1] == [1.0, 0.5, 1 / 3, 0.25]
    assert not follower.amplitude.pixmap().isNull() and not follower.phase.pixmap().isNull()
    assert re.fullmatch(r"updated \d+ s ago", follower.age_label.text())
    assert writer.returncode == 0  # the window never locked the writer out


def test_a_preview_that_cannot_be_read_keeps_the_last_frame_and_is_read_again(window,
                                                                               tmp_path):
    import os
    import time

    from engine.live_preview import write_live_preview
    from engine.reporting import PreviewFrame
    from engine.runs_index import LIVE_PREVIEW

    obj = np.exp(1j * np.linspace(-3, 3, 24 * 32).reshape(24, 32))
    write_live_preview(tmp_path, PreviewFrame(obj=obj, epoch=1, step=5), "train")
    follower = window.controller.cluster.follow(tmp_path)
    assert follower.live.epoch == 1 and not follower.amplitude.pixmap().isNull()
    shown = follower.amplitude.source.cacheKey()
    path = tmp_path / LIVE_PREVIEW
    path.write_bytes(b"PK\x03\x04 cut short")  # as if caught half-way (cannot be, atomic)
    later = time.time() + 5
    os.utime(path, (later, later))
    follower.poll()
    assert follower.live.epoch == 1 and follower.amplitude.source.cacheKey() == shown
    write_live_preview(tmp_path, PreviewFrame(obj=obj * 2, epoch=2, step=9), "train")
    os.utime(path, (later + 1, later + 1))
    follower.poll()  # the file changed again: read, shown
    assert follower.live.epoch == 2 and follower.amplitude.source.cacheKey() != shown
    assert "epoch 3 · step 9" in follower.live_label.text()


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
