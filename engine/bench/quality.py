"""Quality benchmark: ``ptycho-engine bench --quality`` over the shared ptychodus sets.

For a training set (default ``images_a``) and test sets (default ``images_b``) in a folder of
ptychodus-made data (each ``product.h5`` + ``diffraction.h5`` + ``truth.h5``), one run:

1. trains a network on the training set with the session's settings (skipped when a
   checkpoint is given);
2. reconstructs every set stage by stage, each scored against its ``truth.h5`` by the
   shared scorer's rules (:func:`engine.metrics.evaluate` with the scan positions: SSIM and
   PSNR of amplitude and phase, complex NRMSE), and timed:

   - ``prior``: the network's parameter-free starting estimate alone (generators that use
     one), stitched like the network's output;
   - ``network``: the network's estimate (with the session's ``inference.refine_iterations``
     and ``alignment_passes``), i.e. everything before the full-object refinement;
   - ``refinement``: the full-object refinement alone from a flat object, as many epochs as
     the session's ``refinement.epochs``: what physics alone gives in that budget;
   - ``final``: the refinement started from the network's estimate (what ``infer`` and the
     end of ``train`` produce).

   The solver stages use the session's ``refinement.algorithm`` with its defaults (probe,
   modes, positions and background refined, the detector mask of the set honoured) and
   carry the solver's summary (kept epoch and stop reason, misfit against its Poisson noise
   floor, mode powers, position RMS change); they are scored with the solver's positions.
   The realistic sets (``--sets realistic_a,realistic_b``) are the hard case.

The training set is scored as the stitched training scan, the others as inference. Time and
patterns per second are per stage; ``final``'s time includes the network's.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import ResolvedConfig, SessionConfig
from ..errors import ConfigError, DataError
from ..reporting import Reporter, StopToken

DEFAULT_SETS = ("images_a", "images_b")
"""Training set first, then the sets reconstructed by inference."""

DEFAULT_DATA_ROOT = Path("..") / "shared" / "data" / "ptychodus"
"""Where the shared sets live, relative to the working directory."""

STAGES = ("prior", "network", "refinement", "final")


@dataclass
class StageResult:
    """One stage on one set: scores, wall time and throughput."""

    set: str
    role: str
    stage: str
    seconds: float
    n_patterns: int
    amplitude: dict[str, float] = field(default_factory=dict)
    phase: dict[str, float] = field(default_factory=dict)
    solver: dict[str, Any] = field(default_factory=dict)

    @property
    def patterns_per_s(self) -> float:
        return self.n_patterns / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"set": self.set, "role": self.role, "stage": self.stage,
                "seconds": self.seconds, "patterns_per_s": self.patterns_per_s,
                "n_patterns": self.n_patterns, "amplitude": self.amplitude,
                "phase": self.phase, "solver": self.solver}


def set_folders(root: str | Path, names: tuple[str, ...]) -> list[Path]:
    """The set folders, checked for the three files the benchmark reads."""
    base = Path(root).expanduser().resolve()
    folders = []
    for name in names:
        folder = base / name
        missing = [f for f in ("product.h5", "diffraction.h5", "truth.h5")
                   if not (folder / f).is_file()]
        if missing:
            raise DataError(f"{folder}: expected a ptychodus set with product.h5, "
                            f"diffraction.h5 and truth.h5; missing {', '.join(missing)} "
                            "(give the sets' folder with --data)")
        folders.append(folder)
    return folders


def _scores(obj: np.ndarray, truth: np.ndarray, probe: np.ndarray,
            positions: np.ndarray) -> tuple[dict, dict]:
    """Amplitude and phase scores by the shared scorer's rules (region = hull of the scan's
    window centres, as run summaries and ``evaluate``), each with the complex NRMSE."""
    from ..metrics.truth import quality

    result = quality(obj, truth, probe, positions)
    if result is None:
        nan = {"ssim": math.nan, "psnr": math.nan, "nrmse": math.nan}
        return dict(nan), dict(nan)
    keep = ("ssim", "psnr")
    nrmse = float(result["nrmse"])
    return ({**{k: float(v) for k, v in result["amplitude"].items() if k in keep},
             "nrmse": nrmse},
            {**{k: float(v) for k, v in result["phase"].items() if k in keep}, "nrmse": nrmse})


class _PriorOnly:
    """The network's parameter-free starting estimate, with the network's interface, so the
    same grouping and stitching as the network's output apply."""

    def __init__(self, net: Any) -> None:
        self.net = net
        self.N, self.gridsize, self.channels = net.N, net.gridsize, net.channels
        self.amplitude_max = net.amplitude_max

    def to(self, device: Any) -> _PriorOnly:
        self.net.to(device)
        return self

    def eval(self) -> _PriorOnly:
        self.net.eval()
        return self

    def effective_probe(self) -> Any:
        return self.net.effective_probe()

    def consensus(self, patches: Any, offsets: Any) -> Any:
        """The network's own overlap constraint, applied to the prior's patches too."""
        return self.net.consensus(patches, offsets)

    def __call__(self, counts: Any, offsets: Any) -> Any:
        from ..model.pinn import backpropagated_estimate, refine_estimate

        probe = self.net.effective_probe().detach()
        prior = backpropagated_estimate(counts, probe)
        return refine_estimate(prior, counts, probe, offsets, self.net.prior_iterations,
                               None, self.net.amplitude_max)


