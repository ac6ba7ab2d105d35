"""The overlap constraint decides each pixel by the patterns that illuminate it
(``model.consensus_weighting = "probe"``), the same weights the stitching uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config.schema import ModelConfig
from engine.model.pinn import PINN, Normalisers
from engine.physics import extract_patches

N = 32


def _net(weighting: str, gridsize: int = 2) -> tuple[PINN, np.ndarray]:
    yy, xx = np.mgrid[:N, :N] - (N - 1) / 2
    intensity = np.exp(-(xx**2 + yy**2) / (2 * 3.0**2))
    probe = np.sqrt(intensity).astype(np.complex64)[None]
    model = ModelConfig(N=N, gridsize=gridsize, n_neighbours=4, width=4, depth=1,
                        consensus_weighting=weighting)
    return PINN(model, probe, Normalisers(1.0, 1.0), loss="poisson"), intensity


def _group(intensity: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Four windows 8 px apart cut from one object; each is garbage where its own probe has
    less than 1e-4 of its peak intensity (what the data say nothing about)."""
    rng = np.random.default_rng(0)
    obj = (1 + 0.3 * rng.normal(size=(64, 64))) * np.exp(1j * rng.normal(size=(64, 64)))
    positions = torch.tensor([[26.5, 26.5], [34.5, 26.5], [26.5, 34.5], [34.5, 34.5]],
                             dtype=torch.float64)
    exact = extract_patches(torch.from_numpy(obj), positions, N).to(torch.complex64)[None]
    garbage = torch.from_numpy((5 * rng.normal(size=exact.shape)).astype(np.complex64))
    dark = torch.from_numpy(intensity < 1e-4 * intensity.max())
    patches = torch.where(dark, garbage, exact)
    offsets = (positions - positions.mean(dim=0)).to(torch.float32)[None]
    return patches, exact, offsets


@pytest.mark.parametrize("weighting, agrees", [("probe", True), ("uniform", False)])
def test_consensus_keeps_what_the_illuminating_patterns_agree_on(weighting, agrees):
    net, intensity = _net(weighting)
    patches, exact, offsets = _group(intensity)
    out = net.consensus(patches, offsets)
    lit = torch.from_numpy(intensity > 0.05 * intensity.max())
    error = float((out - exact).abs()[..., lit].max())
    if agrees:
        assert error < 5e-3
    else:  # uniform averaging mixes in the patches that never saw the pixel
        assert error > 0.5


def test_gridsize_one_has_no_consensus():
    net, intensity = _net("probe", gridsize=1)
    patches, _, offsets = _group(intensity)
    assert torch.equal(net.consensus(patches, offsets), patches)
