"""``ptycho-engine config ...`` as a user runs it (real subprocesses for the entry point)."""

import json
import subprocess
import sys

from engine.cli.main import main


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "engine.cli.main", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_version():
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("ptycho-engine ")


def test_init_then_validate_then_break(tmp_path):
    session = tmp_path / "s.toml"
    assert main(["config", "init", "--out", str(session)]) == 0
    assert "# Number of passes over the training split." in session.read_text()
    out = run_cli("config", "validate", "--session", str(session))
    assert out.returncode == 0, out.stderr
    session.write_text(session.read_text().replace("batch_size = 16", "batch_size = -3"))
    out = run_cli("config", "validate", "--session", str(session))
    assert out.returncode == 2
    assert "training.batch_size = -3: must be >= 1" in out.stderr
    assert "Traceback" not in out.stderr


def test_init_refuses_to_overwrite(tmp_path, capsys):
    session = tmp_path / "s.toml"
    session.write_text("keep")
    assert main(["config", "init", "--out", str(session)]) == 2
    assert session.read_text() == "keep"
    assert "--force" in capsys.readouterr().err


def test_show_explain_sources(tmp_path, capsys):
    session = tmp_path / "s.toml"
    session.write_text("[training]\nbatch_size = 8\n")
    code = main(["config", "show", "--session", str(session), "--accelerator", "cpu",
                 "--set", "training.max_epochs=3", "--explain"])
    out = capsys.readouterr().out
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert '"cpu"' in lines["execution.accelerator"]
    assert "cli --accelerator" in lines["execution.accelerator"]
    assert "3" in lines["training.max_epochs"]
    assert "cli --set training.max_epochs" in lines["training.max_epochs"]
    assert f"session {session}" in lines["training.batch_size"]
    assert "# default" in lines["model.N"]


def test_show_json_and_bool_flags(capsys):
    assert main(["config", "show", "--json", "--deterministic", "--num-workers", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["execution"]["deterministic"] is True
    assert data["execution"]["num_workers"] == 2


def test_bad_flag_value_exit_2(capsys):
    assert main(["config", "show", "--devices", "zero", "--set", "model.gridsiz=2"]) == 2
    err = capsys.readouterr().err
    assert "model.gridsiz" in err and "did you mean 'gridsize'" in err
