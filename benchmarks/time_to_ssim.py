"""Time to SSIM: this engine's full-object refinement against pty-chi LSQML, side by side.

Runs, in one process run one after the other on the same machine state:

1. ``engine.solvers`` (LSQML) on a shared set (``product.h5`` + ``diffraction.h5`` through
   ``engine.load_dataset``) from a flat object, or from ``--start`` (a product whose object
   is the starting estimate, e.g. the network's), with the session's ``refinement`` settings
   (``--set KEY=VALUE`` overrides, e.g. ``--set momentum=0.5``), stopping at the checkpoint
   epochs;
2. ``benchmarks/ptychi_compare.py`` in pty-chi's virtual environment (LSQML, known probe,
   flat start) unless ``--no-ptychi``.

Every checkpoint object is written as a product and scored by the shared scorer after the
timed part. Printed: SSIM/PSNR against solver wall time for both, and the times at which
amplitude and phase SSIM both reach each target, with their ratio (ours / pty-chi).

Run from the repository root (with the project's Python)::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/time_to_ssim.py ../shared/data/ptychodus/images_b
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.ptychi_compare import (  # noqa: E402
    DEFAULT_SCORER,
    DEFAULT_SCORER_PYTHON,
    score,
    time_to,
)


def parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def run_ours(folder: Path, checkpoints: list[int], overrides: dict, start: Path | None,
             threads: int, scorer_python: Path, scorer: Path) -> list[dict]:
    import torch

    torch.set_num_threads(threads)
    from engine.config import RefinementConfig
    from engine.io import load_dataset, read_product, write_product
    from engine.solvers import LsqmlSolver as Refiner

    data = load_dataset(str(folder / "product.h5"))
    settings = dataclasses.replace(RefinementConfig(), **overrides)
    initial = read_product(start).object_masked if start else None
    t0 = time.perf_counter()
    refiner = Refiner(data.patterns, data.positions, data.probe, data.object_shape, settings,
                      seed=0, initial=initial, bad_pixels=data.bad_pixels)
    solver_s = time.perf_counter() - t0
    kept = []
    if 0 in checkpoints:
        kept.append((0, solver_s, refiner.result_arrays()))
    for epoch in range(1, max(checkpoints) + 1):
        t0 = time.perf_counter()
        refiner.epoch()
        solver_s += time.perf_counter() - t0
        if epoch in checkpoints:
            kept.append((epoch, solver_s, refiner.result_arrays()))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for epoch, seconds, (obj, mask) in kept:
            path = Path(tmp) / f"ours_e{epoch}.h5"
            write_product(path, obj=obj, probe=refiner.probe.cpu().numpy(),
                          positions_px=refiner.positions.cpu().numpy(),
                          object_pixel_size_m=data.object_pixel_size_m,
                          geometry=data.geometry, mask=mask)
            s = score(scorer_python, scorer, path, folder / "truth.h5")
            row = {"solver": "engine refine", "set": folder.name, "epoch": epoch,
                   "seconds": round(seconds, 3), "amp_ssim": s["amp_ssim"],
                   "phase_ssim": s["phase_ssim"], "amp_psnr_db": s["amp_psnr_db"],
                   "phase_psnr_db": s["phase_psnr_db"], "complex_nrmse": s["complex_nrmse"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--epochs", default="1,2,3,4,5,6,7,8,10,12,15,20,30,40",
                    help="our checkpoint epochs")
    ap.add_argument("--ptychi-epochs", default="2,4,5,6,7,8,9,10,12,15,20,30,40")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a refinement setting (repeatable)")
    ap.add_argument("--start", type=Path, help="product whose object is the starting estimate")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--targets", default="0.85,0.9,0.92,0.95")
    ap.add_argument("--no-ptychi", action="store_true")
    ap.add_argument("--ptychi-python", type=Path, default=Path("/work/venv-ptychi/bin/python"))
    ap.add_argument("--scorer", type=Path, default=DEFAULT_SCORER)
    ap.add_argument("--scorer-python", type=Path, default=DEFAULT_SCORER_PYTHON)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    folder = args.folder.resolve()
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key.strip()] = parse_value(value.strip())
    ours = run_ours(folder, sorted({int(e) for e in args.epochs.split(",")}), overrides,
                    args.start, args.threads, args.scorer_python, args.scorer)
    theirs: list[dict] = []
    if not args.no_ptychi:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "ptychi.json"
            subprocess.run([str(args.ptychi_python), str(HERE / "ptychi_compare.py"),
                            str(folder), "--epochs", args.ptychi_epochs, "--threads",
                            str(args.threads), "--scorer", str(args.scorer),
                            "--scorer-python", str(args.scorer_python), "--out", str(out)],
                           check=True, stderr=subprocess.DEVNULL)
            theirs = json.loads(out.read_text())["rows"]
    summary = {"set": folder.name, "settings": overrides,
               "start": str(args.start) if args.start else "flat", "targets": {}}
    for target in (float(t) for t in args.targets.split(",")):
        a, b = time_to(ours, target), time_to(theirs, target) if theirs else None
        summary["targets"][str(target)] = {
            "engine_s": a, "ptychi_s": b,
            "ratio": round(a / b, 3) if a is not None and b else None}
    summary["load_average"] = os.getloadavg()[0]
    print(json.dumps(summary), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "engine": ours,
                                        "ptychi": theirs}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
