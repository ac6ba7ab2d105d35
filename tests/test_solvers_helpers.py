"""Small simulated scans shared by the solver tests (test_refine.py, test_solvers.py)."""

from __future__ import annotations

import numpy as np

from engine.metrics import evaluate
from engine.simulation.probes import disk, propagate

N = 32
SHAPE = (88, 88)


def smooth_object(rng: np.random.Generator) -> np.ndarray:
    """Smooth random amplitude 0.6..1 and phase 0..1 rad."""
    def smooth() -> np.ndarray:
        noise = np.fft.fft2(rng.standard_normal(SHAPE))
        fy, fx = np.meshgrid(np.fft.fftfreq(SHAPE[0]), np.fft.fftfreq(SHAPE[1]), indexing="ij")
        field = np.fft.ifft2(noise * np.exp(-(fx**2 + fy**2) / (2 * 0.08**2))).real
        return (field - field.min()) / np.ptp(field)
    return ((0.6 + 0.4 * smooth()) * np.exp(1j * smooth())).astype(np.complex64)


def defocused_probe(defocus: float, photons: float) -> np.ndarray:
    """A disk propagated by ``defocus``, ``photons`` per pattern, shape (1, N, N)."""
    field = propagate(disk(N, 12.0), defocus)
    field = field / np.sqrt(np.sum(np.abs(field) ** 2)) * np.sqrt(photons)
    return field.astype(np.complex64)[None]


def ssim(obj: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(amplitude, phase) SSIM against the truth, a half window's border left out."""
    scores = evaluate(obj, truth, border=N // 2)
    return scores["amplitude"]["ssim"], scores["phase"]["ssim"]
