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
