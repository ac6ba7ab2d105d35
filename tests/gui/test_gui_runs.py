"""Runs from the GUI with small job functions defined here (the real engine is tested in
test_gui_engine_run.py): progress, previews, stop, failures, quitting during a run."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from engine.errors import DataError
from engine.reporting import Clock, PreviewFrame, Progress
from ptycho_gui.worker import Job, JobRunner, LatestSlot

RUN_TIMEOUT_MS = 20_000


def fake_object(epoch: int, shape=(40, 48)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    obj = (1.0 + 0.1 * epoch * np.sin(xx / 5.0)) * np.exp(1j * (yy / shape[0] - 0.5))
    obj = obj.astype(np.complex64)
    obj[:3] = np.nan  # never illuminated
    return obj


def fake_training(epochs: int = 3, steps: int = 4, delay: float = 0.005,
                  previews_per_step: int = 1) -> Job:
    """Reports like the engine's train(): run_started, progress, metrics, previews, log."""

    def run(reporter, stop: threading.Event):
        reporter.run_started({"accelerator": "cpu", "devices": 1})
        reporter.log("info", "fake training started")
        clock = Clock(total=epochs * steps)
        for epoch in range(epochs):
            for step in range(steps):
                if stop.is_set():
                    return {"status": "cancelled", "epochs": epoch}
                time.sleep(delay)
                done = epoch * steps + step + 1
                reporter.progress(clock.progress("train", done, epoch=epoch, max_epochs=epochs))
                for _ in range(previews_per_step):
                    reporter.preview(PreviewFrame(obj=fake_object(epoch), epoch=epoch, step=done))
            losses = {"train_loss": 1.0 / (epoch + 1), "val_loss": 1.2 / (epoch + 1)}
            reporter.metrics(epoch, losses)
        reporter.run_finished({"status": "completed"})
        return {"status": "completed", "epochs": epochs}

    return Job("train", run)


def endless(started: threading.Event) -> Job:
    def run(reporter, stop: threading.Event):
        started.set()
        step = 0
        while not stop.is_set():
            step += 1
            reporter.progress(Progress("train", step, None, epoch=0, max_epochs=1))
            time.sleep(0.01)
        return {"status": "cancelled"}

    return Job("train", run)


def failing() -> Job:
    def run(reporter, stop):
        reporter.log("info", "opening data")
        raise DataError("/nonexistent/scan.npz: file not found (data.path)")

    return Job("train", run)


def test_run_streams_progress_metrics_and_frames(window, qtbot):
    c = window.controller
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert c.runs.runner.start(fake_training())
        assert not window.action_train.isEnabled() and window.action_stop.isEnabled()
    outcome = blocker.args[0]
    assert outcome.status == "completed"
    assert c.runs.run_state == "completed"
    assert "completed" in window.state_label.text()
    assert window.progress_bar.value() == window.progress_bar.maximum() == 100
    assert window.device_label.text() == "device: cpu (1)"
    assert window.reconstruction_view.frames >= 1
    assert window.loss_view.history["train_loss"][1] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert window.loss_view.history["val_loss"][0] == [1.0, 2.0, 3.0]
    assert window.loss_view.log_y
    assert "fake training started" in window.log_pane.toPlainText()
    assert "Train completed" in window.log_pane.toPlainText()
    assert not window.action_stop.isEnabled()


def test_progress_bar_shows_epoch_step_elapsed_and_eta(window, qtbot):
    c = window.controller
    seen = []

    def record():
        seen.append((window.progress_bar.format(), window.time_label.text()))

    c.runs.runner.signals.progress_ready.connect(record)  # runs after the controller's slot
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS):
        c.runs.runner.start(fake_training(epochs=2, steps=3, delay=0.02))
    assert any("epoch 2/2" in text and "/6 step" in text for text, _ in seen)
    assert any("elapsed" in t and "ETA" in t for _, t in seen)


def test_stop_ends_the_run_as_cancelled(window, qtbot):
    c = window.controller
    started = threading.Event()
    with qtbot.waitSignal(c.runs.runner.signals.progress_ready, timeout=RUN_TIMEOUT_MS):
        c.runs.runner.start(endless(started))
    with qtbot.waitSignal(c.runs.runner.finished, timeout=5000) as blocker:
        window.action_stop.trigger()
        assert "Stopping" in window.state_label.text()
        assert not window.action_stop.isEnabled()
    assert blocker.args[0].status == "cancelled"
    assert "cancelled" in window.state_label.text()
    assert "cancelled" in window.progress_bar.format()
    assert window.action_simulate.isEnabled()


def test_engine_error_shows_a_dialog_and_the_next_run_works(window, qtbot):
    c = window.controller
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        c.runs.runner.start(failing())
    assert blocker.args[0].status == "failed"
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert len(boxes) == 1
    assert "/nonexistent/scan.npz: file not found" in boxes[0].text()
    assert "Traceback" in boxes[0].detailedText() and "DataError" in boxes[0].detailedText()
    assert "file not found" in window.log_pane.toPlainText()
    assert "failed" in window.state_label.text()
    boxes[0].accept()
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert c.runs.runner.start(fake_training(epochs=1))
    assert blocker.args[0].status == "completed"


