"""``ptycho-engine train``, ``infer`` and ``demo``.

Each command resolves one configuration and hands it to :func:`engine.runs.run` through
:func:`engine.cli.running.run_kind` (progress bars from the run plan; Ctrl-C asks the run to
stop cleanly, the run directory is written with status "cancelled" and a usable last.ckpt; a
second Ctrl-C aborts at once). Torch and Lightning are imported only when a command runs.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from ..config import PRESET_NAMES
from ..config.validation import ConfigIssue
from ..errors import ConfigError
from ..reporting import TqdmReporter
from .common import add_config_arguments, resolve_from_args
from .running import interrupt_sets, load_heavy_modules, quiet_lightning, run_kind


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train", help="train the PINN on a dataset and write a run directory",
        description="Train the physics-informed network on --data (or data.path) and write "
        "the run directory --out (or training.output_dir): session.toml, provenance.json, "
        "checkpoints/, metrics.csv, reconstruction.h5, amplitude.png, phase.png, "
        "summary.json. Distributed: --strategy ddp --devices 2 (see docs/distributed.md).")
    train.add_argument("--data", metavar="PATH", help="dataset (sets data.path)")
    train.add_argument("--out", metavar="DIR", help="run directory (sets training.output_dir)")
    train.add_argument("--beamtime", action="store_true",
                       help="train a beamtime model: the network learns from objects simulated "
                       "under the data's own probe, scan and dose, mixed with the data "
                       "(settings: beamtime.*; docs/training.md)")
    train.add_argument("--resume", metavar="RUN_DIR",
                       help="continue RUN_DIR from checkpoints/last.ckpt with its session.toml; "
                       "the epoch count continues (raise it with --set training.max_epochs=N)")
    add_config_arguments(train)
    train.set_defaults(func=_train)

    infer = sub.add_parser(
        "infer", help="reconstruct a dataset with a trained checkpoint",
        description="Run a trained network on every pattern of --data, stitch the object and "
        "write it as a ptychodus product (--out) with amplitude/phase PNGs next to it.")
    infer.add_argument("--checkpoint", metavar="CKPT", help="trained checkpoint "
                       "(sets inference.checkpoint)")
    infer.add_argument("--data", metavar="PATH", help="data to reconstruct "
                       "(sets inference.data_path)")
    infer.add_argument("--out", metavar="RECON.h5", help="product file to write "
                       "(sets inference.output)")
    infer.add_argument("--batch-size", metavar="N", help="patterns per batch "
                       "(sets execution.inference_batch_size)")
    infer.add_argument("--overwrite", action="store_const", const="true", default=None,
                       help="replace an existing output file and its PNGs "
                       "(sets inference.overwrite)")
    infer.add_argument("--network-only", action="store_true",
                       help="write the network's own stitched estimate, without the "
                       "full-object solver (sets refinement.epochs = 0)")
    add_config_arguments(infer)
    infer.set_defaults(func=_infer)

    demo = sub.add_parser(
        "demo", help="simulate, train, reconstruct an unseen object, and score (end to end)",
        description="Simulate the embedded default dataset into DIR/data and a second object "
        "scanned with the same probe into DIR/unseen, train with the default settings into "
        "DIR/run, reconstruct the unseen object, and print one table of quality (PSNR, SSIM, "
        "FRC) and speed; the numbers are also written to DIR/demo.json.")
    demo.add_argument("--out", metavar="DIR", default="ptycho-demo",
                      help="demo folder (default: ptycho-demo)")
    demo.add_argument("--preset", choices=PRESET_NAMES, default="default",
                      help="simulation preset (default: the embedded default dataset)")
    add_config_arguments(demo)
    demo.set_defaults(func=_demo)


def _quality_lines(scores: dict[str, Any] | None, source: str | None) -> list[str]:
    if not scores:
        return []
    from ..metrics import format_table

    return [f"quality against {source}:", format_table(scores)]


def _train(args: argparse.Namespace) -> int:
    extra: dict[str, tuple[Any, str]] = {"data.path": (args.data, "cli --data"),
                                         "training.output_dir": (args.out, "cli --out")}
    if args.resume:
        run_dir = Path(args.resume)
        if args.session:
            raise ConfigError([ConfigIssue("--session", "--resume uses the run's own "
                                           "session.toml; drop --session", args.session)])
        if args.out and Path(args.out).resolve() != run_dir.resolve():
            raise ConfigError([ConfigIssue("--out", "--resume continues the run in RUN_DIR; "
                                           "drop --out", args.out)])
        session = run_dir / "session.toml"
        if not session.is_file():
            raise ConfigError([ConfigIssue("--resume", f"expected a run directory with "
                                           f"session.toml, found none in {run_dir}",
                                           args.resume)])
        args.session = str(session)
        extra["training.output_dir"] = (str(run_dir), "cli --resume")
    if args.beamtime:
        if args.resume:
            raise ConfigError([ConfigIssue("--beamtime", "a beamtime training starts a new "
                                           "run; drop --resume", args.resume)])
        extra["beamtime.simulated_training"] = ("true", "cli --beamtime")
    resolved = resolve_from_args(args, extra=extra)
    if args.beamtime:
        from ..runs.beamtime import train_beamtime

        result = run_kind("train", resolved, entry=train_beamtime)
    else:
        result = run_kind("resume" if args.resume else "train", resolved)
    if not _is_rank_zero():
        return 0
    s = result.summary
    rate = s["throughput"]["train_patterns_per_s"]
    print(f"training {result.status}: {result.epochs} epochs in {s['wall_time_s']:.1f} s"
          + (f", {rate:.0f} patterns/s" if rate else "")
          + f" on {s['device'].get('device', '?')}")
    print(f"run directory: {result.run_dir}")
    for line in _quality_lines(s.get("quality"), s.get("ground_truth")):
        print(line)
    return 0 if result.status == "completed" else 1


def _is_rank_zero() -> bool:
    from ..training.devices import launch_rank

    return launch_rank() == 0


def _infer(args: argparse.Namespace) -> int:
    resolved = resolve_from_args(args, extra={
        "inference.checkpoint": (args.checkpoint, "cli --checkpoint"),
        "inference.data_path": (args.data, "cli --data"),
        "inference.output": (args.out, "cli --out"),
        "execution.inference_batch_size": (args.batch_size, "cli --batch-size"),
        "refinement.epochs": ("0" if args.network_only else None, "cli --network-only"),
        "inference.overwrite": (args.overwrite, "cli --overwrite"),
    })
    result = run_kind("infer", resolved)
    if result.status == "completed":
        print(f"inference completed: {result.n_patterns} patterns in {result.seconds:.2f} s "
              f"({result.patterns_per_s:.0f} patterns/s on {result.device})")
    else:
        target = resolved.config.inference.output
        print(f"inference cancelled after {result.seconds:.2f} s: nothing written"
              + (f" ({target} is as it was)" if target else ""))
    if result.output:
        print(f"wrote {result.output}")
        for png in result.pngs or ():
            print(f"wrote {png}")
    for line in _quality_lines(result.quality, result.ground_truth):
        print(line)
    return 0 if result.status == "completed" else 1


def _demo(args: argparse.Namespace) -> int:
    resolved = resolve_from_args(args)
    from ..runs import format_demo_table, run_demo

    load_heavy_modules()
    reporter = TqdmReporter(enabled=resolved.config.execution.progress_bar)
    stop = threading.Event()
    try:
        with interrupt_sets(stop), quiet_lightning():
            report = run_demo(args.out, config=resolved, preset=args.preset, reporter=reporter,
                              stop=stop)
    finally:
        reporter.close()
    if report["status"] != "completed":
        print("demo cancelled", file=sys.stderr)
        return 1
    print(format_demo_table(report))
    print(f"wrote {Path(args.out).resolve() / 'demo.json'}")
    return 0
