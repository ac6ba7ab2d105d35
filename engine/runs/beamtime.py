"""``train_beamtime(config) -> RunResult``: a beamtime model for one measured scan.

A network trained on one scan with the physics loss cannot know more than each group of
patterns fixes (docs/performance.md). A beamtime model learns a prior from many objects
instead: objects of several kinds (dead leaves, natural-image-like textures, Siemens stars,
cell-like phase objects; random amplitude and phase ranges) are simulated on the fly under
the scan's own conditions (its probe, the solver's refined one with
``refinement.refine_probe``; its scan geometry; its dose, carried by the probe; its detector
mask), supervised by their true patches and by the physics loss, and mixed with the measured
scan under the physics loss (:class:`engine.training.data.BeamtimeDataModule`). Nothing
simulated is stored.

Steps: resolve the config with ``beamtime.simulated_training``; load and check the data; with
``refinement.refine_probe`` run the solver on the scan first (from a flat object) and train
under its refined probe; then the training run of :func:`engine.runs.train` (run directory,
checkpoints, stitched and refined reconstruction, summary). The checkpoint records the
conditions (``hyper_parameters["conditions"]`` and the probe in its weights); an inference
on data with another probe or scan step warns, another N is refused.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from ..config import ResolvedConfig, SessionConfig
from ..reporting import Reporter, StopToken
from .common import as_resolved
from .train import RunResult


def beamtime_config(config: SessionConfig | ResolvedConfig) -> ResolvedConfig:
    """``config`` resolved, with ``beamtime.simulated_training`` on (recorded as set by this
    workflow)."""
    resolved = as_resolved(config, "train --beamtime")
    cfg = resolved.config
    if cfg.beamtime.simulated_training:
        return resolved
    beamtime = dataclasses.replace(cfg.beamtime, simulated_training=True)
    return ResolvedConfig(dataclasses.replace(cfg, beamtime=beamtime),
                          {**resolved.sources, "beamtime.simulated_training": "train --beamtime"})


GPU_PRESET: dict[str, Any] = {
    "model.width": 32,
    "model.depth": 4,
    "training.batch_size": 64,
    "beamtime.steps_per_epoch": 400,
    "beamtime.groups_per_object": 32,
}
"""What a beamtime training uses on a CUDA GPU for every one of these settings the user left
at its default: a larger network (2.0 M parameters instead of 150 k: width 32, depth 4), larger
batches and longer epochs. On the CPU the defaults stay (docs/performance.md: the CPU curve)."""


def apply_gpu_preset(resolved: ResolvedConfig, accelerator: str) -> tuple[ResolvedConfig,
                                                                          dict[str, Any]]:
    """``resolved`` with :data:`GPU_PRESET` applied where the device is a CUDA GPU and the
    setting is still a default; returns the config and the values applied (empty: none)."""
    if accelerator != "gpu":
        return resolved, {}
    applied = {key: value for key, value in GPU_PRESET.items()
               if resolved.sources.get(key, "default") == "default"}
    if not applied:
        return resolved, {}
    cfg = resolved.config
    sections: dict[str, dict[str, Any]] = {}
    for key, value in applied.items():
        section, name = key.split(".")
        sections.setdefault(section, {})[name] = value
    cfg = dataclasses.replace(cfg, **{
        section: dataclasses.replace(getattr(cfg, section), **values)
        for section, values in sections.items()})
    sources = {**resolved.sources, **{key: "beamtime GPU preset" for key in applied}}
    return ResolvedConfig(cfg, sources), applied


def solver_probe(data: Any, session: SessionConfig, reporter: Reporter,
                 stop: StopToken | None) -> tuple[np.ndarray, dict[str, Any]]:
    """The probe a beamtime model is made for: the solver's refined probe of the scan when
    ``refinement.refine_probe`` is on (as many modes as the data's probe), else the data's
    own."""
    from ..training.devices import resolve_device
    from .refinement import refine_stage

    probe = np.asarray(data.probe, np.complex64)
    if not session.refinement.refine_probe or session.refinement.epochs <= 0:
        return probe, {"probe": "data", "seconds": 0.0}
    t0 = time.perf_counter()
    reporter.log("info", "refining the probe on the scan before the beamtime training "
                 "(refinement.refine_probe)")
    flat = np.ones(data.object_shape, np.complex64)
    device = resolve_device(session.execution).torch_device()
    # Keep the data's own number of modes: the model must fit the next scan's files (infer
    # refuses another probe shape).
    session = dataclasses.replace(session, probe=dataclasses.replace(session.probe, modes=0))
    refined = refine_stage(data, flat, np.ones(data.object_shape, bool), probe, session,
                           device, reporter, stop)
    return (np.asarray(refined.probe, np.complex64),
            {"probe": "refined by the solver", "seconds": time.perf_counter() - t0,
             "epochs": refined.epochs})


def train_beamtime(config: SessionConfig | ResolvedConfig, reporter: Reporter | None = None,
                   stop: StopToken | None = None) -> RunResult:
    """Train a beamtime model on ``config.data`` and write a run directory.

    Parameters
    ----------
    config
        The session; ``beamtime.*`` sets the stream (steps per epoch, measured share,
        supervised weight, object kinds and ranges), ``training.*`` the schedule (use
        ``training.max_time_min`` for a time budget).
    reporter, stop
        As :func:`engine.runs.train`.

    Returns
    -------
    RunResult
        Its summary holds ``beamtime``: the conditions trained for and the probe's origin.

    Raises
    ------
    EngineError
        Bad settings (``beamtime.object_kinds``), data or run folder, before anything is
        written.
    """
    from ..io import load_dataset
    from ..training.data import object_kinds
    from ..training.devices import launch_rank, resolve_device
    from ..training.rundir import RunDirectory
    from ..training.setup import check_data_matches
    from .train import _Run

    resolved = beamtime_config(config)
    resolved, preset = apply_gpu_preset(resolved,
                                        resolve_device(resolved.config.execution).accelerator)
    cfg = resolved.config
    object_kinds(cfg.beamtime.object_kinds)  # refused before anything is written
    report = reporter or Reporter()
    data = load_dataset(cfg.data, probe=cfg.probe)
    check_data_matches(cfg, data)
    run_dir = RunDirectory(cfg.training.output_dir)
    is_zero = launch_rank() == 0
    lock = run_dir.prepare(resume=False, overwrite=cfg.training.overwrite) if is_zero else None
    try:
        probe, origin = solver_probe(data, cfg, report, stop)
        data = dataclasses.replace(data, probe=probe)
        if preset:
            report.log("info", "beamtime GPU preset: " + ", ".join(
                f"{k} = {v}" for k, v in preset.items()))
        report.log("info", f"beamtime model: objects {cfg.beamtime.object_kinds} simulated "
                   f"under the scan's probe ({origin['probe']}), {data.n_patterns} positions "
                   f"and dose; {cfg.beamtime.measured_fraction:.0%} of the batches from the "
                   "measured scan")
        run = _Run(cfg, resolved, run_dir, reporter, stop, False, is_zero, data)
        result = run.execute()
    finally:
        if lock is not None:
            lock.release()
    if is_zero and result.summary:
        result.summary["beamtime"] = {"probe_origin": origin, "gpu_preset": preset,
                                      "settings": dataclasses.asdict(cfg.beamtime)}
        run_dir.write_summary(result.summary)
    return result
