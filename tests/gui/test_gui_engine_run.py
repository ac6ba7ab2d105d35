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


@pytest.fixture(autouse=True)
def one_thread():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two shared cores: keep the tests polite
    yield
    torch.set_num_threads(threads)


def simulate_tiny(window, qtbot, folder):
    c = window.controller
    assert c.apply_preset("tiny")
    with qtbot.waitSignal(c.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert c.start_simulate(folder)
    assert blocker.args[0].status == "completed", blocker.args[0].error
    qtbot.waitUntil(lambda: c.data_preview is not None and not c.loader.busy, timeout=30_000)
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
    with qtbot.waitSignal(c.loader.finished, timeout=30_000):
        window.form.editor("data.path").line.setText(str(bad))
    text = window.form.issue_text("data.path")
    assert "ycoords" in text or "positions" in text
    assert "NaN" in text or "finite" in text
    assert "bad.npz" in window.log_pane.toPlainText()
    assert not [b for b in window.findChildren(QMessageBox) if b.isVisible()]

    with qtbot.waitSignal(c.loader.finished, timeout=30_000):
        window.form.editor("data.path").line.setText(str(tmp_path / "missing.npz"))
    assert "missing.npz" in window.form.issue_text("data.path")

    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 10)
    with qtbot.waitSignal(c.loader.finished, timeout=30_000):
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
    c.runner.signals.preview_ready.connect(lambda: frames.append(1))
    progress = []
    c.runner.signals.progress_ready.connect(lambda: progress.append(window.progress_bar.format()))
    assert window.action_train.isEnabled(), window.action_train.toolTip()
    with qtbot.waitSignal(c.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.action_train.trigger()
    outcome = blocker.args[0]
    assert outcome.status == "completed", outcome.error
    assert progress and any("epoch" in p for p in progress)
    assert frames and window.reconstruction_view.frames >= 1
    assert "cpu" in window.device_label.text()
    assert len(window.loss_view.history["train_loss"][1]) == 2
    assert "Train completed" in window.state_label.text()
    recon = c.reconstruction
    assert recon is not None and np.iscomplexobj(recon.obj)
    assert c.document.config.inference.checkpoint  # filled from the run for Infer
    assert window.action_export.isEnabled() and window.action_infer.isEnabled()

    written = c.export(tmp_path / "exported.h5")
    assert written == [tmp_path / "exported.h5"]
    with h5py.File(written[0], "r") as h5:
        assert h5["object"].shape[-2:] == recon.obj.shape
        assert len(h5["loss_values"]) == 2
    pngs = c.export(tmp_path / "exported.png")
    assert [p.name for p in pngs] == ["exported-amplitude.png", "exported-phase.png"]

    # Infer with the checkpoint the run filled in, into a product next to the data.
    form.editor("inference.output").line.setText(str(tmp_path / "inferred.h5"))
    with qtbot.waitSignal(c.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.action_infer.trigger()
    assert blocker.args[0].status == "completed", blocker.args[0].error
    assert (tmp_path / "inferred.h5").is_file()
    assert c.reconstruction.product_path == tmp_path / "inferred.h5"
    assert "Infer completed" in window.state_label.text()


@needs_simulate
@needs_train
def test_stopping_a_real_training_ends_it_as_cancelled(window, qtbot, tmp_path):
    c = window.controller
    simulate_tiny(window, qtbot, tmp_path / "sim")
    window.form.editor("training.max_epochs").widget.setValue(500)
    window.form.editor("training.output_dir").line.setText(str(tmp_path / "run"))
    window.form.editor("execution.accelerator").widget.setCurrentText("cpu")
    # Stop mid-epoch, as soon as the run reports progress.
    with qtbot.waitSignal(c.runner.signals.progress_ready, timeout=RUN_TIMEOUT_MS):
        assert c.start_train()
    t0 = time.monotonic()
    with qtbot.waitSignal(c.runner.finished, timeout=30_000) as blocker:
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
    with qtbot.waitSignal(c.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert c.start_train()
    outcome = blocker.args[0]
    assert outcome.status == "failed" and outcome.user_error
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "nowhere.npz" in boxes[-1].text()
    boxes[-1].accept()
    with qtbot.waitSignal(c.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert c.start_train()  # the app stays usable: same error again, no hang
    assert blocker.args[0].status == "failed"
