"""Real data in the GUI: data-file dialog filters from the format registry, the declared-layout
dialog (settings written, live preview, key list), the detector mask on the patterns view,
the solver-only Reconstruct action and per-panel colour maps and levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

RUN_TIMEOUT_MS = 240_000


def tiny_cxi(folder: Path) -> Path:
    """The simulator's tiny scan, written as CXI (dataset.cxi) among its files."""
    from engine.config import resolve_config
    from engine.config.presets import preset_layer
    from engine.runs import run

    layer = {**preset_layer("tiny"), "simulation.output_dir": (str(folder), "test")}
    run("simulate", resolve_config(cli=layer))
    return folder / "dataset.cxi"


@pytest.mark.usefixtures("one_thread")
def test_reconstruct_action_runs_the_solver_and_shows_the_result(window, qtbot, tmp_path):
    c = window.controller
    cxi = tiny_cxi(tmp_path / "sim")
    form = window.form
    form.editor("data.path").line.setText(str(cxi))
    form.editor("refinement.epochs").widget.setValue(3)
    form.editor("reconstruct.output_dir").line.setText(str(tmp_path / "recon"))
    qtbot.waitUntil(lambda: c.previews.data_preview is not None and not c.previews.loader.busy,
                    timeout=30_000)
    assert window.action_reconstruct.isEnabled(), window.action_reconstruct.toolTip()
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.action_reconstruct.trigger()
    outcome = blocker.args[0]
    assert outcome.status == "completed", outcome.error
    assert (tmp_path / "recon" / "reconstruction.h5").is_file()
    assert "Reconstruct completed" in window.state_label.text()
    recon = c.previews.reconstruction
    assert recon is not None and np.iscomplexobj(recon.obj)
    assert window.reconstruction_view.isVisible()
    # A second Reconstruct into the same folder asks first; declining starts nothing.
    asked = []
    c.dialogs.ask_confirm = lambda parent, title, message: asked.append(message) or False
    assert not c.runs.start_reconstruct()
    assert asked and "recon" in asked[0] and not c.runs.busy


def test_reconstruct_needs_data(window):
    window.controller.update_state()
    assert not window.action_reconstruct.isEnabled()
    assert "data file" in window.action_reconstruct.toolTip()
