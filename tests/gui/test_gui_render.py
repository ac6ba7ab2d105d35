"""The engine's PNG colours are the screen's: engine.render's tables equal pyqtgraph's maps."""

import numpy as np
from PIL import Image

from engine.render import COLOUR_MAPS, colour_table
from ptycho_gui.export import export_png
from ptycho_gui.qtenv import pyqtgraph_module
from ptycho_gui.views.image_panel import CYCLIC_MAP, LINEAR_MAP


def test_engine_colour_tables_are_the_screens_maps():
    pg = pyqtgraph_module()
    assert {CYCLIC_MAP, LINEAR_MAP} == set(COLOUR_MAPS)
    for name in COLOUR_MAPS:
        screen = pg.colormap.get(name).getLookupTable(nPts=256, alpha=False)
        np.testing.assert_array_equal(colour_table(name), np.asarray(screen, dtype=np.uint8))


def test_gui_export_and_engine_pngs_are_the_same_pictures(tmp_path):
    from engine.render import png_paths, write_object_pngs

    rng = np.random.default_rng(0)
    obj = (rng.random((9, 11)) + 0.5) * np.exp(1j * rng.uniform(-3, 3, (9, 11)))
    obj[2, 3] = np.nan
    gui = export_png(obj, tmp_path / "gui.png")
    engine = write_object_pngs(obj, *png_paths(tmp_path / "engine.h5"))
    assert [p.name for p in engine] == ["engine-amplitude.png", "engine-phase.png"]
    for a, b in zip(gui, engine, strict=True):
        np.testing.assert_array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
