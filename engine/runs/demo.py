"""The end-to-end demo: simulate, train, reconstruct an unseen object, score, one table.

``run_demo(out_dir)``:

1. simulates the embedded default dataset (preset "default") into ``DIR/data``;
2. simulates a second, different object (another object seed) scanned with the same probe
   and scan into ``DIR/unseen``;
3. trains with the default settings into ``DIR/run`` (which stitches and scores the
   training scan);
4. reconstructs the unseen object with ``DIR/run/checkpoints/last.ckpt`` into
   ``DIR/unseen/reconstruction.h5`` and scores it against its truth;
5. prints one table of quality and speed and writes ``DIR/demo.json``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Any

from ..config import ResolvedConfig, SessionConfig
from ..reporting import Reporter, StopToken

UNSEEN_OBJECT_SEED_OFFSET = 1000
"""The unseen object's seed is ``simulation.seed + 1000`` (same probe, same scan)."""


def _quality_row(name: str, scores: dict[str, Any] | None) -> list[str]:
    if not scores:
        return [name] + ["n/a"] * 6

    def f(v: Any, digits: int) -> str:
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else \
            f"{v:.{digits}f}"

    a, p = scores["amplitude"], scores["phase"]
    return [name, f(a["psnr"], 2), f(a["ssim"], 3), f(a["frc_px"], 2), f(p["psnr"], 2),
            f(p["ssim"], 3), f(p["frc_px"], 2)]


def format_demo_table(report: dict[str, Any]) -> str:
    """One table: quality of both reconstructions, then speed."""
    header = ["", "amp PSNR dB", "amp SSIM", "amp FRC px", "phase PSNR dB", "phase SSIM",
              "phase FRC px"]
    rows = [header, _quality_row("training scan", report["quality"]["training_scan"]),
            _quality_row("unseen object", report["quality"]["unseen_object"])]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    line = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths, strict=True)))
    sp = report["speed"]
    out = [line(rows[0]), line(["-" * w for w in widths]), line(rows[1]), line(rows[2]), ""]
    speed = [
        ("train patterns/s", f"{sp['train_patterns_per_s']:.0f}"
         if sp["train_patterns_per_s"] else "n/a"),
        ("train wall time", f"{sp['train_wall_time_s']:.1f} s"),
        ("inference patterns/s", f"{sp['inference_patterns_per_s']:.0f}"),
        ("demo wall time", f"{sp['demo_wall_time_s']:.1f} s"),
    ]
    w0 = max(len(k) for k, _ in speed)
    out += [f"{k.ljust(w0)}  {v}" for k, v in speed]
    return "\n".join(out)


def run_demo(out_dir: str | os.PathLike[str], *,
             config: SessionConfig | ResolvedConfig | None = None,
             preset: str = "default", reporter: Reporter | None = None,
             stop: StopToken | None = None) -> dict[str, Any]:
    """Run the demo into ``out_dir``; return the report also written to ``demo.json``.

    Parameters
    ----------
    out_dir
        Demo folder (``data/``, ``unseen/``, ``run/``, ``demo.json``).
    config
        Base settings (default: the defaults); the simulation ``preset`` is applied over it.
    preset
        Simulation preset ("default" is the embedded default dataset; "tiny" for tests).
    reporter, stop
        Progress and cancellation of every step.

    Returns
    -------
    dict
        ``{"quality": {"training_scan", "unseen_object"}, "speed": {...}, "status",
        "paths": {...}}``.
    """
    from ..config import apply_preset
    from ..training.rundir import write_json
    from .infer import infer
    from .simulate import simulate
    from .train import train

    started = time.perf_counter()
    report = reporter or Reporter()
    out = Path(out_dir).resolve()
    base = config.config if isinstance(config, ResolvedConfig) else (config or SessionConfig())
    resolved = apply_preset(base, preset)
    # The demo owns its folders: a rerun replaces its own simulated data and reconstruction.
    cfg = dataclasses.replace(
        resolved.config,
        simulation=dataclasses.replace(resolved.config.simulation, overwrite=True),
        inference=dataclasses.replace(resolved.config.inference, overwrite=True))

    report.log("info", f"simulating the '{preset}' dataset into {out / 'data'}")
    seen = simulate(cfg, out / "data", reporter=report, stop=stop)
    unseen_seed = cfg.simulation.seed + UNSEEN_OBJECT_SEED_OFFSET
    report.log("info", f"simulating an unseen object (object seed {unseen_seed}) into "
               f"{out / 'unseen'}")
    unseen = simulate(cfg, out / "unseen", reporter=report, stop=stop, object_seed=unseen_seed)
    if seen.status != "completed" or unseen.status != "completed":
        return _cancelled(out, started)

    train_cfg = dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, path=str(seen.files["dataset"])),
        training=dataclasses.replace(cfg.training, output_dir=str(out / "run"),
                                     overwrite=True),
    )
    sources = dict(resolved.sources)
    sources.update({"data.path": "demo", "training.output_dir": "demo",
                    "training.overwrite": "demo"})
    run = train(ResolvedConfig(train_cfg, sources), reporter=report, stop=stop)
    if run.status != "completed":
        return _cancelled(out, started, run_dir=str(run.run_dir))

    last = run.checkpoints["last"]
    assert last is not None  # a completed run has its last.ckpt
    inferred = infer(last, str(unseen.files["dataset"]),
                     out / "unseen" / "reconstruction.h5", config=train_cfg, reporter=report,
                     stop=stop)
    summary = run.summary
    result = {
        "status": "completed",
        "preset": preset,
        "quality": {"training_scan": _strip(summary.get("quality")),
                    "unseen_object": _strip(inferred.quality)},
        "speed": {
            "train_patterns_per_s": summary["throughput"]["train_patterns_per_s"],
            "train_wall_time_s": summary["wall_time_s"],
            "train_epochs": summary["epochs"],
            "inference_patterns_per_s": inferred.patterns_per_s,
            "inference_patterns": inferred.n_patterns,
            "demo_wall_time_s": time.perf_counter() - started,
        },
        "device": summary.get("device"),
        "paths": {"data": str(seen.files["dataset"]), "unseen": str(unseen.files["dataset"]),
                  "run_dir": str(run.run_dir), "reconstruction": str(run.reconstruction),
                  "unseen_reconstruction": str(inferred.output)},
    }
    write_json(out / "demo.json", result)
    return result


def _strip(scores: dict[str, Any] | None) -> dict[str, Any] | None:
    """Only the amplitude and phase scores (the alignment details stay in summary.json)."""
    if not scores:
        return None
    return {"amplitude": dict(scores["amplitude"]), "phase": dict(scores["phase"])}


def _cancelled(out: Path, started: float, run_dir: str | None = None) -> dict[str, Any]:
    from ..training.rundir import write_json

    result = {"status": "cancelled", "quality": {"training_scan": None, "unseen_object": None},
              "speed": {"demo_wall_time_s": time.perf_counter() - started},
              "paths": {"run_dir": run_dir}}
    write_json(out / "demo.json", result)
    return result
