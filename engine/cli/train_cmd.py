"""``ptycho-engine train``, ``infer`` and ``demo``.

Ctrl-C during training or inference asks the run to stop cleanly (the run directory is
written with status "cancelled" and a usable last.ckpt); a second Ctrl-C aborts at once.
Torch and Lightning are imported only when a command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..config import PRESET_NAMES, ResolvedConfig
from ..config.validation import ConfigIssue
from ..errors import ConfigError
from .common import add_config_arguments, resolve_from_args


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


@contextlib.contextmanager
def _interrupt_sets(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C sets ``stop`` (clean cancel); the second raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after the current step (Ctrl-C again to abort)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Keep the terminal to our own progress bars and messages.

    Lightning's banner lines ("GPU available...", tips) and two known-harmless warnings (a
    small-epoch logging-interval notice, a torch pytree deprecation inside Lightning) are
    hidden; every other warning still shows.
    """
    import logging
    import warnings

    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*smaller than the logging interval")
            warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec.*")
            # A beamtime stream is an IterableDataset of known length (one share per worker).
            warnings.filterwarnings("ignore", message=r".*IterableDataset. has .__len__.")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def load_heavy_modules() -> None:
    """Import torch, Lightning and the run machinery before Ctrl-C becomes a clean stop.

    These imports take seconds on a busy machine and cannot look at a stop request; while
    they run a Ctrl-C ends the process at once (nothing has been made yet).
    """
    with _interrupt_ends_at_once():
        from ..model import pinn  # noqa: F401  (torch)
        from ..model import reconstruct  # noqa: F401
        from ..training import callbacks, setup, trainer  # noqa: F401  (Lightning)


@contextlib.contextmanager
def _interrupt_ends_at_once() -> Iterator[None]:
    """Ctrl-C ends the process at once (the system's default action), also inside the long C
    calls of an import, which delay Python's own handler by seconds."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _reporter(resolved: ResolvedConfig) -> Any:
    from ..reporting import TqdmReporter

    return TqdmReporter(enabled=resolved.config.execution.progress_bar)


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
    from ..runs import train
    from ..runs.beamtime import train_beamtime

    load_heavy_modules()
    reporter = _reporter(resolved)
    stop = threading.Event()
    try:
        with _interrupt_sets(stop), quiet_lightning():
            if args.beamtime:
                result = train_beamtime(resolved, reporter=reporter, stop=stop)
            else:
                result = train(resolved, reporter=reporter, stop=stop, resume=bool(args.resume))
    finally:
        reporter.close()
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
    from ..runs import infer_from_config

    load_heavy_modules()
    reporter = _reporter(resolved)
    stop = threading.Event()
    try:
        with _interrupt_sets(stop), quiet_lightning():
            result = infer_from_config(resolved, reporter=reporter, stop=stop)
    finally:
        reporter.close()
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

    reporter = _reporter(resolved)
    stop = threading.Event()
    try:
        with _interrupt_sets(stop), quiet_lightning():
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
