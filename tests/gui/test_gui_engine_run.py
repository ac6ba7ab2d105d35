"""The GUI driving the real engine on tiny data: simulate, preview, train, stop, export."""

from __future__ import annotations

import importlib.util
import time

import h5py
import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

RUN_TIMEOUT_MS = 180_000


def _engine_has(module: str, name: str) -> bool:
    if importlib.util.find_spec(module) is None:
        return False
    return hasattr(importlib.import_module(module), name)


needs_simulate = pytest.mark.skipif(not _engine_has("engine", "simulate"),
                                    reason="engine.simulate is not available yet")
needs_train = pytest.mark.skipif(not _engine_has("engine", "train"),
                                 reason="engine.train is not available yet")


pytestmark = pytest.mark.usefixtures("one_thread")


def simulate_tiny(window, qtbot, folder):
    c = window.controller
    assert c.session.apply_preset("tiny")
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert c.runs.start_simulate(folder)
    assert blocker.args[0].status == "completed", blocker.args[0].error
    qtbot.waitUntil(lambda: c.previews.data_preview is not None and not c.previews.loader.busy,
                    timeout=30_000)
    return c.document.config


@needs_simulate
def test_simulate_from_the_gui_previews_the_new_data(window, qtbot, tmp_path):
    config = simulate_tiny(window, qtbot, tmp_path / "sim")
    assert config.model.N == 32
    assert config.data.path == str(tmp_path / "sim" / "dataset.npz")
    assert window.form.editor("data.path").value() == config.data.path
    browser = window.pattern_browser
    assert browser.slider.maximum() == config.simulation.n_positions - 1
    assert browser.counts.shape == (32, 32) and browser.counts.sum() > 0
    assert len(window.positions_view.positions) == config.simulation.n_positions
    assert window.probe_view.probe.shape[-1] == 32
    assert window.form.issue_text("data.path") == ""
    assert "64" in window.log_pane.toPlainText()  # the inspect report is logged


def test_data_file_problems_are_messages_not_crashes(window, qtbot, tmp_path):
    c = window.controller
    bad = tmp_path / "bad.npz"
    patterns = np.ones((4, 8, 8), np.float32)
    patterns[2, 3, 3] = np.nan
    np.savez(bad, diffraction=patterns, xcoords=np.arange(4.0), ycoords=np.zeros(3),
             probeGuess=np.ones((8, 8), np.complex64))
    with qtbot.waitSignal(c.previews.loader.finished, timeout=30_000):
        window.form.editor("data.path").line.setText(str(bad))
    text = window.form.issue_text("data.path")
    assert "ycoords" in text or "positions" in text
    assert "NaN" in text or "finite" in text
    assert "bad.npz" in window.log_pane.toPlainText()
    assert not [b for b in window.findChildren(QMessageBox) if b.isVisible()]

    with qtbot.waitSignal(c.previews.loader.finished, timeout=30_000):
        window.form.editor("data.path").line.setText(str(tmp_path / "missing.npz"))
    assert "missing.npz" in window.form.issue_text("data.path")

    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 10)
    with qtbot.waitSignal(c.previews.loader.finished, timeout=30_000):
        window.form.editor("data.path").line.setText(str(truncated))
    assert "truncated.h5" in window.form.issue_text("data.path")


@needs_simulate
@needs_train
def test_tiny_training_from_the_gui_streams_and_completes(window, qtbot, tmp_path):
    c = window.controller
    simulate_tiny(window, qtbot, tmp_path / "sim")
    form = window.form
    form.editor("training.max_epochs").widget.setValue(2)
    form.editor("training.output_dir").line.setText(str(tmp_path / "run"))
    form.editor("execution.accelerator").widget.setCurrentText("cpu")
    form.editor("execution.preview_interval_s").widget.setValue(0.0)
    frames = []
    c.runs.runner.signals.preview_ready.connect(lambda: frames.append(1))
    progress = []
    c.runs.runner.signals.progress_ready.connect(
        lambda: progress.append(window.progress_bar.format()))
    assert window.action_train.isEnabled(), window.action_train.toolTip()
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.action_train.trigger()
    outcome = blocker.args[0]
    assert outcome.status == "completed", outcome.error
    assert progress and any("epoch" in p for p in progress)
    assert frames and window.reconstruction_view.frames >= 1
    assert "cpu" in window.device_label.text()
    assert len(window.loss_view.history["train_loss"][1]) == 2
    assert "Train completed" in window.state_label.text()
    recon = c.previews.reconstruction
    assert recon is not None and np.iscomplexobj(recon.obj)
    assert c.document.config.inference.checkpoint  # filled from the run for Infer
    assert outcome.result.folder == tmp_path / "run" / "run-001"
    assert window.action_export.isEnabled() and window.action_infer.isEnabled()

    written = c.previews.export(tmp_path / "exported.h5")
    assert written == [tmp_path / "exported.h5"]
    with h5py.File(written[0], "r") as h5:
        assert h5["object"].shape[-2:] == recon.obj.shape
        assert len(h5["loss_values"]) == 2
    pngs = c.previews.export(tmp_path / "exported.png")
    assert [p.name for p in pngs] == ["exported-amplitude.png", "exported-phase.png"]

    # Infer with the checkpoint the run filled in, into a product next to the data.
    form.editor("inference.output").line.setText(str(tmp_path / "inferred.h5"))
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.action_infer.trigger()
    assert blocker.args[0].status == "completed", blocker.args[0].error
    assert (tmp_path / "inferred.h5").is_file()
    assert c.previews.reconstruction.product_path == tmp_path / "inferred.h5"
    assert "Infer completed" in window.state_label.text()
    log = window.log_pane.toPlainText()  # the quality numbers, as the CLI prints them
    assert "quality against" in log.split("Infer started")[-1]
    assert "PSNR (dB)" in log.split("Infer started")[-1]


