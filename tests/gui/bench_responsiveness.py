"""GUI responsiveness while a real training streams live previews into the main window.

Run::

    python tests/gui/bench_responsiveness.py [--json] [--quick]

The real main window and controller (``ptycho_gui.app.create_main_window``) start real tiny
trainings (``engine.train`` on the worker thread, through the Train action's code path) on a
simulated dataset. Measured:

- **GUI-thread stalls**: a ``QTimer`` ticks every 5 ms on the GUI thread; the longest gap
  between two ticks minus 5 ms is the longest time the GUI could not react (also the 99th
  percentile);
- **GUI-thread stalls while frames stream**: the same, between the first and the last live
  frame of a run (the run's start and end, one-off work such as listing the runs and showing
  the result, are left out of this one and counted in the first);
- **frames per second delivered to the views**: live frames drawn by the reconstruction view
  per second between the first and the last live frame, and frames dropped in favour of
  newer ones (newest wins);
- **the cost of streaming**: training throughput (median of the per-epoch patterns/s, first
  epoch of each run left out) with previews every ``--interval`` seconds against runs with
  ``execution.preview_interval_s = 3600`` (no previews), interleaved.

Targets: at least 5 frames/s at the default ``execution.preview_interval_s``, no stall over
50 ms; streaming costs training under 5 % of its throughput. Without
a display Qt runs offscreen (``QT_QPA_PLATFORM=offscreen``), drawing into memory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TICK_MS = 5
STALL_TARGET_MS = 50.0
FPS_TARGET = 5.0
COST_TARGET_PERCENT = 5.0
NO_PREVIEW_S = 3600.0


class TickRecorder:
    """Timestamps of a fast ``QTimer`` on the GUI thread; gaps are the GUI's stalls."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.times: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(lambda: self.times.append(time.perf_counter()))

    def start(self) -> None:
        self.times = [time.perf_counter()]
        self.timer.start()

    def longest_gap_ms(self, start: float, end: float) -> float:
        """The longest stall between ``start`` and ``end`` (``perf_counter`` times)."""
        inside = [t for t in self.times if start <= t <= end]
        gaps = [(b - a) * 1000.0 - TICK_MS for a, b in zip(inside, inside[1:], strict=False)]
        return max(0.0, max(gaps, default=0.0))

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        self.times.append(time.perf_counter())
        pairs = zip(self.times, self.times[1:], strict=False)
        gaps = sorted((b - a) * 1000.0 - TICK_MS for a, b in pairs)
        if not gaps:
            return {"stall_max_ms": 0.0, "stall_p99_ms": 0.0, "ticks": 0}
        return {"stall_max_ms": max(0.0, gaps[-1]),
                "stall_p99_ms": max(0.0, gaps[min(len(gaps) - 1, int(0.99 * len(gaps)))]),
                "ticks": len(gaps)}


def make_dataset(folder: Path, n_positions: int) -> Path:
    """A simulated scan (preset "tiny": 32 x 32 patterns) of ``n_positions`` positions."""
    import engine
    from engine.config import SessionConfig, preset_layer, resolve_config

    cli = dict(preset_layer("tiny"))
    cli["simulation.n_positions"] = (n_positions, "bench")
    config = resolve_config(cli=cli, base=SessionConfig()).config
    result = engine.simulate(config, folder)
    return Path(result.files["dataset"])


def _wait_for(signal: Any, start: Any, timeout_s: float) -> Any:
    """Run the Qt event loop until ``signal`` fires (after calling ``start``); its argument."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    got: list[Any] = []

    def done(*args: Any) -> None:
        got.append(args[0] if args else None)
        loop.quit()

    signal.connect(done)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    guard.start(int(timeout_s * 1000))
    try:
        if start() is False:
            raise RuntimeError("the GUI refused to start the job")
        if not got:
            loop.exec()
    finally:
        signal.disconnect(done)
        guard.stop()
    if not got:
        raise TimeoutError(f"no result within {timeout_s:.0f} s")
    return got[0]


def default_interval_s() -> float:
    """The schema's ``execution.preview_interval_s`` (what a user gets)."""
    from engine.config import SessionConfig

    return float(SessionConfig().execution.preview_interval_s)


