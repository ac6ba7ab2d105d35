"""A run's quality as the results area states it (Qt-free): per stage (prior, network,
solver) its time and its amplitude / phase SSIM against the ground truth, and the final
misfit against its Poisson noise floor, with the engine's hint when it is far above.

Read from a run's ``summary.json`` (``stages``, ``refinement``) or an inference result's
``to_dict()`` (``stages`` only: inference writes no misfit).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGE_ORDER = ("prior", "start", "network", "solver")
"""Stages in pipeline order; others follow in the summary's order."""


@dataclass(frozen=True)
class StageQuality:
    """One stage: its name ("network", "solver", or the start's kind), seconds, solver
    epochs and SSIMs (None where not measured)."""

    name: str
    seconds: float | None = None
    epochs: int | None = None
    amplitude_ssim: float | None = None
    phase_ssim: float | None = None

    def text(self) -> str:
        """``"network 12.3 s, SSIM 0.502 / 0.617"``."""
        parts = [self.name]
        if self.seconds is not None:
            parts.append(f"{self.seconds:.1f} s")
        if self.epochs:
            parts[-1] += f", {self.epochs} epochs"
        if self.amplitude_ssim is not None and self.phase_ssim is not None:
            parts[-1] += f", SSIM {self.amplitude_ssim:.3f} / {self.phase_ssim:.3f}"
        return " ".join(parts)


@dataclass(frozen=True)
class RunQuality:
    """What the results area shows of a finished run.

    Attributes
    ----------
    stages
        In pipeline order.
    misfit, noise_floor, ratio
        The kept state's Poisson deviance per good pixel, its expectation for a perfect model
        (the noise floor) and their ratio (None: not measured, e.g. an inference).
    hint
        The engine's sentence on what to try when the ratio is far above 1 ("" otherwise).
    """

    stages: list[StageQuality] = field(default_factory=list)
    misfit: float | None = None
    noise_floor: float | None = None
    ratio: float | None = None
    hint: str = ""

    @property
    def stages_text(self) -> str:
        """``"Stages (amplitude / phase SSIM): network ... → solver ..."`` ("" without)."""
        if not self.stages:
            return ""
        scored = any(s.amplitude_ssim is not None for s in self.stages)
        head = "Stages (amplitude / phase SSIM against the truth)" if scored else "Stages"
        return f"{head}: " + " → ".join(stage.text() for stage in self.stages)

    @property
    def misfit_text(self) -> str:
        """``"Final misfit 2.56 per pixel = 2.50 x the Poisson noise floor 1.02"`` plus the
        hint ("" when not measured)."""
        if self.misfit is None:
            return ""
        text = f"Final misfit {self.misfit:.4g} per pixel"
        if self.ratio is not None and self.noise_floor is not None:
            text += f" = {self.ratio:.2f} × the Poisson noise floor {self.noise_floor:.4g}"
            if not self.hint:
                text += " (fitted to the photon noise)" if self.ratio <= 1.1 else ""
        if self.hint:
            text += f": {self.hint}"
        return text

    @property
    def far_above_floor(self) -> bool:
        """The engine gave a hint: the misfit is far above its noise floor."""
        return bool(self.hint)


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _stage(name: str, entry: Mapping[str, Any]) -> StageQuality:
    raw = entry.get("quality")
    scores: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    label = str(entry.get("kind") or name) if name == "start" else name
    epochs = _number(entry.get("epochs"))
    return StageQuality(label, _number(entry.get("seconds")),
                        int(epochs) if epochs is not None else None,
                        _number(scores.get("amplitude_ssim")), _number(scores.get("phase_ssim")))


def run_quality(summary: Mapping[str, Any] | None) -> RunQuality | None:
    """The quality of a run from its summary (None when it holds neither stages nor a
    misfit)."""
    if not isinstance(summary, Mapping):
        return None
    raw = summary.get("stages")
    stages_in = raw if isinstance(raw, Mapping) else {}
    names = [n for n in STAGE_ORDER if n in stages_in]
    names += [n for n in stages_in if n not in names]
    stages = [_stage(str(n), stages_in[n]) for n in names if isinstance(stages_in[n], Mapping)]
    solve = summary.get("refinement")
    solve = solve if isinstance(solve, Mapping) else {}
    misfit = _number(solve.get("misfit"))
    if not stages and misfit is None:
        return None
    return RunQuality(stages=stages, misfit=misfit, noise_floor=_number(solve.get("noise_floor")),
                      ratio=_number(solve.get("misfit_ratio")),
                      hint=str(solve.get("hint") or ""))


def read_summary(path: Path) -> dict[str, Any]:
    """A run folder's ``summary.json`` as a dict (empty when absent or unreadable: the Runs
    panel already names a damaged file)."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}
