"""Time to pty-chi's final SSIM: our solver with the session defaults, beside pty-chi.

Issue 18's last target on ``realistic_b``: the time our solver needs to reach the SSIM that
pty-chi LSQML ends with must be at most half of pty-chi's own time to it. pty-chi's side comes
from ``benchmarks/ptychi_compare.py --out FILE.json`` (its checkpoints, its final amplitude /
phase SSIM and ``time_to_final_ssim``: the first checkpoint time at which both reached them).

Our side is what ``benchmarks/solve_set.py`` runs (``engine.solvers`` with the session
defaults, flat start, the set's probe guess and nominal positions, the detector mask, the
stopping rule), timed the same way as ``solve`` times itself (from the solver's set-up to
the end of ``run_solver``, the whole-scan misfit of every epoch included). After every epoch
the state (object, probe, positions) is kept (a reference: the solver replaces its tensors,
never changes them in place); afterwards the epochs are written as products and scored by
the shared scorer, in order, until both SSIMs reach pty-chi's final ones, and the state the
stopping rule returned is scored too.

Run from the repository root (the project's Python)::

    OMP_WAIT_POLICY=PASSIVE nice -n 10 .venv/bin/python benchmarks/ptychi_side_by_side.py \\
        ../shared/data/ptychodus/realistic_b --ptychi /tmp/ptychi_b.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ptychi_compare import (  # noqa: E402
    DEFAULT_SCORER,
    DEFAULT_SCORER_PYTHON,
    positions_rms,
    score,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--ptychi", type=Path, required=True,
                    help="ptychi_compare.py --out JSON of the same set")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    metavar="SECTION.FIELD=VALUE")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, help="write the table as JSON here")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from engine.config import resolve_config
    from engine.io import load_dataset, write_product
    from engine.reporting import Reporter
    from engine.solvers import get_solver, run_solver

    theirs = json.loads(args.ptychi.read_text())
    target_amp = float(theirs["final"]["amp_ssim"])
    target_phase = float(theirs["final"]["phase_ssim"])
    overrides = {k: (v, "benchmark") for k, v in (o.split("=", 1) for o in args.overrides)}
    session = resolve_config(cli=overrides).config
    settings = session.refinement
    folder = args.folder.resolve()
    data = load_dataset(str(folder / "product.h5"))
    snapshots: list[tuple[int, float, dict]] = []
    paused = [0.0]

    class Snapshots(Reporter):
        """Keeps the solver's state after every epoch's misfit line (its own time is taken
        out of the solver's)."""

        def log(self, level: str, message: str) -> None:
            if message.startswith("refinement epoch") and "misfit" in message \
                    and solver.epochs_done not in [s[0] for s in snapshots]:
                t = time.perf_counter()
                snapshots.append((solver.epochs_done, t - t0 - paused[0], solver.state()))
                paused[0] += time.perf_counter() - t

    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    algorithm = str(settings.algorithm)
    solver = get_solver(algorithm)(
        data.patterns, data.positions, data.probe, data.object_shape, settings,
        getattr(session, algorithm, None), seed=session.execution.seed,
        bad_pixels=data.bad_pixels, modes=int(session.probe.modes or 0), device="cpu")
    result = run_solver(solver, reporter=Snapshots(), t0=t0)
    seconds = time.perf_counter() - t0 - paused[0]
    load_end = os.getloadavg()[0]

    true_xy = None
    if (folder / "truth.npz").exists():
        with np.load(folder / "truth.npz", allow_pickle=False) as t:
            true_xy = np.stack([t["xcoords"], t["ycoords"]], 1)
    rows, reached = [], None
    with tempfile.TemporaryDirectory() as tmp:
        def scored(epoch: int, secs: float, obj, mask, probe, positions) -> dict:
            path = Path(tmp) / f"ours_e{epoch}.h5"
            write_product(path, obj=obj, probe=probe, positions_px=positions,
                          object_pixel_size_m=data.object_pixel_size_m,
                          geometry=data.geometry, indexes=data.indexes, mask=mask,
                          name="ptychi_side_by_side.py")
            s = score(DEFAULT_SCORER_PYTHON, DEFAULT_SCORER, path, folder / "truth.h5")
            row = {"solver": f"engine {algorithm}", "set": folder.name, "epoch": epoch,
                   "seconds": round(secs, 2), "amp_ssim": s["amp_ssim"],
                   "phase_ssim": s["phase_ssim"]}
            if true_xy is not None:
                row["positions_rms_vs_truth_px"] = positions_rms(positions, true_xy)
            print(json.dumps(row), flush=True)
            return row

        for epoch, secs, state in snapshots:
            obj, mask = solver.result_arrays(state["obj"])
            row = scored(epoch, secs, obj, mask, state["probe"].cpu().numpy(),
                         state["positions"].cpu().numpy())
            rows.append(row)
            if row["amp_ssim"] >= target_amp and row["phase_ssim"] >= target_phase:
                reached = row
                break
        final = scored(result.chosen_epoch, seconds, result.obj, result.mask, result.probe,
                       result.positions)
    theirs_time = theirs.get("time_to_final_ssim")
    summary = {
        "set": folder.name, "ours": {**result.summary(), "amp_ssim": final["amp_ssim"],
                                     "phase_ssim": final["phase_ssim"],
                                     "positions_rms_vs_truth_px":
                                         final.get("positions_rms_vs_truth_px")},
        "ptychi_final": {"amp_ssim": target_amp, "phase_ssim": target_phase,
                         "epochs": theirs.get("epochs"), "seconds": theirs.get("seconds")},
        "ptychi_time_to_final_ssim_s": theirs_time,
        "ours_time_to_ptychi_final_ssim_s": reached["seconds"] if reached else None,
        "ours_epoch_reaching_it": reached["epoch"] if reached else None,
        "ratio": (round(reached["seconds"] / theirs_time, 3)
                  if reached and theirs_time else None),
        "ptychi_load_average": theirs.get("load_average"),
        "load_average": [round(load_start, 2), round(load_end, 2)],
    }
    print(json.dumps(summary, default=str), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1,
                                       default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
