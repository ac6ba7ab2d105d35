"""The simulator: object, probe and scan generators, the one forward model, Poisson noise.

Every random choice comes from ``simulation.seed`` through independent streams (object, probe,
scan, noise: ``numpy.random.SeedSequence(seed).spawn``), so changing the object stream
(``object_seed``) gives a different object under the same probe and scan. The far field comes
from :mod:`engine.physics` (``extract_patches`` + ``forward_intensity``), the same forward model
the network trains with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import SessionConfig, SimulationConfig
from ..config.validation import ConfigIssue
from ..errors import ConfigError, DataError
from ..io.geometry import Geometry
from ..reporting import Clock, Reporter, StopToken, Throttle, stop_requested
from .objects import make_object
from .probes import make_probe
from .scans import make_scan

OBJECT_MARGIN_PX = 4
"""Border between the outermost window and the object edge (whole pixels)."""
FORWARD_CHUNK = 256
"""Patterns per forward-model batch (bounds memory, sets the progress granularity)."""
STREAMS = ("object", "probe", "scan", "noise")
SIMULATED_N = 64
"""Pattern size of a simulation when ``model.N`` is 0 ("the data's size": there are none)."""


class SimulationCancelled(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by :func:`simulate_scan` when its stop token is set (``simulate`` catches it)."""


@dataclass
class SimulatedScan:
    """A simulated experiment in memory.

    Attributes
    ----------
    obj
        ``(H, W)`` complex64 ground-truth object.
    probe
        ``(1, N, N)`` complex64 probe, scaled so the forward model predicts counts.
    positions
        ``(M, 2)`` float64 window centres ``(x, y)`` in object pixels.
    counts
        ``(M, N, N)`` float32 Poisson counts.
    geometry
        Energy, distance, detector pixel and the object pixel ``lambda z / (N p)``.
    photons_per_pattern
        Mean total expected counts per pattern (equals the setting unless a probe was given).
    seed, object_seed
        Seeds used (``object_seed`` None: derived from ``seed``).
    config
        The simulation settings used.
    """

    obj: np.ndarray
    probe: np.ndarray
    positions: np.ndarray
    counts: np.ndarray
    geometry: Geometry
    photons_per_pattern: float
    seed: int
    object_seed: int | None
    config: SimulationConfig
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def N(self) -> int:  # noqa: N802 - the physics symbol
        return int(self.counts.shape[-1])

    @property
    def n_patterns(self) -> int:
        return int(self.counts.shape[0])

    @property
    def object_pixel_size_m(self) -> float:
        value = self.geometry.object_pixel_size_m
        assert value is not None
        return value