def test_a_bug_in_a_job_is_reported_not_fatal(window, qtbot):
    c = window.controller

    def broken(reporter, stop):
        return 1 / 0

    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        c.runs.runner.start(Job("train", broken))
    outcome = blocker.args[0]
    assert outcome.status == "failed" and not outcome.user_error
    assert "ZeroDivisionError" in outcome.error and "1 / 0" in outcome.details


def writes_files_when_stopped(started: threading.Event, written: list) -> Job:
    """Runs until stopped, then takes a moment to write its cancelled run (like train)."""

    def run(reporter, stop: threading.Event):
        started.set()
        while not stop.is_set():
            reporter.progress(Progress("stitch", 1, 10, unit="group"))
            time.sleep(0.01)
        time.sleep(0.5)  # writing summary.json and last.ckpt
        written.append("summary.json")
        return {"status": "cancelled"}

    return Job("train", run)


def test_closing_during_a_run_asks_stops_writes_and_quits(window, qtbot):
    c = window.controller
    asked = []
    c.dialogs.ask_stop_run = lambda parent, kind: asked.append(kind) or True
    started, written = threading.Event(), []
    c.runs.runner.start(writes_files_when_stopped(started, written))
    qtbot.waitUntil(started.is_set, timeout=5000)
    t0 = time.monotonic()
    window.close()  # returns at once: the window stays responsive while the job ends
    assert asked == ["train"]
    assert time.monotonic() - t0 < 0.5
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    assert time.monotonic() - t0 < 5.0
    assert written == ["summary.json"]  # the cancelled run was written before quitting
    assert not c.runs.runner.qthread.isRunning()
    assert not c.previews.loader.qthread.isRunning()


def test_closing_during_a_run_can_be_refused(window, qtbot):
    c = window.controller
    c.dialogs.ask_stop_run = lambda parent, kind: False
    started = threading.Event()
    c.runs.runner.start(endless(started))
    qtbot.waitUntil(started.is_set, timeout=5000)
    assert not window.close()
    assert window.isVisible() and c.runs.busy and not c.runs.runner.stop_requested()
    with qtbot.waitSignal(c.runs.runner.finished, timeout=5000):
        c.runs.stop()


def test_stop_works_in_every_stage_and_the_app_is_idle_within_2_s(window, qtbot):
    c = window.controller
    for stage in ("train", "stitch", "align"):
        reached = threading.Event()

        def run(reporter, stop, stage=stage, reached=reached):
            clock = Clock(total=1000)
            for i in range(1000):
                if stop.is_set():
                    return {"status": "cancelled"}
                reporter.progress(clock.progress(stage, i, unit="group"))
                reached.set()
                time.sleep(0.01)
            return {"status": "completed"}

        c.runs.runner.start(Job("train", run))
        qtbot.waitUntil(reached.is_set, timeout=5000)
        qtbot.wait(50)
        assert window.action_stop.isEnabled(), stage
        t0 = time.monotonic()
        window.action_stop.trigger()
        qtbot.waitUntil(lambda: window.action_train.isEnabled() or
                        window.action_simulate.isEnabled(), timeout=2000)
        assert time.monotonic() - t0 < 2.0
        assert not c.runs.busy and "cancelled" in window.state_label.text(), stage
        assert not window.action_stop.isEnabled()


def test_preview_frames_never_pile_up(window, qtbot):
    c = window.controller
    job = fake_training(epochs=2, steps=10, delay=0.001, previews_per_step=20)
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS):
        c.runs.runner.start(job)
    drawn = window.reconstruction_view.frames
    assert 1 <= drawn < 2 * 10 * 20 / 4  # far fewer draws than frames sent
    assert c.runs.runner.preview_slot.dropped > 0
    # The newest frame wins: the final picture is the last epoch's.
    assert "epoch 2" in window.reconstruction_view.caption.text()


def test_only_one_job_at_a_time(window, qtbot):
    c = window.controller
    started = threading.Event()
    c.runs.runner.start(endless(started))
    assert not c.runs.runner.start(fake_training())
    with qtbot.waitSignal(c.runs.runner.finished, timeout=5000):
        c.runs.stop()


def test_latest_slot_keeps_only_the_newest():
    slot = LatestSlot()
    assert slot.put(1) is True
    assert slot.put(2) is False and slot.put(3) is False
    assert slot.take() == 3 and slot.take() is None
    assert slot.dropped == 2


def test_runner_shutdown_without_jobs_is_quick(qtbot):
    runner = JobRunner("idle")
    assert runner.shutdown(timeout_s=1)
    assert not runner.start(fake_training())  # closed runners refuse work
