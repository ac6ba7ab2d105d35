"""The simulate workflow: simulate a scan, write it in every format (``dataset.npz``,
``product.h5``, ``diffraction.h5``, ``truth.h5``) and report progress."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import ResolvedConfig, SessionConfig, apply_preset
from ..config.validation import path_issues
from ..errors import ConfigError
from ..locks import open_output_folder
from ..reporting import Reporter, StopToken
from .common import as_resolved

if TYPE_CHECKING:
    from ..simulation.simulate import SimulatedScan


@dataclass
class SimulationResult:
    """What :func:`simulate` wrote.

    Attributes
    ----------
    status
        ``"completed"`` or ``"cancelled"`` (then nothing was written).
    out_dir
        The output folder.
    files
        ``{"dataset": .npz, "product": product.h5, "diffraction": diffraction.h5,
        "truth": truth.h5}`` (empty when cancelled).
    scan
        The simulated data in memory (``None`` when cancelled).
    sources
        Where each setting came from (``"preset tiny"``, ``"base"``...).
    elapsed_s
        Wall time.
    """

    status: str
    out_dir: Any
    files: dict[str, Any] = field(default_factory=dict)
    scan: SimulatedScan | None = None
    sources: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0


def simulate(
    config: SessionConfig | ResolvedConfig,
    out_dir: Any = None,
    reporter: Reporter | None = None,
    stop: StopToken | None = None,
    preset: str | None = None,
    *,
    object_seed: int | None = None,
) -> SimulationResult:
    """Simulate a dataset and write it in every format into ``out_dir``.

    Writes ``dataset.npz`` (PtychoPINN: counts, ``objectGuess`` = ground truth, ``_metadata``
    JSON), ``diffraction.h5`` next to ``product.h5`` (ptychodus standard layout: true probe and
    positions, flat initial object) and ``truth.h5`` (the product with the true object).
    Files are byte-identical for identical settings.

    Parameters
    ----------
    config
        Resolved settings (``simulation`` section and ``model.N``); a bare SessionConfig from
        the API is resolved once.
    out_dir
        Output folder (created; one holding files is refused unless
        ``simulation.overwrite``; locked against other writers while written); None (the
        run-kind entry): ``simulation.output_dir``.
    reporter, stop
        Progress reporting and cooperative cancellation.
    preset
        A preset name (``default``, ``tiny``, ``lowdose``) applied over ``config``.
    object_seed
        See :func:`simulate_scan`.
    """
    from ..simulation.outputs import write_outputs
    from ..simulation.simulate import SimulationCancelled, simulate_scan

    started = time.monotonic()
    resolved = as_resolved(config, "simulate")
    if preset is not None:
        resolved = apply_preset(resolved.config, preset)
    config, sources = resolved.config, dict(resolved.sources)
    out = Path(os.path.abspath(os.fspath(out_dir if out_dir is not None
                                         else config.simulation.output_dir)))
    issues = path_issues("simulate --out", os.fspath(out), output=True)
    if issues:  # refused before anything is made
        raise ConfigError(issues)
    reporter = reporter or Reporter()
    sim = config.simulation
    reporter.run_started({"stage": "simulate", "out_dir": str(out), "n_positions":
                          sim.n_positions, "N": config.model.N, "seed": sim.seed,
                          "preset": preset})
    with open_output_folder(out, "simulate", overwrite=sim.overwrite,
                            setting="simulation.overwrite", flag="--overwrite"):
        try:
            scan = simulate_scan(config, object_seed=object_seed, reporter=reporter, stop=stop)
        except SimulationCancelled:
            result = SimulationResult("cancelled", out, sources=sources,
                                      elapsed_s=time.monotonic() - started)
            reporter.run_finished({"status": "cancelled", "elapsed_s": result.elapsed_s})
            return result
        files = write_outputs(scan, out, config)
    result = SimulationResult("completed", out, files=files, scan=scan, sources=sources,
                              elapsed_s=time.monotonic() - started)
    reporter.run_finished({"status": "completed", "elapsed_s": result.elapsed_s,
                           "files": {k: str(v) for k, v in files.items()},
                           "n_patterns": scan.n_patterns})
    return result
