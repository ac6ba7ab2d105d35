"""The GUI asks before writing where a user may not expect it: into a folder that already
holds files (simulate), and outside the session's folder when the session file says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import SessionConfig, save_session
from engine.locks import LOCK_NAME

RUN_TIMEOUT_MS = 180_000


pytestmark = pytest.mark.usefixtures("one_thread")


def _asker(window, answer: bool) -> list[str]:
    asked: list[str] = []

    def ask(parent, title, message):
        asked.append(message)
        return answer

    window.controller.dialogs.ask_confirm = ask
    return asked


def test_simulate_into_a_folder_with_files_asks_and_a_no_changes_nothing(window, qtbot,
                                                                          tmp_path):
    c = window.controller
    assert c.session.apply_preset("tiny")
    folder = tmp_path / "beamtime"
    folder.mkdir()
    (folder / "notes.txt").write_text("scan 12: sample B")
    asked = _asker(window, False)
    assert not c.runs.start_simulate(folder)
    assert len(asked) == 1 and str(folder) in asked[0] and "already holds files" in asked[0]
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"] and not c.runs.busy
    asked = _asker(window, True)  # Yes: the simulation writes its files, the notes stay
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert c.runs.start_simulate(folder)
    assert blocker.args[0].status == "completed", blocker.args[0].error
    assert len(asked) == 1 and (folder / "dataset.npz").is_file()
    assert (folder / "notes.txt").read_text() == "scan 12: sample B"
    asked = _asker(window, False)
    qtbot.waitUntil(lambda: not c.previews.loader.busy, timeout=30_000)
    empty = tmp_path / "empty"
    empty.mkdir()
    # A writer lock left by a crashed run holds nothing of the user's: as the engine does,
    # the folder counts as empty.
    (empty / LOCK_NAME).write_text("")
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS):
        assert c.runs.start_simulate(empty)  # an empty folder: nothing to ask
    assert asked == []


def _received_session(tmp_path: Path) -> Path:
    config = SessionConfig()
    config.data.path = str(tmp_path / "data.npz")
    config.training.output_dir = "../../elsewhere/runs"  # from someone else's machine
    return save_session(config, tmp_path / "received" / "beamline" / "session.toml")


def test_output_outside_the_session_folder_is_asked_once_and_a_no_starts_nothing(
        window, qtbot, tmp_path):
    c = window.controller
    session = _received_session(tmp_path)
    assert c.session.open_session(session)
    asked = _asker(window, False)
    assert not c.runs.start_train()
    assert len(asked) == 1 and "training.output_dir" in asked[0]
    assert str((tmp_path / "elsewhere" / "runs").resolve()) in asked[0]
    assert not (tmp_path / "elsewhere").exists() and not c.runs.busy
    assert "outside the session's folder" in window.state_label.text()
    asked = _asker(window, True)
    assert c.runs.confirm_outputs("train") and c.runs.confirm_outputs("train")
    assert len(asked) == 1  # agreed once for this file and target: not asked again
    assert c.runs.confirm_outputs("infer")  # inference.output is not set by the file


def test_an_output_folder_chosen_in_the_window_is_not_asked(window, qtbot, tmp_path):
    c = window.controller
    assert c.session.open_session(_received_session(tmp_path))
    asked = _asker(window, False)
    window.form.editor("training.output_dir").line.setText(str(tmp_path / "mine"))
    qtbot.waitUntil(lambda: c.document.source_of("training.output_dir").startswith("gui"),
                    timeout=5000)
    assert c.runs.confirm_outputs("train") and asked == []


def test_inference_into_an_existing_file_asks_and_a_no_changes_nothing(window, tmp_path):
    """The engine replaces an existing output only with inference.overwrite (issue 21): the
    GUI asks first; No starts nothing and leaves the file."""
    c = window.controller
    out = tmp_path / "recon.h5"
    out.write_bytes(b"an earlier result")
    c.document.set_value("inference.checkpoint", str(tmp_path / "model.ckpt"))
    c.document.set_value("data.path", str(tmp_path / "data.npz"))
    c.document.set_value("inference.output", str(out))
    asked = _asker(window, False)
    assert not c.runs.start_infer()
    assert len(asked) == 1 and str(out) in asked[0] and "Replace" in asked[0]
    assert out.read_bytes() == b"an earlier result" and not c.runs.busy
    resolved = []
    c.runs._start = lambda job: resolved.append(job.context["resolved"]) or True
    asked = _asker(window, True)
    assert c.runs.start_infer()
    assert resolved[0].config.inference.overwrite is True
    assert resolved[0].sources["inference.overwrite"].startswith("gui")