def random_streams(seed: int, object_seed: int | None = None) -> dict[str, np.random.Generator]:
    """Independent generators per stream; ``object_seed`` replaces the object's stream."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    streams = {name: np.random.default_rng(child) for name, child in zip(STREAMS, children,
                                                                          strict=True)}
    if object_seed is not None:
        streams["object"] = np.random.default_rng(
            np.random.SeedSequence([object_seed, 0x0B1EC7]))
    return streams


def place_scan(scan: np.ndarray, n: int, object_size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Move a centred scan into object pixels; return positions and the object ``(H, W)``.

    With ``object_size = 0`` the object is just large enough (windows plus a margin);
    otherwise it is ``object_size`` square with the scan in its middle.
    """
    half = (n - 1) / 2.0
    lo, hi = scan.min(axis=0), scan.max(axis=0)
    needed = np.ceil(hi - lo + 2 * half + 1 + 2 * OBJECT_MARGIN_PX).astype(int)
    if object_size:
        if object_size < needed.max():
            raise ConfigError([ConfigIssue(
                "simulation.object_size",
                f"too small for the scan: its windows need {needed[0]} x {needed[1]} px "
                f"(with a {OBJECT_MARGIN_PX} px margin); use 0 for automatic", object_size)])
        shape = (object_size, object_size)
    else:
        shape = (int(needed[1]), int(needed[0]))
    centre = np.array([(shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0])
    return scan - (lo + hi) / 2.0 + centre, shape


def simulation_geometry(sim: SimulationConfig, n: int) -> Geometry:
    """The geometry of a simulation, with the object pixel ``lambda z / (N p)``."""
    g = Geometry(photon_energy_ev=sim.photon_energy_ev, detector_distance_m=sim.detector_distance_m,
                 detector_pixel_size_m=sim.detector_pixel_size_m)
    return Geometry(g.photon_energy_ev, g.detector_distance_m, g.detector_pixel_size_m,
                    g.object_pixel_size(n))


def _forward(obj: np.ndarray, probe: np.ndarray, positions: np.ndarray, n: int,
             reporter: Reporter | None, stop: StopToken | None) -> np.ndarray:
    """Noiseless expected counts ``(M, N, N)`` float64 through :mod:`engine.physics`."""
    import torch

    from ..physics import extract_patches, forward_intensity

    obj_t = torch.from_numpy(np.ascontiguousarray(obj, np.complex128))
    probe_t = torch.from_numpy(np.ascontiguousarray(probe, np.complex128))
    out = np.empty((len(positions), n, n), np.float64)
    clock = Clock(total=len(positions))
    throttle = Throttle(0.2)
    for start in range(0, len(positions), FORWARD_CHUNK):
        if stop_requested(stop):
            raise SimulationCancelled
        stop_at = min(start + FORWARD_CHUNK, len(positions))
        with torch.no_grad():
            patches = extract_patches(obj_t, torch.from_numpy(positions[start:stop_at]), n)
            out[start:stop_at] = forward_intensity(patches, probe_t).numpy()
        if reporter is not None and (throttle.ready() or stop_at == len(positions)):
            reporter.progress(clock.progress("simulate", stop_at, unit="pattern"))
    return out


def simulate_scan(
    config: SessionConfig,
    *,
    object_seed: int | None = None,
    obj: np.ndarray | None = None,
    probe: np.ndarray | None = None,
    reporter: Reporter | None = None,
    stop: StopToken | None = None,
) -> SimulatedScan:
    """Simulate one ptychographic scan in memory (nothing is written).

    Parameters
    ----------
    config
        ``config.simulation`` drives everything; ``config.model.N`` is the pattern size.
    object_seed
        Draw the object from this seed instead of ``simulation.seed``: a second, different
        object under the same illumination. Probe, scan and noise streams are unchanged and the
        probe keeps the photon scale of the ``simulation.seed`` object, so the probe is
        identical to the one of the simulation without ``object_seed`` (the mean counts then
        differ from the setting by the objects' different transmission).
    obj
        Use this ``(H, W)`` object instead of generating one (the scan is centred in it).
    probe
        Use this ``(modes, N, N)`` probe *as is*, already scaled to counts (e.g. the
        ``probe`` of an earlier :class:`SimulatedScan`); the photon setting is then not
        applied. Default: generate it and scale it so the mean total counts per pattern equal
        ``simulation.photons_per_pattern``.
    reporter, stop
        Progress (stage ``"simulate"``, unit pattern) and a cooperative stop token.

    Raises
    ------
    SimulationCancelled
        When ``stop`` is set during the forward model.
    ConfigError, DataError
        For an impossible setting or an unreadable object image / probe file.
    """
    sim, n = config.simulation, config.model.N or SIMULATED_N
    rng = random_streams(sim.seed, object_seed)
    scan = make_scan(sim.scan, sim.n_positions, sim.step_px, sim.jitter_px, rng["scan"])
    size = sim.object_size if obj is None else 0
    positions, shape = place_scan(scan, n, size)
    given_object = obj is not None
    if obj is not None:
        obj = np.asarray(obj, np.complex64)
        needed = shape
        if obj.ndim != 2 or obj.shape[0] < needed[0] or obj.shape[1] < needed[1]:
            raise DataError(f"obj: expected an (H, W) object of at least {needed[0]} x "
                            f"{needed[1]} px for this scan, found shape {obj.shape}")
        positions = positions + np.array([(obj.shape[1] - shape[1]) / 2.0,
                                          (obj.shape[0] - shape[0]) / 2.0])
    else:
        obj = make_object(sim.object, shape, rng["object"], amplitude_min=sim.amplitude_min,
                          phase_range=sim.phase_range, image_path=sim.object_path)
    given_probe = probe is not None
    if probe is None:
        probe = make_probe(sim.probe, n, diameter_px=sim.probe_diameter_px,
                           defocus=sim.defocus_px, path=sim.probe_path)
    else:
        probe = np.asarray(probe, np.complex64).reshape(-1, n, n)
    expected = _forward(obj, probe, positions, n, reporter, stop)
    mean_total = float(expected.sum(axis=(1, 2)).mean())
    if not given_probe:
        reference = mean_total
        if object_seed is not None and not given_object:
            # Scale the probe for the seed's own object, so it equals that simulation's probe.
            own = make_object(sim.object, shape, random_streams(sim.seed)["object"],
                              amplitude_min=sim.amplitude_min, phase_range=sim.phase_range,
                              image_path=sim.object_path)
            reference = float(_forward(own, probe, positions, n, None, stop)
                              .sum(axis=(1, 2)).mean())
        scale = sim.photons_per_pattern / reference
        expected *= scale
        probe = (probe * np.float32(math.sqrt(scale))).astype(np.complex64)
        mean_total *= scale
    counts = rng["noise"].poisson(expected).astype(np.float32)
    return SimulatedScan(
        obj=obj, probe=probe, positions=positions, counts=counts,
        geometry=simulation_geometry(sim, n), photons_per_pattern=mean_total, seed=sim.seed,
        object_seed=object_seed, config=sim,
    )
