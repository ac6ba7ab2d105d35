"""``ptycho-engine evaluate``: score a reconstruction against a ground-truth object."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "evaluate",
        help="score a reconstruction against the true object (PSNR, SSIM, FRC)",
        description="Align the reconstruction to the truth (sub-pixel shift, global phase, "
        "optional phase ramp, amplitude scale) and report amplitude and phase PSNR, SSIM and "
        "FRC resolution (1/7 threshold) over the region both cover. Files: ptychodus product "
        ".h5, NPZ (object or objectGuess) or .npy.",
    )
    cmd.add_argument("--reconstruction", required=True, metavar="FILE",
                     help="reconstructed object file")
    cmd.add_argument("--truth", required=True, metavar="FILE", help="ground-truth object file")
    cmd.add_argument("--json", action="store_true",
                     help='print one JSON object {"amplitude": {...}, "phase": {...}}')
    cmd.add_argument("--phase-ramp", action="store_true",
                     help="also remove a fitted linear phase ramp (after probe refinement)")
    cmd.add_argument("--no-register", dest="register", action="store_false",
                     help="do not register sub-pixel translation")
    cmd.add_argument("--border", type=int, default=0, metavar="PX",
                     help="pixels dropped from each side of the covered region (default 0)")
    cmd.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..errors import DataError
    from ..metrics import evaluate, format_table

    if args.border < 0:
        raise DataError(f"--border: expected a number of pixels >= 0, found {args.border}")
    results = evaluate(args.reconstruction, args.truth, border=args.border,
                       phase_ramp=args.phase_ramp, register=args.register)
    if args.json:
        print(json.dumps({key: results[key] for key in ("amplitude", "phase")}))
    else:
        print(format_table(results))
        shift = results["details"]["shift_px"]
        print(f"(region {results['details']['n_pixels']} px, shift (dy, dx) = "
              f"({shift[0]:.2f}, {shift[1]:.2f}) px, PSNR capped at 100 dB)")
    return 0