def _train(config: SessionConfig, folder: Path, out: Path, reporter: Reporter,
           stop: StopToken | None) -> Path:
    from ..runs.train import train

    session = dataclasses.replace(
        config,
        data=dataclasses.replace(config.data, path=str(folder / "product.h5"),
                                 diffraction_path=str(folder / "diffraction.h5")),
        training=dataclasses.replace(config.training, output_dir=str(out), overwrite=True))
    result = train(session, reporter=reporter, stop=stop)
    checkpoint = result.checkpoints.get("last")
    if result.status != "completed" or checkpoint is None:
        raise ConfigError([f"bench --quality: training on {folder} ended '{result.status}'"])
    return Path(checkpoint)


@dataclass
class _Context:
    """What every set's stages share: the network, settings, device, reporter and stop."""

    net: Any
    n_neighbours: int
    session: SessionConfig
    device: Any
    report: Reporter
    stop: StopToken | None


def _network_stage(ctx: _Context, model: Any, data: Any, name: str
                   ) -> tuple[np.ndarray, float]:
    from ..model.reconstruct import reconstruct

    inf = ctx.session.inference
    t0 = time.perf_counter()
    stitched = reconstruct(
        model, data.patterns, data.positions, data.object_shape,
        n_neighbours=ctx.n_neighbours, seed=ctx.session.execution.seed,
        batch_size=ctx.session.execution.inference_batch_size, device=ctx.device,
        weighting=inf.stitch_weighting, refine_iterations=inf.refine_iterations,
        alignment_passes=inf.alignment_passes, reporter=ctx.report, stop=ctx.stop, stage=name)
    return stitched.obj, time.perf_counter() - t0


def _bench_set(ctx: _Context, folder: Path, role: str) -> list[StageResult]:
    """Every stage on one set, scored against its truth."""
    import torch

    from ..io import load_dataset
    from ..metrics import load_object
    from ..solvers import solve

    data = load_dataset(str(folder / "product.h5"))
    truth = load_object(folder / "truth.h5")
    results: list[StageResult] = []

    def add(stage: str, obj: np.ndarray, seconds: float, positions: np.ndarray | None = None,
            solver: dict[str, Any] | None = None) -> None:
        amp, phase = _scores(obj, truth, data.probe,
                             data.positions if positions is None else positions)
        results.append(StageResult(folder.name, role, stage, seconds, data.n_patterns,
                                   amp, phase, solver or {}))
        ctx.report.log("info", f"{folder.name} {stage}: amplitude SSIM {amp['ssim']:.3f}, "
                       f"phase SSIM {phase['ssim']:.3f} ({seconds:.1f} s)")

    with torch.no_grad():
        if getattr(ctx.net.generator, "uses_prior", False):
            add("prior", *_network_stage(ctx, _PriorOnly(ctx.net), data, "prior"))
        network_obj, network_s = _network_stage(ctx, ctx.net, data, "network")
    add("network", network_obj, network_s)
    for stage, start in (("refinement", None), ("final", network_obj)):
        refined = solve(data.patterns, data.positions, data.probe, data.object_shape,
                        ctx.session.refinement,
                        options=getattr(ctx.session, ctx.session.refinement.algorithm),
                        modes=ctx.session.probe.modes, seed=ctx.session.execution.seed,
                        initial=start, bad_pixels=data.bad_pixels, device=ctx.device,
                        reporter=ctx.report, stop=ctx.stop, stage=stage)
        ctx.report.log("info", f"{folder.name} {stage}: {refined.describe()}")
        add(stage, refined.obj, refined.seconds + (network_s if stage == "final" else 0.0),
            refined.positions, refined.summary())
    return results