def train_once(window: Any, data: Path, run_dir: Path, interval_s: float, epochs: int,
               timeout_s: float = 600.0) -> dict[str, Any]:
    """One training from the GUI; its stalls, frames and throughput."""
    c = window.controller
    overrides = {"data.path": str(data), "model.N": 32, "training.max_epochs": epochs,
                 "training.output_dir": str(run_dir), "training.batch_size": 8,
                 "execution.accelerator": "cpu", "execution.logger": "none",
                 "execution.preview_interval_s": interval_s}
    c.document.set_values({key: (value, "gui") for key, value in overrides.items()})
    if c.previews.loader.busy:  # the data preview of the new path: let it finish first
        _wait_for(c.previews.loader.finished, lambda: None, 60)
    # Live frames drawn (the final result, drawn when the run ends, is not one of them).
    live: list[float] = []  # when each live frame was drawn
    view = window.reconstruction_view
    draw = view.set_object

    def counting_draw(obj: Any, caption: str = "", fit_levels: bool = False) -> None:
        draw(obj, caption=caption, fit_levels=fit_levels)
        if caption.startswith("live:"):
            live.append(time.perf_counter())

    view.set_object = counting_draw
    dropped0 = c.runs.runner.preview_slot.dropped
    ticks = TickRecorder()
    started = time.perf_counter()
    ticks.start()
    try:
        outcome = _wait_for(c.runs.runner.finished, c.runs.start_train, timeout_s)
    finally:
        stalls = ticks.stop()
        del view.set_object  # the class's method again
    wall = time.perf_counter() - started
    if outcome.status != "completed":
        raise RuntimeError(f"training {outcome.status}: {outcome.error}")
    result = outcome.result.raw
    rates = [row["patterns_per_s"] for row in result.history[1:]] or \
        [row["patterns_per_s"] for row in result.history]
    train_s = float(result.summary.get("train_time_s") or wall)
    drawn = len(live)
    streaming_s = live[-1] - live[0] if drawn > 1 else 0.0
    return {
        "preview_interval_s": interval_s, "epochs": result.epochs, "wall_s": wall,
        "train_time_s": train_s, "patterns_per_s": statistics.median(rates),
        "frames_drawn": drawn, "frames_dropped": c.runs.runner.preview_slot.dropped - dropped0,
        "fps_drawn": (drawn - 1) / streaming_s if streaming_s > 0 else 0.0,
        "stall_max_ms_streaming": (ticks.longest_gap_ms(live[0], live[-1]) if drawn > 1
                                   else stalls["stall_max_ms"]),
        **stalls,
    }


def run_benchmark(window: Any, workdir: Path, *, quick: bool = False,
                  interval_s: float | None = None) -> dict[str, Any]:
    """Warm-up run, then interleaved streaming / no-preview runs; the report (a dict).
    ``interval_s``: the streaming runs' preview interval (None: the schema's default)."""
    if interval_s is None:
        interval_s = default_interval_s()
    positions, epochs, repeats = (64, 3, 1) if quick else (256, 6, 3)
    data = make_dataset(workdir / "data", positions)
    started = time.perf_counter()
    # The first run imports torch and Lightning on the worker thread: reported on its own.
    first = train_once(window, data, workdir / "run-first", interval_s, 1)
    runs = []
    for i in range(repeats):
        for interval in (interval_s, NO_PREVIEW_S) if i % 2 == 0 else (NO_PREVIEW_S,
                                                                         interval_s):
            runs.append(train_once(window, data, workdir / f"run-{len(runs)}", interval,
                                   epochs))
    streaming = [r for r in runs if r["preview_interval_s"] != NO_PREVIEW_S]
    quiet = [r for r in runs if r["preview_interval_s"] == NO_PREVIEW_S]
    with_previews = statistics.median(r["patterns_per_s"] for r in streaming)
    without = statistics.median(r["patterns_per_s"] for r in quiet)
    cost = 100.0 * (1.0 - with_previews / without) if without > 0 else float("nan")
    stall = max(r["stall_max_ms"] for r in streaming)
    stall_streaming = max(r["stall_max_ms_streaming"] for r in streaming)
    fps = statistics.median(r["fps_drawn"] for r in streaming)
    return {
        "benchmark": "gui responsiveness",
        "quick": quick,
        "settings": {"n_positions": positions, "N": 32, "epochs": epochs, "repeats": repeats,
                     "batch_size": 8, "preview_interval_s": interval_s, "tick_ms": TICK_MS,
                     "qt_platform": os.environ.get("QT_QPA_PLATFORM", "default"),
                     "load_average_1min": os.getloadavg()[0]},
        "first_run": first,
        "runs": runs,
        "summary": {
            "stall_max_ms": stall,
            "stall_max_ms_streaming": stall_streaming,
            "stall_p99_ms": max(r["stall_p99_ms"] for r in streaming),
            "stall_max_ms_without_previews": max(r["stall_max_ms"] for r in quiet),
            "fps_drawn": fps,
            "fps_target": FPS_TARGET,
            "meets_fps_target": fps >= FPS_TARGET,
            "frames_drawn": sum(r["frames_drawn"] for r in streaming),
            "frames_dropped": sum(r["frames_dropped"] for r in streaming),
            "patterns_per_s_streaming": with_previews,
            "patterns_per_s_without_previews": without,
            "streaming_cost_percent": cost,
            "stall_target_ms": STALL_TARGET_MS,
            "cost_target_percent": COST_TARGET_PERCENT,
            "meets_stall_target": stall <= STALL_TARGET_MS,
            "meets_stall_target_streaming": stall_streaming <= STALL_TARGET_MS,
            "meets_cost_target": cost <= COST_TARGET_PERCENT,
        },
        "wall_time_s": time.perf_counter() - started,
    }


