"""Output paths chosen by a session file outside its folder are shown (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.main import main
from engine.config import output_path_warnings


def session(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "session.toml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize("value", ["../../../tmp/x", "/tmp/elsewhere"])
def test_output_dir_outside_the_session_folder_is_a_warning(tmp_path, value):
    path = session(tmp_path / "a" / "b" / "c", f'[training]\noutput_dir = "{value}"\n')
    warnings = output_path_warnings(path)
    assert len(warnings) == 1
    assert "training.output_dir writes outside the session's folder" in warnings[0]
    assert str(path) in warnings[0]


def test_paths_inside_the_folder_and_inputs_are_not_warned(tmp_path):
    path = session(tmp_path / "s", '[training]\noutput_dir = "runs/one"\n'
                   '[inference]\noutput = "recon/r.h5"\n'
                   '[data]\npath = "../../data.npz"\n')
    assert output_path_warnings(path) == []
    # Defaults (not written in the file) are not the file's choice.
    assert output_path_warnings(session(tmp_path / "t", "")) == []


def test_inference_output_outside_is_warned(tmp_path):
    path = session(tmp_path / "s", '[inference]\noutput = "../r.h5"\n')
    assert [w.split(": ", 1)[1].split(" writes")[0] for w in output_path_warnings(path)] == \
        ["inference.output"]


@pytest.mark.parametrize("action", [["validate"], ["show"]])
def test_cli_config_validate_and_show_print_the_warning(tmp_path, capsys, action):
    path = session(tmp_path / "a" / "b", '[training]\noutput_dir = "../../../tmp/x"\n')
    assert main(["config", *action, "--session", str(path)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and "training.output_dir writes outside" in err


def test_a_sessions_default_outputs_are_written_as_defaults_and_not_warned(tmp_path,
                                                                          monkeypatch):
    """A run folder's own session.toml (train, reconstruct, a cluster job) keeps the outputs
    left at their defaults as defaults: reopened (a resume, the cluster job) they land in that
    folder, and the file is not warned about outputs pointing back at the first folder."""
    import engine
    from engine.config import load_session, save_session

    monkeypatch.chdir(tmp_path)
    resolved = engine.resolve_config(None, overrides={"training.max_epochs": 3})
    assert Path(resolved.config.inference.output).is_absolute()  # resolved in the working folder
    session = save_session(resolved.config, tmp_path / "run" / "session.toml",
                           defaults=resolved.default_keys())
    assert output_path_warnings(session) == []
    again = load_session(session)
    assert Path(again.inference.output) == tmp_path / "run" / "reconstruction.h5"
    assert again.training.max_epochs == 3
    # without the default keys the baked-in absolute path points outside: warned
    baked = save_session(resolved.config, tmp_path / "other" / "session.toml")
    assert any("inference.output" in w for w in output_path_warnings(baked))
