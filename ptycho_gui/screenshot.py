"""Make the user guide's screenshots: a short demo-sized run in a real window.

Run it under a display (``xvfb-run -s "-screen 0 1600x1000x24" python -m
ptycho_gui.screenshot``): it simulates a dataset, trains a few epochs, and saves the main
window and each view as PNG files in ``docs/images``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow
from typing import Any

VIEWS = {"main-window": "reconstruction_view", "loss": "loss_view",
         "patterns": "pattern_browser"}
"""File name -> the view shown in it (the images of docs/user-guide.md)."""


def _wait(signal: Any, timeout_s: float) -> list:
    """Run the event loop until ``signal`` fires; its arguments (TimeoutError when late)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    received: list = []

    def done(*args: object) -> None:
        received.append(args)
        loop.quit()

    signal.connect(done)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    signal.disconnect(done)
    if not received:
        raise TimeoutError(f"nothing happened within {timeout_s:.0f} s")
    return list(received[0])


def screenshot_window(work_dir: Path, size: tuple[int, int] = (1500, 920)) -> MainWindow:
    """A shown main window of ``size`` whose preferences live in ``work_dir`` and which never
    asks to save the session."""
    from PySide6.QtCore import QSettings

    from .app import create_main_window

    settings = QSettings(str(work_dir / "screenshot.ini"), QSettings.Format.IniFormat)
    window = create_main_window(settings=settings)
    window.resize(*size)
    window.show()
    assert window.controller is not None
    window.controller.dialogs.ask_save_changes = lambda parent, name: "discard"
    return window


def screenshot_application() -> QApplication:
    """The QApplication of a screenshot script (made once, Qt environment prepared)."""
    from .app import prepare_environment

    prepare_environment()
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("ptycho-gui")
    return app


def make_screenshots(out_dir: Path, work_dir: Path, preset: str, epochs: int | None,
                     size: tuple[int, int] = (1500, 920)) -> list[Path]:
    """Simulate ``preset``, train ``epochs`` epochs from the GUI, save the window and views."""
    from PySide6.QtWidgets import QApplication

    window = screenshot_window(work_dir, size)
    c = window.controller
    assert c is not None
    c.session.apply_preset(preset)
    if epochs is not None:
        c.session.set_field("training.max_epochs", epochs)
    c.session.set_field("training.output_dir", str(work_dir / "run"))
    c.runs.start_simulate(work_dir / "data")
    outcome = _wait(c.runs.runner.finished, 600)[0]
    if outcome.status != "completed":
        raise RuntimeError(f"simulation {outcome.status}: {outcome.error}")
    if c.previews.loader.busy:
        _wait(c.previews.loader.finished, 120)
    if not c.runs.start_train():
        raise RuntimeError("cannot train: " + "; ".join(c.run_blockers("train")))
    outcome = _wait(c.runs.runner.finished, 3600)[0]
    if outcome.status != "completed":
        raise RuntimeError(f"training {outcome.status}: {outcome.error}")
    out_dir.mkdir(parents=True, exist_ok=True)
    positions = window.positions_view.positions
    window.pattern_browser.show_index(len(positions) // 2 if positions is not None else 0)
    written = []
    for name, attribute in VIEWS.items():
        window.view_tabs.setCurrentWidget(getattr(window, attribute))
        for _ in range(5):
            QApplication.processEvents()
        path = out_dir / f"{name}.png"
        if not window.grab().save(str(path), "PNG"):
            raise OSError(f"cannot write {path}")
        written.append(path)
    window.view_tabs.setCurrentWidget(window.reconstruction_view)
    window.close()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ptycho_gui.screenshot",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"),
                        help="folder for the PNG files (default: docs/images)")
    parser.add_argument("--preset", default="default", help="simulation preset (default)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: the session default)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the simulated data and run (default: a temporary one)")
    args = parser.parse_args(argv)
    screenshot_application()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for path in make_screenshots(args.out, work, args.preset, args.epochs):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
