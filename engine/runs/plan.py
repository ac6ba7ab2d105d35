"""The run plan: the stages a run kind goes through, their prior cost, and its outputs.

One source for every surface that shows a run's progress: the CLI's progress bars number the
stages from it (``[2/3] stitch``) and the GUI's one-bar progress and ETA
(``ptycho_gui.progress.JobProgress``) weighs the stages with it. Pure Python (no torch), so
a plan is known before a run starts.

A stage's ``relative_cost`` is its prior seconds per unit as a multiple of the first stage's
measured seconds per unit; once a stage has run, its own measured rate replaces the prior.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import ResolvedConfig, SessionConfig

RUN_KINDS = ("train", "resume", "infer", "reconstruct", "simulate")
"""The run kinds of :mod:`engine.runs`, each one entry taking one resolved configuration."""

FORWARD_SHARE = 1.0 / 3.0
"""Cost of a forward pass of the network relative to a training step (forward + backward),
per group: the prior for stitching before it has been measured (measured on the CPU with
the tiny preset: 0.07 of a training batch of 16 groups per stitched group, prior 0.10)."""

ALIGN_SHARE = 0.05
"""Cost of an alignment sweep per group relative to the first stitching sweep: the network's
patches are cached, only the stitcher runs (measured on the CPU, tiny preset: 0.054)."""

REFINE_SHARE = 3e-4
"""Cost of one pattern update of the full-object solver relative to a training batch of 16
groups (measured on the CPU with the default session on a 576-pattern scan: ~0.14 ms per
pattern update, ~0.47 s per training batch); it is divided by the batch size like stitching."""

REFINE_SHARE_INFER = 3e-3
"""The same per pattern update relative to one group of the network at inference (~50 ms on
the CPU at gridsize 3)."""


@dataclass(frozen=True)
class Stage:
    """One stage of a run.

    Attributes
    ----------
    name
        The ``Progress.stage`` its reports carry ("train", "stitch", "align", "refine"...).
    unit
        What its counter counts ("batch", "group", "pattern").
    relative_cost
        Prior seconds per unit relative to the first stage's measured seconds per unit.
    repeats
        How many times its counter runs from 0 to its total (alignment sweeps).
    """

    name: str
    unit: str
    relative_cost: float = 1.0
    repeats: int = 1


@dataclass(frozen=True)
class RunPlan:
    """What a run will do and write, known from its configuration alone.

    Attributes
    ----------
    kind
        One of :data:`RUN_KINDS`.
    stages
        In order.
    outputs
        ``{name: absolute path}`` of what it writes (a folder for train/simulate/reconstruct,
        the product and its pictures for infer).
    """

    kind: str
    stages: tuple[Stage, ...]
    outputs: dict[str, Path] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    def position(self, name: str) -> tuple[int, int] | None:
        """``(i, n)``: stage ``name`` is the i-th of n (1-based); None when not planned."""
        for i, stage in enumerate(self.stages, start=1):
            if stage.name == name:
                return i, len(self.stages)
        return None


def run_plan(kind: str, config: SessionConfig | ResolvedConfig) -> RunPlan:
    """The plan of a ``kind`` run (:data:`RUN_KINDS`) with ``config``.

    Raises
    ------
    ValueError
        An unknown kind.
    """
    cfg = config.config if isinstance(config, ResolvedConfig) else config
    inference = cfg.inference
    sweeps = max(0, int(inference.alignment_passes))
    per_group = FORWARD_SHARE * (1 + max(0, int(inference.refine_iterations)))
    solve = int(cfg.refinement.epochs) > 0
    if kind in ("train", "resume"):
        # A training unit is a batch of `batch_size` groups; stitching counts groups.
        batch = max(1, int(cfg.training.batch_size))
        stitch = per_group / batch
        stages = [Stage("train", "batch"), Stage("stitch", "group", stitch)]
        if sweeps:
            stages.append(Stage("align", "group", stitch * ALIGN_SHARE, sweeps))
        if solve:
            stages.append(Stage("refine", "pattern", REFINE_SHARE * 16 / batch))
        run = Path(cfg.training.output_dir)
        return RunPlan(kind, tuple(stages), _folder_outputs(run, run=True))
    if kind == "infer":
        stages = [Stage("infer", "group")]
        if sweeps:
            stages.append(Stage("align", "group", ALIGN_SHARE, sweeps))
        if solve:
            stages.append(Stage("refine", "pattern", REFINE_SHARE_INFER))
        return RunPlan(kind, tuple(stages), _product_outputs(cfg))
    if kind == "reconstruct":
        return RunPlan(kind, (Stage("refine", "pattern"),),
                       _folder_outputs(Path(cfg.reconstruct.output_dir), run=False))
    if kind == "simulate":
        return RunPlan(kind, (Stage("simulate", "pattern"),),
                       {"folder": Path(cfg.simulation.output_dir)}
                       if getattr(cfg.simulation, "output_dir", "") else {})
    raise ValueError(f"unknown run kind {kind!r}; expected one of {', '.join(RUN_KINDS)}")


def _folder_outputs(folder: Path, *, run: bool) -> dict[str, Path]:
    from ..runs_index import PROVENANCE, RECONSTRUCTION, SESSION, SUMMARY

    outputs = {"folder": folder, "reconstruction": folder / RECONSTRUCTION,
               "amplitude_png": folder / "amplitude.png", "phase_png": folder / "phase.png",
               "session": folder / SESSION, "provenance": folder / PROVENANCE,
               "summary": folder / SUMMARY}
    if run:
        outputs["checkpoints"] = folder / "checkpoints"
    return outputs


def _product_outputs(cfg: SessionConfig) -> dict[str, Path]:
    if not cfg.inference.output:
        return {}
    from ..render import png_paths

    product = Path(cfg.inference.output)
    outputs = {"reconstruction": product}
    if cfg.inference.export_png:
        outputs["amplitude_png"], outputs["phase_png"] = png_paths(product)
    return outputs
