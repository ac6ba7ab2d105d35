"""pty-chi LSQML on a shared data set: SSIM against wall time, for time-to-SSIM ratios.

Runs pty-chi 2.2 LSQML with the known probe and positions (both fixed) from a flat object on
one set of ``shared/data/ptychodus`` (``dataset.npz`` for patterns, positions and probe; the
flat ``product.h5`` as the template of the products it writes), stops at the checkpoint
epochs, keeps the object of each, and afterwards writes one ptychodus product per checkpoint
and scores it with ``shared/tools/score_product.py``. Timing covers ``task.run`` only (not
the set-up, nor the writing and scoring), so it is the solver's wall time.

It does not import this project's ``engine``: run it in pty-chi's own virtual environment.

Set-up (once)::

    python3 -m venv /work/venv-ptychi
    /work/venv-ptychi/bin/pip install ptychi torch==2.13.0 torchvision==0.28.0

With the CPU torch wheel, torchvision's compiled operators may fail to register; pty-chi needs
torchvision only at import, so that warning is harmless.

Run (from anywhere; the set folder holds dataset.npz, product.h5 and truth.h5)::

    OMP_WAIT_POLICY=PASSIVE /work/venv-ptychi/bin/python benchmarks/ptychi_compare.py \\
        ../shared/data/ptychodus/images_b --epochs 5,10,20,40,80,120 --out /tmp/ptychi_b.json

``OMP_WAIT_POLICY=PASSIVE`` matters on shared cores (busy-waiting OpenMP threads made pty-chi
about 10x slower when another process used the cores); the script sets it itself when it is
unset, before torch loads. Output: one JSON line per checkpoint on stdout (epoch, solver
seconds, amplitude/phase SSIM and PSNR) and, with ``--out``, the whole table as JSON,
including the first time at which both SSIMs reached each ``--targets`` value.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_SCORER = HERE.parent.parent / "shared" / "tools" / "score_product.py"
DEFAULT_SCORER_PYTHON = Path("/work/venv-ptychodus/bin/python")


def load_set(folder: Path) -> dict[str, np.ndarray]:
    """Counts (M, N, N) with DC at the centre, positions (x, y) in object pixels (window
    centres), the probe in unitary-FFT count units, and the object shape."""
    with np.load(folder / "dataset.npz", allow_pickle=False) as z:
        counts = np.asarray(z["diffraction"], np.float32)
        x = np.asarray(z["xcoords"], np.float64)
        y = np.asarray(z["ycoords"], np.float64)
        probe = np.asarray(z["probeGuess"], np.complex64)
        shape = tuple(z["objectGuess"].shape)
    return {"counts": counts, "x": x, "y": y, "probe": probe, "shape": np.asarray(shape)}


def import_ptychi():
    """Import pty-chi; with a CPU torch wheel whose torchvision operators fail to register,
    give pty-chi a ``torchvision.transforms`` without them.

    pty-chi imports torchvision only for ``GaussianBlur`` in one utility that LSQML with a fixed
    probe never calls; the stand-in raises if it ever is, so a result can never silently
    depend on it.
    """
    try:
        import torchvision.transforms  # noqa: F401
    except RuntimeError as exc:  # "operator torchvision::nms does not exist"
        import types

        reason = str(exc)
        for name in [m for m in sys.modules if m == "torchvision" or
                     m.startswith("torchvision.")]:
            del sys.modules[name]

        class GaussianBlur:
            def __init__(self, *args, **kwargs):
                raise RuntimeError(f"torchvision is unusable here ({reason}); GaussianBlur "
                                   "is not available")

        package = types.ModuleType("torchvision")
        transforms = types.ModuleType("torchvision.transforms")
        transforms.GaussianBlur = GaussianBlur
        package.transforms = transforms
        sys.modules["torchvision"] = package
        sys.modules["torchvision.transforms"] = transforms
        print(f"note: torchvision failed to import ({reason}); pty-chi runs without it",
              file=sys.stderr)
    import ptychi.api as api
    from ptychi.api.task import PtychographyTask

    return api, PtychographyTask


def build_task(data: dict[str, np.ndarray], batch_size: int, noise_model: str,
               momentum: float, threads: int):
    """A pty-chi LSQML task: flat object, fixed known probe and positions, CPU."""
    import torch

    torch.set_num_threads(threads)
    api, PtychographyTask = import_ptychi()

    n = data["probe"].shape[-1]
    height, width = (int(v) for v in data["shape"])
    options = api.LSQMLOptions()
    options.data_options.data = data["counts"]
    options.data_options.fft_shift = True          # our patterns have DC at the centre
    options.object_options.initial_guess = np.ones((1, height, width), np.complex64)
    options.object_options.pixel_size_m = 1.0
    options.object_options.optimizable = True
    # pty-chi's far field is an unnormalised FFT: |fft2(x)|^2 = N^2 |fft2_ortho(x)|^2.
    options.probe_options.initial_guess = (data["probe"] / n)[None, None]
    options.probe_options.optimizable = False
    # pty-chi positions are relative to its object centre round(W / 2) - 0.5 (SUPPORT mode),
    # window start = position - (N - 1) / 2: the same window convention as ours.
    options.probe_position_options.position_x_px = data["x"] - (np.round(width / 2) - 0.5)
    options.probe_position_options.position_y_px = data["y"] - (np.round(height / 2) - 0.5)
    options.probe_position_options.optimizable = False
    options.reconstructor_options.batch_size = batch_size
    options.reconstructor_options.noise_model = (api.NoiseModels.POISSON if noise_model
                                                 == "poisson" else api.NoiseModels.GAUSSIAN)
    options.reconstructor_options.momentum_acceleration_gain = momentum
    options.reconstructor_options.default_device = api.Devices.CPU
    options.reconstructor_options.num_epochs = 1
    return PtychographyTask(options)


def write_product(template: Path, obj: np.ndarray, out: Path) -> None:
    """The set's flat ``product.h5`` with its object replaced (same positions, pixel size)."""
    shutil.copyfile(template, out)
    os.chmod(out, 0o644)
    with h5py.File(out, "r+") as h5:
        dset = h5["object"]
        dset[...] = obj.reshape(dset.shape).astype(dset.dtype)


