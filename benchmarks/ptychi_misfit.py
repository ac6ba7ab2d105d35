"""pty-chi's saved reconstructions judged by the engine's own misfit and half-scan FRC.

``benchmarks/ptychi_measured.py`` and ``benchmarks/ptychi_compare.py --save`` (run in pty-chi's
virtual environment) keep pty-chi's final object, probe modes (unitary-FFT count units) and
positions (window centres, object pixels). This script (the project's Python) puts each state
into the engine's solver as its starting state -- the probe and positions as given, no
background (pty-chi fits none), the detector mask of the data -- and reports what the engine
reports for its own result: the whole-scan Poisson deviance per good detector pixel
(``IterativeSolver.misfit``: ``2 (NLL(model) - NLL(counts)) / (M x good pixels)``), the
Poisson noise floor of that model and the ratio. No epoch is run. With the even and odd
halves, their FRC resolution comes from ``measured_scan.halves_frc``, the function our own
``measured_scan.py --halves`` uses.

Run from the repository root::

    .venv/bin/python benchmarks/ptychi_misfit.py star /tmp/star \\
        [--session resources/examples/tike_siemens_star.toml]
    .venv/bin/python benchmarks/ptychi_misfit.py set /tmp/ptychi_b.npz \\
        --folder ../shared/data/ptychodus/realistic_b
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_SESSION = ROOT / "resources" / "examples" / "tike_siemens_star.toml"


def evaluate(patterns, bad_pixels, state: dict, settings) -> dict:
    """The engine's misfit, noise floor and ratio of a saved state, and its illuminated
    mask."""
    import numpy as np

    from engine.solvers import get_solver

    obj = np.asarray(state["object"], np.complex64)
    solver = get_solver("lsqml")(patterns, np.asarray(state["positions"], np.float64),
                                 np.asarray(state["probe"], np.complex64), obj.shape,
                                 dataclasses.replace(settings, background=False), seed=0,
                                 initial=obj, bad_pixels=bad_pixels, modes=0)
    misfit = solver.misfit()
    floor = solver.noise_floor()
    return {"engine_deviance_per_pixel": round(misfit, 4), "noise_floor": round(floor, 4),
            "ratio": round(misfit / floor, 3), "mask": solver.mask.cpu().numpy(),
            "object": obj}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=("star", "set"))
    ap.add_argument("path", type=Path, help="star: the folder of ptychi_*.npz; set: one .npz")
    ap.add_argument("--session", type=Path, default=DEFAULT_SESSION, help="star's session")
    ap.add_argument("--folder", type=Path, help="set: the shared set's folder")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from engine.config import resolve_config
    from engine.io import load_dataset

    if args.kind == "star":
        session = resolve_config(session=args.session).config
        data = load_dataset(session.data)
        files = [(name, args.path / f"ptychi_{name}.npz") for name in ("whole", "even", "odd")]
    else:
        if args.folder is None:
            ap.error("set: --folder is required")
        session = resolve_config().config
        data = load_dataset(str(args.folder.resolve() / "product.h5"))
        files = [(args.folder.name, args.path)]
    patterns = np.asarray(data.patterns)
    results = {}
    for name, path in files:
        if not path.exists():
            continue
        with np.load(path, allow_pickle=False) as z:
            state = {k: z[k] for k in ("object", "probe", "positions")}
            index = z["index"] if "index" in z.files else np.arange(len(patterns))
            summary = json.loads(str(z["summary"])) if "summary" in z.files else {}
        out = evaluate(patterns[index], data.bad_pixels, state, session.refinement)
        results[name] = out
        row = {"solver": "pty-chi LSQML", "part": name, "patterns": int(len(index)),
               **{k: v for k, v in out.items() if k not in ("mask", "object")},
               **{k: summary[k] for k in ("epochs", "seconds", "mode_power",
                                          "ptychi_model_deviance_per_pixel",
                                          "positions_moved_rms_px", "load_average")
                  if k in summary}}
        print(json.dumps(row), flush=True)
    if "even" in results and "odd" in results:
        from benchmarks.measured_scan import halves_frc

        a, b = results["even"], results["odd"]
        print(json.dumps({"solver": "pty-chi LSQML", "halves": "even/odd",
                          **halves_frc(a["object"], a["mask"], b["object"], b["mask"]),
                          "load_average": round(os.getloadavg()[0], 2)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
