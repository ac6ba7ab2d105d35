"""One entry per run kind: :func:`run` (``kind``, one resolved configuration) -> its result.

The CLI's commands and the GUI's one engine job both call this; no surface composes a run
from parts of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..config import ResolvedConfig, SessionConfig
from ..reporting import Reporter, StopToken
from .plan import RUN_KINDS


def _entries() -> dict[str, Callable[..., Any]]:
    from .infer import infer_from_config
    from .reconstruct import reconstruct
    from .simulate import simulate
    from .train import resume, train

    return {"train": train, "resume": resume, "infer": infer_from_config,
            "reconstruct": reconstruct, "simulate": simulate}


def run(kind: str, config: SessionConfig | ResolvedConfig, reporter: Reporter | None = None,
        stop: StopToken | None = None) -> Any:
    """Run ``kind`` (:data:`engine.runs.RUN_KINDS`) with ``config``.

    Returns the kind's result (:class:`RunResult`, :class:`InferenceResult`,
    :class:`ReconstructionResult`, :class:`SimulationResult`).

    Raises
    ------
    ValueError
        An unknown kind.
    EngineError
        As the entry raises.
    """
    if kind not in RUN_KINDS:
        raise ValueError(f"unknown run kind {kind!r}; expected one of {', '.join(RUN_KINDS)}")
    return _entries()[kind](config, reporter=reporter, stop=stop)
