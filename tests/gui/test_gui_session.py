"""Sessions in the GUI: validation gates runs, open/edit/save/reopen, unsaved changes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from engine.config import SessionConfig, config_to_dict, load_session, resolve_config, save_session


def error_boxes(window):
    return [b for b in window.findChildren(QMessageBox) if b.isVisible()]


def test_invalid_value_disables_run_with_the_reason_shown(window, qtbot):
    form, c = window.form, window.controller
    assert window.action_simulate.isEnabled()
    # gridsize 4 groups 16 patterns but only 9 neighbours are drawn: a cross-field problem.
    form.editor("model.gridsize").widget.setValue(4)
    assert not window.action_simulate.isEnabled()
    assert not window.action_train.isEnabled()
    assert "model.n_neighbours" in window.state_label.text()
    assert "16" in form.issue_text("model.n_neighbours")
    assert form.editor("model.n_neighbours").widget.property("invalid") is True
    assert "Cannot run" in window.action_simulate.toolTip()
    form.editor("model.n_neighbours").widget.setValue(16)
    assert window.action_simulate.isEnabled()
    assert form.issue_text("model.n_neighbours") == ""
    assert form.editor("model.n_neighbours").widget.property("invalid") is False
    assert window.state_label.text() == "Ready"
    # Train also needs data: the reason is in its tooltip.
    assert not window.action_train.isEnabled()
    assert "data file" in window.action_train.toolTip()
    assert c.run_blockers("train") == ["choose a data file first (Data > path)"]


def test_invalid_text_field_is_marked_at_the_field(window):
    spec_key = "execution.devices"
    window.form.editor(spec_key).widget.setText("two")
    assert "expected 'auto'" in window.form.issue_text(spec_key)
    assert not window.action_simulate.isEnabled()


def test_advanced_field_with_a_problem_is_unfolded(window):
    c = window.controller
    assert not window.form.is_field_visible("execution.persistent_workers")
    window.form.editor("execution.persistent_workers").widget.setChecked(True)
    c.document.set_value("execution.persistent_workers", True)
    assert window.form.is_field_visible("execution.persistent_workers")
    assert "num_workers" in window.form.issue_text("execution.persistent_workers")


def test_open_edit_save_reopen_gives_the_same_config(window, qtbot, tmp_path):
    c = window.controller
    original = SessionConfig()
    original.training.max_epochs = 5
    original.data.path = str(tmp_path / "data" / "scan.npz")
    path = save_session(original, tmp_path / "first.toml")
    assert c.session.open_session(path)
    assert window.windowTitle().startswith("first.toml —")
    assert window.form.editor("training.max_epochs").widget.value() == 5

    line = window.form.editor("training.learning_rate").widget.lineEdit()
    line.selectAll()
    qtbot.keyClicks(line, "1e-4")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    window.form.editor("simulation.photons_per_pattern").widget.setValue(1e4)
    window.form.editor("model.generator").widget.setCurrentIndex(1)
    assert window.windowTitle().startswith("first.toml* —")

    assert c.session.save_session(tmp_path / "second.toml")
    assert window.windowTitle().startswith("second.toml —")
    reopened = load_session(tmp_path / "second.toml")
    assert config_to_dict(reopened) == config_to_dict(window.form.config())
    assert reopened.training.learning_rate == 1e-4
    assert reopened.data.path == str(tmp_path / "data" / "scan.npz")
    # The file is the CLI's TOML, relative inside its folder, with no window state in it.
    text = (tmp_path / "second.toml").read_text()
    assert 'path = "data/scan.npz"' in text and "geometry" not in text.lower().split("[")[0]
    assert not _window_state(text)


def test_editing_back_clears_the_star(window):
    box = window.form.editor("training.max_epochs").widget
    before = box.value()
    box.setValue(before + 1)
    assert "*" in window.windowTitle()
    box.setValue(before)
    assert "*" not in window.windowTitle()


def test_bad_session_file_shows_every_problem_and_keeps_the_session(window, tmp_path):
    c = window.controller
    window.form.editor("training.max_epochs").widget.setValue(7)
    bad = tmp_path / "bad.toml"
    bad.write_text("[training]\nmax_epoch = 3\nlearning_rate = 'fast'\n[modle]\nN = 64\n")
    assert not c.session.open_session(bad)
    boxes = error_boxes(window)
    assert len(boxes) == 1
    text = boxes[0].text()
    assert "bad.toml" in text and "max_epoch" in text and "learning_rate" in text
    assert "modle" in text
    boxes[0].close()
    assert window.form.config().training.max_epochs == 7  # nothing lost
    assert c.document.config.training.max_epochs == 7
    assert "bad.toml" in window.log_pane.toPlainText()


def test_closing_with_unsaved_changes_asks(window, tmp_path):
    c = window.controller
    window.form.editor("training.max_epochs").widget.setValue(11)
    asked = []

    def cancel(parent, name):
        asked.append(name)
        return "cancel"

    c.dialogs.ask_save_changes = cancel
    assert not window.close()
    assert window.isVisible() and asked == ["untitled"]

    c.dialogs.ask_save_changes = lambda parent, name: "save"
    c.dialogs.choose_save_session = lambda parent, start: str(tmp_path / "kept.toml")
    assert window.close()
    assert load_session(tmp_path / "kept.toml").training.max_epochs == 11


def test_unmodified_session_closes_without_asking(window):
    def fail(parent, name):
        raise AssertionError("must not ask")

    window.controller.dialogs.ask_save_changes = fail
    assert window.close()


def test_recent_files_and_geometry_live_in_qsettings(window, settings, tmp_path):
    c = window.controller
    path = save_session(SessionConfig(), tmp_path / "recent.toml")
    c.session.open_session(path)
    assert c.session.recent.paths()[0] == str(Path(path).resolve())
    actions = [a.text() for a in window.recent_menu.actions()]
    assert str(Path(path).resolve()) in actions
    window.close()
    settings.sync()
    assert settings.value("window/geometry") is not None
    assert not _window_state(Path(path).read_text())


def test_new_session_restores_defaults(window):
    c = window.controller
    window.form.editor("training.max_epochs").widget.setValue(3)
    assert c.session.new_session()
    # the defaults, with default paths made absolute (no session file: the working folder)
    assert config_to_dict(window.form.config()) == config_to_dict(resolve_config(None).config)
    assert window.form.config().training.max_epochs == SessionConfig().training.max_epochs
    assert window.windowTitle().startswith("untitled —")


def test_save_without_a_file_asks_for_one(window, tmp_path):
    c = window.controller
    c.dialogs.choose_save_session = lambda parent, start: ""
    assert not c.session.save_session()  # cancelled: nothing written
    c.dialogs.choose_save_session = lambda parent, start: str(tmp_path / "asked.toml")
    window.action_save.trigger()
    assert (tmp_path / "asked.toml").is_file()


def test_keyboard_edit_marks_modified(window, qtbot):
    box = window.form.editor("training.batch_size").widget
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Up)
    assert window.controller.document.modified


def _window_state(session_text: str) -> list[str]:
    """Lines of a session file that hold window state (its comments may say "window": the
    probe's window, a stopping window)."""
    return [line for line in session_text.splitlines()
            if not line.lstrip().startswith("#")
            and ("window" in line.lower() or "geometry" in line.lower())]
