"""``ptycho-engine inspect PATH``: summarise a data file and list its problems (exit 2 if any)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "inspect", help="summarise a data file or folder and list every problem in it",
        description="Print the number and size of patterns, count statistics (a bounded "
        "sample on large files), scan extent in pixels and metres, probe, object, measurement "
        "domain, warnings and problems. Exit code 0: loadable; 2: problems found or the file "
        "cannot be read.",
    )
    parser.add_argument("path", metavar="PATH",
                        help="NPZ, product .h5, diffraction .h5 or standard-layout folder")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--measurement", choices=("auto", "counts", "amplitude"), default=None,
                        help="domain of the stored patterns (default: from the file)")
    parser.add_argument("--diffraction", metavar="FILE", default=None,
                        help="diffraction .h5 paired with a product file given as PATH")
    parser.set_defaults(func=_inspect)


def _inspect(args: argparse.Namespace) -> int:
    from ..io import inspect

    overrides = {}
    if args.measurement:
        overrides["measurement"] = args.measurement
    if args.diffraction:
        overrides["diffraction_path"] = args.diffraction
    report = inspect(args.path, **overrides)
    print(report.to_json() if args.json else report.format())
    if report.problems:
        print(f"error: {args.path}: {len(report.problems)} problem(s):", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    return 0
