"""engine.render: the screen's levels (0.5-99.5 percentile, phase over [-pi, pi]), NaN black,
one exported file-name pattern."""

import numpy as np
from PIL import Image

from engine.render import (
    CYCLIC_MAP,
    LINEAR_MAP,
    amplitude_rgb,
    colour_table,
    phase_rgb,
    png_paths,
    robust_levels,
    write_object_pngs,
)


def test_levels_are_the_half_percent_percentiles_and_phase_is_cyclic():
    image = np.arange(1001, dtype=np.float32)
    image[0] = np.nan
    low, high = robust_levels(image, "amplitude")
    assert np.isclose(low, np.percentile(image[1:], 0.5))
    assert np.isclose(high, np.percentile(image[1:], 99.5))
    assert robust_levels(image, "phase") == (-np.pi, np.pi)


def test_amplitude_and_phase_use_the_screen_maps_and_black_for_nan():
    obj = np.exp(1j * np.linspace(-np.pi, np.pi, 400)).reshape(20, 20) \
        * np.linspace(1, 2, 400).reshape(20, 20)
    obj[0, 0] = np.nan
    amp, phase = amplitude_rgb(obj), phase_rgb(obj)
    assert tuple(amp[0, 0]) == (0, 0, 0) and tuple(phase[0, 0]) == (0, 0, 0)
    assert tuple(amp[-1, -1]) == tuple(colour_table(LINEAR_MAP)[-1])  # top of the levels
    # phase = pi (last pixel) sits at the end of the cyclic map, like on screen
    assert tuple(phase[-1, -1]) == tuple(colour_table(CYCLIC_MAP)[-1])


def test_exported_pngs_follow_one_name_pattern(tmp_path):
    a, p = png_paths(tmp_path / "recon.h5")
    assert (a.name, p.name) == ("recon-amplitude.png", "recon-phase.png")
    obj = np.ones((5, 6), np.complex64)
    written = write_object_pngs(obj, a, p)
    assert all(np.asarray(Image.open(f)).shape == (5, 6, 3) for f in written)
