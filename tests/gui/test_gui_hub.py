"""The desktop app as the beamline hub (issue 20): views that never show an earlier image's
numbers or colours, the FRC of a fresh run, a layout that fits the screen."""

from __future__ import annotations

import numpy as np
import pytest

from ptycho_gui.jobs import Reconstruction, RunOutput
from ptycho_gui.worker import Job

RUN_TIMEOUT_MS = 20_000


def _object(value: float, shape=(40, 48)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (value * (1.0 + 0.1 * np.sin(xx / 4.0))).astype(np.complex64) * np.exp(
        1j * 0.2 * np.cos(yy / 5.0)).astype(np.complex64)


def _finish(window, qtbot, output: RunOutput, before=None) -> None:
    """Run a job that returns ``output`` (after ``before(reporter)``) through the window."""

    def run(reporter, stop):
        if before is not None:
            before(reporter)
        return output

    c = window.controller
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS):
        assert c.runs.runner.start(Job(output.kind, run, {}))


def test_profile_follows_an_image_opened_while_its_tab_is_hidden(window, qtbot):
    view = window.reconstruction_view
    view.set_object(_object(1.0), fit_levels=True)
    view.left.profile_button.setChecked(True)
    assert view.left.profile.values.size and np.nanmax(view.left.profile.values) < 1.2
    window.view_tabs.setCurrentWidget(window.compare_view)  # e.g. comparing, then Open
    view.set_object(_object(5.0), fit_levels=True)
    window.view_tabs.setCurrentWidget(view)
    # Both the curve and its read-out are the new image's, not the earlier run's.
    assert np.nanmin(view.left.profile.values) > 4.0
    assert f"max {np.nanmax(view.left.profile.values):.4g}" in view.left.profile.info.text()


def test_frc_tab_shows_a_fresh_runs_curves_at_once(window, qtbot):
    from engine.metrics import evaluate

    truth = _object(1.0)
    quality = evaluate(truth * np.exp(0.05j), truth, register=False)
    output = RunOutput("train", "completed", reconstruction=Reconstruction(obj=truth),
                       quality=quality, ground_truth="truth.h5")
    _finish(window, qtbot, output)
    frc = window.frc_view
    assert "needs a ground truth" not in frc.info.text()
    assert set(frc.resolutions_px) == {"amplitude", "phase"}
    # The next run without ground truth does not keep showing the old curves.
    _finish(window, qtbot, RunOutput("train", "completed",
                                     reconstruction=Reconstruction(obj=truth)))
    assert "needs a ground truth" in frc.info.text() and not frc.resolutions_px


def test_a_new_runs_live_view_gets_its_own_colour_range(window, qtbot):
    from engine.reporting import PreviewFrame

    view = window.reconstruction_view
    view.set_object(_object(50.0), fit_levels=True)  # e.g. a truth file opened before
    low, high = view.left.levels()
    assert low > 40
    frames = []

    def stream(reporter):
        reporter.preview(PreviewFrame(obj=_object(1.0), epoch=0, step=1))

    view.set_object = lambda obj, caption="", fit_levels=False, f=view.set_object: (
        frames.append(caption), f(obj, caption, fit_levels))
    _finish(window, qtbot, RunOutput("train", "cancelled"), before=stream)
    del view.set_object
    assert frames and frames[0].startswith("live")
    low, high = view.left.levels()
    assert 0.5 < low and high < 1.5  # the live frame's range, not the truth file's
