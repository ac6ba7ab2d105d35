"""One entry per run kind: :func:`run` (``kind``, one resolved configuration) -> its result.

The CLI's commands and the GUI's one engine job both call this; no surface composes a run
from parts of its own. A run with a reporter and a run folder (:data:`LIVE_KINDS`) also keeps
its newest preview frame there (:mod:`engine.live_preview`), whoever started it, so any
process can follow it; the file goes when the run ends.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..config import ResolvedConfig, SessionConfig
from ..live_preview import with_live_preview
from ..reporting import Reporter, StopToken
from .plan import RUN_KINDS, run_plan

LIVE_KINDS = ("train", "resume", "reconstruct")
"""The kinds whose preview frames :func:`run` keeps in their run folder as
``live/preview.npz``, for a window following the folder from elsewhere."""


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
    with followed(kind, config, reporter) as teed:
        return _entries()[kind](config, reporter=teed, stop=stop)


@contextlib.contextmanager
def followed(kind: str, config: SessionConfig | ResolvedConfig,
             reporter: Reporter | None) -> Iterator[Reporter | None]:
    """``reporter`` teed to the live preview file of a ``kind`` run's folder for the run's
    length (:mod:`engine.live_preview`); the file is removed when the run ends. ``reporter``
    itself for the kinds without a run folder, or without a reporter."""
    reporter, live = with_live_preview(reporter, _run_folder(kind, config),
                                       _settings(config).execution.preview_interval_s)
    try:
        yield reporter
    finally:
        if live is not None:
            live.close()


def _settings(config: SessionConfig | ResolvedConfig) -> SessionConfig:
    return config.config if isinstance(config, ResolvedConfig) else config


def _run_folder(kind: str, config: SessionConfig | ResolvedConfig) -> Path | None:
    """The folder a followed run keeps its live preview in (:mod:`engine.live_preview`): the
    run folder of a training and of a reconstruction; None for the other kinds (an inference
    writes a product file, a simulation makes no preview)."""
    if kind not in LIVE_KINDS:
        return None
    return Path(os.path.abspath(run_plan(kind, config).outputs["folder"]))
