"""Benchmarks of the current machine: ``ptycho-engine bench``.

One run measures, with the session's model, batch sizes and execution settings:

- **training throughput** in patterns per second, through Lightning and through a plain
  PyTorch loop over the same network, data and optimiser
  (:func:`engine.bench.measure_throughput`); the ratio is the framework overhead;
- **the network alone** at several inference batch sizes (:func:`measure_batch_sizes`:
  forward passes over groups already on the device, no stitching), the fastest of which
  the next figure uses;
- **inference throughput** of :func:`engine.model.reconstruct.reconstruct` (the code path
  of ``ptycho-engine infer``) over ``infer_patterns`` patterns (10,000 by default, 500 with
  ``quick``), with the network time (forward hooks) separated from the rest of the loop
  (batch assembly and stitching);
- **peak resident memory** of the process (``ru_maxrss``) after each stage, and the peak GPU
  memory when the run is on a CUDA device;
- the device, the library versions and every setting used.

The data are synthetic unless ``data.path`` is set: a simulated scan (engine.simulation) for
training, and for inference a raster of ``infer_patterns`` positions whose patterns cycle
through the simulated ones. The network is not trained: its arithmetic, hence its speed, does
not depend on its weights.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import ResolvedConfig, SessionConfig
from ..errors import ConfigError
from ..reporting import Reporter


@dataclass(frozen=True)
class BenchSize:
    """How much work one benchmark run does.

    Attributes
    ----------
    train_patterns
        Simulated training patterns (when no data file is given).
    steps, warmup
        Timed and untimed optimisation steps of each training path.
    infer_patterns
        Patterns reconstructed by the inference benchmark.
    sweep_patterns, sweep_sizes
        Patterns of the network-alone batch-size sweep, and how many of the device's batch
        sizes (:data:`CPU_BATCH_SIZES`, :data:`GPU_BATCH_SIZES`) it tries.
    """

    train_patterns: int
    steps: int
    warmup: int
    infer_patterns: int
    sweep_patterns: int
    sweep_sizes: int


FULL = BenchSize(train_patterns=784, steps=40, warmup=5, infer_patterns=10_000,
                 sweep_patterns=1024, sweep_sizes=4)
"""The reference run: 10,000 inference patterns (the issue's figure)."""

QUICK = BenchSize(train_patterns=256, steps=20, warmup=3, infer_patterns=500,
                  sweep_patterns=128, sweep_sizes=2)
"""About a minute on two CPU cores shared with other work (load 6-8), with the default
model (groups of 9): 2,000 inference patterns took 71 s of its 114 s there."""


# -- memory and environment -----------------------------------------------------------------
def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (``getrusage`` ``ru_maxrss``).

    Linux reports KiB and macOS bytes; on Windows (no ``resource`` module) psutil's peak
    working set is used.
    """
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        info = psutil.Process().memory_info()
        return float(getattr(info, "peak_wset", info.rss)) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def current_rss_mib() -> float:
    """Resident memory of this process now, in MiB (psutil)."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: Any) -> dict[str, Any]:
    """Device, CPU, load and library versions: what the numbers of a run depend on."""
    import lightning
    import torch

    from .. import __version__

    env: dict[str, Any] = {
        "device": str(device),
        "cpu": _cpu_name(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "gpu": None,
        "versions": {"ptycho-engine": __version__, "torch": torch.__version__,
                     "lightning": lightning.__version__, "numpy": np.__version__,
                     "python": sys.version.split()[0]},
        "platform": platform.platform(),
    }
    if getattr(device, "type", "") == "cuda":
        props = torch.cuda.get_device_properties(device)
        env["gpu"] = {"name": props.name, "memory_gib": props.total_memory / 2**30,
                      "cuda": torch.version.cuda}
    return env


# -- data -------------------------------------------------------------------------------------
def simulated_data(session: SessionConfig, n_patterns: int) -> Any:
    """A simulated scan of ``n_patterns`` patterns as :class:`engine.io.PtychoData` (in memory).

    The simulation settings of ``session`` are used, with ``model.N`` as pattern size.
    """
    from ..io import PtychoData
    from ..simulation import simulate_scan

    cfg = dataclasses.replace(session, simulation=dataclasses.replace(
        session.simulation, n_positions=int(n_patterns)))
    scan = simulate_scan(cfg)
    return PtychoData(
        patterns=scan.counts, positions=scan.positions, probe=scan.probe,
        object_shape=(int(scan.obj.shape[0]), int(scan.obj.shape[1])), object_guess=scan.obj,
        geometry=scan.geometry, source=f"simulated ({scan.n_patterns} patterns of "
        f"{scan.N} x {scan.N} px)")


def inference_set(data: Any, n_patterns: int, step_px: float, seed: int
                  ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """``n_patterns`` patterns on a raster scan: ``(counts, positions, object_shape)``.

    The counts cycle through the patterns of ``data`` (read once, in memory); the raster has
    ``step_px`` spacing, so the stitched object grows with ``n_patterns`` like a real scan.
    """
    from ..simulation import make_scan, place_scan

    scan = make_scan("raster", int(n_patterns), float(step_px), 0.0,
                     np.random.default_rng(seed))
    positions, shape = place_scan(scan, data.N, 0)
    source = np.asarray(data.patterns[np.arange(min(data.n_patterns, n_patterns))], np.float32)
    counts = source[np.arange(n_patterns) % len(source)]
    return counts, positions, (int(shape[0]), int(shape[1]))


# -- the benchmarks -----------------------------------------------------------------------------
class _ForwardTimer:
    """Wall time spent inside ``module.forward`` (forward hooks; synchronised on CUDA)."""

    def __init__(self, module: Any, device: Any) -> None:
        self.device = device
        self.seconds = 0.0
        self.calls = 0
        self._start = 0.0
        self._handles = [module.register_forward_pre_hook(self._before),
                         module.register_forward_hook(self._after)]

    def _sync(self) -> None:
        _sync(self.device)

    def _before(self, *_: Any) -> None:
        self._sync()
        self._start = time.perf_counter()

    def _after(self, *_: Any) -> None:
        self._sync()
        self.seconds += time.perf_counter() - self._start
        self.calls += 1

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def measure_inference(session: SessionConfig, data: Any, n_patterns: int,
                      reporter: Reporter | None = None,
                      batch_size: int | None = None) -> dict[str, Any]:
    """Inference and stitching throughput of ``n_patterns`` patterns (see the module doc),
    in batches of ``batch_size`` patterns (default ``execution.inference_batch_size``).

    Returns
    -------
    dict
        ``n_patterns``, ``N``, ``object_shape``, ``batch_size`` (patterns per batch),
        ``total_s`` (network + batch assembly + stitching), ``network_s``, ``stitch_s``
        (``total_s - network_s``), ``patterns_per_s``, ``network_patterns_per_s``,
        ``group_s`` (neighbour grouping, before the loop), ``patterns_through_network``
        (``C`` per pattern: every pattern is predicted in each of the C groups it is part
        of, and the predictions are averaged by the stitching), ``forward_batches``,
        ``device``.
    """
    from ..model.reconstruct import reconstruct
    from ..training.devices import resolve_device
    from ..training.setup import prepare_fit

    ex = session.execution
    batch = int(ex.inference_batch_size if batch_size is None else batch_size)
    device = resolve_device(ex).torch_device()
    net = prepare_fit(session, data).module.net
    counts, positions, shape = inference_set(data, n_patterns, session.simulation.step_px,
                                             ex.seed)
    timer = _ForwardTimer(net, device)
    started = time.perf_counter()
    try:
        stitched = reconstruct(net, counts, positions, shape,
                               n_neighbours=session.model.n_neighbours, seed=ex.seed,
                               batch_size=batch, device=device,
                               weighting=session.inference.stitch_weighting,
                               refine_iterations=session.inference.refine_iterations,
                               alignment_passes=session.inference.alignment_passes,
                               reporter=reporter, stage="bench infer")
    finally:
        timer.remove()
    wall = time.perf_counter() - started
    covered = float(np.mean(stitched.mask))
    return {
        "n_patterns": int(n_patterns),
        "N": int(data.N),
        "object_shape": list(shape),
        "batch_size": batch,
        "total_s": stitched.seconds,
        "network_s": timer.seconds,
        "stitch_s": max(0.0, stitched.seconds - timer.seconds),
        "group_s": max(0.0, wall - stitched.seconds),
        "patterns_per_s": stitched.patterns_per_s,
        "network_patterns_per_s": n_patterns / timer.seconds if timer.seconds > 0 else None,
        # Each pattern anchors one group of C and is predicted in each group it belongs to.
        "patterns_through_network": int(n_patterns) * int(net.channels),
        "forward_batches": timer.calls,
        "illuminated_fraction": covered,
        "device": str(device),
    }


CPU_BATCH_SIZES = (64, 256, 1024)
"""Inference batch sizes (patterns) tried on a CPU."""

GPU_BATCH_SIZES = (256, 1024, 4096, 16384)
"""Inference batch sizes (patterns) tried on a GPU."""


def measure_batch_sizes(session: SessionConfig, data: Any, n_patterns: int,
                        batch_sizes: tuple[int, ...], net: Any = None,
                        reporter: Reporter | None = None) -> dict[str, Any]:
    """Throughput of the network alone (no batch assembly, no stitching) at each of
    ``batch_sizes`` (patterns per batch, ``batch // C`` groups) on the same ``n_patterns``
    groups, assembled once on the device; one untimed batch first at each size.

    Returns
    -------
    dict
        ``n_patterns``, ``rows`` (``batch_size``, ``groups_per_batch``, ``seconds``,
        ``patterns_per_s``) and ``fastest`` (the batch size of the highest throughput).
    """
    import torch

    from ..physics import group_neighbours
    from ..training.data import GroupDataset
    from ..training.devices import resolve_device
    from ..training.setup import prepare_fit

    ex = session.execution
    device = resolve_device(ex).torch_device()
    if net is None:
        net = prepare_fit(session, data).module.net
    net = net.to(device).eval()
    counts, positions, _ = inference_set(data, n_patterns, session.simulation.step_px, ex.seed)
    groups = group_neighbours(positions, net.gridsize, session.model.n_neighbours, ex.seed)
    batch = GroupDataset(counts, positions, groups).__getitems__(list(range(len(groups))))
    all_counts = batch["counts"].to(device)
    all_offsets = batch["offsets"].to(device)
    total = int(all_counts.shape[0])
    rows = []
    with torch.no_grad():
        for size in batch_sizes:
            per = max(1, int(size) // net.channels)
            net(all_counts[:per], all_offsets[:per])  # warm-up (allocations, kernels)
            _sync(device)
            t0 = time.perf_counter()
            for first in range(0, total, per):
                net(all_counts[first:first + per], all_offsets[first:first + per])
            _sync(device)
            seconds = time.perf_counter() - t0
            rows.append({"batch_size": int(size), "groups_per_batch": per,
                         "seconds": seconds, "patterns_per_s": total / seconds})
            if reporter is not None:
                reporter.log("info", f"bench: network alone, batches of {size} patterns: "
                             f"{total / seconds:.0f} patterns/s")
    net.to("cpu")
    fastest = max(rows, key=lambda row: row["patterns_per_s"])
    return {"n_patterns": total, "rows": rows, "fastest": fastest["batch_size"],
            "device": str(device)}


def _sync(device: Any) -> None:
    if getattr(device, "type", "") == "cuda":
        import torch

        torch.cuda.synchronize(device)


def _session(config: SessionConfig | ResolvedConfig | None) -> SessionConfig:
    from ..runs.common import as_resolved

    return as_resolved(config, "bench").config


def run_bench(config: SessionConfig | ResolvedConfig | None = None, *, quick: bool = False,
              infer_patterns: int | None = None, reporter: Reporter | None = None
              ) -> dict[str, Any]:
    """Measure training and inference throughput and peak memory on this machine.

    Parameters
    ----------
    config
        Model (N, gridsize, network), ``training.batch_size``, ``execution`` (accelerator,
        devices, ``inference_batch_size``, seed) and, when ``data.path`` is set, the data to
        train on (otherwise a simulated scan from the ``simulation`` settings).
    quick
        The :data:`QUICK` sizes (about a minute on two CPU cores) instead of :data:`FULL`.
    infer_patterns
        Patterns of the inference benchmark (default 10,000, or 500 with ``quick``).
    reporter
        Progress of each stage and log lines.

    Returns
    -------
    dict
        JSON-able: ``settings``, ``environment``, ``training`` (from
        :func:`engine.bench.measure_throughput`), ``inference``
        (:func:`measure_inference`), ``memory`` (peak RSS after each stage, MiB),
        ``wall_time_s``.

    Examples
    --------
    >>> import engine.bench                                          # doctest: +SKIP
    >>> figures = engine.bench.run_bench(quick=True)                 # doctest: +SKIP
    >>> figures["training"]["overhead_percent"]                      # doctest: +SKIP
    """
    import torch

    from ..io import load_dataset
    from ..training.devices import resolve_device
    from .throughput import measure_throughput

    t0 = time.perf_counter()
    report = reporter or Reporter()
    session = _session(config)
    size = QUICK if quick else FULL
    n_infer = size.infer_patterns if infer_patterns is None else int(infer_patterns)
    if n_infer < 1:
        raise ConfigError([f"--patterns: expected a positive number of patterns, found "
                           f"{n_infer}"])
    device = resolve_device(session.execution).torch_device()
    memory: dict[str, float] = {"start_mib": peak_rss_mib()}

    report.log("info", "bench: preparing data")
    if session.data.path:
        data = load_dataset(session.data)
        if data.N != session.model.N:
            session = dataclasses.replace(session, model=dataclasses.replace(
                session.model, N=data.N))
    else:
        data = simulated_data(session, size.train_patterns)
    memory["after_data_mib"] = peak_rss_mib()

    report.log("info", f"bench: training throughput ({size.steps} timed steps per path)")
    training = measure_throughput(session, data, steps=size.steps, warmup=size.warmup,
                                  reporter=report)
    memory["after_training_mib"] = peak_rss_mib()

    sizes = (GPU_BATCH_SIZES if device.type == "cuda" else CPU_BATCH_SIZES)[:size.sweep_sizes]
    report.log("info", f"bench: the network alone at batch sizes {', '.join(map(str, sizes))}")
    sweep = measure_batch_sizes(session, data, size.sweep_patterns, sizes, reporter=report)
    memory["after_sweep_mib"] = peak_rss_mib()

    report.log("info", f"bench: inference and stitching of {n_infer} patterns in batches of "
               f"{sweep['fastest']} (the fastest)")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    inference = measure_inference(session, data, n_infer, reporter=report,
                                  batch_size=sweep["fastest"])
    memory["after_inference_mib"] = peak_rss_mib()
    memory["peak_rss_mib"] = max(memory.values())
    memory["current_rss_mib"] = current_rss_mib()
    if device.type == "cuda":
        memory["peak_gpu_mib"] = torch.cuda.max_memory_allocated(device) / 2**20

    ex = session.execution
    return {
        "benchmark": "ptycho-engine bench",
        "quick": bool(quick),
        "settings": {
            "N": int(data.N), "gridsize": session.model.gridsize,
            "generator": session.model.generator, "width": session.model.width,
            "depth": session.model.depth, "batch_size_groups": session.training.batch_size,
            "inference_batch_size": ex.inference_batch_size,
            "accelerator": ex.accelerator, "devices": ex.devices, "precision": ex.precision,
            "train_data": data.source or str(session.data.path),
            "train_patterns": int(data.n_patterns),
            "timed_steps": size.steps, "warmup_steps": size.warmup,
            "infer_patterns": n_infer, "seed": ex.seed,
        },
        "environment": environment(device),
        "training": training,
        "inference": inference,
        "batch_sizes": sweep,
        "memory": memory,
        "wall_time_s": time.perf_counter() - t0,
    }


def format_report(figures: dict[str, Any]) -> str:
    """The human-readable table of :func:`run_bench`'s result."""
    s, env, tr, inf, mem = (figures[k] for k in
                            ("settings", "environment", "training", "inference", "memory"))
    gpu = env.get("gpu")
    rows = [
        ("device", f"{env['device']}" + (f" ({gpu['name']})" if gpu else f" ({env['cpu']})")),
        ("threads / logical CPUs", f"{env['torch_threads']} / {env['logical_cpus']}"),
        ("load average (1 min) at start", _num(env.get("load_average_1min"), ".2f")),
        ("versions", ", ".join(f"{k} {v}" for k, v in env["versions"].items())),
        ("model", f"N={s['N']}, gridsize={s['gridsize']}, {s['generator']} width "
                  f"{s['width']} depth {s['depth']}"),
        ("training data", f"{s['train_data']}"),
        ("training: plain PyTorch", f"{tr['plain_patterns_per_s']:.0f} patterns/s"),
        ("training: Lightning", f"{tr['lightning_patterns_per_s']:.0f} patterns/s"),
        ("Lightning overhead", f"{tr['overhead_percent']:+.1f} %  ({tr['steps']} steps of "
                               f"{tr['patterns_per_step']} patterns)"),
        ("network alone by batch size", ", ".join(
            f"{row['batch_size']}: {row['patterns_per_s']:.0f}"
            for row in figures["batch_sizes"]["rows"]) + " patterns/s"),
        ("inference patterns", f"{inf['n_patterns']} of {inf['N']} x {inf['N']} px "
                               f"-> object {inf['object_shape'][0]} x {inf['object_shape'][1]}"),
        ("inference total", f"{inf['total_s']:.2f} s = {inf['patterns_per_s']:.0f} patterns/s"
                            f" (batches of {inf['batch_size']} patterns)"),
        ("  network", f"{inf['network_s']:.2f} s ({inf['patterns_through_network']} "
                      f"pattern evaluations: each pattern in each of its groups)"),
        ("  stitching + batching", f"{inf['stitch_s']:.2f} s"),
        ("  grouping (before)", f"{inf['group_s']:.2f} s"),
        ("peak resident memory", f"{mem['peak_rss_mib']:.0f} MiB"),
    ]
    if "peak_gpu_mib" in mem:
        rows.append(("peak GPU memory", f"{mem['peak_gpu_mib']:.0f} MiB"))
    rows.append(("wall time", f"{figures['wall_time_s']:.1f} s"
                 + (" (--quick)" if figures.get("quick") else "")))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _num(value: float | None, fmt: str) -> str:
    return "?" if value is None or not math.isfinite(value) else format(value, fmt)
