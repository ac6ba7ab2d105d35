"""``ptycho-engine bench``: training, inference and memory figures of this machine.

Torch and Lightning are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json

from ..config.validation import ConfigIssue
from ..errors import ConfigError
from .common import add_config_arguments, resolve_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "bench", help="measure training and inference throughput and peak memory here",
        description="Measure, in one run on this machine: training throughput in patterns "
        "per second through Lightning and through a plain PyTorch loop over the same model "
        "and data (the ratio is Lightning's overhead); the network alone at several "
        "inference batch sizes; inference and stitching time, at the fastest, for "
        "10,000 patterns (synthetic, --patterns to change; 500 with --quick); peak "
        "resident memory; the device, versions and settings. Model, batch sizes and "
        "hardware come from the session and flags, e.g. --accelerator gpu. Without --data a "
        "simulated scan (simulation settings) is the training data. With --quality: "
        "reconstruction quality over the shared ptychodus sets instead (train on the first "
        "set, or --checkpoint; per stage prior, network, refinement, final: SSIM, PSNR, "
        "NRMSE of amplitude and phase against truth.h5, wall time, patterns/s).")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object with every figure (progress goes to "
                        "stderr)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer steps and 500 inference patterns: about a minute on "
                        "two CPU cores")
    parser.add_argument("--patterns", metavar="N", type=int, default=None,
                        help="patterns of the inference benchmark (default 10,000; "
                        "500 with --quick)")
    parser.add_argument("--threads", metavar="N", type=int, default=None,
                        help="torch CPU threads (default: torch's choice, one per core); on a "
                        "machine shared with other jobs 1 is often faster")
    parser.add_argument("--data", metavar="PATH",
                        help="train on this dataset instead of a simulated one (sets "
                        "data.path); with --quality: the folder of the sets (default "
                        "../shared/data/ptychodus)")
    parser.add_argument("--quality", action="store_true",
                        help="the quality benchmark over sets made by another tool (each a "
                        "folder with product.h5, diffraction.h5 and truth.h5)")
    parser.add_argument("--sets", metavar="A,B", default="images_a,images_b",
                        help="with --quality: set folders, the training set first "
                        "(default images_a,images_b)")
    parser.add_argument("--checkpoint", metavar="CKPT",
                        help="with --quality: use this trained checkpoint instead of training")
    add_config_arguments(parser)
    parser.set_defaults(func=_bench)


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        if threads < 1:
            raise ConfigError([ConfigIssue("--threads", "expected a positive number of "
                                           "threads", threads)])
        import torch

        torch.set_num_threads(threads)


def _bench(args: argparse.Namespace) -> int:
    if args.quality:
        return _quality(args)
    resolved = resolve_from_args(args, extra={"data.path": (args.data, "cli --data")})
    from ..bench import format_report, run_bench
    from ..reporting import TqdmReporter
    from ..training.rundir import json_safe
    from .running import quiet_lightning

    _set_threads(args.threads)
    reporter = TqdmReporter(enabled=resolved.config.execution.progress_bar)
    try:
        with quiet_lightning():
            figures = run_bench(resolved, quick=args.quick, infer_patterns=args.patterns,
                                reporter=reporter)
    finally:
        reporter.close()
    if args.json:
        print(json.dumps(json_safe(figures), allow_nan=False))
    else:
        print(format_report(figures))
    return 0


def _quality(args: argparse.Namespace) -> int:
    resolved = resolve_from_args(args)
    from ..bench import format_quality_table, run_quality_bench
    from ..bench.quality import DEFAULT_DATA_ROOT
    from ..reporting import TqdmReporter
    from ..training.rundir import json_safe
    from .running import quiet_lightning

    _set_threads(args.threads)
    sets = tuple(name.strip() for name in args.sets.split(",") if name.strip())
    reporter = TqdmReporter(enabled=resolved.config.execution.progress_bar)
    try:
        with quiet_lightning():
            result = run_quality_bench(resolved, args.data or DEFAULT_DATA_ROOT, sets=sets,
                                       checkpoint=args.checkpoint, reporter=reporter)
    finally:
        reporter.close()
    if args.json:
        print(json.dumps(json_safe(result), allow_nan=False))
    else:
        print(format_quality_table(result))
    return 0
