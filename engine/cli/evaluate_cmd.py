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
        "FRC resolution (1/7 threshold) and the complex NRMSE over the scanned region (convex "
        "hull of the window centres of the truth product; without positions, the region both "
        "cover), by the rules of the shared scorer (shared/tools/score_product.py). Files: "
        "ptychodus product .h5, NPZ (object or objectGuess) or .npy.",
    )
    cmd.add_argument("--reconstruction", required=True, metavar="FILE",
                     help="reconstructed object file")
    cmd.add_argument("--truth", required=True, metavar="FILE", help="ground-truth object file")
    cmd.add_argument("--json", action="store_true",
                     help='print one JSON object {"amplitude": {...}, "phase": {...}, '
                     '"nrmse": ..., "registration": {...}}')
    cmd.add_argument("--phase-ramp", action="store_true",
                     help="also remove a fitted linear phase ramp (after probe refinement)")
    cmd.add_argument("--no-register", dest="register", action="store_false",
                     help="do not register sub-pixel translation")
    cmd.add_argument("--border", type=int, default=0, metavar="PX",
                     help="without scan positions only: pixels dropped from each side of the "
                     "covered region (default 0)")
    cmd.add_argument("--max-shift-px", type=float, default=None, metavar="PX",
                     help="largest registration shift applied (default: the probe diameter; "
                     "8 px when no probe is known); larger shifts are reported, not applied")
    cmd.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..errors import DataError
    from ..metrics import PSNR_CAP_DB, evaluate, format_table

    if args.border < 0:
        raise DataError(f"--border: expected a number of pixels >= 0, found {args.border}")
    if args.max_shift_px is not None and args.max_shift_px < 0:
        raise DataError(f"--max-shift-px: expected a number of pixels >= 0, found "
                        f"{args.max_shift_px}")
    results = evaluate(args.reconstruction, args.truth, border=args.border,
                       phase_ramp=args.phase_ramp, register=args.register,
                       max_shift_px=args.max_shift_px)
    details = results["details"]
    if args.json:
        print(json.dumps({"amplitude": results["amplitude"], "phase": results["phase"],
                          "nrmse": results["nrmse"], "registration": details["registration"]}))
    else:
        print(format_table(results))
        shift = details["shift_px"]
        print(f"(region: {details['region_kind']}, {details['n_pixels']} px; shift (dy, dx) = "
              f"({shift[0]:.2f}, {shift[1]:.2f}) px; PSNR capped at {PSNR_CAP_DB:.0f} dB)")
        for note in details["notes"]:
            print(f"note: {note}")
    return 0
