"""Start-up: quick, no torch or Lightning until a run starts, session from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from engine.config import SessionConfig, save_session

STARTUP = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    import ptycho_gui.app as app_module
    qapp = QApplication([])
    settings = QSettings(sys.argv[2], QSettings.Format.IniFormat)
    window = app_module.create_main_window(sys.argv[1] or None, settings=settings)
    window.show()
    qapp.processEvents()
    elapsed = time.perf_counter() - t0
    heavy = sorted(m for m in ("torch", "lightning", "pytorch_lightning") if m in sys.modules)
    print(json.dumps({"elapsed": elapsed, "heavy": heavy, "title": window.windowTitle(),
                      "epochs": window.form.config().training.max_epochs}))
    window.controller.shutdown()
""")


def _start(session: str, tmp_path) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", STARTUP, session, str(tmp_path / "s.ini")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_window_opens_without_torch_and_quickly(tmp_path):
    result = _start("", tmp_path)
    assert result["heavy"] == []  # torch and Lightning load when a run starts, not before
    assert result["elapsed"] < 10.0  # about a second on a quiet machine; generous under load
    assert result["title"].startswith("untitled")


def test_session_given_on_the_command_line_is_opened(tmp_path):
    config = SessionConfig()
    config.training.max_epochs = 4
    path = save_session(config, tmp_path / "start.toml")
    result = _start(str(path), tmp_path)
    assert result["title"].startswith("start.toml —")
    assert result["epochs"] == 4


def test_main_help_exits_cleanly():
    out = subprocess.run([sys.executable, "-m", "ptycho_gui.app", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "SESSION" in out.stdout.upper()


def test_openmp_threads_do_not_spin_against_the_gui_thread():
    code = ("import os; os.environ.pop('OMP_WAIT_POLICY', None); "
            "from ptycho_gui.app import prepare_environment; prepare_environment(); "
            "print(os.environ['OMP_WAIT_POLICY'], os.environ['PYQTGRAPH_QT_LIB'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.split() == ["PASSIVE", "PySide6"]


def test_every_shortcut_is_bound_once(window):
    from PySide6.QtGui import QKeySequence

    seen: dict[str, str] = {}
    for action in window.all_actions():
        for key in action.shortcuts():
            text = key.toString(QKeySequence.SequenceFormat.PortableText)
            if text:
                assert text not in seen, f"{text}: {seen.get(text)} and {action.text()}"
                seen[text] = action.text()
    assert "Ctrl+Shift+S" in seen  # Save session as… keeps its standard keys
    assert len(seen) >= 10


def test_help_menu_shows_guide_shortcuts_and_versions(window, qtbot):
    import lightning
    import torch
    from PySide6.QtCore import qVersion

    c = window.controller
    shown = []
    c.dialogs.show_text = lambda parent, title, text, folder=None: shown.append((title, text))
    menus = [a.text() for a in window.menuBar().actions()]
    assert "&Help" in menus
    window.action_guide.trigger()
    window.action_shortcuts.trigger()
    window.action_about.trigger()
    (guide_title, guide), (_, shortcuts), (_, about) = shown
    assert guide_title == "User guide" and "libxcb-cursor0" in guide
    assert "Train" in shortcuts and "Ctrl+R" in shortcuts and "Simulate" in shortcuts
    for version in (torch.__version__.split("+")[0], lightning.__version__, qVersion()):
        assert version in about
    assert "CPU" in about or "CUDA" in about


def test_while_the_app_runs_cycles_are_collected_between_events_not_during_paint(qtbot):
    """Automatic collection is off while the app's event loop runs (a collection inside a
    paint event can free a paint device being painted: a crash); a GUI-thread timer still
    frees reference cycles, and automatic collection comes back afterwards."""
    import gc
    import weakref

    from ptycho_gui.app import garbage_collected_between_events

    class Node:
        pass

    gc.enable()
    with garbage_collected_between_events(interval_s=0.05):
        assert not gc.isenabled()
        refs = []
        for _ in range(2000):  # enough young objects to pass the first threshold
            a, b = Node(), Node()
            a.other, b.other = b, a  # a cycle: only the collector frees it
            refs.append(weakref.ref(a))
        del a, b
        qtbot.waitUntil(lambda: all(r() is None for r in refs), timeout=5000)
    assert gc.isenabled()
