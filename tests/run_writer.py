"""A stand-in for a cluster job in the follow tests: writes a run folder epoch by epoch.

``python tests/run_writer.py RUN EPOCHS INTERVAL_S`` holds RUN's writer lock the whole time (as
a training does), writes ``provenance.json``, then one ``metrics.csv`` row and one live
preview frame (``live/preview.npz``, through the engine's own writer, unthrottled) every
INTERVAL_S seconds, then ``amplitude.png``/``phase.png`` and ``summary.json`` (status
"completed") and removes the live preview, every file atomically, as a run does. No torch: it
starts in a fraction of a second.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_text
from engine.live_preview import LivePreviewWriter
from engine.locks import lock_folder
from engine.render import write_object_pngs
from engine.reporting import PreviewFrame, Progress, Throttle
from engine.runs_index import (
    AMPLITUDE_PNG,
    METRIC_COLUMNS,
    METRICS,
    PHASE_PNG,
    PROVENANCE,
    SUMMARY,
)


def write_run(folder: Path, epochs: int, interval_s: float) -> None:
    started = datetime.now().isoformat()
    with lock_folder(folder, "training"):
        atomic_write_text(folder / PROVENANCE, json.dumps({"started": started}))
        rows = [",".join(METRIC_COLUMNS)]
        yy, xx = np.mgrid[-1:1:48j, -1:1:48j]
        obj = (1.0 - 0.5 * np.exp(-(xx**2 + yy**2) * 4)) * np.exp(1j * xx)
        live = LivePreviewWriter(folder, interval_s)
        live.throttle = Throttle(0.0)  # a frame every epoch, however short the epochs here
        live.progress(Progress(stage="train", done=0))
        for epoch in range(epochs):
            time.sleep(interval_s)
            loss = 1.0 / (epoch + 1)
            rows.append(f"{epoch},{loss},{loss * 1.1},0.001,{interval_s},100.0")
            live.preview(PreviewFrame(obj=obj * (epoch + 1) / epochs, epoch=epoch,
                                      step=10 * (epoch + 1)))
            atomic_write_text(folder / METRICS, "\n".join(rows) + "\n")
        write_object_pngs(obj, folder / AMPLITUDE_PNG, folder / PHASE_PNG)
        atomic_write_text(folder / SUMMARY, json.dumps({
            "status": "completed", "epochs": epochs, "max_epochs": epochs,
            "started": started, "wall_time_s": epochs * interval_s}))
        live.close()


if __name__ == "__main__":
    write_run(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
