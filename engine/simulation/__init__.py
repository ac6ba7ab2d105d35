"""Synthetic ptychography datasets with known ground truth (uses torch for the forward model).

``simulate(config, out_dir)`` writes a dataset in every format; ``simulate_scan(config)`` keeps
it in memory. Objects, probes and scans come from :mod:`.objects`, :mod:`.probes` and
:mod:`.scans`; presets (``default``, ``tiny``, ``lowdose``) from :mod:`.presets`.
"""

from .objects import make_object
from .presets import PRESETS, apply_preset, preset_layer
from .probes import make_probe
from .scans import make_scan
from .simulate import (
    SimulatedScan,
    SimulationCancelled,
    SimulationResult,
    simulate,
    simulate_scan,
)

__all__ = [
    "PRESETS",
    "SimulatedScan",
    "SimulationCancelled",
    "SimulationResult",
    "apply_preset",
    "make_object",
    "make_probe",
    "make_scan",
    "preset_layer",
    "simulate",
    "simulate_scan",
]
