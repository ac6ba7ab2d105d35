"""``infer(checkpoint, data, out) -> InferenceResult``: reconstruct a dataset with a trained PINN.

The checkpoint is read with ``torch.load(weights_only=True)`` and refused when it does not fit
the data (pattern size, probe shape, gridsize) with a :class:`CheckpointError` naming both
values. The network runs on the resolved device (``execution.accelerator``/``devices``; a
GPU-trained checkpoint runs on the CPU and vice versa), every pattern is predicted in batches
of ``execution.inference_batch_size`` and stitched as it streams
(:mod:`engine.model.reconstruct`), and the complex object is written as a ptychodus
product with ``<name>-amplitude.png`` and ``<name>-phase.png`` next to it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import DataConfig, ResolvedConfig, SessionConfig
from ..errors import ConfigError
from ..locks import open_output_folder
from ..reporting import Reporter, StopToken
from .common import as_resolved, output_file


@dataclass
class InferenceResult:
    """A reconstruction made by :func:`infer`.

    Attributes
    ----------
    output
        The product file written (None when cancelled before writing).
    obj, mask
        complex64 ``(H, W)`` object (NaN where not illuminated) and its bool mask.
    status
        "completed" or "cancelled".
    n_patterns
        Patterns reconstructed.
    seconds
        Network + stitching + full-object refinement wall time.
    patterns_per_s
        ``n_patterns / seconds``.
    device
        Where the network ran.
    pngs
        ``(amplitude, phase)`` picture paths, or None.
    quality
        :func:`engine.metrics.evaluate` result when the data have a ground truth, else None.
    ground_truth
        Where the ground truth came from.
    normalisation
        How the checkpoint was matched to the data's dose
        (:meth:`engine.model.pinn.DoseScale.to_dict`).
    stages
        Per stage (``start``: the network's stitching, ``solver``): seconds, and amplitude /
        phase SSIM where a ground truth is known (:attr:`engine.runs.pipeline.Outcome.stages`).
    """

    output: Path | None
    obj: np.ndarray
    mask: np.ndarray
    status: str
    n_patterns: int
    seconds: float
    patterns_per_s: float
    device: str
    pngs: tuple[Path, Path] | None = None
    quality: dict[str, Any] | None = None
    ground_truth: str | None = None
    normalisation: dict[str, Any] | None = None
    stages: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (no arrays)."""
        return {
            "output": str(self.output) if self.output else None, "status": self.status,
            "n_patterns": self.n_patterns, "seconds": self.seconds,
            "patterns_per_s": self.patterns_per_s, "device": self.device,
            "pngs": [str(p) for p in self.pngs] if self.pngs else None,
            "quality": self.quality, "ground_truth": self.ground_truth,
            "normalisation": self.normalisation, "stages": self.stages,
        }


def _explicit_model_settings(config: SessionConfig | ResolvedConfig | None) -> dict[str, Any]:
    """Model settings the user set on purpose (they must agree with the checkpoint)."""
    if not isinstance(config, ResolvedConfig):
        return {}
    explicit = {}
    for key in ("N", "gridsize"):
        source = config.sources.get(f"model.{key}", "default")
        if source not in ("default", "base"):
            explicit[key] = getattr(config.config.model, key)
    return explicit


def infer(checkpoint: str | os.PathLike[str], data: Any, out: str | os.PathLike[str] | None,
          *, config: SessionConfig | ResolvedConfig | None = None,
          reporter: Reporter | None = None, stop: StopToken | None = None,
          evaluate_truth: bool = True) -> InferenceResult:
    """Reconstruct ``data`` with the network in ``checkpoint``.

    Parameters
    ----------
    checkpoint
        A ``.ckpt`` written by training (``RUN_DIR/checkpoints/last.ckpt`` or a best one).
    data
        A data path (any format :func:`engine.io.load_dataset` reads; read with
        ``config.data``'s other settings), a :class:`DataConfig`, or a loaded
        :class:`engine.io.PtychoData`.
    out
        Product ``.h5`` to write (PNGs next to it when ``inference.export_png``); None writes
        nothing and only returns the object.
    config
        Execution (accelerator, devices, inference_batch_size, seed), inference
        (stitch_weighting, export_png) and data settings; default: the defaults. Model
        settings come from the checkpoint; ``model.N``/``model.gridsize`` set explicitly in a
        ResolvedConfig must agree with it.
    reporter, stop
        Progress (stage "infer", unit "pattern"), log lines, cancellation between batches.
    evaluate_truth
        Score against a ground truth found next to the data (see
        :mod:`engine.metrics.truth`).

    Returns
    -------
    InferenceResult

    Raises
    ------
    CheckpointError
        Unreadable checkpoint, or one that does not match the data.
    DataError, ConfigError, RunError
        Bad data, settings, or device.

    Examples
    --------
    >>> res = engine.infer("run/checkpoints/last.ckpt", "scan.npz", "recon.h5")  # doctest: +SKIP
    >>> res.patterns_per_s, res.obj.shape                                        # doctest: +SKIP
    """
    from ..io import PtychoData, load_dataset
    from ..model.pinn import follow_data_dose
    from ..model.reconstruct import reconstruct
    from ..render import png_paths
    from ..training.checkpoint import check_compatible, load_module, probe_difference
    from ..training.devices import resolve_device
    from ..training.faults import check_output_folder
    from ..training.module import condition_warnings, scan_conditions
    from .pipeline import Start, solve_write_score

    report = reporter or Reporter()
    session = as_resolved(config, "infer").config
    output = None
    if out is not None:  # refused before any work: a link, a folder, or a file in the way
        output = output_file(out, "inference.output", overwrite=session.inference.overwrite,
                             companions=png_paths(out) if session.inference.export_png else ())
    module, ckpt = load_module(checkpoint)
    hp = ckpt["hyper_parameters"]

    if isinstance(data, PtychoData):
        loaded, source = data, data.source
    else:
        cfg_data = data if isinstance(data, DataConfig) else _data_settings(session.data, data)
        loaded = load_dataset(cfg_data, probe=session.probe)
        source = str(cfg_data.path)
        for warning in loaded.warnings:
            report.log("warning", warning)
    check_compatible(hp, N=loaded.N, probe_shape=tuple(np.shape(loaded.probe)),
                     n_patterns=loaded.n_patterns, checkpoint=str(checkpoint), data=source,
                     model_overrides=_explicit_model_settings(config))
    diff = probe_difference(loaded.probe, module.net.probe.detach().numpy())
    if diff > 0.1:
        report.log("warning", f"the probe of {source} differs from the checkpoint's by "
                   f"{diff:.0%} (relative norm); the network was trained with the latter")
    # A beamtime model also records the scan it was made for (step, pixel size).
    for warning in condition_warnings(hp, scan_conditions(
            loaded.positions, loaded.probe, 0.0, loaded.object_pixel_size_m), source):
        report.log("warning", warning)

    dose = follow_data_dose(module.net, loaded.patterns, session.inference.normalisation)
    report.log("info", f"normalisation from the {dose.mode}: {dose.mean_counts_per_pattern:.4g} "
               f"counts per pattern (training {dose.trained_mean_counts_per_pattern:.4g}), "
               f"input scale {dose.input_scale:.4g}, probe intensity x "
               f"{dose.probe_intensity_factor:.4g}")
    device_info = resolve_device(session.execution)
    device = device_info.torch_device()
    with contextlib.ExitStack() as writing:
        if output is not None:  # an unwritable folder or a full disk: said before the work
            check_output_folder(output.parent, "inference.output")
            # One writer per folder, from before the work until the files are written.
            writing.enter_context(open_output_folder(output.parent, "inference",
                                                        overwrite=True))
        report.run_started({"checkpoint": str(checkpoint), "data": source, **device_info.to_dict(),
                            "devices": 1,
                            "n_patterns": loaded.n_patterns, "N": loaded.N})
        stitched = reconstruct(
            module.net, loaded.patterns, loaded.positions, loaded.object_shape,
            n_neighbours=int(hp["model"]["n_neighbours"]), seed=session.execution.seed,
            batch_size=session.execution.inference_batch_size, device=device,
            weighting=session.inference.stitch_weighting,
            refine_iterations=session.inference.refine_iterations,
            alignment_passes=session.inference.alignment_passes, reporter=report, stop=stop)
        module.net.to("cpu")
        if stitched.completed:
            report.log("info", f"reconstructed {stitched.n_patterns} patterns in "
                       f"{stitched.seconds:.2f} s ({stitched.patterns_per_s:.0f} patterns/s on "
                       f"{device})")
        else:
            report.log("info", f"stopped after {stitched.seconds:.2f} s: the image holds the "
                       "groups reconstructed so far; nothing is written")
        # The pipeline: the network's stitched estimate -> solve -> write -> score.
        start = Start("network", stitched.obj, stitched.mask,
                      module.net.effective_probe().detach().cpu().numpy(),
                      "the network's stitched estimate", float(stitched.seconds))
        outcome = solve_write_score(
            loaded, start, session, device=device, reporter=report, stop=stop,
            product=output, pngs=png_paths(output) if output is not None
            and session.inference.export_png else None,
            name="ptycho-engine inference",
            comments=f"checkpoint {checkpoint}; data {source}; normalisation from the "
            f"{dose.mode}: {dose.mean_counts_per_pattern:.6g} counts per pattern, input scale "
            f"{dose.input_scale:.6g} 1/sqrt(photon), probe intensity x "
            f"{dose.probe_intensity_factor:.6g} of the checkpoint's",
            data_source=source, score=evaluate_truth, solve=stitched.completed)
    refined = outcome.refined
    status = "completed" if stitched.completed and outcome.status == "completed" \
        else "cancelled"
    seconds = stitched.seconds + refined.seconds
    output, pngs = outcome.product, outcome.pngs
    scores, truth_source = outcome.quality, outcome.ground_truth
    result = InferenceResult(
        output=output, obj=refined.obj, mask=refined.mask, status=status,
        n_patterns=stitched.n_patterns, seconds=seconds,
        patterns_per_s=stitched.n_patterns / seconds if seconds > 0 else float("nan"),
        device=str(device), pngs=pngs,
        quality=scores, ground_truth=truth_source, normalisation=dose.to_dict(),
        stages=outcome.stages)
    report.run_finished(result.to_dict())
    return result


def _data_settings(settings: DataConfig, path: str | os.PathLike[str]) -> DataConfig:
    """``data`` settings for reading ``path``: ``data.diffraction_path`` (the pattern file
    paired with a product) counts only when ``path`` is ``data.path`` itself."""
    same = bool(settings.path) and os.path.abspath(settings.path) == os.path.abspath(path)
    return dataclasses.replace(settings, path=str(path),
                               diffraction_path=settings.diffraction_path if same else "")


def infer_from_config(config: SessionConfig | ResolvedConfig, reporter: Reporter | None = None,
                      stop: StopToken | None = None) -> InferenceResult:
    """:func:`infer` driven by ``inference.checkpoint``, ``inference.data_path`` (empty:
    ``data.path``) and ``inference.output`` of a session (the GUI's and CLI's entry)."""
    resolved = as_resolved(config, "infer")
    session = resolved.config
    inf = session.inference
    if not inf.checkpoint:
        raise ConfigError(["inference.checkpoint: a trained checkpoint (.ckpt) is needed"])
    data_path = inf.data_path or session.data.path
    if not data_path:
        raise ConfigError(["inference.data_path: the data to reconstruct are needed (or "
                           "data.path)"])
    return infer(inf.checkpoint, data_path, inf.output or None, config=resolved,
                 reporter=reporter, stop=stop)
