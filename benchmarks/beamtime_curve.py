"""One point of the beamtime model's quality-vs-training-size curve (docs/performance.md).

Trains a beamtime model on ``SET_A``'s conditions for ``--minutes`` (``train_beamtime``, no
solver), reconstructs ``SET_B`` with the network alone (``infer`` with ``refinement.epochs =
0``), scores the product with the shared scorer and prints (and appends to ``--jsonl``) one
row: wall time, epochs, steps, simulated objects, patterns seen, amplitude / phase SSIM, the
load average at the start. Run from the repository root with the project's Python::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/beamtime_curve.py --minutes 4.5 --out bt \\
        [--set training.batch_size=4 ...]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
SHARED = HERE.parent.parent / "shared"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, required=True, help="training time budget")
    ap.add_argument("--out", type=Path, required=True, help="run folder (replaced)")
    ap.add_argument("--train", type=Path, default=SHARED / "data/ptychodus/images_a")
    ap.add_argument("--test", type=Path, default=SHARED / "data/ptychodus/images_b")
    ap.add_argument("--steps-per-epoch", type=int, default=25)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--scorer", type=Path, default=SHARED / "tools/score_product.py")
    ap.add_argument("--scorer-python", type=Path, default=Path("/work/venv-ptychodus/bin/python"))
    ap.add_argument("--jsonl", type=Path, help="append the row to this file")
    args = ap.parse_args()

    import engine
    from engine.runs.beamtime import train_beamtime

    overrides = {
        "data.path": str(args.train / "product.h5"), "training.output_dir": str(args.out),
        "training.max_time_min": args.minutes, "training.overwrite": True,
        "training.max_epochs": max(1, math.ceil(args.minutes * 40 / args.steps_per_epoch)),
        "beamtime.steps_per_epoch": args.steps_per_epoch, "refinement.epochs": 0,
        "execution.progress_bar": False, "execution.logger": "csv"}
    for item in args.set:
        key, text = item.split("=", 1)
        try:
            overrides[key] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key] = text
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    run = train_beamtime(engine.resolve_config(overrides=overrides))
    train_s = time.perf_counter() - t0
    cfg = run.summary["beamtime"]["settings"]
    session = engine.resolve_config(overrides=overrides).config
    batch, group = int(session.training.batch_size), int(session.model.gridsize) ** 2
    steps = _steps(run.run_dir)
    product = args.out / "network_test.h5"
    infer_cfg = engine.resolve_config(overrides={"refinement.epochs": 0,
                                                 "execution.progress_bar": False})
    t0 = time.perf_counter()
    engine.infer(run.checkpoints["last"], str(args.test / "product.h5"), product,
                 config=infer_cfg)
    infer_s = time.perf_counter() - t0
    scored = subprocess.run([str(args.scorer_python), str(args.scorer), str(product.resolve()),
                             str((args.test / "truth.h5").resolve())], capture_output=True,
                            text=True, cwd="/tmp", check=False)
    score = json.loads(scored.stdout.strip().splitlines()[-1])
    simulated = steps * (1 - cfg["measured_fraction"])
    row = {"minutes": args.minutes, "train_s": round(train_s, 1), "epochs": run.epochs,
           "steps": steps, "batch_groups": batch,
           "patterns_seen": steps * batch * group,
           "simulated_objects": round(simulated * batch / cfg["groups_per_object"]),
           "amp_ssim": round(score["amp_ssim"], 3), "phase_ssim": round(score["phase_ssim"], 3),
           "infer_s": round(infer_s, 1), "load_at_start": round(load, 2), "set": args.set}
    print(json.dumps(row))
    if args.jsonl:
        with args.jsonl.open("a") as f:
            f.write(json.dumps(row) + "\n")
    return 0


def _steps(run_dir: Path) -> int:
    """Optimisation steps done: the last step of the run's CSV log, plus one."""
    last = -1
    for path in (run_dir / "logs").rglob("metrics.csv"):
        for line in path.read_text().splitlines()[1:]:
            fields = line.split(",")
            if len(fields) > 1 and fields[1].isdigit():
                last = max(last, int(fields[1]))
    return last + 1


if __name__ == "__main__":
    raise SystemExit(main())
