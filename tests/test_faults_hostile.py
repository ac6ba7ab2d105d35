"""Faults and hostile input of issue 21: a refused resume, symlinked and existing outputs,
session files choosing system folders, long and non-UTF-8 paths, infer's diffraction pair,
``config validate`` and missing data."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from test_faults_helpers import make_tiny_dataset, snapshot, tiny_resolved

import engine
from engine.cli.main import main

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory)


@pytest.fixture(scope="module")
def finished_run(tiny_dataset, tmp_path_factory):
    """A completed two-epoch run (copied by each test that may change it)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    result = engine.train(tiny_resolved(tiny_dataset, run, training__max_epochs=2))
    assert result.status == "completed" and result.epochs == 2
    return run


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith("error")]


def infer_args(run: Path, data: Path, out: Path, *more: str) -> list[str]:
    return ["infer", "--checkpoint", str(run / "checkpoints" / "last.ckpt"), "--data",
            str(data), "--out", str(out), "--accelerator", "cpu", "--no-progress-bar",
            "--set", "refinement.epochs=1", *more]


# -- 1. a refused resume leaves a finished run as it was ---------------------------------------

@pytest.mark.parametrize("epochs", [[], ["--set", "training.max_epochs=1"]])
def test_resume_without_more_epochs_is_refused_and_changes_nothing(finished_run, tmp_path,
                                                                   capsys, epochs):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    before = snapshot(run)
    assert main(["train", "--resume", str(run), "--no-progress-bar", *epochs]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert f"{run} already trained 2 epochs; ask for more than 2" in line
    assert "training.max_epochs" in line
    assert snapshot(run) == before
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"


# -- 2. symlinks and existing outputs ----------------------------------------------------------

def test_infer_never_writes_through_a_symlink(finished_run, tiny_dataset, tmp_path, capsys):
    victim = tmp_path / "victim.h5"
    victim.write_bytes(b"precious")
    out = tmp_path / "L"
    out.mkdir()
    (out / "recon.h5").symlink_to(victim)
    assert main(infer_args(finished_run, tiny_dataset, out / "recon.h5", "--overwrite")) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "symbolic link" in line and str(out / "recon.h5") in line
    assert victim.read_bytes() == b"precious"
    assert sorted(p.name for p in out.iterdir()) == ["recon.h5"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["L", "victim.h5"]


def test_infer_replaces_an_existing_output_only_with_overwrite(finished_run, tiny_dataset,
                                                               tmp_path, capsys):
    out = tmp_path / "recon.h5"
    out.write_bytes(b"an earlier result")
    assert main(infer_args(finished_run, tiny_dataset, out)) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert str(out) in line and "--overwrite" in line
    assert out.read_bytes() == b"an earlier result"
    assert main(infer_args(finished_run, tiny_dataset, out, "--overwrite")) == 0
    assert out.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"


def test_a_symlinked_run_file_is_refused(tiny_dataset, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").symlink_to(victim)
    with pytest.raises(engine.EngineError, match="symbolic link"):
        engine.train(tiny_resolved(tiny_dataset, run))
    assert victim.read_text() == "precious"


# -- 3. session files that choose where output goes --------------------------------------------

def _session(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "session.toml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize("target", ["/etc/ptycho-run", "/usr/lib/ptycho", "/proc/x"])
def test_system_folders_are_refused_on_every_surface(tmp_path, capsys, target, tiny_dataset):
    path = _session(tmp_path / "s", f'[training]\noutput_dir = "{target}"\n'
                    f'[inference]\noutput = "{target}/r.h5"\n')
    for args in (["config", "validate", "--session", str(path)],
                 ["train", "--session", str(path), "--data", str(tiny_dataset)],
                 ["infer", "--session", str(path), "--checkpoint", "x.ckpt"]):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert error_lines(err) and "inside the system folder" in err, (args, err)
    with pytest.raises(engine.ConfigError, match="system folder"):
        engine.resolve_config(overrides={"training.output_dir": target})


def test_train_and_infer_warn_about_outputs_outside_the_session(tmp_path, capsys,
                                                                tiny_dataset):
    path = _session(tmp_path / "a" / "b" / "c", '[training]\noutput_dir = "../../../x"\n'
                    '[inference]\noutput = "../../../y.h5"\n')
    for command in (["train", "--data", str(tiny_dataset / "missing")],
                    ["infer", "--checkpoint", str(tmp_path / "missing.ckpt")]):
        main([*command, "--session", str(path), "--accelerator", "cpu"])
        err = capsys.readouterr().err
        assert "warning: " in err and "writes outside the session's folder" in err, command
    assert not (tmp_path / "x").exists()


# -- 5. long and non-UTF-8 paths ---------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda base: base / ("x" * 300) / "run",
    lambda base: base / "/".join(["y" * 200] * 22),
    lambda base: Path(os.fsdecode(bytes(base) + b"/\xff\xfe/run")),
])
def test_long_and_non_utf8_paths_exit_2_and_make_nothing(tmp_path, capsys, make,
                                                         tiny_dataset):
    out = make(tmp_path / "o")
    assert main(["train", "--data", str(tiny_dataset), "--out", str(out),
                 "--accelerator", "cpu", "--no-progress-bar"]) == 2
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1 and "training.output_dir" in err
    assert not (tmp_path / "o").exists()
    assert main(["simulate", "--preset", "tiny", "--out", str(out)]) == 2
    assert error_lines(capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


# -- 6. infer reads the pair named by data.diffraction_path -------------------------------------

def test_infer_honours_data_diffraction_path(finished_run, tiny_dataset, tmp_path, capsys):
    folder = tmp_path / "pair"
    folder.mkdir()
    shutil.copy(tiny_dataset.parent / "product.h5", folder / "scan-product.h5")
    shutil.copy(tiny_dataset.parent / "diffraction.h5", folder / "scan-patterns.h5")
    out = tmp_path / "recon.h5"
    args = infer_args(finished_run, folder / "scan-product.h5", out)
    args += ["--set", f"data.path={folder / 'scan-product.h5'}",
             "--set", f"data.diffraction_path={folder / 'scan-patterns.h5'}"]
    assert main(args) == 0, capsys.readouterr().err
    assert out.is_file()


# -- 7. config validate and a missing data file -------------------------------------------------

def test_config_validate_says_the_data_file_is_missing(tmp_path, capsys):
    path = _session(tmp_path / "s", '[data]\npath = "nowhere.npz"\n')
    assert main(["config", "validate", "--session", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1
    assert f"data.path = '{tmp_path / 's' / 'nowhere.npz'}': not found" in err
