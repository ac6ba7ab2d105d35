"""One road per run kind (issue 21): the command line and the GUI's one engine job run the same
resolved configuration through the same entry, to the same files and provenance; relative
paths land next to the session file; a GUI resume uses the run's own session.toml."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from test_faults_helpers import TINY, make_tiny_dataset

import engine
from engine.cli.main import main
from engine.reporting import Reporter

pytest.importorskip("PySide6")
from ptycho_gui.jobs import engine_job, resume_in_window, simulate_job  # noqa: E402


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory)


def _session(folder: Path, data: Path, **more: object) -> Path:
    values = {**TINY, "data.path": str(data), "training.output_dir": "runs/one",
              "training.overwrite": True, "refinement.epochs": 2, **more}
    sections: dict[str, list[str]] = {}
    for key, value in values.items():
        section, name = key.split(".")
        sections.setdefault(section, []).append(f"{name} = {json.dumps(value)}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "session.toml"
    path.write_text("".join(f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in
                            sections.items()))
    return path


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and "logs" not in p.parts)


def _provenance(folder: Path) -> dict:
    found = json.loads((folder / "provenance.json").read_text())
    for key in ("started", "argv"):
        found.pop(key)
    return found


def test_cli_and_gui_job_train_one_config_to_the_same_run(tiny_dataset, tmp_path,
                                                          monkeypatch, capsys):
    session = _session(tmp_path / "sessions", tiny_dataset)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the run goes next to the session, not here
    run = tmp_path / "sessions" / "runs" / "one"

    assert main(["train", "--session", str(session)]) == 0
    assert f"run directory: {run}" in capsys.readouterr().out
    cli_files, cli_provenance = _files(run), _provenance(run)

    resolved = engine.resolve_config(session=session)  # what the GUI's document resolves
    output = engine_job("train", resolved).fn(Reporter(), threading.Event())
    assert output.status == "completed" and output.folder == run
    assert _files(run) == cli_files
    assert _provenance(run) == cli_provenance
    assert cli_provenance["sources"]["training.output_dir"] == f"session {session}"
    assert not list(elsewhere.iterdir())


def test_gui_simulation_keeps_the_sources_of_its_settings(tmp_path):
    session = tmp_path / "s.toml"
    session.write_text("[simulation]\nn_positions = 64\n[model]\nN = 32\n")
    resolved = engine.resolve_config(session=session)
    job = simulate_job(resolved, tmp_path / "sim")
    output = job.fn(Reporter(), threading.Event())
    assert output.status == "completed" and output.folder == tmp_path / "sim"
    sources = output.raw.sources
    assert sources["simulation.n_positions"] == f"session {session}"
    assert sources["simulation.output_dir"].startswith("gui")
    assert sources["simulation.seed"] == "default"
    assert not any(source.startswith("api") for source in sources.values())


def test_a_gui_resume_runs_with_the_runs_own_session(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    engine.save_session(engine.resolve_config(overrides={
        **TINY, "data.path": str(tiny_dataset), "training.output_dir": str(run),
        "model.width": 12}).config, run / "session.toml")
    # The window's session differs from the run's (width 8), and the user raised the epochs.
    settings = {k: v for k, v in TINY.items() if k != "training.max_epochs"}
    window = engine.resolve_config(overrides={**settings, "data.path": str(tiny_dataset)},
                                   gui={"training.max_epochs": (3, "gui"),
                                        "training.output_dir": (str(run), "gui resume")})
    resumed = resume_in_window(window)
    assert resumed.config.model.width == 12  # the run's own
    assert resumed.config.training.max_epochs == 3  # the change asked for
    assert resumed.sources["model.width"] == f"session {run / 'session.toml'}"
    assert resumed.config.training.output_dir == str(run)
