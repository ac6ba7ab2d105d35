"""``ptycho-engine simulate``: write a synthetic dataset in every format.

``--seed`` here sets ``simulation.seed`` (the seed of the simulated data); the training seed
stays settable with ``--set execution.seed=N``.
"""

from __future__ import annotations

import argparse
import sys

from ..config import PRESET_NAMES, preset_layer
from .common import add_config_arguments, resolve_from_args
from .running import run_kind


def register(sub: argparse._SubParsersAction) -> None:
    # "resolve": our --seed (simulation.seed) replaces the generated execution --seed flag.
    parser = sub.add_parser(
        "simulate", conflict_handler="resolve",
        help="simulate a dataset with known ground truth (NPZ, ptychodus product + diffraction)",
        description="Simulate a ptychography dataset and write dataset.npz (PtychoPINN), "
        "product.h5 + diffraction.h5 (ptychodus standard layout, flat initial object) and "
        "truth.h5 (the true object) into --out. Identical settings give identical files.",
    )
    parser.add_argument("--out", metavar="DIR", help="output folder (sets "
                        "simulation.output_dir)")
    add_config_arguments(parser)
    parser.add_argument("--preset", choices=PRESET_NAMES, default=None,
                        help="named settings over the session: 'default' (the schema defaults, "
                        "784 patterns of 64 x 64), 'tiny' (64 of 32 x 32), 'lowdose' (1e4 "
                        "photons); --set and --seed still win")
    parser.add_argument("--seed", metavar="N", default=None,
                        help="seed of the simulation (simulation.seed); the training seed is "
                        "--set execution.seed=N")
    parser.add_argument("--overwrite", action="store_const", const="true", default=None,
                        help="write into a folder that already holds files, replacing the "
                        "simulation's own files (simulation.overwrite)")
    parser.set_defaults(func=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    extra = preset_layer(args.preset) if args.preset else {}
    # Explicit command-line settings win over the preset: put them last.
    extra.update({"simulation.seed": (args.seed, "cli --seed")} if args.seed is not None else {})
    if args.overwrite:
        extra["simulation.overwrite"] = (args.overwrite, "cli --overwrite")
    extra["simulation.output_dir"] = (args.out, "cli --out")
    resolved = resolve_from_args(args, extra=_below_cli(args, extra))
    result = run_kind("simulate", resolved)
    scan = result.scan
    if result.status != "completed" or scan is None:
        print(f"simulation {result.status}", file=sys.stderr)
        return 1
    print(f"simulated {scan.n_patterns} patterns of {scan.N} x {scan.N} px, object "
          f"{scan.obj.shape[0]} x {scan.obj.shape[1]} px, {scan.photons_per_pattern:.4g} photons "
          f"per pattern, seed {scan.seed} ({result.elapsed_s:.1f} s)")
    for kind, path in result.files.items():
        print(f"  {kind:<12} {path}")
    return 0


def _below_cli(args: argparse.Namespace, extra: dict) -> dict:
    """Preset entries that no --set overrides (``resolve_from_args`` applies extra last)."""
    explicit = {item.partition("=")[0].strip() for item in (args.set_values or [])}
    return {k: v for k, v in extra.items() if k not in explicit}
