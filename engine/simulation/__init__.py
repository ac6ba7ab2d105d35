"""Synthetic ptychography datasets with known ground truth (uses torch for the forward model).

``simulate_scan(config)`` keeps a dataset in memory; :func:`engine.simulate` (the workflow in
:mod:`engine.runs.simulate`) writes it in every format (:mod:`.outputs`). Objects, probes and
scans come from :mod:`.objects`, :mod:`.probes` and :mod:`.scans`; presets live in
:mod:`engine.config.presets`.
"""

from .objects import make_object
from .outputs import write_outputs
from .probes import make_probe
from .scans import make_scan
from .simulate import SimulatedScan, SimulationCancelled, place_scan, simulate_scan

__all__ = [
    "SimulatedScan",
    "SimulationCancelled",
    "make_object",
    "make_probe",
    "make_scan",
    "place_scan",
    "simulate_scan",
    "write_outputs",
]
