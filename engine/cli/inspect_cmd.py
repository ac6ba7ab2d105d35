"""``ptycho-engine inspect [PATH]``: summarise a data file and list its problems (exit 2 if any).

The data settings come from ``--session`` and ``--set`` like every other command (a declared
layout, ``data.entry``, ``probe.initial``...), so ``inspect`` reports what ``train`` and
``infer`` will load.
"""

from __future__ import annotations

import argparse
import sys

from .common import add_config_arguments, resolve_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "inspect", help="summarise a data file or folder and list every problem in it",
        description="Print the format, the number and size of patterns, count statistics (a "
        "bounded sample on large files), scan extent in pixels and metres, probe, object, "
        "detector mask, geometry, measurement domain, the files read, corrections made, "
        "warnings and problems. Exit code 0: loadable; 2: problems found or the file cannot "
        "be read.",
    )
    parser.add_argument("path", metavar="PATH", nargs="?", default=None,
                        help="NPZ, CXI, product .h5, diffraction .h5, standard-layout folder "
                        "(gzip/bzip2 compressed too); default: data.path of --session")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--measurement", choices=("auto", "counts", "amplitude"), default=None,
                        help="domain of the stored patterns (default: from the file)")
    parser.add_argument("--diffraction", metavar="FILE", default=None,
                        help="diffraction .h5 paired with a product file given as PATH")
    add_config_arguments(parser)
    parser.set_defaults(func=_inspect)


def _inspect(args: argparse.Namespace) -> int:
    from ..io import inspect

    resolved = resolve_from_args(args, {
        "data.path": (args.path, "cli PATH"),
        "data.measurement": (args.measurement, "cli --measurement"),
        "data.diffraction_path": (args.diffraction, "cli --diffraction"),
    })
    cfg = resolved.config
    report = inspect(cfg.data, probe=cfg.probe)
    name = args.path or cfg.data.path
    print(report.to_json() if args.json else report.format())
    if report.problems:
        print(f"error: {name}: {len(report.problems)} problem(s):", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    return 0
