"""Every malformed input of the corpus, through every entry point: a clear error, nothing written.

The corpus is built by ``tests/data/bad/make_corpus.py`` (``build_corpus``): each entry is a
file (or folder) with the lower-case words its error message must contain. Entry points:

- CLI (in process, ``engine.cli.main.main`` returns the exit code): ``inspect``,
  ``train --data``, ``infer --data`` for data; ``config validate --session`` and
  ``train --session`` for sessions. Exit code 2, the file name and the words on stderr, no
  traceback, no run directory or output file.
- Python API: ``engine.load_dataset``, ``engine.io.inspect``, ``engine.train`` for data;
  ``engine.load_session`` for sessions.
- GUI: the data preview (typing a path) and File > Open session, with dialogs patched.
- Two real subprocesses check the exit code and the absence of a traceback end to end.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from test_faults_helpers import engine_cli

import engine
from engine.cli.main import main
from engine.errors import ConfigError, DataError

CORPUS_SCRIPT = Path(__file__).parent / "data" / "bad" / "make_corpus.py"


def _corpus_module():
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CORPUS = _corpus_module()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return CORPUS.build_corpus(tmp_path_factory.mktemp("bad-corpus"))


def _entries(kind: str) -> list[str]:
    # The catalogue's names, built once into a throwaway folder at collection time.
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return [n for n, (_, k, _) in CORPUS.build_corpus(tmp).items() if k == kind]


DATA = _entries("data")
SESSIONS = _entries("session")


def assert_names_problem(message: str, path: Path, words: list[str]) -> None:
    """The message names the file and contains every word of the catalogue."""
    text = message.lower()
    assert path.name.lower() in text, f"{path.name} not named in: {message}"
    missing = [w for w in words if w not in text]
    assert not missing, f"{missing} missing from: {message}"
    assert "traceback" not in text


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint trained on a good file of the corpus's size (for ``infer --data``)."""
    import torch

    from engine.runs import train

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("good-run")
    good = CORPUS.write_good_npz(folder / "good.npz")
    cfg = engine.resolve_config(overrides={
        "data.path": str(good), "training.output_dir": str(folder / "run"),
        "model.N": 16, "model.width": 8, "model.depth": 2, "training.batch_size": 4,
        "training.max_epochs": 1, "execution.accelerator": "cpu",
        "execution.progress_bar": False, "execution.logger": "none"})
    return train(cfg).checkpoints["last"]


def test_corpus_covers_the_catalogue(corpus):
    assert len(DATA) >= 20 and len(SESSIONS) >= 6
    good = CORPUS.write_good_npz(next(iter(corpus.values()))[0].parent / "good.npz")
    assert engine.load_dataset(good).n_patterns == CORPUS.M  # the reference file is fine


# -- data files -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", DATA)
def test_load_dataset_names_the_problem(corpus, name):
    path, _, words = corpus[name]
    with pytest.raises(DataError) as info:
        engine.load_dataset(path)
    assert_names_problem(str(info.value), path, words)


@pytest.mark.parametrize("name", DATA)
def test_inspect_api_names_the_problem(corpus, name):
    path, _, words = corpus[name]
    try:
        report = engine.io.inspect(path)
    except DataError as exc:  # the file cannot be opened at all
        assert_names_problem(str(exc), path, words)
        return
    assert report.problems, f"inspect found nothing wrong with {name}"
    assert_names_problem(report.format() + "\n".join(map(str, report.problems)), path, words)


@pytest.mark.parametrize("name", DATA)
def test_cli_inspect_exits_2(corpus, name, capsys):
    path, _, words = corpus[name]
    assert main(["inspect", str(path)]) == 2
    assert_names_problem(capsys.readouterr().err, path, words)


@pytest.mark.parametrize("name", DATA)
def test_cli_train_exits_2_and_writes_nothing(corpus, name, tmp_path, capsys):
    path, _, words = corpus[name]
    out = tmp_path / "run"
    assert main(["train", "--data", str(path), "--out", str(out), "--accelerator", "cpu",
                 "--no-progress-bar"]) == 2
    assert_names_problem(capsys.readouterr().err, path, words)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", DATA)
