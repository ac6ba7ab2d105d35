"""A beamline session without traps: a new run folder per Train, the inference checkpoint
following the newest run, and no stale state after a bad file, New or Open."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from engine.config import SessionConfig, save_session
from ptycho_gui import run_controller
from ptycho_gui.model.products import RunOutput
from ptycho_gui.worker import Job


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    pytest.importorskip("torch")
    import engine
    from engine.config import apply_preset

    folder = tmp_path_factory.mktemp("tiny")
    engine.simulate(apply_preset(SessionConfig(), "tiny").config, folder)
    return folder / "dataset.npz"


def open_tiny_session(window, qtbot, tmp_path, tiny_data):
    config = SessionConfig()
    config.data.path = str(tiny_data)
    config.model.N = 32
    config.training.output_dir = "runs"
    c = window.controller
    assert c.session.open_session(save_session(config, tmp_path / "beamline.toml"))
    qtbot.waitUntil(lambda: c.previews.data_preview is not None, timeout=30_000)
    return c


def fake_train_job(resolved, resume=False):
    """Writes a checkpoint into the run folder it was given, as engine.train does."""
    folder = resolved.config.training.output_dir

    def run(reporter, stop):
        from pathlib import Path

        ckpt = Path(folder) / "checkpoints" / "last.ckpt"
        ckpt.parent.mkdir(parents=True)
        ckpt.write_bytes(b"weights")
        return RunOutput("train", "completed", folder=Path(folder), checkpoint=ckpt)

    return Job("train", run, {"run_dir": folder, "config": resolved.config})


def train(window, qtbot):
    c = window.controller
    assert window.action_train.isEnabled(), window.action_train.toolTip()
    with qtbot.waitSignal(c.runs.runner.finished, timeout=20_000) as blocker:
        window.action_train.trigger()
    return blocker.args[0]


def test_each_train_writes_a_new_run_folder_and_infer_follows_the_newest(
        window, qtbot, tmp_path, tiny_data, monkeypatch):
    monkeypatch.setattr(run_controller, "train_job", fake_train_job)
    c = open_tiny_session(window, qtbot, tmp_path, tiny_data)
    runs = tmp_path / "runs"
    first, second = train(window, qtbot), train(window, qtbot)
    assert (first.status, second.status) == ("completed", "completed")
    assert first.result.folder == runs / "run-001" and second.result.folder == runs / "run-002"
    assert not [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    newest = str(runs / "run-002" / "checkpoints" / "last.ckpt")
    assert c.document.config.inference.checkpoint == newest
    assert window.form.editor("inference.checkpoint").value() == newest
    # A checkpoint the user chose is pinned: later runs leave it alone.
    pinned = str(runs / "run-001" / "checkpoints" / "last.ckpt")
    window.form.editor("inference.checkpoint").line.setText(pinned)
    assert train(window, qtbot).result.folder == runs / "run-003"
    assert c.document.config.inference.checkpoint == pinned
    assert "run-003" in window.log_pane.toPlainText()


def test_a_bad_file_clears_the_old_data_and_blocks_train(window, qtbot, tmp_path, tiny_data):
    c = open_tiny_session(window, qtbot, tmp_path, tiny_data)
    browser = window.pattern_browser
    assert browser.counts is not None and window.action_train.isEnabled()
    bad = tmp_path / "bad.npz"
    np.savez(bad, diffraction=np.ones((4, 8, 8), np.float32), xcoords=np.arange(4.0),
             ycoords=np.zeros(3), probeGuess=np.ones((8, 8), np.complex64))
    inspecting = []

    def watch():
        inspecting.append((window.inspect_label.isVisible(), window.inspect_label.text(),
                           window.action_train.isEnabled(), browser.counts is None))

    c.previews.loader.started.connect(lambda job: watch())
    with qtbot.waitSignal(c.previews.loader.finished, timeout=30_000):
        window.form.editor("data.path").line.setText(str(bad))
    # While the file was inspected: said so, old patterns gone, Train off.
    assert inspecting and inspecting[0] == (True, "Inspecting bad.npz…", False, True)
    assert not window.inspect_label.isVisible()
    assert browser.counts is None  # the previous dataset is not shown for the bad file
    assert not window.action_train.isEnabled()
    assert "bad.npz" in window.action_train.toolTip() or "ycoords" in \
        window.action_train.toolTip()


def test_new_and_open_clear_the_status_and_the_old_result(window, qtbot, tmp_path):
    c = window.controller

    def failing(reporter, stop):
        raise RuntimeError("boom")

    c.dialogs.show_error = lambda *args: None
    with qtbot.waitSignal(c.runs.runner.finished, timeout=10_000):
        c.runs.runner.start(Job("train", failing))
    assert "failed" in window.state_label.text()
    window.reconstruction_view.set_object(np.ones((8, 8), np.complex64), caption="old")
    assert c.session.new_session()
    assert window.state_label.text() == "Ready"
    assert window.reconstruction_view.obj is None
    with qtbot.waitSignal(c.runs.runner.finished, timeout=10_000):
        c.runs.runner.start(Job("train", failing))
    assert c.session.open_session(save_session(SessionConfig(), tmp_path / "other.toml"))
    assert window.state_label.text() == "Ready"


def test_open_reconstruction_shows_a_product_and_refuses_a_bad_file(window, qtbot, tmp_path,
                                                                    tiny_data):
    import h5py

    c = window.controller
    product = tiny_data.parent / "product.h5"
    with h5py.File(product, "r") as h5:
        shape = h5["object"].shape[-2:]
    errors = []
    c.dialogs.show_error = lambda parent, title, message, details="": errors.append(message)
    c.dialogs.choose_product = lambda parent, start: str(product)
    assert not window.action_export.isEnabled()
    with qtbot.waitSignal(c.previews.opener.finished, timeout=30_000):
        window.action_open_result.trigger()
    assert window.reconstruction_view.obj.shape == shape
    assert "product.h5" in window.reconstruction_view.caption.text()
    assert window.action_export.isEnabled() and not errors
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with qtbot.waitSignal(c.previews.opener.finished, timeout=30_000):
        assert c.previews.open_reconstruction(bad)
    assert errors and "bad.h5" in errors[0]
    assert window.reconstruction_view.obj.shape == shape  # the shown result stays
