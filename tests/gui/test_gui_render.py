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


def test_exported_pngs_keep_the_levels_set_on_screen(qtbot, tmp_path):
    """Levels a user dragged on the amplitude colour bar, and a phase fitted to its range
    (drawn with linear colours), are what the exported pictures show."""
    from engine.render import FIGURE_MARGIN, colorize, figure_zoom
    from ptycho_gui.views.reconstruction import ReconstructionView

    ramp = np.linspace(0.2, 1.0, 40 * 40).reshape(40, 40)
    obj = (ramp * np.exp(1j * (ramp - 0.6))).astype(np.complex64)
    view = ReconstructionView()
    qtbot.addWidget(view)
    view.set_object(obj)  # a live frame: phase over the full turn, cyclic colours
    assert view.displays()["phase"].cmap == CYCLIC_MAP
    default = export_png(obj, tmp_path / "default.png", displays=view.displays())
    view.left.colorbar.setLevels((0.5, 0.7))  # the user narrows the amplitude's levels
    view.right.fit_levels()  # the phase spans 0.8 rad: fitted, linear colours
    shown = view.displays()
    assert shown["amplitude"].levels == (0.5, 0.7)
    assert shown["phase"].cmap == LINEAR_MAP
    written = export_png(obj, tmp_path / "screen.png", displays=shown)
    zoom, m = figure_zoom(obj.shape), FIGURE_MARGIN
    top = (slice(m, m + 20 * zoom, zoom), slice(m, m + 40 * zoom, zoom))  # above the scale bar
    for path, before, image, display in zip(
            written, default, (np.abs(obj), np.angle(obj)),
            (shown["amplitude"], shown["phase"]), strict=True):
        picture = np.asarray(Image.open(path))[top]
        expected = colorize(image.astype(np.float32), display.cmap, display.levels)[:20]
        np.testing.assert_array_equal(picture, expected)
        assert not np.array_equal(picture, np.asarray(Image.open(before))[top])
