"""GUI test setup: offscreen Qt, settings in a temporary folder, no dialog ever waits.

Qt itself is put offscreen by ``tests/conftest.py``. Every test gets its own QSettings file,
so window geometry and recent files of the developer are never read or written.
"""

from __future__ import annotations

import gc

import pytest

pytest.importorskip("PySide6", reason="the GUI needs the 'gui' extra (PySide6)")
pytest.importorskip("pyqtgraph", reason="the GUI needs the 'gui' extra (pyqtgraph)")

from PySide6.QtCore import QSettings  # noqa: E402

import ptycho_gui  # noqa: E402,F401  (its PySide6 refcount guard must run before Qt is used)


@pytest.fixture(autouse=True)
def isolated_qsettings(tmp_path):
    """Default-constructed QSettings (if any) also land in the test's folder."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(tmp_path / "user-settings"))
    yield


@pytest.fixture(autouse=True)
def garbage_collected_between_tests():
    """As in the app (``ptycho_gui.app.garbage_collected_between_events``): no automatic
    cycle collection while Qt paints; the test's garbage is collected once it has ended."""
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    gc.collect(0)  # with collection off, all of the test's objects are in generation 0
    if was_enabled:
        gc.enable()


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "ptycho-gui.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    """A main window whose "unsaved changes?" question answers "discard"."""
    from ptycho_gui.app import create_main_window

    win = create_main_window(settings=settings)
    win.controller.dialogs.ask_save_changes = lambda parent, name: "discard"
    qtbot.addWidget(win)
    win.show()
    yield win
    assert win.controller.shutdown(timeout_s=30)


@pytest.fixture
def one_thread():
    """One torch thread for tests that run the real engine (two shared cores: polite)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def controller(window):
    return window.controller


def pytest_collection_modifyitems(config, items):
    """GUI tests fail on Qt warnings and when they hang (instead of blocking the suite)."""
    here = str(config.rootpath / "tests" / "gui")
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            # The offscreen platform cannot propagate size hints: harmless, not ours.
            item.add_marker(pytest.mark.qt_log_ignore("propagateSizeHints"))
            item.add_marker(pytest.mark.timeout(180))


@pytest.fixture
def wait_listed(qtbot):
    """``wait_listed(panel)``: until the Runs panel has listed its folder (off-thread) and
    filled its table."""

    def wait(panel, timeout=10_000):
        qtbot.waitUntil(lambda: not panel.loading and not panel.lister.busy, timeout=timeout)

    return wait


@pytest.fixture
def wait_read(qtbot):
    """``wait_read(window)``: until the results asked for (Runs > Open, Compare, a session's
    newest run) have been read off the GUI thread and shown."""

    def wait(window, timeout=10_000):
        c = window.controller
        panel = window.runs_panel
        qtbot.waitUntil(lambda: not panel.loading and not panel.lister.busy
                        and not c.results.reading, timeout=timeout)

    return wait
