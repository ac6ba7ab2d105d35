"""The network and its inference-time reconstruction (torch, no Lightning).

:class:`PINN` (generator + physics decoder), its :class:`Normalisers`, the generator registry
:data:`GENERATORS` / :func:`build_generator`, and :func:`reconstruct` (a trained network over a
whole scan, stitched into one object). ``reconstruct`` batches with the training data set and
reports faults like training does, so it loads :mod:`engine.training` on first use (PEP 562)
rather than at import: the two packages never import each other in a circle.
"""

from __future__ import annotations

import importlib
from typing import Any

from .generators import GENERATORS, build_generator, count_parameters
from .pinn import PINN, Normalisers

_LAZY = {"reconstruct": "engine.model.reconstruct", "Stitched": "engine.model.reconstruct"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.model' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "GENERATORS",
    "Normalisers",
    "PINN",
    "Stitched",
    "build_generator",
    "count_parameters",
    "reconstruct",
]