def test_cli_infer_exits_2_and_writes_nothing(corpus, name, checkpoint, tmp_path, capsys):
    path, _, words = corpus[name]
    out = tmp_path / "recon.h5"
    assert main(["infer", "--checkpoint", str(checkpoint), "--data", str(path), "--out",
                 str(out), "--accelerator", "cpu", "--no-progress-bar"]) == 2
    assert_names_problem(capsys.readouterr().err, path, words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["nan_counts", "pickled_object", "text_as_h5",
                                  "layout_count_mismatch", "empty_folder"])
def test_api_train_refuses_before_writing(corpus, name, tmp_path):
    path, _, words = corpus[name]
    cfg = engine.resolve_config(overrides={"data.path": str(path),
                                           "training.output_dir": str(tmp_path / "run"),
                                           "execution.accelerator": "cpu"})
    with pytest.raises(DataError) as info:
        engine.train(cfg)
    assert_names_problem(str(info.value), path, words)
    assert list(tmp_path.iterdir()) == []


# -- session files --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SESSIONS)
def test_load_session_names_the_problem(corpus, name):
    path, _, words = corpus[name]
    with pytest.raises(ConfigError) as info:
        engine.load_session(path)
    assert_names_problem(str(info.value), path, words)


@pytest.mark.parametrize("name", SESSIONS)
def test_cli_config_validate_exits_2(corpus, name, capsys):
    path, _, words = corpus[name]
    assert main(["config", "validate", "--session", str(path)]) == 2
    assert_names_problem(capsys.readouterr().err, path, words)


@pytest.mark.parametrize("name", SESSIONS)
def test_cli_train_with_a_bad_session_writes_nothing(corpus, name, tmp_path, monkeypatch,
                                                    capsys):
    path, _, words = corpus[name]
    monkeypatch.chdir(tmp_path)  # the default output folder would appear here
    assert main(["train", "--session", str(path), "--no-progress-bar"]) == 2
    assert_names_problem(capsys.readouterr().err, path, words)
    assert list(tmp_path.iterdir()) == []


# -- real processes -------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("inspect", "{text_as_npz}"),
    ("train", "--data", "{pickled_object}", "--out", "run", "--accelerator", "cpu"),
])
def test_subprocess_exit_2_without_traceback(corpus, tmp_path, args):
    argv = [a.format(**{k: v[0] for k, v in corpus.items()}) for a in args]
    proc = engine_cli(*argv, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


# -- GUI ------------------------------------------------------------------------------------------
@pytest.fixture
def gui_window(qtbot, tmp_path):
    pytest.importorskip("PySide6", reason="the GUI needs the 'gui' extra")
    pytest.importorskip("pyqtgraph", reason="the GUI needs the 'gui' extra")
    from PySide6.QtCore import QSettings

    import ptycho_gui  # noqa: F401 - its PySide6 guard runs before Qt is used
    from ptycho_gui.app import create_main_window

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(tmp_path / "user-settings"))
    settings = QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)
    window = create_main_window(settings=settings)
    window.controller.dialogs.ask_save_changes = lambda parent, name: "discard"
    errors: list[tuple[str, str]] = []
    window.controller.dialogs.show_error = lambda parent, title, text, details="": errors.append(
        (title, text))
    window.errors = errors
    qtbot.addWidget(window)
    yield window
    assert window.controller.shutdown(timeout_s=30)


@pytest.mark.parametrize("name", DATA)
def test_gui_data_preview_shows_the_problem(corpus, name, gui_window, qtbot):
    path, _, words = corpus[name]
    c = gui_window.controller
    c.document.set_value("data.path", str(path))
    with qtbot.waitSignal(c.previews.loader.finished, timeout=30_000):
        c.previews.request_data_preview()
    shown = gui_window.form.issue_text("data.path") + "\n" + gui_window.issues_label.text()
    log = gui_window.log_pane.toPlainText()
    assert_names_problem(shown + "\n" + path.name, path, words)  # the problem, at the field
    assert path.name in log  # and the file, in the log
    assert not gui_window.errors  # a message at the field, not a modal dialog


@pytest.mark.parametrize("name", SESSIONS)
def test_gui_open_session_shows_the_problem(corpus, name, gui_window):
    path, _, words = corpus[name]
    c = gui_window.controller
    before = c.document.config
    assert c.session.open_session(path) is False
    assert len(gui_window.errors) == 1
    assert_names_problem(gui_window.errors[0][1], path, words)
    assert c.document.config == before and c.document.path is None