@needs_simulate
@needs_train
def test_stopping_a_real_training_ends_it_as_cancelled(window, qtbot, tmp_path):
    c = window.controller
    simulate_tiny(window, qtbot, tmp_path / "sim")
    window.form.editor("training.max_epochs").widget.setValue(500)
    window.form.editor("training.output_dir").line.setText(str(tmp_path / "run"))
    window.form.editor("execution.accelerator").widget.setCurrentText("cpu")
    # Stop mid-epoch, as soon as the run reports progress.
    with qtbot.waitSignal(c.runs.runner.signals.progress_ready, timeout=RUN_TIMEOUT_MS):
        assert c.runs.start_train()
    t0 = time.monotonic()
    with qtbot.waitSignal(c.runs.runner.finished, timeout=30_000) as blocker:
        window.action_stop.trigger()
    assert blocker.args[0].status == "cancelled", blocker.args[0].error
    assert time.monotonic() - t0 < 10.0  # cooperative stop within a few seconds
    assert "cancelled" in window.state_label.text()
    assert len(window.loss_view.history.get("train_loss", ([], []))[1]) < 500


@needs_train
def test_missing_data_file_shows_the_engine_error_and_a_second_run_works(window, qtbot,
                                                                         tmp_path):
    c = window.controller
    window.form.editor("data.path").line.setText(str(tmp_path / "nowhere.npz"))
    window.form.editor("training.output_dir").line.setText(str(tmp_path / "run"))
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert c.runs.start_train()
    outcome = blocker.args[0]
    assert outcome.status == "failed" and outcome.user_error
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "nowhere.npz" in boxes[-1].text()
    boxes[-1].accept()
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert c.runs.start_train()  # the app stays usable: same error again, no hang
    assert blocker.args[0].status == "failed"


@needs_simulate
@needs_train
def test_provenance_names_the_session_file_and_the_gui_edit(window, qtbot, tmp_path):
    import json

    import engine
    from engine.config import apply_preset, save_session

    config = apply_preset(engine.SessionConfig(), "tiny").config
    engine.simulate(config, tmp_path / "sim")
    config.data.path = str(tmp_path / "sim" / "dataset.npz")
    config.training.max_epochs = 1
    config.training.output_dir = "runs"
    config.execution.accelerator = "cpu"
    session = save_session(config, tmp_path / "beamline.toml")
    c = window.controller
    assert c.session.open_session(session)
    qtbot.waitUntil(lambda: not c.previews.loader.busy and c.previews.data_preview is not None,
                    timeout=30_000)
    window.form.editor("training.batch_size").widget.setValue(8)  # the one GUI edit
    assert window.action_train.isEnabled(), window.action_train.toolTip()
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.action_train.trigger()
    outcome = blocker.args[0]
    assert outcome.status == "completed", outcome.error
    run_dir = outcome.result.folder
    assert run_dir == tmp_path / "runs" / "run-001"
    sources = json.loads((run_dir / "provenance.json").read_text())["sources"]
    label = f"session {tmp_path / 'beamline.toml'}"
    assert sources["training.batch_size"] == "gui"
    assert sources["training.max_epochs"] == label
    assert sources["data.path"] == label and sources["model.N"] == label
    assert sources["training.output_dir"].startswith("gui new run folder")
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"
