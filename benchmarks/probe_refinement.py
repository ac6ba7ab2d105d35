"""Probe refinement from a wrong defocus on images_a-like data made by this engine's simulator.

The data: ``engine.simulation.simulate_scan`` with the true object and probe of a shared set
(default ``images_a``: zone-plate probe 0.7 mm out of focus, 64 x 64 patterns), a 24 x 24
raster with a 7.7 px step and +-1 px jitter (the set's 8 px +-1.5 px raster fits its 256 px
object only after ptychodus's snapping), 1e6 photons per pattern, Poisson noise. Full-object
refinements from a flat object are compared with the engine's metrics (registration and
phase-ramp removal on, since a refined probe may shift the object):

- ``known probe``: the true probe, fixed (the reference);
- ``wrong probe``: the probe propagated by ``--defocus-error-mm``, fixed;
- ``wrong probe, refined``: the same start with ``refinement.refine_probe`` on.

Run from the repository root::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/probe_refinement.py ../shared/data/ptychodus/images_a
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
    ap.add_argument("folder", type=Path)
    ap.add_argument("--defocus-error-mm", type=float, default=0.2)
    ap.add_argument("--epochs", type=int, default=80)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--batch-growth", type=int, default=10,
                    help="batches double every this many epochs once the probe has settled")
    ap.add_argument("--probe-start-epoch", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from engine.training.truth import probe_radius_px

    from engine.config import SessionConfig
    from engine.io import load_dataset
    from engine.metrics import evaluate, load_object
    from engine.simulation.probes import propagate
    from engine.simulation.simulate import simulate_scan
    from engine.solvers import solve as refine_object

    shared = load_dataset(str(args.folder / "product.h5"))
    truth = load_object(args.folder / "truth.h5")
    config = SessionConfig()
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, N=shared.N),
        simulation=dataclasses.replace(config.simulation, scan="raster", n_positions=576,
                                       step_px=7.7, jitter_px=1.0))
    scan = simulate_scan(config, obj=truth, probe=shared.probe)
    geometry = shared.geometry
    dx = shared.object_pixel_size_m
    wavelength = 1.239841984e-6 / geometry.photon_energy_ev
    distance = wavelength * args.defocus_error_mm * 1e-3 / dx**2
    wrong = np.stack([propagate(mode, distance) for mode in scan.probe]).astype(np.complex64)
    power = float(np.sum(np.abs(scan.probe) ** 2))
    wrong *= np.sqrt(power / float(np.sum(np.abs(wrong) ** 2)))
    overlap = abs(np.vdot(wrong, scan.probe)) / power

    base = config.refinement
    runs = {
        "known probe": (scan.probe, dataclasses.replace(base, epochs=args.epochs)),
        "wrong probe": (wrong, dataclasses.replace(base, epochs=args.epochs)),
        "wrong probe, refined": (wrong, dataclasses.replace(
            base, epochs=args.epochs, refine_probe=True, batch_size=args.batch_size,
            batch_growth=args.batch_growth, probe_start_epoch=args.probe_start_epoch)),
        "known probe, same batches": (scan.probe, dataclasses.replace(
            base, epochs=args.epochs, batch_size=args.batch_size,
            batch_growth=args.batch_growth)),
    }
    border = probe_radius_px(scan.probe)
    rows = []
    for name, (probe, settings) in runs.items():
        t0 = time.perf_counter()
        result = refine_object(scan.counts, scan.positions, probe, scan.obj.shape, settings,
                               seed=0)
        seconds = time.perf_counter() - t0
        scores = evaluate(result.obj, scan.obj, border=border, register=True, phase_ramp=True)
        probe_match = abs(np.vdot(result.probe[0], scan.probe[0])) / (
            np.linalg.norm(result.probe[0]) * np.linalg.norm(scan.probe[0]))
        row = {"run": name, "seconds": round(seconds, 2),
               "amp_ssim": round(scores["amplitude"]["ssim"], 4),
               "phase_ssim": round(scores["phase"]["ssim"], 4),
               "probe_match": round(float(probe_match), 4)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps({"defocus_error_mm": args.defocus_error_mm,
                      "propagation_distance": round(distance, 3),
                      "start_probe_overlap": round(float(overlap), 4),
                      "n_patterns": int(len(scan.counts)), "epochs": args.epochs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
