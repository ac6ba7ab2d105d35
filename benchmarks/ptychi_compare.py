"""pty-chi LSQML on a shared data set: SSIM against wall time, for time-to-SSIM ratios.

Runs pty-chi 2.2 LSQML from a flat object on one set of ``shared/data/ptychodus``
(``dataset.npz`` for patterns, positions and probe; the flat ``product.h5`` as the template of
the products it writes), stops at the checkpoint epochs, keeps the state of each, and
afterwards writes one ptychodus product per checkpoint (object and positions) and scores it
with ``shared/tools/score_product.py``. Timing covers ``task.run`` only (not the set-up, nor
the writing and scoring), so it is the solver's wall time.

By default the probe and positions are the set's and stay fixed (``images_a``/``images_b``,
whose probe and positions are exact). For sets that imitate a measurement (``realistic_a``/
``realistic_b``: a probe guess, nominal positions, a detector mask) pty-chi refines what it
allows (issue 18)::

    --probe-modes 3 --refine-probe --refine-positions

the extra modes made by pty-chi's ``orthogonalize_initial_probe`` (Hermite modes,
``--secondary-mode-energy`` each), the probe's incoherent modes orthogonalised every epoch
(pty-chi's default), gradient position correction (pty-chi's defaults: step 0.3, at most 0.1
px per epoch and axis, clipped by 10 x the MAD), from ``--position-start``. The set's
``bad_pixels`` (True = bad) become pty-chi's ``valid_pixel_mask`` (their gradient is zero:
left out of the fit) unless ``--no-mask``; their counts are also zeroed, so that pty-chi's
first-epoch probe rescaling (its default; it sums all pixels) is not inflated by hot pixels.
With ``truth.npz`` (the realistic sets) every checkpoint also reports the positions' RMS
error against the true ones after removing the mean offset, and the probe modes' power
fractions (strongest first) beside the truth's.

It does not import this project's ``engine``: run it in pty-chi's own virtual environment.
``--save FILE.npz`` keeps the final object, probe (modes, in the unitary-FFT count units of
the engine: pty-chi's probe x N) and positions (window centres, object pixels) for
``benchmarks/ptychi_misfit.py``, which evaluates them with the engine's misfit.

Set-up (once; keeps the CPU torch wheel: ``pip show torch`` must say 2.13.0+cpu, and no
``nvidia-*`` package may appear; torchvision 0.29 would pull torch 2.14 with CUDA)::

    python3 -m venv /work/venv-ptychi
    /work/venv-ptychi/bin/pip install torch==2.13.0
    /work/venv-ptychi/bin/pip install ptychi-2.2.0-py3-none-any.whl torch==2.13.0 \\
        torchvision==0.28.0

With the CPU torch wheel, torchvision's compiled operators may fail to register; pty-chi needs
torchvision only at import, so that warning is harmless.

Run (from anywhere; the set folder holds dataset.npz, product.h5 and truth.h5)::

    OMP_WAIT_POLICY=PASSIVE /work/venv-ptychi/bin/python benchmarks/ptychi_compare.py \\
        ../shared/data/ptychodus/images_b --epochs 5,10,20,40,80,120 --out /tmp/ptychi_b.json
    OMP_WAIT_POLICY=PASSIVE nice -n 10 /work/venv-ptychi/bin/python \\
        benchmarks/ptychi_compare.py ../shared/data/ptychodus/realistic_b --probe-modes 3 \\
        --refine-probe --refine-positions --epochs 10,20,40,80,120,160 --out /tmp/pb.json

``OMP_WAIT_POLICY=PASSIVE`` matters on shared cores (busy-waiting OpenMP threads made pty-chi
about 10x slower when another process used the cores); the script sets it itself when it is
unset, before torch loads. Output: one JSON line per checkpoint on stdout (epoch, solver
seconds, amplitude/phase SSIM and PSNR, positions error, mode power) and, with ``--out``, the
whole table as JSON, including the first time at which both SSIMs reached each ``--targets``
value and the time at which they first reached the final checkpoint's values.
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
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_SCORER = HERE.parent.parent / "shared" / "tools" / "score_product.py"
DEFAULT_SCORER_PYTHON = Path("/work/venv-ptychodus/bin/python")


def load_set(folder: Path) -> dict[str, np.ndarray]:
    """Counts (M, N, N) with DC at the centre, positions (x, y) in object pixels (window
    centres), the probe in unitary-FFT count units, the object shape, the detector's bad
    pixels (True = bad; None when the set has none) and, from ``truth.npz`` when present,
    the true positions and mode power fractions."""
    with np.load(folder / "dataset.npz", allow_pickle=False) as z:
        counts = np.asarray(z["diffraction"], np.float32)
        x = np.asarray(z["xcoords"], np.float64)
        y = np.asarray(z["ycoords"], np.float64)
        probe = np.asarray(z["probeGuess"], np.complex64)
        shape = tuple(z["objectGuess"].shape)
        bad = np.asarray(z["bad_pixels"], bool) if "bad_pixels" in z.files else None
    data = {"counts": counts, "x": x, "y": y, "probe": probe, "shape": np.asarray(shape),
            "bad_pixels": bad}
    if (folder / "truth.npz").exists():
        with np.load(folder / "truth.npz", allow_pickle=False) as t:
            data["true_xy"] = np.stack([t["xcoords"], t["ycoords"]], 1).astype(np.float64)
            data["true_mode_power"] = np.asarray(t["probe_mode_power_fractions"], np.float64)
    return data


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


@dataclass
class Refine:
    """What pty-chi refines besides the object, and how (pty-chi's own defaults where a
    field is not a choice of this benchmark)."""

    modes: int = 1
    probe: bool = False
    probe_start: int = 0
    positions: bool = False
    position_start: int = 0
    position_step: float = 0.3
    position_limit: float = 0.1
    secondary_mode_energy: float = 0.02
    mask: bool = True
    seed: int = 0


def origin(shape: tuple[int, int]) -> np.ndarray:
    """pty-chi's position origin (y, x) in an object of ``shape`` (its SUPPORT mode:
    ``round(shape / 2) - 0.5``): window centre = origin + position."""
    return np.round(np.asarray(shape, np.float64) / 2.0) - 0.5


def build_task(data: dict[str, np.ndarray], batch_size: int, noise_model: str,
               momentum: float, threads: int, refine: Refine | None = None,
               fft_shift: bool = True):
    """A pty-chi LSQML task from a flat object, on the CPU: the probe and positions fixed
    unless ``refine`` asks otherwise. ``fft_shift``: the patterns have DC at the centre."""
    import torch

    refine = refine or Refine()
    torch.set_num_threads(threads)
    api, PtychographyTask = import_ptychi()
    from ptychi.utils import orthogonalize_initial_probe

    n = data["probe"].shape[-1]
    height, width = (int(v) for v in data["shape"])
    options = api.LSQMLOptions()
    counts = np.array(data["counts"], np.float32)
    bad = data.get("bad_pixels")
    if bad is not None and refine.mask:
        counts[:, bad] = 0.0
        options.data_options.valid_pixel_mask = ~bad   # pty-chi: True = valid
    options.data_options.data = counts
    options.data_options.fft_shift = fft_shift
    options.object_options.initial_guess = np.ones((1, height, width), np.complex64)
    options.object_options.pixel_size_m = 1.0
    options.object_options.optimizable = True
    # pty-chi's far field is an unnormalised FFT: |fft2(x)|^2 = N^2 |fft2_ortho(x)|^2.
    probe = np.zeros((1, max(1, refine.modes), n, n), np.complex64)
    probe[0, 0] = data["probe"] / n
    if refine.modes > 1:
        probe = orthogonalize_initial_probe(torch.as_tensor(probe),
                                            refine.secondary_mode_energy).numpy()
    options.probe_options.initial_guess = probe
    options.probe_options.optimizable = refine.probe
    options.probe_options.optimization_plan.start = refine.probe_start
    # pty-chi positions are relative to its object centre round(W / 2) - 0.5 (SUPPORT mode),
    # window start = position - (N - 1) / 2: the same window convention as ours.
    oy, ox = origin((height, width))
    options.probe_position_options.position_x_px = data["x"] - ox
    options.probe_position_options.position_y_px = data["y"] - oy
    options.probe_position_options.optimizable = refine.positions
    options.probe_position_options.optimization_plan.start = refine.position_start
    options.probe_position_options.step_size = refine.position_step
    options.probe_position_options.correction_options.update_magnitude_limit = \
        refine.position_limit
    options.reconstructor_options.batch_size = batch_size
    options.reconstructor_options.noise_model = (api.NoiseModels.POISSON if noise_model
                                                 == "poisson" else api.NoiseModels.GAUSSIAN)
    options.reconstructor_options.momentum_acceleration_gain = momentum
    options.reconstructor_options.default_device = api.Devices.CPU
    options.reconstructor_options.random_seed = refine.seed
    options.reconstructor_options.num_epochs = 1
    return PtychographyTask(options)


def task_state(task, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """The task's object ``(H, W)``, probe modes ``(K, N, N)`` in unitary-FFT count units
    (strongest first) and positions (window centres ``(x, y)``, object pixels)."""
    obj = task.get_data_to_cpu("object", as_numpy=True)[0]
    probe = task.get_data_to_cpu("probe", as_numpy=True)[0]
    probe = probe * probe.shape[-1]
    power = (np.abs(probe) ** 2).sum(axis=(-2, -1))
    probe = probe[np.argsort(-power)]
    pos = task.get_data_to_cpu("probe_positions", as_numpy=True)   # (M, 2): (y, x)
    oy, ox = origin(shape)
    xy = np.stack([pos[:, 1] + ox, pos[:, 0] + oy], 1).astype(np.float64)
    return {"object": obj, "probe": probe.astype(np.complex64), "positions": xy}


def mode_power(probe: np.ndarray) -> list[float]:
    """Power fraction of each mode of ``(K, N, N)``."""
    power = (np.abs(probe) ** 2).sum(axis=(-2, -1))
    return [round(float(p), 4) for p in power / power.sum()]


def positions_rms(xy: np.ndarray, true_xy: np.ndarray) -> float:
    """RMS distance (px) of ``xy`` from ``true_xy`` after removing the mean offset."""
    d = xy - true_xy
    d = d - d.mean(axis=0)
    return round(float(np.sqrt((d ** 2).sum(axis=1).mean())), 3)


def run_checkpoints(task, checkpoints: list[int], shape: tuple[int, int],
                    max_seconds: float = 0.0) -> list[tuple[int, float, dict]]:
    """Run ``task`` to each checkpoint epoch; ``(epoch, solver seconds, state)`` of each.
    ``max_seconds`` > 0: no checkpoint is started that would end after it (judged by the
    last one's time per epoch)."""
    kept, solver_s, done = [], 0.0, 0
    for epoch in checkpoints:
        if max_seconds > 0 and done and \
                solver_s + (epoch - done) * solver_s / done > max_seconds:
            print(json.dumps({"note": f"stopped before epoch {epoch}: --max-seconds "
                              f"{max_seconds:g} (solver {solver_s:.0f} s after {done})"}),
                  file=sys.stderr, flush=True)
            break
        t0 = time.perf_counter()
        task.run(n_epochs=epoch - done)
        solver_s += time.perf_counter() - t0
        done = epoch
        kept.append((epoch, solver_s, task_state(task, shape)))
    return kept


def write_product(template: Path, obj: np.ndarray, out: Path,
                  positions: np.ndarray | None = None) -> None:
    """The set's flat ``product.h5`` with its object replaced and, when given, its positions
    (window centres ``(x, y)`` in object pixels; the product's are metres from the object's
    centre pixel ``(W - 1) / 2``)."""
    shutil.copyfile(template, out)
    os.chmod(out, 0o644)
    with h5py.File(out, "r+") as h5:
        dset = h5["object"]
        dset[...] = obj.reshape(dset.shape).astype(dset.dtype)
        if positions is not None:
            height, width = dset.shape[-2:]
            dx = float(dset.attrs["pixel_width_m"])
            dy = float(dset.attrs["pixel_height_m"])
            h5["probe_position_x_m"][...] = (positions[:, 0] - (width - 1) / 2.0) * dx \
                + float(dset.attrs["center_x_m"])
            h5["probe_position_y_m"][...] = (positions[:, 1] - (height - 1) / 2.0) * dy \
                + float(dset.attrs["center_y_m"])


def score(scorer_python: Path, scorer: Path, recon: Path, truth: Path) -> dict:
    proc = subprocess.run([str(scorer_python), str(scorer), str(recon), str(truth)],
                          capture_output=True, text=True, cwd=tempfile.gettempdir())
    line = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "{}"
    result = json.loads(line)
    if not result.get("ok"):
        raise SystemExit(f"scorer failed on {recon}: {result.get('error', proc.stderr)}")
    return result


def time_to(rows: list[dict], target: float, phase_target: float | None = None
            ) -> float | None:
    """First solver time at which amplitude SSIM reached ``target`` and phase SSIM
    ``phase_target`` (default: ``target`` too)."""
    phase_target = target if phase_target is None else phase_target
    for row in rows:
        if row["amp_ssim"] >= target and row["phase_ssim"] >= phase_target:
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
    ap.add_argument("--probe-modes", type=int, default=1, help="incoherent probe modes")
    ap.add_argument("--secondary-mode-energy", type=float, default=0.02,
                    help="power of each extra starting mode (pty-chi's default 0.02)")
    ap.add_argument("--refine-probe", action="store_true", help="optimise the probe")
    ap.add_argument("--probe-start", type=int, default=0, help="first probe epoch")
    ap.add_argument("--refine-positions", action="store_true",
                    help="pty-chi's gradient position correction")
    ap.add_argument("--position-start", type=int, default=5, help="first position epoch")
    ap.add_argument("--position-step", type=float, default=0.3, help="pty-chi's default 0.3")
    ap.add_argument("--position-limit", type=float, default=0.1,
                    help="largest update per epoch and axis, px (pty-chi's default 0.1)")
    ap.add_argument("--no-mask", action="store_true", help="ignore the set's bad_pixels")
    ap.add_argument("--max-seconds", type=float, default=0.0,
                    help="skip checkpoints that would end after this solver time (0: none)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--targets", default="0.85,0.9,0.92,0.95")
    ap.add_argument("--scorer", type=Path, default=DEFAULT_SCORER)
    ap.add_argument("--scorer-python", type=Path, default=DEFAULT_SCORER_PYTHON)
    ap.add_argument("--out", type=Path, help="write the table as JSON here")
    ap.add_argument("--save", type=Path, help="keep the final state here (.npz)")
    args = ap.parse_args(argv)

    folder = args.folder.resolve()
    checkpoints = sorted({int(e) for e in args.epochs.split(",") if e.strip()})
    data = load_set(folder)
    refine = Refine(modes=args.probe_modes, probe=args.refine_probe,
                    probe_start=args.probe_start, positions=args.refine_positions,
                    position_start=args.position_start, position_step=args.position_step,
                    position_limit=args.position_limit,
                    secondary_mode_energy=args.secondary_mode_energy, mask=not args.no_mask)
    shape = tuple(int(v) for v in data["shape"])
    load_start = os.getloadavg()[0]
    task = build_task(data, args.batch_size, args.noise_model, args.momentum, args.threads,
                      refine)
    kept = run_checkpoints(task, checkpoints, shape, args.max_seconds)
    load_end = os.getloadavg()[0]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for epoch, seconds, state in kept:
            recon = Path(tmp) / f"ptychi_e{epoch}.h5"
            write_product(folder / "product.h5", state["object"], recon,
                          state["positions"] if refine.positions else None)
            s = score(args.scorer_python, args.scorer, recon, folder / "truth.h5")
            row = {"solver": "pty-chi LSQML", "set": folder.name, "epoch": epoch,
                   "seconds": round(seconds, 3), "amp_ssim": s["amp_ssim"],
                   "phase_ssim": s["phase_ssim"], "amp_psnr_db": s["amp_psnr_db"],
                   "phase_psnr_db": s["phase_psnr_db"], "complex_nrmse": s["complex_nrmse"]}
            if "true_xy" in data:
                row["positions_rms_vs_truth_px"] = positions_rms(state["positions"],
                                                                 data["true_xy"])
            row["mode_power"] = mode_power(state["probe"])
            rows.append(row)
            print(json.dumps(row), flush=True)
    targets = [float(t) for t in args.targets.split(",") if t.strip()]
    final = rows[-1]
    summary = {
        "solver": "pty-chi LSQML", "set": folder.name, "n_patterns": int(len(data["counts"])),
        "batch_size": args.batch_size, "noise_model": args.noise_model,
        "momentum": args.momentum, "threads": args.threads,
        "refine": refine.__dict__, "mask": data["bad_pixels"] is not None and refine.mask,
        "epochs": kept[-1][0], "seconds": round(kept[-1][1], 1),
        "seconds_per_epoch": round(kept[-1][1] / kept[-1][0], 4),
        "final": {k: final[k] for k in ("amp_ssim", "phase_ssim")},
        "time_to_final_ssim": time_to(rows, final["amp_ssim"], final["phase_ssim"]),
        "time_to_ssim": {str(t): time_to(rows, t) for t in targets}, "rows": rows,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "load_average": [round(load_start, 2), round(load_end, 2)],
    }
    if "true_xy" in data:
        summary["positions_rms_vs_truth_nominal_px"] = positions_rms(
            np.stack([data["x"], data["y"]], 1), data["true_xy"])
        summary["true_mode_power"] = [round(float(p), 3) for p in data["true_mode_power"]]
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    if args.save:
        state = kept[-1][2]
        np.savez_compressed(args.save, object=state["object"], probe=state["probe"],
                            positions=state["positions"], epochs=kept[-1][0],
                            seconds=kept[-1][1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
