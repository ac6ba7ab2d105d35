"""The one reconstruction pipeline of ``train``, ``infer`` and ``reconstruct``.

    initial object (network | file | flat) -> align -> solve -> write -> score

- **initial object**: the network's stitched estimate (``train``, ``infer``: made by the
  workflow, which owns the network), the object of a product file (:func:`start_from_file`)
  or a flat ``1 + 0j`` object (:func:`flat_start`);
- **align**: the start brought onto the data's object grid (:func:`align_start`: centred
  crop or pad, unseen pixels flat);
- **solve**: :func:`engine.runs.refinement.refine_stage` (the solver of
  ``refinement.algorithm``; ``refinement.epochs = 0`` keeps the start);
- **write**: the ptychodus product and its two PNG pictures, atomically;
- **score**: against a ground truth found next to the data (:mod:`engine.metrics.truth`),
  only for a completed run (a Stop is not kept waiting).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import SessionConfig
from ..errors import DataError
from ..reporting import Reporter, StopToken
from .refinement import RefinedObject, refine_stage

START_KINDS = ("network", "file", "flat")


@dataclass
class Start:
    """Where the solver starts.

    Attributes
    ----------
    kind
        "network", "file" or "flat".
    obj, mask
        complex64 ``(H, W)`` start (NaN where unknown) and its mask; None: flat.
    probe
        complex64 ``(modes, N, N)`` starting probe.
    source
        Words for logs and summaries ("the network's stitched estimate", a file path).
    seconds
        Wall time that made the start (the network's stitching; 0 for a file or flat).
    """

    kind: str
    obj: np.ndarray | None
    mask: np.ndarray | None
    probe: np.ndarray
    source: str = ""
    seconds: float = 0.0


@dataclass
class Outcome:
    """What the pipeline made.

    Attributes
    ----------
    refined
        The solver stage's result (object, mask, probe, positions, summary).
    status
        "completed" or "cancelled".
    product, pngs
        The files written (None when nothing was written).
    quality, ground_truth
        Scores against the ground truth and where it came from (None: none found, or the
        run did not complete).
    stages
        Per stage, ``{"start": ..., "solver": ...}``: ``seconds`` always, ``quality``
        (``{"amplitude_ssim", "phase_ssim"}``) where a ground truth is known (see
        :func:`stage_table`).
    """

    refined: RefinedObject
    status: str
    product: Path | None = None
    pngs: tuple[Path, Path] | None = None
    quality: dict[str, Any] | None = None
    ground_truth: str | None = None
    start: dict[str, str] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)


def flat_start(data: Any) -> Start:
    """A flat ``1 + 0j`` object with the data's probe."""
    return Start("flat", None, None, np.asarray(data.probe, np.complex64), "a flat object")


def start_from_file(path: str | os.PathLike[str], data: Any) -> Start:
    """The object of the ptychodus product ``path``, aligned onto ``data``'s object grid,
    with the data's probe.

    Raises
    ------
    DataError
        The file cannot be read as a product, or its object is not 2-D.
    """
    from ..io import read_product

    product = read_product(path)
    obj = np.asarray(product.object_masked)
    if obj.ndim == 3:  # one layer of a multi-slice object
        obj = obj[0]
    if obj.ndim != 2:
        raise DataError(f"{path}: reconstruct.object_path: expected a 2-D object, found "
                        f"shape {obj.shape}")
    return Start("file", obj.astype(np.complex64), np.isfinite(obj),
                 np.asarray(data.probe, np.complex64), str(path))


def align_start(start: Start, shape: tuple[int, int]) -> Start:
    """``start`` on an object grid of ``shape``: centred crop or pad, pixels it does not
    cover start flat (``1 + 0j``, outside the mask)."""
    if start.obj is None or tuple(start.obj.shape) == tuple(shape):
        return start
    obj = np.ones(shape, np.complex64)
    mask = np.zeros(shape, bool)
    src = start.obj
    rows, cols = min(shape[0], src.shape[0]), min(shape[1], src.shape[1])
    r0, c0 = (shape[0] - rows) // 2, (shape[1] - cols) // 2
    s0, t0 = (src.shape[0] - rows) // 2, (src.shape[1] - cols) // 2
    patch = src[s0:s0 + rows, t0:t0 + cols]
    seen = np.isfinite(patch)
    obj[r0:r0 + rows, c0:c0 + cols] = np.where(seen, patch, 1.0)
    mask[r0:r0 + rows, c0:c0 + cols] = seen
    return Start(start.kind, obj, mask, start.probe, start.source, start.seconds)


def solve_write_score(data: Any, start: Start, session: SessionConfig, *, device: Any,
                      reporter: Reporter, stop: StopToken | None,
                      product: Path | None, pngs: tuple[Path, Path] | None, name: str,
                      comments: str, data_source: str, write_cancelled: bool = False,
                      loss: tuple[Any, Any] | None = None,
                      solve: bool = True, score: bool = True) -> Outcome:
    """Align ``start``, solve, write ``product`` (and ``pngs``), score.

    Parameters
    ----------
    data
        The loaded :class:`engine.io.PtychoData`.
    start
        The initial object (:class:`Start`).
    product, pngs
        Files to write (None: nothing is written, the object is only returned).
    name, comments
        The product's name and comments.
    data_source
        The data's path (the ground truth is looked for next to it).
    write_cancelled
        Write the files of a cancelled run too (training writes its live estimate).
    loss
        ``(epochs, values)`` of the training loss, stored in the product.
    solve
        False: the stage is skipped (a run already cancelled keeps its start).
    score
        False: no comparison with a ground truth.
    """
    from ..io import write_product
    from ..metrics.truth import find_ground_truth, quality
    from ..render import write_object_pngs

    start = align_start(start, tuple(data.object_shape))
    if solve:
        refined = refine_stage(data, start.obj, start.mask, start.probe, session, device,
                               reporter, stop)
    else:
        obj = start.obj if start.obj is not None else np.ones(data.object_shape, np.complex64)
        mask = start.mask if start.mask is not None else np.ones(data.object_shape, bool)
        refined = RefinedObject(obj=obj, mask=mask, probe=start.probe,
                                positions=np.asarray(data.positions, np.float64),
                                completed=False)
    status = "completed" if refined.completed else "cancelled"
    outcome = Outcome(refined, status, start={"kind": start.kind, "source": start.source})
    if product is not None and (status == "completed" or write_cancelled):
        positions = refined.positions if refined.positions is not None else data.positions
        extra: dict[str, Any] = {}
        if loss is not None:
            extra = {"loss_epochs": np.asarray(loss[0], np.int64),
                     "loss_values": np.asarray(loss[1], np.float64)}
        outcome.product = write_product(
            product, obj=refined.obj, probe=refined.probe, positions_px=positions,
            object_pixel_size_m=data.object_pixel_size_m, geometry=data.geometry,
            indexes=data.indexes, mask=refined.mask, name=name, comments=comments,
            probe_scale_factor=data.probe_scale_factor, **extra)
        if pngs is not None:
            outcome.pngs = write_object_pngs(refined.obj, *pngs,
                                             pixel_size_m=data.object_pixel_size_m)
    start_quality = None
    if status == "completed" and score:
        truth = find_ground_truth(data_source, data.metadata, data.object_guess)
        if truth is not None:
            outcome.quality = quality(refined.obj, truth[0], data.probe, data.positions)
            outcome.ground_truth = truth[1]
            if outcome.quality is None:
                reporter.log("warning", f"could not compare with {truth[1]}")
            else:
                scores = outcome.quality
                reporter.log("info", f"quality against {truth[1]}: amplitude SSIM "
                             f"{scores['amplitude']['ssim']:.3f}, phase SSIM "
                             f"{scores['phase']['ssim']:.3f}")
            if start.obj is not None and solve:
                start_obj = np.where(np.isfinite(start.obj), start.obj, 1.0)
                start_quality = quality(start_obj.astype(np.complex64), truth[0], data.probe,
                                        data.positions)
    outcome.stages = {
        "start": {"kind": start.kind, "seconds": float(start.seconds),
                  "quality": _ssims(start_quality)},
        "solver": {"seconds": float(refined.seconds), "epochs": int(refined.epochs),
                   "quality": _ssims(outcome.quality)}}
    reporter.log("info", "stages: " + stage_table(outcome.stages))
    return outcome


def _ssims(scores: dict[str, Any] | None) -> dict[str, float] | None:
    if scores is None:
        return None
    return {"amplitude_ssim": float(scores["amplitude"]["ssim"]),
            "phase_ssim": float(scores["phase"]["ssim"])}


def stage_table(stages: dict[str, dict[str, Any]]) -> str:
    """One line: every stage's time and, where known, its amplitude / phase SSIM, e.g.
    ``network 12.3 s (0.502 / 0.617); solver 1.1 s, 8 epochs (0.966 / 0.985)``."""
    parts = []
    for name, stage in stages.items():
        label = stage.get("kind", name) if name == "start" else name
        text = f"{label} {stage['seconds']:.1f} s"
        if stage.get("epochs"):
            text += f", {stage['epochs']} epochs"
        scores = stage.get("quality")
        if scores:
            text += f" ({scores['amplitude_ssim']:.3f} / {scores['phase_ssim']:.3f})"
        parts.append(text)
    return "; ".join(parts)
