"""pty-chi LSQML on the measured tike Siemens star: the whole scan and its two halves.

The measured scan has no truth, so pty-chi's result is judged like ours
(``benchmarks/measured_scan.py``): by its Poisson deviance per pixel and by the FRC of two
reconstructions from the even and the odd patterns. This script runs pty-chi 2.2 LSQML (in
pty-chi's own virtual environment; it does not import the engine) with what pty-chi refines:
the probe (``--probe-modes`` incoherent modes, pty-chi's Hermite starting modes) and the
positions (its gradient correction), from a flat object, on the whole scan and, with
``--halves``, on each half, and saves every final state (object, probe modes in unitary-FFT
count units, window centres in object pixels) as ``OUT/ptychi_{whole,even,odd}.npz``.
``benchmarks/ptychi_misfit.py`` then scores them with the engine's own misfit and FRC.

The file is read as ``resources/examples/tike_siemens_star.toml`` declares it: a bzip2 NPZ
(decompressed in memory) with ``data`` (M, 128, 128) counts NOT fft-shifted, ``scan`` (1, M,
2) ``[row, column]`` of each window's corner pixel, ``probe`` in tike's units (pty-chi's
first-epoch rescaling fits its scale). The object frame puts the scan ``--margin`` px from
the edges; all three runs share it (the halves' objects are then directly comparable).

Run (from the repository root)::

    OMP_WAIT_POLICY=PASSIVE nice -n 10 /work/venv-ptychi/bin/python \\
        benchmarks/ptychi_measured.py --out /tmp/star --epochs 100 --halves
    .venv/bin/python benchmarks/ptychi_misfit.py star /tmp/star

``--max-seconds`` caps each part's solver time (checked every 5 epochs); the epochs run are
reported.
"""

from __future__ import annotations

import argparse
import bz2
import io
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ptychi_compare import Refine, build_task, mode_power, positions_rms, task_state  # noqa: E402

CHUNK_EPOCHS = 5
"""Epochs run between checks of ``--max-seconds``."""

DEFAULT_STAR = (HERE.parent.parent / "shared" / "data" / "real" / "tike_siemens_star"
                / "siemens-star-small.npz.bz2")


def load_star(path: Path, margin: int) -> dict[str, np.ndarray]:
    """Counts (M, N, N) as stored (DC at [0, 0]), window centres (x, y) in an object frame
    with the scan ``margin`` px from its edges, the probe in unitary-FFT units, the frame's
    shape."""
    with np.load(io.BytesIO(bz2.decompress(path.read_bytes())), allow_pickle=False) as z:
        counts = np.asarray(z["data"], np.float32).reshape(-1, *z["data"].shape[-2:])
        corner = np.asarray(z["scan"], np.float64).reshape(-1, 2)      # [row, col]
        probe = np.asarray(z["probe"], np.complex64).reshape(z["probe"].shape[-2:])
    n = probe.shape[-1]
    shift = margin - np.floor(corner.min(axis=0))
    corner = corner + shift
    shape = np.ceil(corner.max(axis=0)).astype(int) + n + margin
    centre = corner + (n - 1) / 2.0
    return {"counts": counts, "x": centre[:, 1], "y": centre[:, 0], "probe": probe,
            "shape": shape, "bad_pixels": None}


def model_deviance(task, counts_centre_free: np.ndarray) -> float:
    """Poisson deviance per pixel of pty-chi's own forward model against the counts (DC at
    [0, 0], as pty-chi holds them): a cross-check of ``ptychi_misfit.py``, which evaluates
    the saved state with the engine's forward model."""
    import torch

    total = 0.0
    m = len(counts_centre_free)
    with torch.no_grad():
        for first in range(0, m, 64):
            idx = torch.arange(first, min(m, first + 64))
            pred = task.reconstructor.forward_model(idx).double().clamp(min=1e-8)
            y = torch.as_tensor(counts_centre_free[first:first + 64], dtype=torch.float64)
            ylog = torch.where(y > 0, y * torch.log(y.clamp(min=1e-300) / pred),
                               torch.zeros_like(y))
            total += float(2.0 * (pred - y + ylog).sum())
    return total / counts_centre_free.size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_STAR)
    ap.add_argument("--out", type=Path, required=True, help="folder for the saved states")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--half-epochs", type=int, default=0, help="for the halves (0: --epochs)")
    ap.add_argument("--max-seconds", type=float, default=0.0,
                    help="per part: no block of epochs is started that would end after this "
                    "solver time (0: none)")
    ap.add_argument("--halves", action="store_true")
    ap.add_argument("--only-halves", action="store_true", help="skip the whole scan")
    ap.add_argument("--probe-modes", type=int, default=3)
    ap.add_argument("--no-positions", action="store_true", help="keep the positions fixed")
    ap.add_argument("--position-start", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=100, help="pty-chi's default is 100")
    ap.add_argument("--noise-model", choices=("gaussian", "poisson"), default="gaussian")
    ap.add_argument("--margin", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    star = load_star(args.data, args.margin)
    args.out.mkdir(parents=True, exist_ok=True)
    refine = Refine(modes=args.probe_modes, probe=True, positions=not args.no_positions,
                    position_start=args.position_start)
    shape = tuple(int(v) for v in star["shape"])
    m = len(star["counts"])
    parts = [] if args.only_halves else [("whole", np.arange(m), args.epochs)]
    if args.halves or args.only_halves:
        half = args.half_epochs or args.epochs
        parts += [("even", np.arange(0, m, 2), half), ("odd", np.arange(1, m, 2), half)]
    for name, index, epochs in parts:
        sub = {**star, "counts": star["counts"][index], "x": star["x"][index],
               "y": star["y"][index]}
        load_start = os.getloadavg()[0]
        task = build_task(sub, args.batch_size, args.noise_model, 0.0, args.threads, refine,
                          fft_shift=False)
        done, seconds = 0, 0.0
        while done < epochs:
            step = min(CHUNK_EPOCHS, epochs - done)
            if args.max_seconds > 0 and done and seconds + step * seconds / done > \
                    args.max_seconds:
                break
            t0 = time.perf_counter()
            task.run(n_epochs=step)
            seconds += time.perf_counter() - t0
            done += step
        epochs = done
        state = task_state(task, shape)
        row = {"solver": "pty-chi LSQML", "part": name, "patterns": int(len(index)),
               "epochs": epochs, "seconds": round(seconds, 1),
               "ptychi_model_deviance_per_pixel": round(model_deviance(task, sub["counts"]), 4),
               "mode_power": mode_power(state["probe"]),
               "positions_moved_rms_px": positions_rms(
                   state["positions"], np.stack([sub["x"], sub["y"]], 1)),
               "refine": refine.__dict__, "batch_size": args.batch_size,
               "noise_model": args.noise_model,
               "load_average": [round(load_start, 2), round(os.getloadavg()[0], 2)]}
        np.savez_compressed(args.out / f"ptychi_{name}.npz", object=state["object"],
                            probe=state["probe"], positions=state["positions"],
                            index=index, epochs=epochs, seconds=seconds,
                            summary=json.dumps(row))
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
