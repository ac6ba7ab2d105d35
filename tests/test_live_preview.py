"""The live preview file (``engine.live_preview``): a run started through ``engine.runs.run``
keeps its newest preview frame in its folder as ``live/preview.npz``, replaced atomically,
loadable without pickles, and removes it when it ends."""

from __future__ import annotations

import numpy as np
import pytest

from engine import live_preview
from engine.config import resolve_config
from engine.live_preview import (
    MIN_INTERVAL_S,
    LivePreviewWriter,
    read_live_preview,
    write_live_preview,
)
from engine.reporting import PreviewFrame, Progress, Reporter
from engine.runs import entries, run
from engine.runs_index import LIVE_PREVIEW, watch_run


def _object(shape=(40, 60), shift=0.0):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    obj = (1.0 + 0.01 * yy) * np.exp(1j * (0.05 * xx + shift))
    obj[:3, :3] = np.nan  # never illuminated
    return obj


class Recorder(Reporter):
    def __init__(self):
        self.frames = []

    def preview(self, frame):
        self.frames.append(frame.epoch)


def test_a_run_keeps_its_newest_preview_in_its_folder_and_removes_it_at_the_end(
        tmp_path, monkeypatch):
    folder = tmp_path / "run"
    resolved = resolve_config(overrides={"training.output_dir": str(folder),
                                         "execution.preview_interval_s": 0.0})
    monkeypatch.setattr(live_preview, "MIN_INTERVAL_S", 0.0)  # every frame written here
    seen = {}

    def fake_train(config, reporter=None, stop=None):
        """Stands in for a training: one stage, two frames, what a follower reads between."""
        folder.mkdir()
        reporter.progress(Progress(stage="train", done=1, total=4, epoch=0))
        reporter.preview(PreviewFrame(obj=_object(), epoch=0, step=1))
        path = folder / LIVE_PREVIEW
        with np.load(path, allow_pickle=False) as npz:  # no pickles: loads with it off
            seen["first"] = {k: npz[k] for k in npz.files}
        seen["inode"] = path.stat().st_ino
        held = open(path, "rb")  # a reader still reading the old frame
        reporter.preview(PreviewFrame(obj=_object(shift=1.0), epoch=1, step=7))
        seen["replaced"] = path.stat().st_ino != seen["inode"]
        seen["held_whole"] = np.load(held, allow_pickle=False)["epoch"] == 0
        held.close()
        seen["second"] = read_live_preview(folder)
        seen["follow"] = watch_run(folder).state.image
        seen["names"] = sorted(p.name for p in (folder / "live").iterdir())
        return "done"

    monkeypatch.setattr(entries, "_entries", lambda: {"train": fake_train})
    rec = Recorder()
    assert run("train", resolved, rec) == "done"

    first = seen["first"]
    assert set(first) == {"version", "amplitude", "phase", "binning", "stage", "epoch",
                          "step", "time"}
    assert first["amplitude"].dtype == np.float32 and first["amplitude"].shape == (40, 60)
    assert first["phase"].dtype == np.float32 and np.isnan(first["amplitude"][0, 0])
    np.testing.assert_allclose(first["phase"][10, 20], 0.05 * 20, atol=1e-6)
    assert str(first["stage"]) == "train" and int(first["epoch"]) == 0
    assert seen["replaced"] and seen["held_whole"]  # renamed over, never rewritten in place
    assert seen["names"] == ["preview.npz"]  # no temporary file left behind
    second = seen["second"]
    assert second.epoch == 1 and second.step == 7 and second.stage == "train"
    np.testing.assert_allclose(np.angle(second.obj[10, 20]), 0.05 * 20 + 1.0, atol=1e-5)
    assert seen["follow"] == (folder / LIVE_PREVIEW).resolve()  # what a follower shows
    assert rec.frames == [0, 1]  # the caller's own reporter still gets every frame
    assert not (folder / "live").exists()  # gone when the run ended


def test_writes_are_throttled_to_the_floor_and_large_objects_subsampled(tmp_path):
    writer = LivePreviewWriter(tmp_path, interval_s=0.1)
    assert writer.throttle.interval_s == MIN_INTERVAL_S >= 2.0
    writer.preview(PreviewFrame(obj=_object((1500, 700)), epoch=0))
    writer.preview(PreviewFrame(obj=_object((1500, 700)), epoch=1))  # within the floor
    frame = read_live_preview(tmp_path)
    assert frame.epoch == 0 and frame.binning == 3 and frame.amplitude.shape == (500, 234)
    writer.close()
    assert not (tmp_path / "live").exists()


def test_a_writer_that_wrote_nothing_leaves_another_processs_file_alone(tmp_path):
    path = write_live_preview(tmp_path, PreviewFrame(obj=_object(), epoch=4), "train")
    LivePreviewWriter(tmp_path, 1.0).close()
    assert path.is_file() and read_live_preview(tmp_path).epoch == 4


@pytest.mark.parametrize("content", ["missing", "garbage", "pickled"])
def test_an_unreadable_preview_reads_as_none(tmp_path, content):
    path = tmp_path / LIVE_PREVIEW
    if content != "missing":
        path.parent.mkdir()
    if content == "garbage":
        path.write_bytes(b"PK\x03\x04 half a zip")
    elif content == "pickled":
        with open(path, "wb") as fh:
            np.savez(fh, version=np.int64(1), amplitude=np.array([object()], dtype=object),
                     phase=np.zeros((2, 2)), binning=1, stage="x", epoch=0, step=0, time=0.0)
    assert read_live_preview(tmp_path) is None


def test_a_replaced_run_does_not_show_the_killed_jobs_last_frame(tmp_path):
    """Overwriting a run folder clears a live frame a killed job left behind, so a follower
    does not show the old object as the new run's."""
    from engine.runs_index import LIVE_PREVIEW
    from engine.training.rundir import RunDirectory

    (tmp_path / "session.toml").write_text("schema_version = 1\n", encoding="utf-8")
    stale = tmp_path / LIVE_PREVIEW
    stale.parent.mkdir()
    stale.write_bytes(b"old frame")
    lock = RunDirectory(tmp_path).prepare(resume=False, overwrite=True)
    try:
        assert not stale.exists()
    finally:
        lock.release()