def run_quality_bench(config: SessionConfig | ResolvedConfig, data_root: str | Path, *,
                      sets: tuple[str, ...] = DEFAULT_SETS, checkpoint: str | Path | None = None,
                      reporter: Reporter | None = None,
                      stop: StopToken | None = None) -> dict[str, Any]:
    """Train (unless ``checkpoint``), then score every stage on every set.

    The first set is the training set (scored as the stitched training scan), the others
    are reconstructed by inference.

    Returns
    -------
    dict
        ``{"stages": [StageResult.to_dict()...], "train_seconds", "checkpoint", "settings"}``.
    """
    from ..training.checkpoint import load_module
    from ..training.devices import resolve_device

    session = config.config if isinstance(config, ResolvedConfig) else config
    report = reporter or Reporter()
    folders = set_folders(data_root, tuple(sets))
    train_s = 0.0
    with tempfile.TemporaryDirectory(prefix="ptycho-quality-") as tmp:
        if checkpoint is None:
            t0 = time.perf_counter()
            checkpoint = _train(session, folders[0], Path(tmp) / "run", report, stop)
            train_s = time.perf_counter() - t0
        module, ckpt = load_module(checkpoint)
    ctx = _Context(net=module.net,
                   n_neighbours=int(ckpt["hyper_parameters"]["model"]["n_neighbours"]),
                   session=session, device=resolve_device(session.execution).torch_device(),
                   report=report, stop=stop)
    results: list[StageResult] = []
    for index, folder in enumerate(folders):
        results += _bench_set(ctx, folder, "training scan" if index == 0 else "inference")
    module.net.to("cpu")
    inf = session.inference
    return {"stages": [r.to_dict() for r in results], "train_seconds": train_s,
            "checkpoint": str(checkpoint) if train_s == 0 else "(trained in this run)",
            "settings": {"refinement": dataclasses.asdict(session.refinement),
                         "refine_iterations": inf.refine_iterations,
                         "alignment_passes": inf.alignment_passes}}


def format_quality_table(result: dict[str, Any]) -> str:
    """The benchmark's table, one row per set and stage."""
    head = (f"{'set':<10} {'role':<14} {'stage':<11} {'amp SSIM':>8} {'amp PSNR':>8} "
            f"{'ph SSIM':>8} {'ph PSNR':>8} {'NRMSE':>7} {'time s':>7} {'pat/s':>7}")
    lines = [head, "-" * len(head)]

    def num(d: dict, key: str, width: int, digits: int) -> str:
        value = d.get(key)
        return f"{value:>{width}.{digits}f}" if value is not None else f"{'-':>{width}}"

    for row in result["stages"]:
        a, p = row["amplitude"], row["phase"]
        lines.append(f"{row['set']:<10} {row['role']:<14} {row['stage']:<11} "
                     f"{num(a, 'ssim', 8, 3)} {num(a, 'psnr', 8, 2)} "
                     f"{num(p, 'ssim', 8, 3)} {num(p, 'psnr', 8, 2)} {num(a, 'nrmse', 7, 4)} "
                     f"{row['seconds']:>7.1f} {row['patterns_per_s']:>7.0f}")
    if result.get("train_seconds"):
        lines.append(f"training: {result['train_seconds']:.1f} s")
    return "\n".join(lines)
