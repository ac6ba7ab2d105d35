"""Iterative ptychography solvers behind one protocol and one registry (physics.md §8b).

Every solver refines the whole object -- and, as the settings ask, the probe and its
incoherent modes, the scan positions and a detector background -- against every measured
pattern, honouring the detector mask in every term. They share the data handling, the
forward model, the whole-scan misfit, the stopping rule and the result
(:mod:`engine.solvers.base`, :mod:`engine.solvers.driver`); each differs only in its update
(``_step``):

- ``lsqml`` (the default): :mod:`engine.solvers.lsqml`, options section ``lsqml``
  (:class:`~engine.config.LsqmlConfig`);
- ``rpie`` (rPIE / ePIE): :mod:`engine.solvers.rpie`, options section ``rpie``
  (:class:`~engine.config.RpieConfig`);
- ``gradient`` (automatic differentiation, Adam): :mod:`engine.solvers.gradient`, options
  section ``gradient`` (:class:`~engine.config.GradientConfig`).

The contract for the run workflows (``train``, ``infer``, ``reconstruct``, ``bench``)
--------------------------------------------------------------------------------------
Call :func:`engine.runs.refinement.refine_stage` with a loaded
:class:`engine.io.PtychoData` and the session::

    refined = refine_stage(data, obj, mask, probe, session, device, reporter, stop,
                           stage="refine", job_share=None, positions=None)

``obj`` is the starting object (the network's stitched estimate, an object read from a file,
or ``None`` for a flat ``1 + 0j`` start; ``mask`` may then be ``None`` too), ``probe`` the
starting probe (``data.probe`` for a solver-only run). It picks ``refinement.algorithm`` from
:data:`SOLVERS`, its options from the session section of the same name, the modes from
``probe.modes``, and returns a :class:`engine.runs.refinement.RefinedObject` whose
``obj``/``mask``/``probe``/``positions`` the product is written from (``positions`` are the
refined ones; the nominal ones stay in ``data.positions``), with ``summary()`` for the run
summary (algorithm, chosen epoch and stop reason, misfit against its Poisson noise floor,
hint, mode powers, position RMS change) and ``describe()`` for the log. ``refinement.epochs
= 0`` returns the start unchanged.

Lower level, without a session: :func:`solve` (arrays in, :class:`SolveResult` out), or
``SOLVERS[name](...)`` and :func:`run_solver` to step epochs yourself.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ..reporting import Reporter, StopToken
from .base import IterativeSolver, effective_smoothness
from .driver import STOP_REASONS, SolveResult, run_solver
from .gradient import GradientSolver
from .lsqml import LsqmlSolver
from .noise import expected_deviance, misfit_hint
from .rpie import RpieSolver

SOLVERS = MappingProxyType({cls.name: cls for cls in (LsqmlSolver, RpieSolver, GradientSolver)})
"""``refinement.algorithm`` -> solver class (read-only)."""


def get_solver(name: str) -> type[IterativeSolver]:
    """The solver class of ``name``; ValueError naming the known ones otherwise."""
    try:
        return SOLVERS[name]
    except KeyError:
        raise ValueError(f"refinement.algorithm: expected one of {tuple(SOLVERS)}, found "
                         f"{name!r}") from None


def solve(patterns: Any, positions: Any, probe: Any, object_shape: tuple[int, int],
          settings: Any, *, seed: int, options: Any = None, initial: Any = None,
          bad_pixels: Any = None, modes: int | None = None, device: Any = "cpu",
          reporter: Reporter | None = None, stop: StopToken | None = None,
          stage: str = "refine", job_share: tuple[float, float] | None = None,
          algorithm: str | None = None) -> SolveResult:
    """Reconstruct with ``algorithm`` (default ``settings.algorithm``) from arrays.

    ``settings`` is a :class:`engine.config.RefinementConfig`, ``options`` the algorithm's
    own section (None: its defaults); the other arguments are those of
    :class:`~engine.solvers.base.IterativeSolver` and :func:`run_solver`.
    """
    import time

    t0 = time.perf_counter()
    cls = get_solver(str(algorithm or getattr(settings, "algorithm", "lsqml")))
    solver = cls(patterns, positions, probe, object_shape, settings, options, seed=seed,
                 initial=initial, bad_pixels=bad_pixels, modes=modes, device=device)
    return run_solver(solver, reporter=reporter, stop=stop, stage=stage, job_share=job_share,
                      t0=t0)


__all__ = [
    "SOLVERS",
    "STOP_REASONS",
    "GradientSolver",
    "IterativeSolver",
    "LsqmlSolver",
    "RpieSolver",
    "SolveResult",
    "effective_smoothness",
    "expected_deviance",
    "get_solver",
    "misfit_hint",
    "run_solver",
    "solve",
]
