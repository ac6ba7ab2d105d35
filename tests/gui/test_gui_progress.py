"""One progress bar and one ETA for a whole job across its stages (fake clock)."""

from __future__ import annotations

import dataclasses
import threading
from itertools import pairwise

import pytest

from engine.config import SessionConfig
from engine.reporting import Progress
from ptycho_gui.model.progress import JobProgress, plan_for
from ptycho_gui.worker import Job

SETUP_S = 3.0  # loading data, building the model: no progress reports
BATCH_S = 0.5
EPOCHS, BATCHES = 10, 20
GROUPS = 500
PATTERNS = 450


def training_trace(config: SessionConfig, stitch_error: float = 0.8, align_error: float = 1.25,
                   refine_error: float = 1.2):
    """(time, Progress) reports of a training job as the engine sends them; its end time.

    Post-training stages cost their prior times ``stitch_error`` / ``align_error`` /
    ``refine_error`` (the estimate never knows them exactly).
    """
    prior = {stage.name: stage for stage in plan_for("train", config)}
    stitch_s = BATCH_S * prior["stitch"].relative_cost * stitch_error
    align_s = BATCH_S * prior["align"].relative_cost * align_error if "align" in prior else 0.0
    refine_s = BATCH_S * prior["refine"].relative_cost * refine_error
    t, reports = SETUP_S, []
    for epoch in range(EPOCHS):
        for batch in range(BATCHES):
            t += BATCH_S
            left = (EPOCHS - epoch) * BATCHES - batch - 1
            reports.append((t, Progress("train", batch + 1, BATCHES, epoch=epoch,
                                        max_epochs=EPOCHS, elapsed_s=t - SETUP_S,
                                        eta_s=left * BATCH_S, unit="batch")))
    for stage, sweeps, cost in (("stitch", 1, stitch_s),
                                ("align", config.inference.alignment_passes, align_s)):
        start = t
        for _ in range(sweeps):
            for done in range(50, GROUPS + 1, 50):
                t += 50 * cost
                reports.append((t, Progress(stage, done, GROUPS, elapsed_s=t - start,
                                            eta_s=(GROUPS - done) * cost, unit="group")))
    # The full-object refinement: pattern updates over all its epochs, one counter.
    start, epochs = t, config.refinement.epochs
    total = epochs * PATTERNS
    for epoch in range(epochs):
        for done in range(150, PATTERNS + 1, 150):
            t += 150 * refine_s
            count = epoch * PATTERNS + done
            reports.append((t, Progress("refine", count, total, epoch=epoch, max_epochs=epochs,
                                        elapsed_s=t - start, eta_s=(total - count) * refine_s,
                                        unit="pattern")))
    return reports, t


def test_eta_covers_every_stage_within_25_percent_after_the_first_epoch():
    base = SessionConfig()
    # every post-training stage, with per-group refinement and alignment as a user may set
    # them (off by default since the full-object refinement replaced them)
    config = dataclasses.replace(base, inference=dataclasses.replace(
        base.inference, refine_iterations=4, alignment_passes=20))
    assert config.refinement.epochs > 0
    reports, end = training_trace(config)
    now = [0.0]
    job = JobProgress(plan_for("train", config), clock=lambda: now[0])
    for name in ("stitch", "align"):
        job.set_units(name, GROUPS)  # run_started tells the groups
    job.set_units("refine", PATTERNS * config.refinement.epochs)  # and the patterns
    fractions = []
    for t, progress in reports:
        now[0] = t
        estimate = job.update(progress)
        fractions.append(estimate.fraction)
        after_first_epoch = progress.stage != "train" or progress.epoch >= 1
        if after_first_epoch:
            true_left = end - t
            assert estimate.eta_s == pytest.approx(true_left, rel=0.25, abs=1.0), (
                t, progress.stage, estimate.eta_s, true_left)
            assert estimate.elapsed_s == t  # since the job started, never per stage
    # One bar: it never goes back when a stage starts, and ends full.
    assert all(b >= a for a, b in pairwise(fractions[BATCHES:]))
    assert fractions[-1] == pytest.approx(1.0)
    # The stage's own ETA (what the bar showed before) misses the later stages by > 25 %.
    t, first_epoch_end = reports[BATCHES - 1]
    assert first_epoch_end.eta_s < 0.75 * (end - t)


def test_the_status_bar_shows_the_whole_job(window, qtbot):
    """Through the window: the time label's ETA is the job's, elapsed never resets."""
    c = window.controller
    config = c.document.config
    assert config.refinement.epochs > 0
    reports, end = training_trace(config)
    now = [0.0]
    c.runs.clock = lambda: now[0]
    shown = threading.Event()
    labels = []

    def record():
        labels.append((now[0], window.time_label.text(), window.progress_bar.value(),
                       window.progress_bar.maximum()))
        shown.set()

    def run(reporter, stop):
        reporter.run_started({"groups_train": GROUPS - 50, "groups_val": 50,
                              "n_patterns": PATTERNS})
        for t, progress in reports:
            shown.clear()
            now[0] = t
            reporter.progress(progress)
            shown.wait(5)  # one report at a time: the GUI reads the clock of this report
        return {"status": "completed"}

    c.runs.runner.signals.progress_ready.connect(record)  # after the controller's slot
    with qtbot.waitSignal(c.runs.runner.finished, timeout=60_000):
        c.runs.runner.start(Job("train", run, {"config": config}))

    def seconds(text: str) -> float:
        minutes, secs = text.split(":")[-2:]
        return 60 * int(minutes) + int(secs)

    checked = 0
    for t, text, value, maximum in labels:
        if t < SETUP_S + BATCHES * BATCH_S or "ETA" not in text:
            continue
        elapsed, eta = (part.split()[-1] for part in text.split("·"))
        assert seconds(elapsed) == pytest.approx(t, abs=1)
        assert seconds(eta) == pytest.approx(end - t, rel=0.25, abs=2), (t, text)
        assert 0 <= value <= maximum
        checked += 1
    assert checked > len(reports) // 2