def score(scorer_python: Path, scorer: Path, recon: Path, truth: Path) -> dict:
    proc = subprocess.run([str(scorer_python), str(scorer), str(recon), str(truth)],
                          capture_output=True, text=True, cwd=tempfile.gettempdir())
    line = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "{}"
    result = json.loads(line)
    if not result.get("ok"):
        raise SystemExit(f"scorer failed on {recon}: {result.get('error', proc.stderr)}")
    return result


def time_to(rows: list[dict], target: float) -> float | None:
    """First solver time at which amplitude and phase SSIM both reached ``target``."""
    for row in rows:
        if row["amp_ssim"] >= target and row["phase_ssim"] >= target:
            return row["seconds"]
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="a set folder: dataset.npz, product.h5, truth.h5")
    ap.add_argument("--epochs", default="5,10,20,40,80,120",
                    help="checkpoint epochs, comma-separated, increasing")
    ap.add_argument("--batch-size", type=int, default=100, help="pty-chi's default is 100")
    ap.add_argument("--noise-model", choices=("gaussian", "poisson"), default="gaussian",
                    help="pty-chi's default is gaussian")
    ap.add_argument("--momentum", type=float, default=0.0,
                    help="momentum_acceleration_gain (pty-chi's default 0)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--targets", default="0.85,0.9,0.92,0.95")
    ap.add_argument("--scorer", type=Path, default=DEFAULT_SCORER)
    ap.add_argument("--scorer-python", type=Path, default=DEFAULT_SCORER_PYTHON)
    ap.add_argument("--out", type=Path, help="write the table as JSON here")
    args = ap.parse_args(argv)

    folder = args.folder.resolve()
    checkpoints = sorted({int(e) for e in args.epochs.split(",") if e.strip()})
    data = load_set(folder)
    task = build_task(data, args.batch_size, args.noise_model, args.momentum, args.threads)
    objects, solver_s, done = [], 0.0, 0
    for epoch in checkpoints:
        t0 = time.perf_counter()
        task.run(n_epochs=epoch - done)
        solver_s += time.perf_counter() - t0
        done = epoch
        objects.append((epoch, solver_s, task.get_data_to_cpu("object", as_numpy=True)[0]))

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for epoch, seconds, obj in objects:
            recon = Path(tmp) / f"ptychi_e{epoch}.h5"
            write_product(folder / "product.h5", obj, recon)
            s = score(args.scorer_python, args.scorer, recon, folder / "truth.h5")
            row = {"solver": "pty-chi LSQML", "set": folder.name, "epoch": epoch,
                   "seconds": round(seconds, 3), "amp_ssim": s["amp_ssim"],
                   "phase_ssim": s["phase_ssim"], "amp_psnr_db": s["amp_psnr_db"],
                   "phase_psnr_db": s["phase_psnr_db"], "complex_nrmse": s["complex_nrmse"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    targets = [float(t) for t in args.targets.split(",") if t.strip()]
    summary = {
        "solver": "pty-chi LSQML", "set": folder.name, "n_patterns": int(len(data["counts"])),
        "batch_size": args.batch_size, "noise_model": args.noise_model,
        "momentum": args.momentum, "threads": args.threads,
        "seconds_per_epoch": round(objects[-1][1] / objects[-1][0], 4),
        "time_to_ssim": {str(t): time_to(rows, t) for t in targets}, "rows": rows,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
