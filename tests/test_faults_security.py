"""Security at run time: user files are data, never code.

The static checks live in tests/test_security.py (no pickle imports, np.load with
allow_pickle=False, torch.load with weights_only=True); here malicious files are actually fed
to every loader, and each carries a payload that would create a marker file if it ever ran.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from test_faults_helpers import cli_settings, make_tiny_dataset

import engine
from engine.cli.main import main
from engine.errors import CheckpointError, ConfigError, DataError, EngineError

torch.set_num_threads(1)


class Payload:
    """Unpickling this calls ``os.mkdir(marker)``: proof that something unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory)


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "PAYLOAD-RAN"
    yield path
    assert not path.exists(), "a payload was executed"


def _evil_checkpoint(path: Path, marker: Path) -> Path:
    """A checkpoint that looks like ours but carries a pickled object."""
    torch.save({"state_dict": {"w": torch.zeros(2)},
                "hyper_parameters": {"model": {}, "normalisers": {}, "extra": Payload(marker)}},
               path)
    return path


def test_checkpoint_with_a_pickled_object_is_refused(tmp_path, marker):
    from engine.training.checkpoint import load_module, read_checkpoint

    ckpt = _evil_checkpoint(tmp_path / "evil.ckpt", marker)
    for loader in (read_checkpoint, load_module):
        with pytest.raises(CheckpointError, match="evil.ckpt.*weights_only"):
            loader(ckpt)


def test_infer_with_a_pickled_checkpoint_exits_2(tmp_path, marker, tiny_dataset, capsys):
    ckpt = _evil_checkpoint(tmp_path / "evil.ckpt", marker)
    with pytest.raises(CheckpointError):
        engine.infer(ckpt, tiny_dataset, tmp_path / "out.h5")
    assert main(["infer", "--checkpoint", str(ckpt), "--data", str(tiny_dataset), "--out",
                 str(tmp_path / "out.h5"), "--accelerator", "cpu"]) == 2
    assert "evil.ckpt" in capsys.readouterr().err
    assert not (tmp_path / "out.h5").exists()


def test_resume_from_a_pickled_last_checkpoint_is_refused(tmp_path, marker, tiny_dataset,
                                                          capsys):
    run = tmp_path / "run"
    assert main(["train", *cli_settings(tiny_dataset, run)]) == 0
    _evil_checkpoint(run / "checkpoints" / "last.ckpt", marker)
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 2
    assert "last.ckpt" in capsys.readouterr().err


def _npz_with_pickled_member(path: Path, key: str, marker: Path, good: dict) -> Path:
    buf = io.BytesIO()
    np.save(buf, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in good.items():
            member = io.BytesIO()
            np.save(member, value, allow_pickle=False)
            zf.writestr(f"{name}.npy", member.getvalue())
        zf.writestr(f"{key}.npy", buf.getvalue())
    return path


@pytest.mark.parametrize("key", ["diffraction", "xcoords", "probeGuess", "objectGuess",
                                 "_metadata"])
def test_npz_members_are_never_unpickled(tmp_path, marker, key):
    rng = np.random.default_rng(0)
    good = {"diffraction": rng.poisson(5.0, (4, 8, 8)).astype(np.float32),
            "xcoords": np.arange(4.0) + 10, "ycoords": np.full(4, 10.0),
            "probeGuess": np.ones((8, 8), np.complex64)}
    good.pop(key, None)
    path = _npz_with_pickled_member(tmp_path / f"pickled_{key}.npz", key, marker, good)
    if key == "_metadata":  # optional: ignored with a warning, still never unpickled
        data = engine.load_dataset(path)
        assert any("_metadata is a pickled object" in w for w in data.warnings)
        return
    with pytest.raises(DataError, match=f"pickled_{key}.npz"):
        engine.load_dataset(path)
    report = engine.io.inspect(path)
    assert report.problems and key.lower() in " ".join(map(str, report.problems)).lower()


CODE = "__import__('os').mkdir('{marker}')"


def test_session_values_are_never_evaluated(tmp_path, marker):
    from engine.config import field_specs

    code = CODE.format(marker=marker)
    lines: dict[str, list[str]] = {}
    for spec in field_specs().values():
        lines.setdefault(spec.section, []).append(f"{spec.name} = {code!r}")
    session = tmp_path / "code.toml"
    session.write_text("".join(f"[{section}]\n" + "\n".join(body) + "\n"
                               for section, body in lines.items()))
    with pytest.raises(ConfigError) as info:
        engine.load_session(session)
    # Every numeric or boolean field refuses the text; none of it was run.
    assert "training.max_epochs" in str(info.value) and "model.N" in str(info.value)


def test_paths_in_a_session_are_only_data_paths(tmp_path, marker, capsys, monkeypatch):
    script = tmp_path / "evil.py"
    script.write_text(f"import os\nos.mkdir({str(marker)!r})\n")
    session = tmp_path / "paths.toml"
    session.write_text(
        "[data]\n"
        f"path = {str(script)!r}\nprobe_path = {str(script)!r}\n"
        "[simulation]\n"
        f"object = 'image'\nobject_path = {str(script)!r}\n"
        "[inference]\n"
        f"checkpoint = {str(script)!r}\n"
        "[training]\n"
        f"output_dir = {str(tmp_path / 'run')!r}\n")
    config = engine.load_session(session)  # a path is just text until it is read as data
    assert config.data.path == str(script)
    with pytest.raises(EngineError, match="evil.py"):
        engine.load_dataset(config.data)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--session", str(session), "--accelerator", "cpu"]) == 2
    assert main(["infer", "--session", str(session), "--out", str(tmp_path / "o.h5"),
                 "--accelerator", "cpu"]) == 2
    assert main(["simulate", "--session", str(session), "--out", str(tmp_path / "sim")]) == 2
    err = capsys.readouterr().err
    assert "evil.py" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_code_as_a_data_path_is_a_missing_file(tmp_path, marker, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = CODE.format(marker=marker)
    assert main(["inspect", code]) == 2
    assert main(["train", "--data", code, "--out", "run", "--accelerator", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "Traceback" not in err
