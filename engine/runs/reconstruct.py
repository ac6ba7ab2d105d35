"""``reconstruct(config) -> ReconstructionResult``: the iterative solver alone, no network.

The data (``data.*``) are read and checked before anything is written; the solver of
``refinement.algorithm`` starts from a flat object or from the object of a product file
(``reconstruct.initial_object``/``object_path``) and the pipeline
(:mod:`engine.runs.pipeline`) writes into ``reconstruct.output_dir``: ``reconstruction.h5``
(ptychodus product), ``amplitude.png``, ``phase.png``, ``session.toml`` (re-runs it),
``provenance.json`` (the source of every setting) and ``summary.json``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import ResolvedConfig, SessionConfig, save_session
from ..reporting import Reporter, StopToken, stop_requested
from .common import as_resolved, versions
from .plan import run_plan


@dataclass
class ReconstructionResult:
    """What :func:`reconstruct` wrote.

    Attributes
    ----------
    folder
        ``reconstruct.output_dir`` (absolute).
    status
        "completed" or "cancelled" (the solver's best state so far is written).
    product, pngs
        ``reconstruction.h5`` and its pictures (None when stopped before the solver ran).
    summary
        The content of ``summary.json``.
    """

    folder: Path
    status: str
    product: Path | None = None
    pngs: tuple[Path, Path] | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def reconstruct(config: SessionConfig | ResolvedConfig, reporter: Reporter | None = None,
                stop: StopToken | None = None) -> ReconstructionResult:
    """Reconstruct ``data.path`` with the iterative solver alone into
    ``reconstruct.output_dir``.

    Parameters
    ----------
    config
        A :class:`ResolvedConfig` (its sources go to ``provenance.json``); a bare
        ``SessionConfig`` is resolved once.
    reporter, stop
        Progress (stage "refine", unit pattern), log lines; the stop token ends the solver
        within one mini-batch and the best state so far is written with status "cancelled".

    Raises
    ------
    EngineError
        Bad settings, data, initial object or output folder (in use, holding files without
        ``reconstruct.overwrite``): refused before anything is written.
    """
    from ..io import load_dataset
    from ..locks import open_output_folder
    from ..training.devices import resolve_device
    from ..training.faults import check_output_folder
    from ..training.rundir import json_safe, write_json
    from .pipeline import flat_start, solve_write_score, start_from_file

    started, t0 = datetime.now(UTC), time.perf_counter()
    resolved = as_resolved(config, "reconstruct")
    cfg = resolved.config
    report = reporter or Reporter()
    plan = run_plan("reconstruct", cfg)
    out = plan.outputs["folder"]
    data = load_dataset(cfg.data, probe=cfg.probe)
    for warning in data.warnings:
        report.log("warning", warning)
    start = start_from_file(cfg.reconstruct.object_path, data) \
        if cfg.reconstruct.initial_object == "file" else flat_start(data)
    device_info = resolve_device(cfg.execution)
    if stop_requested(stop):  # stopped during start-up: nothing is made
        return ReconstructionResult(out, "cancelled")
    check_output_folder(out, "reconstruct.output_dir")
    with open_output_folder(out, "reconstruct", overwrite=cfg.reconstruct.overwrite,
                            setting="reconstruct.overwrite", flag="--overwrite"):
        report.run_started({"kind": "reconstruct", "out_dir": str(out), "data": data.source,
                            "n_patterns": data.n_patterns, "N": data.N,
                            "start": start.kind, **device_info.to_dict(), "devices": 1})
        save_session(cfg, plan.outputs["session"], defaults=resolved.default_keys())
        write_json(plan.outputs["provenance"], {
            "kind": "reconstruct", "started": started.isoformat(timespec="seconds"),
            "sources": dict(resolved.sources), "resolved": device_info.to_dict(),
            "versions": versions(), "argv": list(sys.argv),
            "data": {"source": data.source, "n_patterns": data.n_patterns, "N": data.N},
            "start": {"kind": start.kind, "source": start.source}})
        outcome = solve_write_score(
            data, start, cfg, device=device_info.torch_device(), reporter=report, stop=stop,
            product=plan.outputs["reconstruction"],
            pngs=(plan.outputs["amplitude_png"], plan.outputs["phase_png"]),
            name="ptycho-engine reconstruction (solver only)",
            comments=f"{cfg.refinement.algorithm} from {start.source}; data {data.source}",
            data_source=str(cfg.data.path), write_cancelled=True)
        summary = json_safe({
            "kind": "reconstruct", "status": outcome.status, "started":
            started.isoformat(timespec="seconds"), "wall_time_s": time.perf_counter() - t0,
            "data": data.source, "start": outcome.start, "device": device_info.to_dict(),
            "refinement": outcome.refined.summary(), "quality": outcome.quality,
            "ground_truth": outcome.ground_truth, "run_dir": str(out),
            "reconstruction": str(outcome.product) if outcome.product else None})
        write_json(plan.outputs["summary"], summary)
    report.run_finished(summary)
    return ReconstructionResult(out, outcome.status, outcome.product, outcome.pngs, summary)

