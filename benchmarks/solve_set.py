"""The solver alone (no network) on a shared ptychodus set, from a flat object, with the
session defaults: the product written with the refined probe and positions and scored by the
shared scorer; positions against the truth (``truth.npz``, mean offset removed) and the
probe modes' power fractions against the truth's when the set has them.

``--oracle`` gives the same solver the truth's probe modes and positions (``truth.npz``:
``probe_modes``, ``xcoords``/``ycoords``) and keeps both fixed (``refinement.refine_probe`` and
``refinement.position_correction`` off, ``probe.modes`` = the truth's); everything else (the
background, the stopping rule, the caps) stays at the session defaults. It is the "oracle"
of issue 18's target: what this solver reaches when the probe and positions are not the
problem.

Run from the repository root::

    OMP_WAIT_POLICY=PASSIVE nice -n 10 python benchmarks/solve_set.py \\
        ../shared/data/ptychodus/realistic_a [--set refinement.algorithm=rpie] [--out r.h5]
        [--oracle]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCORER = ROOT.parent / "shared" / "tools" / "score_product.py"
SCORER_PY = Path("/work/venv-ptychodus/bin/python")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    metavar="SECTION.FIELD=VALUE")
    ap.add_argument("--out", type=Path, default=None, help="keep the product here")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--oracle", action="store_true",
                    help="the true probe modes and positions (truth.npz), both kept fixed")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from engine.config import resolve_config
    from engine.io import load_dataset, write_product
    from engine.reporting import Reporter
    from engine.runs.refinement import refine_stage

    overrides = {k: (v, "benchmark") for k, v in (o.split("=", 1) for o in args.overrides)}
    args.folder = args.folder.resolve()
    probe, start = None, None
    if args.oracle:
        with np.load(args.folder / "truth.npz", allow_pickle=False) as oracle:
            probe = np.asarray(oracle["probe_modes"], np.complex64)
            start = np.stack([oracle["xcoords"], oracle["ycoords"]], 1).astype(np.float64)
        overrides.update({"refinement.refine_probe": ("false", "oracle"),
                          "refinement.position_correction": ("false", "oracle"),
                          "probe.modes": (str(len(probe)), "oracle")})
    session = resolve_config(cli=overrides).config
    data = load_dataset(str(args.folder / "product.h5"))
    probe = data.probe if probe is None else probe
    t0 = time.perf_counter()
    refined = refine_stage(data, None, None, probe, session, "cpu", Reporter(), None,
                           positions=start)
    row = {"set": args.folder.name, "seconds": round(time.perf_counter() - t0, 1),
           "oracle": args.oracle, **refined.solve}
    truth_npz = args.folder / "truth.npz"
    if truth_npz.exists():
        truth = np.load(truth_npz, allow_pickle=False)
        true = np.stack([truth["xcoords"], truth["ycoords"]], 1)
        for name, p in (("nominal", data.positions), ("refined", refined.positions)):
            d = p - true
            d = d - d.mean(axis=0)
            row[f"positions_rms_vs_truth_{name}_px"] = round(float(np.sqrt((d**2).sum(1).mean())),
                                                             3)
        row["true_mode_power"] = [round(float(x), 3)
                                  for x in truth["probe_mode_power_fractions"]]
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "recon.h5"
        write_product(out, obj=refined.obj, probe=refined.probe, positions_px=refined.positions,
                      object_pixel_size_m=data.object_pixel_size_m, geometry=data.geometry,
                      indexes=data.indexes, mask=refined.mask, name="solve_set.py")
        if (args.folder / "truth.h5").exists() and SCORER.exists():
            done = subprocess.run([str(SCORER_PY), str(SCORER), str(out),
                                   str(args.folder / "truth.h5")], capture_output=True,
                                  text=True, cwd=tmp)
            try:
                scores = json.loads(done.stdout[done.stdout.index("{"):])
                row.update({k: scores[k] for k in ("amp_ssim", "phase_ssim", "amp_psnr_db",
                                                   "phase_psnr_db")})
            except (ValueError, KeyError):
                row["scorer"] = (done.stdout + done.stderr)[-500:]
    print(json.dumps(row, default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
