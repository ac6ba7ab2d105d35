"""Entry point: ``ptycho-gui [SESSION.toml]``.

Starting is quick because nothing here imports torch or Lightning: they load on the worker
thread when the first run starts.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from .qtenv import select_pyside6

if TYPE_CHECKING:  # Qt loads in main(), after the binding is chosen
    from PySide6.QtCore import QSettings

    from .main_window import MainWindow

ORGANIZATION = "ptycho-pinn"
APPLICATION = "ptycho-gui"


def prepare_environment() -> None:
    """Process settings that must be in place before Qt and torch load.

    PySide6 is chosen for pyqtgraph; OpenMP threads sleep instead of spinning while they
    wait (a spinning torch thread pool starves the GUI thread, and any other process, on a
    machine with few cores; the CLI does the same).
    """
    select_pyside6()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def app_settings() -> QSettings:
    """Per-user settings (window geometry, recent files): INI file, never the session."""
    from PySide6.QtCore import QSettings

    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION,
                     APPLICATION)


def create_main_window(session: str | None = None,
                       settings: QSettings | None = None) -> MainWindow:
    """Build the main window and its controller (a QApplication must exist).

    Parameters
    ----------
    session
        Session file to open at once (a bad file shows its problems; defaults stay).
    settings
        Where geometry and recent files live (default: :func:`app_settings`).

    Returns
    -------
    MainWindow
        With ``.controller`` set.
    """
    select_pyside6()
    from .controller import MainController
    from .main_window import MainWindow

    window = MainWindow()
    controller = MainController(window, settings if settings is not None else app_settings())
    window.controller = controller
    if session:
        controller.session.open_session(session)
    return window


def main(argv: Sequence[str] | None = None) -> int:
    """Open the main window (and ``SESSION.toml`` when given); return the exit code."""
    parser = argparse.ArgumentParser(prog="ptycho-gui", description="Ptychographic "
                                     "reconstruction with physics-informed neural networks.")
    parser.add_argument("session", nargs="?", help="session file (TOML) to open")
    args, qt_args = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    prepare_environment()
    from PySide6.QtWidgets import QApplication

    from .icons import icon

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0], *qt_args])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setWindowIcon(icon("app"))
    window = create_main_window(args.session)
    window.show()
    with garbage_collected_between_events():
        return int(app.exec())


@contextlib.contextmanager
def garbage_collected_between_events(interval_s: float = 1.0) -> Iterator[None]:
    """Python's cycle collector runs from a GUI-thread timer while the app runs, not at
    whatever allocation trips it.

    Left automatic, a collection can start inside a paint event (pyqtgraph paints from
    Python) and free a Qt paint device that is being painted: Qt then crashes in
    ``QPainter::restore`` ("Cannot destroy paint device that is being painted"). Collecting
    between events (pyqtgraph's :class:`GarbageCollector`, the documented remedy) keeps the
    same memory bound, one second at a time; the worker thread's cycles are collected there
    too. Automatic collection is restored afterwards.
    """
    from pyqtgraph.util.garbage_collector import GarbageCollector

    was_enabled = gc.isenabled()
    collector = GarbageCollector(interval=interval_s)
    try:
        yield
    finally:
        collector.timer.stop()
        if was_enabled:
            gc.enable()


if __name__ == "__main__":
    sys.exit(main())
