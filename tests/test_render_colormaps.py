"""engine.render draws with colorcet's maps by name (a panel's chosen map in the PNG export),
keeping its own defaults."""

from __future__ import annotations

import numpy as np
import pytest

from engine.render import CYCLIC_MAP, LINEAR_MAP, colorize, colour_map_names, colour_table


def test_colorcet_maps_by_name_and_the_defaults_unchanged():
    import colorcet

    fire = colour_table("fire")
    assert fire.shape == (256, 3) and fire.dtype == np.uint8
    assert "#" + bytes(fire[200]).hex() == colorcet.palette["fire"][200]
    # pyqtgraph's spelling of colorcet's CET maps (the GUI's difference panels)
    assert np.array_equal(colour_table("CET-D1"), colour_table("CET_D1"))
    assert tuple(colour_table(LINEAR_MAP)[0]) == (68, 1, 84)  # viridis, as before
    names = colour_map_names()
    assert names[:2] == [LINEAR_MAP, CYCLIC_MAP] and "fire" in names
    assert not any(n.startswith("glasbey") for n in names)  # categorical: not offered
    rgb = colorize(np.array([[0.0, 1.0]]), "fire", (0.0, 1.0))
    assert tuple(rgb[0, 0]) == tuple(fire[0]) and tuple(rgb[0, 1]) == tuple(fire[-1])
    with pytest.raises(ValueError, match="unknown colour map 'nope'; expected one of viridis"):
        colour_table("nope")
