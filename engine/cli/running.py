"""How the CLI runs a run kind: one call of :func:`engine.runs.run` with a resolved
configuration, progress bars numbered from the engine's run plan, and Ctrl-C.

Ctrl-C during a run asks it to stop cleanly (a training run is written with status
"cancelled" and a usable last.ckpt); a second Ctrl-C aborts at once. While torch and
Lightning load, Ctrl-C ends the process at once (nothing has been made yet).
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from ..config import ResolvedConfig
from ..reporting import Progress, TqdmReporter


def run_kind(kind: str, resolved: ResolvedConfig, entry: Any = None) -> Any:
    """Run ``kind`` with ``resolved`` (:func:`engine.runs.run`): planned progress bars,
    Ctrl-C as a clean stop, Lightning's banners hidden. Returns the run's result.

    ``entry(resolved, reporter, stop)`` replaces the kind's own entry (a beamtime
    training is planned as a training)."""
    from ..runs import run, run_plan
    from ..runs.entries import followed

    load_heavy_modules()
    reporter = PlanReporter(run_plan(kind, resolved),
                            enabled=resolved.config.execution.progress_bar)
    stop = threading.Event()
    try:
        with interrupt_sets(stop), quiet_lightning():
            if entry is not None:  # the run folder's live preview, as run() keeps it
                with followed(kind, resolved, reporter) as teed:
                    return entry(resolved, teed, stop)
            return run(kind, resolved, reporter, stop)
    finally:
        reporter.close()


class PlanReporter(TqdmReporter):
    """Progress bars labelled with the stage's place in the run plan: ``[2/3] stitch``."""

    def __init__(self, plan: Any, enabled: bool = True, stream: Any = None) -> None:
        super().__init__(enabled=enabled, stream=stream)
        self.plan = plan

    def progress(self, progress: Progress) -> None:
        place = self.plan.position(progress.stage)
        if place is not None and len(self.plan.stages) > 1:
            progress = dataclasses.replace(progress,
                                           stage=f"[{place[0]}/{place[1]}] {progress.stage}")
        super().progress(progress)


@contextlib.contextmanager
def interrupt_sets(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C sets ``stop`` (clean cancel); the second raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after the current step (Ctrl-C again to abort)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Keep the terminal to our own progress bars and messages.

    Lightning's banner lines ("GPU available...", tips) and two known-harmless warnings (a
    small-epoch logging-interval notice, a torch pytree deprecation inside Lightning) are
    hidden; every other warning still shows.
    """
    import logging
    import warnings

    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*smaller than the logging interval")
            warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec.*")
            # A beamtime stream is an IterableDataset of known length (one share per worker).
            warnings.filterwarnings("ignore", message=r".*IterableDataset. has .__len__.")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def load_heavy_modules() -> None:
    """Import torch, Lightning and the run machinery before Ctrl-C becomes a clean stop.

    These imports take seconds on a busy machine and cannot look at a stop request; while
    they run a Ctrl-C ends the process at once (nothing has been made yet).
    """
    with interrupt_ends_at_once():
        from ..model import (
            pinn,  # noqa: F401  (torch)
            reconstruct,  # noqa: F401
        )
        from ..training import callbacks, setup, trainer  # noqa: F401  (Lightning)


@contextlib.contextmanager
def interrupt_ends_at_once() -> Iterator[None]:
    """Ctrl-C ends the process at once (the system's default action), also inside the long C
    calls of an import, which delay Python's own handler by seconds."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
