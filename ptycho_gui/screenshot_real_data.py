"""Make the user guide's screenshots of real data in the GUI: the tike Siemens star example
session's patterns, the declared-layout dialog on it, a simulated CXI scan with a detector
mask on the patterns view, and a solver-only Reconstruct with a colour map chosen for a panel.

Run it under a display from the checkout (the tike file lies beside it in ``../shared``)::

    xvfb-run -s "-screen 0 1600x1000x24" python -m ptycho_gui.screenshot_real_data
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .screenshot import _wait, screenshot_application, screenshot_window

TIKE_SESSION = Path(__file__).resolve().parent.parent / "resources" / "examples" / \
    "tike_siemens_star.toml"

CHOSEN_MAP = "fire"
"""The colour map chosen for the amplitude panel in the Reconstruct screenshot."""


def masked_cxi(folder: Path) -> Path:
    """The simulator's tiny scan as CXI, with a dead detector column and three flagged
    pixels added (the mask the patterns view draws)."""
    import h5py

    from engine.config import preset_layer, resolve_config
    from engine.runs import run

    layer = {**preset_layer("tiny"), "simulation.output_dir": (str(folder), "screenshot")}
    run("simulate", resolve_config(cli=layer))
    path = folder / "dataset.cxi"
    with h5py.File(path, "r+") as h5:
        data = h5["entry_1/instrument_1/detector_1/data"]
        frames = np.asarray(data[()])
        frames[:, :, 21] = 0.0  # a dead column
        for row, col in ((5, 7), (12, 25), (26, 10)):
            frames[:, row, col] = 65535  # detector flag values
        data[...] = frames
    return path


def make_screenshots(out_dir: Path, work_dir: Path, epochs: int = 30) -> list[Path]:
    """Save tike-patterns.png, layout-dialog.png, cxi-mask.png and reconstruct-colours.png."""
    from .layout_dialog import open_layout_dialog

    out_dir.mkdir(parents=True, exist_ok=True)
    window = screenshot_window(work_dir, (1600, 1000))
    c = window.controller
    assert c is not None
    written = []

    def save(widget: object, name: str) -> None:
        _settle()
        path = out_dir / name
        widget.grab().save(str(path))  # type: ignore[attr-defined]
        written.append(path)

    def preview_read() -> None:
        if c.previews.loader.busy:
            _wait(c.previews.loader.finished, 120)
        _settle()

    c.session.open_session(TIKE_SESSION)
    preview_read()
    window.view_tabs.setCurrentWidget(window.pattern_browser)
    save(window, "tike-patterns.png")
    dialog = open_layout_dialog(window, c.document, c.previews.request_data_preview)
    assert dialog is not None
    dialog.resize(1300, 850)
    dialog.refresh_preview()
    _wait(dialog.runner.finished, 120)
    save(dialog, "layout-dialog.png")
    dialog.reject()

    c.session.new_session()
    c.session.set_field("data.path", str(masked_cxi(work_dir / "cxi")))
    c.previews.request_data_preview()
    preview_read()
    window.view_tabs.setCurrentWidget(window.pattern_browser)
    save(window, "cxi-mask.png")

    c.session.set_field("refinement.epochs", epochs)
    c.session.set_field("reconstruct.output_dir", str(work_dir / "reconstruction"))
    if not c.runs.start_reconstruct():
        raise RuntimeError("cannot reconstruct: " + "; ".join(c.run_blockers("reconstruct")))
    outcome = _wait(c.runs.runner.finished, 900)[0]
    if outcome.status != "completed":
        raise RuntimeError(f"reconstruct {outcome.status}: {outcome.error}")
    window.reconstruction_view.left.set_colormap(CHOSEN_MAP)
    save(window, "reconstruct-colours.png")
    window.close()
    return written


def _settle(seconds: float = 1.0) -> None:
    """Let the window lay out and paint."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--epochs", type=int, default=30, help="solver epochs of Reconstruct")
    args = parser.parse_args(argv)
    app = screenshot_application()
    with tempfile.TemporaryDirectory() as work:
        for path in make_screenshots(args.out, Path(work), args.epochs):
            print(path)
    app.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
