"""A measured scan without ground truth (default: the tike Siemens star): the solver with its
defaults, judged by its misfit against the Poisson noise floor and by the FRC of two
reconstructions from the two halves of the scan (even and odd patterns).

Run from the repository root::

    OMP_WAIT_POLICY=PASSIVE nice -n 10 python benchmarks/measured_scan.py \\
        resources/examples/tike_siemens_star.toml [--halves] [--set refinement.time_limit_s=600]

Prints one JSON line per reconstruction (misfit, noise floor, ratio, kept epoch and stop
reason, mode power, seconds) and, with ``--halves``, the FRC resolution of amplitude and
phase at the 1/7 threshold (the halves registered to each other first).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("session", type=Path)
    ap.add_argument("--halves", action="store_true",
                    help="also reconstruct the even and odd patterns apart and give their FRC")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    metavar="SECTION.FIELD=VALUE")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from engine.config import resolve_config
    from engine.io import load_dataset
    from engine.reporting import Reporter
    from engine.runs.refinement import refine_stage

    overrides = {k: (v, "benchmark") for k, v in (o.split("=", 1) for o in args.overrides)}
    session = resolve_config(session=args.session, cli=overrides).config
    data = load_dataset(session.data)

    def run(part: str, index: np.ndarray | None) -> dict:
        sub = data if index is None else dataclasses.replace(
            data, patterns=np.asarray(data.patterns)[index], positions=data.positions[index])
        t0 = time.perf_counter()
        refined = refine_stage(sub, None, None, data.probe, session, "cpu", Reporter(), None)
        row = {"part": part, "patterns": int(sub.n_patterns),
               "seconds": round(time.perf_counter() - t0, 1), **refined.solve}
        print(json.dumps(row, default=str), flush=True)
        return {"obj": refined.obj, "mask": refined.mask}

    run("whole scan", None)
    if args.halves:
        m = data.n_patterns
        a = run("even patterns", np.arange(0, m, 2))
        b = run("odd patterns", np.arange(1, m, 2))
        print(json.dumps(halves_frc(a["obj"], a["mask"], b["obj"], b["mask"])), flush=True)
    return 0


def halves_frc(obj_a, mask_a, obj_b, mask_b) -> dict:
    """FRC resolution (px, 1/7 threshold) of amplitude and phase of two half-scan
    reconstructions on one object frame: over the pixels both illuminate, the second
    registered onto the first (sub-pixel shift, then the global phase)."""
    import numpy as np

    from engine.metrics import fourier_shift, frc_curve, frc_resolution, registration_shift

    region = mask_a & mask_b
    oa = np.where(region, obj_a, 0)
    ob = np.where(region, obj_b, 0)
    shift = registration_shift(oa, ob, region) or (0.0, 0.0)
    ob = fourier_shift(ob, shift)
    ob = ob * np.exp(-1j * np.angle(np.vdot(ob[region], oa[region])))
    out = {"shift_yx": shift}
    for name, fa, fb in (("amplitude", np.abs(oa), np.abs(ob)),
                         ("phase", np.angle(oa), np.angle(ob))):
        freq, frc = frc_curve(fa, fb, region)
        out[f"{name}_frc_resolution_px"] = round(frc_resolution(freq, frc), 2)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
