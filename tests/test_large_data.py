"""Data larger than the memory budget stream from disk: training and inference stay bounded.

A ptychodus standard-layout folder whose ``diffraction.h5`` is several times larger than
``data.memory_budget_mb`` is trained on (``engine.train``, one epoch cut short by
``training.max_time_min``, then the stitching of every pattern into ``reconstruction.h5``)
and reconstructed (``engine.infer``), each in a fresh process that reports its peak
resident memory (``ru_maxrss``) before and after. Streamed, the increase stays far below the
size of the data; loaded whole it would be at least the data.

Also a script, for docs/performance.md::

    python tests/test_large_data.py --size-mib 100 --n 64 --budget-mib 16 --json
    python tests/test_large_data.py --size-mib 100 --n 64 --budget-mib 4096 --json  # in memory
    python tests/test_large_data.py --size-mib 100 --n 64 --budget-mib 16 --fixed-mmap-threshold
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
from typing import Any

import pytest

HERE = Path(__file__).resolve()


# -- the dataset -------------------------------------------------------------------------------
def build_dataset(folder: Path, size_mib: float, n: int = 32, step_px: float = 3.0) -> dict:
    """Write product.h5 + diffraction.h5 (lzf, chunked) of about ``size_mib`` MiB of float32
    patterns, streamed block by block (the writer never holds the whole stack either)."""
    import h5py
    import numpy as np

    from engine.config import SessionConfig, resolve_config
    from engine.io import write_product
    from engine.simulation import make_scan, place_scan, simulate_scan

    folder.mkdir(parents=True, exist_ok=True)
    m = int(size_mib * 2**20) // (n * n * 4)
    base = resolve_config(overrides={"model.N": n, "simulation.n_positions": 64,
                                     "simulation.step_px": step_px,
                                     "simulation.probe_diameter_px": n / 3,
                                     "simulation.defocus_px": 12.0},
                          base=SessionConfig()).config
    sim = simulate_scan(base)  # 64 simulated patterns, cycled over the large scan
    positions, shape = place_scan(make_scan("raster", m, step_px, 0.0,
                                            np.random.default_rng(0)), n, 0)
    write_product(folder / "product.h5", obj=np.ones(shape, np.complex64), probe=sim.probe,
                  positions_px=positions, object_pixel_size_m=sim.object_pixel_size_m,
                  geometry=sim.geometry, name="large-data test")
    with h5py.File(folder / "diffraction.h5", "w") as h5:
        ds = h5.create_dataset("patterns", shape=(m, n, n), dtype=np.float32,
                               chunks=(64, n, n), compression="lzf")
        for start in range(0, m, 2048):
            stop = min(m, start + 2048)
            ds[start:stop] = sim.counts[np.arange(start, stop) % len(sim.counts)]
        h5["indexes"] = np.arange(m, dtype=np.int64)
    return {"n_patterns": m, "N": n, "object_shape": list(shape),
            "patterns_mib": m * n * n * 4 / 2**20,
            "file_mib": (folder / "diffraction.h5").stat().st_size / 2**20}


# -- what runs in the child process --------------------------------------------------------------
def _settings(folder: Path, budget_mib: int, n: int, run: Path, gridsize: int,
              stage: str) -> dict[str, Any]:
    return {"data.path": str(folder), "data.memory_budget_mb": budget_mib, "model.N": n,
            "model.gridsize": gridsize,
            "model.width": 8, "model.depth": 2, "training.batch_size": 16,
            "training.max_epochs": 1, "training.max_time_min": 0.05,
            "training.val_fraction": 0.0, "training.output_dir": str(run),
            "execution.checkpoint_monitor": "train_loss", "execution.accelerator": "cpu",
            "execution.logger": "none", "execution.progress_bar": False,
            "execution.inference_batch_size": 1024,
            # One stitching sweep: alignment passes re-use predictions cached in memory
            # (engine.model.reconstruct.CACHE_LIMIT_BYTES), which is not streaming.
            "inference.alignment_passes": 0, "inference.refine_iterations": 0,
            # One refinement epoch in inference: it streams the patterns batch by batch too
            # (the default 40 epochs over 16k patterns would only lengthen the test); the
            # training stage runs the same refinement code, so it skips it.
            "refinement.epochs": 1 if stage == "infer" else 0}


def _run_stage(stage: str, folder: Path, budget_mib: int, n: int, run: Path, gridsize: int,
               marks: dict[str, float]) -> dict[str, Any]:
    import engine
    from engine.bench import peak_rss_mib
    from engine.reporting import Reporter

    class Marks(Reporter):
        def log(self, level: str, message: str) -> None:
            if message.startswith("stitching"):
                marks["peak_before_stitch_mib"] = peak_rss_mib()

    cfg = engine.resolve_config(overrides=_settings(folder, budget_mib, n, run, gridsize,
                                                    stage))
    data = engine.load_dataset(cfg.config.data)
    marks["after_load_mib"] = peak_rss_mib()
    if stage == "train":
        lazy = data.is_lazy
        del data  # engine.train loads its own
        result = engine.train(cfg, reporter=Marks())
        provenance = json.loads((result.run_dir / "provenance.json").read_text())
        return {"lazy": lazy, "status": result.status,
                "provenance_lazy": provenance["data"]["lazy"],
                "train_time_s": result.summary.get("train_time_s")}
    out = engine.infer(run / "checkpoints" / "last.ckpt", data, run / "inferred.h5",
                       config=cfg)
    return {"lazy": data.is_lazy, "status": out.status, "patterns_per_s": out.patterns_per_s}


def child(stage: str, folder: Path, budget_mib: int, n: int, run: Path,
          gridsize: int = 2) -> dict[str, Any]:
    """Run one stage in this (fresh) process; return its memory figures.

    The stage runs first on a smaller warm-up dataset (``folder/../warmup``: same N, same
    settings, just over the budget), so the baseline already holds what does not depend on
    the data's size (torch and Lightning, the network's working memory, HDF5 and allocator
    buffers); the increase measured on the large data is then what their size costs.
    """
    import torch

    torch.set_num_threads(2)
    from engine.bench import current_rss_mib, peak_rss_mib

    t0 = time.perf_counter()
    _run_stage(stage, folder.parent / "warmup", budget_mib, n, run.parent / "warmup-run",
               gridsize, {})
    baseline = peak_rss_mib()
    marks: dict[str, float] = {}
    t1 = time.perf_counter()
    figures = _run_stage(stage, folder, budget_mib, n, run, gridsize, marks)
    return {"stage": stage, "baseline_mib": baseline, **marks, "peak_mib": peak_rss_mib(),
            "increase_mib": peak_rss_mib() - baseline, "current_mib": current_rss_mib(),
            "warmup_s": t1 - t0, "seconds": time.perf_counter() - t1, **figures}


FIXED_MMAP_THRESHOLD = {"MALLOC_MMAP_THRESHOLD_": "131072"}
"""glibc setting for the children: allocations over 128 KiB always come from (and go back
to) the kernel. By default glibc raises that threshold as a long run frees large blocks, and
its heap then fragments: measured here, peak RSS grows by about a third of the data's size
over a run (allocator growth, not data kept: with this setting the growth is a few MiB)."""


def run_child(stage: str, folder: Path, budget_mib: int, n: int, run: Path, gridsize: int,
              timeout: float = 600, fixed_mmap: bool = False) -> dict[str, Any]:
    # The children import this checkout's engine (not another installed copy).
    path = os.pathsep.join(p for p in (str(HERE.parents[1]), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONWARNINGS="ignore", PYTHONPATH=path,
               **(FIXED_MMAP_THRESHOLD if fixed_mmap else {}))
    proc = subprocess.run(
        [sys.executable, str(HERE), "--child", stage, "--folder", str(folder), "--budget-mib",
         str(budget_mib), "--n", str(n), "--run", str(run), "--gridsize", str(gridsize)],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=run.parent)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(size_mib: float, n: int, budget_mib: int, workdir: Path,
            fixed_mmap: bool = False, gridsize: int = 2) -> dict[str, Any]:
    """Build the dataset, then train and infer in fresh processes; all figures."""
    folder = workdir / "large"
    dataset = build_dataset(folder, size_mib, n)
    # The warm-up data exceed the budget too, so the streaming machinery (HDF5 buffers,
    # decompression) is part of the baseline and the increase is what the size costs.
    build_dataset(workdir / "warmup", min(size_mib, budget_mib + 2.0), n)
    run = workdir / "run"
    train = run_child("train", folder, budget_mib, n, run, gridsize, fixed_mmap=fixed_mmap)
    infer = run_child("infer", folder, budget_mib, n, run, gridsize, fixed_mmap=fixed_mmap)
    return {"dataset": dataset, "memory_budget_mib": budget_mib, "gridsize": gridsize,
            "fixed_mmap_threshold": fixed_mmap, "train": train, "infer": infer}


# -- the test ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_training_and_inference_stream_data_larger_than_the_budget(tmp_path):
    # The allocator's own growth is kept out (FIXED_MMAP_THRESHOLD): the data's cost is tested.
    # gridsize 1: each pattern goes through the network once (4 times with 2 x 2 groups);
    # the streaming is the same, the test four times shorter.
    figures = measure(size_mib=64, n=32, budget_mib=16, workdir=tmp_path, fixed_mmap=True,
                      gridsize=1)
    size = figures["dataset"]["patterns_mib"]
    assert size >= 4 * 16  # several times the 16 MiB budget
    train, infer = figures["train"], figures["infer"]
    assert train["lazy"] and train["provenance_lazy"] and infer["lazy"]
    assert train["status"] == "completed" and infer["status"] == "completed"
    assert (tmp_path / "run" / "reconstruction.h5").is_file()
    assert (tmp_path / "run" / "inferred.h5").is_file()
    # Loading reads a bounded sample, not the data.
    assert train["after_load_mib"] - train["baseline_mib"] < size / 4
    # Training, stitching every pattern, and inference: far below the data's size (loaded
    # whole, the same runs add about 2.8 times the data: the reader's float32 copy, its
    # checks, the training copy).
    assert train["increase_mib"] < size / 2, figures
    assert infer["increase_mib"] < size / 2, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=float, default=100.0)
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--budget-mib", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--gridsize", type=int, default=2)
    parser.add_argument("--fixed-mmap-threshold", action="store_true",
                        help="run the children with MALLOC_MMAP_THRESHOLD_=131072")
    parser.add_argument("--child", choices=("train", "infer"))
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--run", type=Path)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.folder, args.budget_mib, args.n, args.run,
                               args.gridsize)))
        return 0
    with tempfile.TemporaryDirectory(prefix="ptycho-large-") as tmp:
        figures = measure(args.size_mib, args.n, args.budget_mib, Path(tmp),
                          fixed_mmap=args.fixed_mmap_threshold, gridsize=args.gridsize)
    print(json.dumps(figures, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
