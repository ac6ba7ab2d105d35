"""Exported pictures look like the screen: colour bar with ticks and label, scale bar."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.render import (
    CYCLIC_MAP,
    FIGURE_MIN_SIDE,
    LINEAR_MAP,
    PHASE_LEVELS,
    colour_bar_ticks,
    colour_table,
    figure,
    format_length,
    nice_length,
    png_paths,
    scale_bar,
    write_object_pngs,
)


def test_lengths_ticks_and_scale_bars():
    assert format_length(5e-7) == "500 nm" and format_length(1.5e-6) == "1.5 µm"
    assert [nice_length(x) for x in (0.9, 3.7, 7.0)] == pytest.approx([0.5, 2.0, 5.0])
    assert colour_bar_ticks(PHASE_LEVELS) == pytest.approx([-3, -2, -1, 0, 1, 2, 3])
    assert colour_bar_ticks((0.12, 0.98)) == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert scale_bar(200, 10e-9) == (pytest.approx(20.0), "200 nm")
    with pytest.raises(ValueError):
        nice_length(0.0)


def test_figure_has_the_picture_enlarged_a_colour_bar_and_a_scale_bar():
    rgb = np.zeros((40, 60, 3), np.uint8)  # black: the scale bar is the only white
    out = figure(rgb, cmap=LINEAR_MAP, levels=(0.0, 1.0), label="amplitude",
                 pixel_size_m=10e-9)
    zoom = -(-FIGURE_MIN_SIDE // 60)
    assert out.shape[0] >= 40 * zoom and out.shape[1] > 60 * zoom + 40  # room for the bar
    picture = out[16:16 + 40 * zoom, 16:16 + 60 * zoom]
    white = np.all(picture == 255, axis=-1)
    rows, cols = np.nonzero(white)
    assert rows.min() > picture.shape[0] * 0.8 and cols.min() > picture.shape[1] * 0.6
    # the bar's length: nice_length(0.2 * 600 nm) = 100 nm = 10 px, times the zoom
    assert cols.max() - cols.min() + 1 == pytest.approx(10 * zoom, abs=2)
    table = colour_table(LINEAR_MAP)
    strip_x = 16 + 60 * zoom + 16 + 11  # the middle of the colour bar
    top, bottom = out[16 + 2, strip_x].astype(int), out[16 + 40 * zoom - 3, strip_x].astype(int)
    assert np.abs(top - table[255]).max() <= 8  # top: the highest level's colour
    assert np.abs(bottom - table[0]).max() <= 8
    bare = figure(rgb)  # no colour map: no colour bar; no pixel size: the bar is in pixels
    assert bare.shape[1] == 60 * zoom + 32


def test_object_pngs_carry_colour_bar_and_scale_bar(tmp_path):
    obj = np.exp(1j * np.linspace(-3, 3, 30 * 50)).reshape(30, 50).astype(np.complex64)
    obj[:3] = np.nan
    amp_path, phase_path = png_paths(tmp_path / "scan.h5")
    write_object_pngs(obj, amp_path, phase_path, pixel_size_m=(20e-9, 20e-9))
    phase = np.asarray(Image.open(phase_path).convert("RGB"))
    zoom = -(-FIGURE_MIN_SIDE // 50)
    assert phase.shape[1] > 50 * zoom + 60  # picture + colour bar with ticks and label
    strip = phase[16 + 2, 16 + 50 * zoom + 16 + 11].astype(int)
    assert np.abs(strip - colour_table(CYCLIC_MAP)[255]).max() <= 8
    assert tuple(phase[16 + 1, 16 + 1]) == (0, 0, 0)  # never illuminated: black
