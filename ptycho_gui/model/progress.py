"""One progress bar and one ETA for a whole job, across its stages (no Qt).

A training job reports stage by stage ("train" per batch, then "stitch" and "align" per group),
each with its own counter and clock. :class:`JobProgress` turns those reports into one fraction,
one elapsed time since the job started and one estimate of the time left for *all* remaining
stages: a stage that has run uses its measured rate; a stage still to come uses a prior cost
per unit relative to the first stage's measured rate (:class:`StagePlan.relative_cost`). The
stages and their priors are the engine's run plan (:func:`engine.runs.run_plan`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.config import SessionConfig
from engine.reporting import Progress
from engine.runs import RUN_KINDS, run_plan


@dataclass
class StagePlan:
    """One stage of a job.

    Attributes
    ----------
    name
        The ``Progress.stage`` it counts ("train", "stitch", "align"...).
    units
        Units of work expected in the whole stage (None: learnt from its reports).
    relative_cost
        Prior seconds per unit as a multiple of the first stage's measured seconds per unit.
    repeats
        How many times the stage's counter runs from 0 to its total ("align" sweeps).
    """

    name: str
    units: float | None = None
    relative_cost: float = 1.0
    repeats: int = 1
    done: float = 0.0
    _first: tuple[float, float] | None = None  # (time, units done) of its first report
    _latest: float = 0.0
    _sweep: int = 0
    _last_done: float = 0.0
    _per_sweep: float | None = None

    @property
    def rate(self) -> float | None:
        """Seconds per unit measured since the stage's first report (None before two)."""
        if self._first is None:
            return None
        seconds, units = self._latest - self._first[0], self.done - self._first[1]
        return seconds / units if seconds > 0 and units > 0 else None


@dataclass
class JobEstimate:
    """What the status bar shows."""

    stage: str
    fraction: float | None
    elapsed_s: float
    eta_s: float | None


@dataclass
class JobProgress:
    """Folds stage reports into one fraction and one ETA for the whole job."""

    stages: list[StagePlan]
    clock: Callable[[], float] = time.monotonic
    start: float = field(default=0.0)
    _index: int = 0
    _first_epoch: int | None = None
    _shown: float | None = None

    def __post_init__(self) -> None:
        self.start = self.clock()

    def set_units(self, name: str, units: float) -> None:
        """Now known: ``units`` of work in stage ``name`` (per sweep for repeated ones)."""
        for stage in self.stages:
            if stage.name == name:
                stage._per_sweep = float(units)
                stage.units = float(units) * stage.repeats

    def update(self, progress: Progress) -> JobEstimate:
        """Take one stage report; the whole job's estimate."""
        now = self.clock()
        index = self._stage_index(progress.stage)
        if index is None:  # a stage nobody planned: show it, estimate with what is known
            return JobEstimate(progress.stage, self._fraction(now, self._eta(now)),
                               now - self.start, self._eta(now))
        for skipped in self.stages[self._index:index]:
            if skipped.units is not None:
                skipped.done = skipped.units  # a stage passed counts as done
        self._index = index
        stage = self.stages[index]
        stage.done = self._units_done(stage, progress)
        stage._latest = now
        if stage._first is None:
            stage._first = (now, stage.done)  # set-up time before it is not its rate
        eta = self._eta(now)
        return JobEstimate(progress.stage, self._fraction(now, eta), now - self.start, eta)

    # -- internals ------------------------------------------------------------------------
    def _stage_index(self, name: str) -> int | None:
        for i in range(self._index, len(self.stages)):
            if self.stages[i].name == name:
                return i
        return None

    def _units_done(self, stage: StagePlan, progress: Progress) -> float:
        if stage is self.stages[0] and progress.epoch is not None and progress.max_epochs \
                and progress.total:
            # Training: batches of all epochs (a resumed run starts at its first epoch).
            if self._first_epoch is None:
                self._first_epoch = progress.epoch
            epochs = progress.max_epochs - self._first_epoch
            stage.units = float(epochs * progress.total)
            return float((progress.epoch - self._first_epoch) * progress.total + progress.done)
        if progress.total:
            if stage._per_sweep != progress.total:
                stage._per_sweep = float(progress.total)
                stage.units = float(progress.total) * stage.repeats
            if progress.done < stage._last_done:
                stage._sweep += 1  # the counter restarted: the next sweep
            stage._last_done = progress.done
            return float(stage._sweep * progress.total + progress.done)
        return float(progress.done)

    def _base_rate(self) -> float | None:
        return next((s.rate / s.relative_cost for s in self.stages if s.rate is not None), None)

    def _eta(self, now: float) -> float | None:
        """Seconds left in all remaining stages (None: not known yet)."""
        left, complete = self._left()
        return left if complete else None

    def _left(self) -> tuple[float | None, bool]:
        """Seconds left in the stages that can be estimated, and whether that is all."""
        base = self._base_rate()
        left, complete = None, True
        for stage in self.stages[self._index:]:
            rate = stage.rate if stage.rate is not None else (
                base * stage.relative_cost if base is not None else None)
            if stage.units is None or rate is None:
                complete = False
                continue
            left = (left or 0.0) + max(0.0, stage.units - stage.done) * rate
        return left, complete

    def lower_bound(self) -> float | None:
        """Seconds left in the stages known so far, when the others are not known yet."""
        left, complete = self._left()
        return None if complete else left

    def _fraction(self, now: float, eta: float | None) -> float | None:
        """Time spent over time spent plus time left; it never goes back (a bar that jumps
        back when an estimate changes reads as lost work)."""
        elapsed = now - self.start
        if eta is None or elapsed + eta <= 0:
            return self._shown
        self._shown = max(self._shown or 0.0, min(1.0, elapsed / (elapsed + eta)))
        return self._shown


def plan_for(kind: str, config: SessionConfig) -> list[StagePlan]:
    """The stages of a ``kind`` job with ``config`` and the prior cost of each: the engine's
    run plan (:func:`engine.runs.run_plan`, the one the command line's bars number)."""
    if kind not in RUN_KINDS:
        return [StagePlan(kind)]
    return [StagePlan(stage.name, relative_cost=stage.relative_cost, repeats=stage.repeats)
            for stage in run_plan(kind, config).stages]
