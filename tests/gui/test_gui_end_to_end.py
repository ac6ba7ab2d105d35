"""A scripted beamline session, offscreen, with the real engine on tiny data: simulate ->
train -> Stop -> resume the cancelled run -> infer -> export PNG and product. Asserts on the
files and on the widgets' state at each step."""

from __future__ import annotations

import json

import h5py
import pytest
from PySide6.QtWidgets import QMessageBox

RUN_TIMEOUT_MS = 180_000


pytestmark = pytest.mark.usefixtures("one_thread")


def no_error_box(window):
    return not [b for b in window.findChildren(QMessageBox) if b.isVisible()]


def test_simulate_train_stop_resume_infer_export(window, qtbot, tmp_path):
    c, form = window.controller, window.form
    runs = c.runs.runner
    # Simulate: data.path follows, the preview shows the new data.
    assert c.session.apply_preset("tiny")
    form.editor("training.max_epochs").widget.setValue(3)
    form.editor("training.output_dir").line.setText(str(tmp_path / "runs"))
    form.editor("execution.accelerator").widget.setCurrentText("cpu")
    with qtbot.waitSignal(runs.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert c.runs.start_simulate(tmp_path / "sim")
    assert blocker.args[0].status == "completed"
    qtbot.waitUntil(lambda: c.previews.data_preview is not None and not c.previews.loader.busy,
                    timeout=30_000)
    assert window.pattern_browser.counts is not None and window.action_train.isEnabled()

    # Train, then Stop after the first epoch: a cancelled run-001 with its files.
    with qtbot.waitSignal(runs.signals.metrics, timeout=RUN_TIMEOUT_MS):
        window.action_train.trigger()
    assert window.action_stop.isEnabled() and not window.action_train.isEnabled()
    with qtbot.waitSignal(runs.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.action_stop.trigger()
    stopped = blocker.args[0]
    run1 = tmp_path / "runs" / "run-001"
    assert stopped.status == "cancelled" and stopped.result.folder == run1
    assert json.loads((run1 / "summary.json").read_text())["status"] == "cancelled"
    assert (run1 / "checkpoints" / "last.ckpt").is_file()
    assert "cancelled" in window.state_label.text() and window.action_train.isEnabled()
    assert str(run1) in c.document.config.inference.checkpoint

    # Resume the cancelled run in its folder: it continues to max_epochs.
    with qtbot.waitSignal(runs.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert c.runs.start_train(resume_from=run1)
    resumed = blocker.args[0]
    assert resumed.status == "completed", resumed.error
    assert resumed.result.folder == run1
    summary = json.loads((run1 / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs"] == 3
    assert not (tmp_path / "runs" / "run-002").exists()
    assert "Train completed" in window.state_label.text()

    # Infer with the checkpoint that followed the run, into a product.
    form.editor("inference.output").line.setText(str(tmp_path / "inferred.h5"))
    with qtbot.waitSignal(runs.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.action_infer.trigger()
    assert blocker.args[0].status == "completed", blocker.args[0].error
    assert (tmp_path / "inferred.h5").is_file()
    assert "quality against" in window.log_pane.toPlainText().split("Infer started")[-1]
    assert window.reconstruction_view.obj is not None and window.action_export.isEnabled()

    # Export the result as a product and as PNGs.
    written = c.previews.export(tmp_path / "export" / "figure.h5")
    with h5py.File(written[0], "r") as h5:
        assert h5["object"].shape[-2:] == window.reconstruction_view.obj.shape
    pngs = c.previews.export(tmp_path / "export" / "figure.png")
    assert pngs and all(p.is_file() and p.stat().st_size > 0 for p in pngs)
    assert no_error_box(window)
