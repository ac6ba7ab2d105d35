"""``ptycho-engine reconstruct``: the iterative solver alone (no network)."""

from __future__ import annotations

import argparse

from .common import add_config_arguments, resolve_from_args
from .running import run_kind


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "reconstruct", help="reconstruct a dataset with the iterative solver alone (no network)",
        description="Reconstruct --data with the solver of refinement.algorithm, starting "
        "from a flat object or from the object of --object, and write --out/"
        "reconstruction.h5 (ptychodus product), amplitude.png, phase.png, session.toml, "
        "provenance.json and summary.json. No network is trained or loaded.")
    parser.add_argument("--data", metavar="PATH", help="dataset (sets data.path)")
    parser.add_argument("--out", metavar="DIR", help="output folder "
                        "(sets reconstruct.output_dir)")
    parser.add_argument("--object", metavar="PRODUCT.h5", help="start from the object of this "
                        "product (sets reconstruct.initial_object = 'file' and "
                        "reconstruct.object_path)")
    parser.add_argument("--overwrite", action="store_const", const="true", default=None,
                        help="replace the files of an earlier reconstruction in --out "
                        "(sets reconstruct.overwrite)")
    add_config_arguments(parser)
    parser.set_defaults(func=_reconstruct)


def _reconstruct(args: argparse.Namespace) -> int:
    resolved = resolve_from_args(args, extra={
        "data.path": (args.data, "cli --data"),
        "reconstruct.output_dir": (args.out, "cli --out"),
        "reconstruct.initial_object": ("file" if args.object else None, "cli --object"),
        "reconstruct.object_path": (args.object, "cli --object"),
        "reconstruct.overwrite": (args.overwrite, "cli --overwrite"),
    })
    result = run_kind("reconstruct", resolved)
    refined = result.summary.get("refinement") or {}
    misfit = refined.get("misfit")
    print(f"reconstruction {result.status}: {refined.get('epochs', 0)} epochs in "
          f"{refined.get('seconds') or 0.0:.1f} s"
          + (f", misfit {misfit:.3f}" if misfit is not None else ""))
    print(f"output folder: {result.folder}")
    for path in (result.product, *(result.pngs or ())):
        if path is not None:
            print(f"wrote {path}")
    quality = result.summary.get("quality")
    if quality:
        from ..metrics import format_table

        print(f"quality against {result.summary.get('ground_truth')}:")
        print(format_table(quality))
    return 0 if result.status == "completed" else 1