def format_report(report: dict[str, Any]) -> str:
    s, first = report["summary"], report["first_run"]
    ok = {True: "meets", False: "MISSES"}
    return "\n".join([
        f"GUI responsiveness ({report['settings']['n_positions']} patterns of 32 x 32, "
        f"{report['settings']['epochs']} epochs x {report['settings']['repeats']} runs each, "
        f"previews every {report['settings']['preview_interval_s']} s)",
        f"  longest GUI stall, whole runs       {s['stall_max_ms']:.1f} ms "
        f"(p99 {s['stall_p99_ms']:.1f} ms; target {s['stall_target_ms']:.0f} ms: "
        f"{ok[s['meets_stall_target']]})",
        f"  longest stall while frames stream  {s['stall_max_ms_streaming']:.1f} ms "
        f"(target {s['stall_target_ms']:.0f} ms: {ok[s['meets_stall_target_streaming']]})",
        f"  longest stall without previews     {s['stall_max_ms_without_previews']:.1f} ms",
        f"  first run (imports torch)          {first['stall_max_ms']:.1f} ms",
        f"  frames drawn                       {s['fps_drawn']:.1f} per s "
        f"(target {s['fps_target']:.0f}: {ok[s['meets_fps_target']]}; {s['frames_drawn']} "
        f"drawn, {s['frames_dropped']} replaced by newer ones)",
        f"  training, previews streaming       {s['patterns_per_s_streaming']:.0f} patterns/s",
        f"  training, no previews              {s['patterns_per_s_without_previews']:.0f} "
        "patterns/s",
        f"  streaming cost                     {s['streaming_cost_percent']:+.1f} % "
        f"(target {s['cost_target_percent']:.0f} %: {ok[s['meets_cost_target']]})",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="GUI responsiveness while training streams "
                                     "previews (see the module docstring).")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="one short run of each kind")
    parser.add_argument("--interval", type=float, default=None, metavar="S",
                        help="execution.preview_interval_s of the streaming runs (default: "
                        "the schema's; 0 is a preview after every step, the worst case)")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import logging

    for name in ("lightning.pytorch", "lightning.fabric"):  # banners: not the report
        logging.getLogger(name).setLevel(logging.WARNING)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    import ptycho_gui  # noqa: F401 - its PySide6 guard runs before Qt is used
    from ptycho_gui.app import create_main_window

    app = QApplication.instance() or QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory(prefix="ptycho-gui-bench-") as tmp:
        settings = QSettings(str(Path(tmp) / "gui.ini"), QSettings.Format.IniFormat)
        window = create_main_window(settings=settings)
        window.controller.dialogs.ask_save_changes = lambda parent, name: "discard"
        window.controller.dialogs.show_error = lambda *a: None
        window.show()
        try:
            report = run_benchmark(window, Path(tmp), quick=args.quick,
                                   interval_s=args.interval)
        finally:
            window.controller.shutdown(timeout_s=60)
            window.close()
            app.processEvents()
    print(json.dumps(report) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
