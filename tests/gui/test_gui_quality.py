"""A finished run's quality on screen: per stage (prior, network, solver) and the final misfit
against its Poisson noise floor, with the hint when far above (``ptycho_gui.model.quality``)."""

from __future__ import annotations

import json

import numpy as np

from ptycho_gui.model.products import Reconstruction, RunOutput
from ptycho_gui.model.quality import run_quality

HINT = ("the misfit is 2.5 times the Poisson noise floor: the probe may need more incoherent "
        "modes (probe.modes)")


def summary(ratio: float = 2.5, hint: str = HINT) -> dict:
    return {
        "status": "completed",
        "stages": {
            "solver": {"seconds": 1.14, "epochs": 8,
                       "quality": {"amplitude_ssim": 0.966, "phase_ssim": 0.985}},
            "network": {"seconds": 12.34, "quality": {"amplitude_ssim": 0.502,
                                                      "phase_ssim": 0.617}},
            "prior": {"seconds": 0.5, "quality": None},
        },
        "refinement": {"misfit": 2.5625 * ratio / 2.5, "noise_floor": 1.025,
                       "misfit_ratio": ratio, "hint": hint},
    }


def test_stages_in_pipeline_order_and_the_misfit_against_its_floor():
    quality = run_quality(summary())
    assert [s.name for s in quality.stages] == ["prior", "network", "solver"]
    assert quality.stages_text == (
        "Stages (amplitude / phase SSIM against the truth): prior 0.5 s → network 12.3 s, "
        "SSIM 0.502 / 0.617 → solver 1.1 s, 8 epochs, SSIM 0.966 / 0.985")
    assert quality.misfit_text.startswith(
        "Final misfit 2.562 per pixel = 2.50 × the Poisson noise floor 1.025: the misfit is")
    near = run_quality(summary(ratio=1.05, hint=""))
    assert near.misfit_text.endswith("(fitted to the photon noise)")
    assert not near.far_above_floor
    inference = run_quality({"stages": {"start": {"kind": "network", "seconds": 2.0},
                                        "solver": {"seconds": 1.0}}})
    assert [s.name for s in inference.stages] == ["network", "solver"]
    assert inference.misfit_text == ""
    assert run_quality({"status": "completed"}) is None
    assert run_quality(None) is None


def test_a_finished_run_shows_its_stages_and_misfit_and_a_new_run_clears_them(window):
    view = window.reconstruction_view
    assert not view.stages_label.isVisibleTo(window)  # nothing before a result
    output = RunOutput("train", "completed", reconstruction=Reconstruction(
        obj=np.ones((16, 16), np.complex64)), summary=summary())
    window.controller.previews.show_result(output)
    assert view.stages_label.isVisibleTo(window)
    assert "network 12.3 s, SSIM 0.502 / 0.617 → solver" in view.stages_label.text()
    assert "2.50 × the Poisson noise floor" in view.misfit_label.text()
    assert "probe.modes" in view.misfit_label.toolTip()  # whole, however narrow the window
    assert "#b26a00" in view.misfit_label.styleSheet()  # far above: orange
    assert view.misfit_label.sizeHint().height() < 40  # one line, never a tall block
    window.show_job_started("train")
    assert not view.stages_label.isVisibleTo(window)
    assert not view.misfit_label.isVisibleTo(window)


def test_an_opened_run_folder_shows_the_quality_of_its_summary(window, tmp_path, wait_read):
    run = tmp_path / "run-001"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps(summary(ratio=1.05, hint="")),
                                      encoding="utf-8")
    window.controller.results.open_path(run)
    wait_read(window)
    view = window.reconstruction_view
    assert "1.05 × the Poisson noise floor" in view.misfit_label.text()
    assert view.misfit_label.styleSheet() == ""
    assert "solver 1.1 s, 8 epochs" in view.stages_label.text()
