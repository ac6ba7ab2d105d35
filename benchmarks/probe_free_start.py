"""Probe-free starts (``probe.initial``) against the known probe on this engine's simulator.

The scan: ``ptycho-engine simulate --preset tiny`` (64 patterns of 32 x 32, 3 px raster with
0.3 px jitter) with ``--seed`` and ``simulation.probe`` (``disk``: a defocused disk;
``fzp``: an annular zone-plate-like beam), its NPZ written again without ``probeGuess``.
Each start is reconstructed by ``reconstruct`` (LSQML from a flat object, probe refined,
the schema's defaults) and scored by ``engine.metrics.evaluate`` as is and with the phase
ramp removed (with the probe refined, a linear phase ramp of the object and the opposite ramp
of the probe give the same patterns: the data cannot fix it).

Run from the repository root::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/probe_free_start.py [--seed 1] [--probe fzp]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STARTS = ("known", "auto", "disk", "from_data")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=None,
                    help="simulation.seed (default: the schema's, as the tests use)")
    ap.add_argument("--probe", default="disk", choices=("disk", "fzp", "gaussian"))
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--starts", default=",".join(STARTS))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from engine.config import SessionConfig, resolve_config
    from engine.io import load_dataset
    from engine.metrics import evaluate
    from engine.runs import simulate
    from engine.runs.reconstruct import reconstruct

    work = Path(tempfile.mkdtemp(prefix="probe-free-"))
    chosen_sim: dict[str, object] = {"simulation.probe": args.probe}
    if args.seed is not None:
        chosen_sim["simulation.seed"] = args.seed
    config = resolve_config(overrides=chosen_sim, base=SessionConfig()).config
    sim = simulate(config, work / "sim", preset="tiny")
    dataset = Path(sim.files["dataset"])
    bare = work / "without_probe.npz"
    contents = dict(np.load(dataset, allow_pickle=False))
    np.savez(bare, **{k: v for k, v in contents.items() if k != "probeGuess"})
    truth = dataset.parent / "truth.h5"
    print(f"tiny preset, seed {config.simulation.seed}, {args.probe} beam, "
          f"{args.epochs} epochs cap")
    print(f"{'start':10s} {'chosen':10s} {'amp':>6s} {'phase':>6s} | ramp removed: "
          f"{'amp':>6s} {'phase':>6s} | epochs  seconds")
    for start in args.starts.split(","):
        values = {"data.path": str(dataset if start == "known" else bare),
                  "reconstruct.output_dir": str(work / start),
                  "refinement.epochs": args.epochs}
        if start != "known":
            values["probe.initial"] = start
        chosen = ("file" if start == "known" else
                  load_dataset(bare, probe=resolve_config(overrides=values).config.probe
                               ).metadata["probe_initial"])
        t0 = time.perf_counter()
        result = reconstruct(resolve_config(overrides=values))
        seconds = time.perf_counter() - t0
        plain = evaluate(result.product, truth)
        flat = evaluate(result.product, truth, phase_ramp=True)
        print(f"{start:10s} {chosen:10s} {plain['amplitude']['ssim']:6.3f} "
              f"{plain['phase']['ssim']:6.3f} | ramp removed: {flat['amplitude']['ssim']:6.3f} "
              f"{flat['phase']['ssim']:6.3f} | {result.summary['refinement']['epochs']:6d} "
              f"{seconds:8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
