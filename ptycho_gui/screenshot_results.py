"""Make the user guide's screenshots of past results: the Runs panel, the units (scale bar,
colour bars, colour wheel, line profile), the FRC curve and the comparison view.

It needs an output folder with runs (``run-001``...) trained on a simulated dataset, and that
dataset's ``truth.h5``; run it under a display::

    xvfb-run -s "-screen 0 1600x1000x24" python -m ptycho_gui.screenshot_results \\
        --runs RUNS_FOLDER --truth DATA_FOLDER/truth.h5 --out docs/images
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

SHOT_WIDTH = 1200
"""Screenshots are scaled to this width (smooth), which keeps the PNG files small."""


def _settle(seconds: float = 0.8) -> None:
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def _until(done: Callable[[], bool], timeout_s: float) -> None:
    """Run the event loop until ``done()`` (TimeoutError when late)."""
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > end:
            raise TimeoutError(f"still waiting after {timeout_s} s")
        QApplication.processEvents()
        time.sleep(0.01)


def make_result_screenshots(runs: Path, truth: Path, out_dir: Path, work_dir: Path,
                            size: tuple[int, int] = (1500, 920)) -> list[Path]:
    """Open the newest run of ``runs`` with units, compare it with ``truth``; save the shots."""
    from PySide6.QtCore import Qt

    from .model.imaging import HSV
    from .screenshot import _wait, screenshot_window

    window = screenshot_window(work_dir, size)
    c = window.controller
    assert c is not None
    c.session.set_field("training.output_dir", str(runs))
    _until(lambda: not window.runs_panel.loading, 60)  # listed off the GUI thread
    listed = window.runs_panel.runs
    if not listed:
        raise RuntimeError(f"no runs in {runs}")
    shown = [run for run in listed if run.reconstruction is not None]
    newest = next((run for run in shown if run.status == "completed"),
                  shown[0] if shown else None)  # as the app opens a session's runs
    if newest is None:
        raise RuntimeError(f"no run in {runs} has a reconstruction.h5")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def shot(name: str) -> None:
        _settle()
        image = window.grab().toImage().scaledToWidth(
            SHOT_WIDTH, Qt.TransformationMode.SmoothTransformation)
        path = out_dir / f"{name}.png"
        if not image.save(str(path)):  # PNG, from the suffix
            raise OSError(f"cannot write {path}")
        written.append(path)

    c.results.open_path(newest.path)
    _until(lambda: not c.results.reading, 60)  # read off the GUI thread
    window.runs_dock.raise_()
    shot("runs-panel")
    view = window.reconstruction_view
    view.left.set_component(HSV)
    view.right.profile_button.click()
    shot("units")
    view.right.profile_button.click()
    view.left.set_component("amplitude")
    window.view_tabs.setCurrentWidget(window.frc_view)
    shot("frc")
    c.results.compare(truth, newest.path)
    _until(lambda: not c.results.reading, 60)  # both read off the GUI thread
    if window.compare_view.busy:
        _wait(window.compare_view.compared, 120)  # compared off the GUI thread
    shot("compare")
    window.close()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ptycho_gui.screenshot_results",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True, help="folder holding run-NNN")
    parser.add_argument("--truth", type=Path, required=True, help="the data's truth.h5")
    parser.add_argument("--out", type=Path, default=Path("docs/images"),
                        help="folder for the PNG files (default: docs/images)")
    args = parser.parse_args(argv)
    from .screenshot import screenshot_application

    screenshot_application()
    with tempfile.TemporaryDirectory() as tmp:
        for path in make_result_screenshots(args.runs, args.truth, args.out, Path(tmp)):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
