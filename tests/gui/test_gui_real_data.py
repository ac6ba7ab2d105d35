"""Real data in the GUI: data-file dialog filters from the format registry, the declared-layout
dialog (settings written, live preview, key list), the detector mask on the patterns view,
the solver-only Reconstruct action and per-panel colour maps and levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

RUN_TIMEOUT_MS = 240_000


def tiny_cxi(folder: Path) -> Path:
    """The simulator's tiny scan, written as CXI (dataset.cxi) among its files."""
    from engine.config import preset_layer, resolve_config
    from engine.runs import run

    layer = {**preset_layer("tiny"), "simulation.output_dir": (str(folder), "test")}
    run("simulate", resolve_config(cli=layer))
    return folder / "dataset.cxi"


@pytest.mark.usefixtures("one_thread")
def test_reconstruct_action_runs_the_solver_and_shows_the_result(window, qtbot, tmp_path):
    c = window.controller
    cxi = tiny_cxi(tmp_path / "sim")
    form = window.form
    form.editor("data.path").line.setText(str(cxi))
    form.editor("refinement.epochs").widget.setValue(3)
    form.editor("reconstruct.output_dir").line.setText(str(tmp_path / "recon"))
    qtbot.waitUntil(lambda: c.previews.data_preview is not None and not c.previews.loader.busy,
                    timeout=30_000)
    assert window.action_reconstruct.isEnabled(), window.action_reconstruct.toolTip()
    with qtbot.waitSignal(c.runs.runner.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        window.action_reconstruct.trigger()
    outcome = blocker.args[0]
    assert outcome.status == "completed", outcome.error
    assert (tmp_path / "recon" / "reconstruction.h5").is_file()
    assert "Reconstruct completed" in window.state_label.text()
    recon = c.previews.reconstruction
    assert recon is not None and np.iscomplexobj(recon.obj)
    assert window.reconstruction_view.isVisible()
    # A second Reconstruct into the same folder asks first; declining starts nothing.
    asked = []
    c.dialogs.ask_confirm = lambda parent, title, message: asked.append(message) or False
    assert not c.runs.start_reconstruct()
    assert asked and "recon" in asked[0] and not c.runs.busy


def test_reconstruct_needs_data(window):
    window.controller.update_state()
    assert not window.action_reconstruct.isEnabled()
    assert "data file" in window.action_reconstruct.toolTip()


def test_data_file_dialogs_filter_by_the_format_registry(window):
    from engine.io import file_dialog_filters
    from ptycho_gui.field_editors import data_file_filter, open_data_file

    assert data_file_filter().split(";;") == file_dialog_filters()
    assert "*.cxi" in data_file_filter() and "*.npz.bz2" in data_file_filter()
    for key in ("data.path", "inference.data_path"):
        assert window.form.editor(key).dialog is open_data_file
    asked = []
    window.form.editor("data.path").browse(
        lambda parent, caption, start: asked.append(caption) or "/x/scan.cxi")
    assert window.form.editor("data.path").value() == "/x/scan.cxi" and asked


def npz_scan(path: Path, *, unshifted: bool) -> np.ndarray:
    """An NPZ of another beamline's layout: 'frames' (1, 6, 16, 16) with a flagged pixel,
    'pos' (6, 2) [row, column] corners; returns the centred frames."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[-8:8, -8:8]
    centred = np.stack([100 * np.exp(-(yy**2 + xx**2) / 6.0) + rng.poisson(1, (16, 16))
                        for _ in range(6)]).round().astype(np.float32)
    frames = np.fft.ifftshift(centred, axes=(-2, -1)) if unshifted else centred.copy()
    frames[:, 3, 5] = 65535  # a detector flag value: a masked pixel
    pos = np.array([[r, c] for r in (0, 4) for c in (0, 4, 8)], dtype=np.float32)
    np.savez(path, frames=frames[None], pos=pos)
    return centred


def test_layout_dialog_lists_arrays_previews_and_writes_the_settings(window, qtbot, tmp_path):
    from ptycho_gui.layout_dialog import open_layout_dialog

    c = window.controller
    centred = npz_scan(tmp_path / "beamline.npz", unshifted=True)
    window.form.editor("data.path").line.setText(str(tmp_path / "beamline.npz"))
    dialog = open_layout_dialog(window, c.document, c.previews.request_data_preview)
    qtbot.addWidget(dialog)
    listed = {dialog.arrays.topLevelItem(i).text(0): dialog.arrays.topLevelItem(i).text(1)
              for i in range(dialog.arrays.topLevelItemCount())}
    assert listed == {"frames": "1 × 6 × 16 × 16", "pos": "6 × 2"}
    # the shapes say which is which: patterns and positions are pre-selected
    assert dialog.values()["data.layout_patterns"] == "frames"
    assert dialog.values()["data.layout_positions"] == "pos"
    for name, value in (("layout_position_order", "rowcol"),
                        ("layout_position_origin", "corner"), ("fftshifted", "no")):
        dialog.editors[name].setCurrentText(value)
    dialog.refresh_preview()
    qtbot.waitUntil(lambda: dialog.preview is not None and not dialog.runner.busy
                    and dialog.message.text() != "Reading…", timeout=30_000)
    preview = dialog.preview
    assert preview.error == "", preview.error
    # as stored: the zero frequency at the corner; as read: in the centre, like `centred`
    assert preview.stored[0, 0] > preview.stored[8, 8]
    assert preview.read[8, 8] == pytest.approx(centred[0, 8, 8])
    assert preview.bad_pixels is not None and preview.bad_pixels.sum() >= 1
    assert dialog.mask_item.isVisible()
    assert len(preview.positions) == 6
    assert "6 patterns" in dialog.message.text()
    # a key that is not in the file: the engine's refusal, in the dialog
    dialog.key_boxes["layout_positions"].setCurrentText("nope")
    dialog.refresh_preview()
    qtbot.waitUntil(lambda: not dialog.runner.busy and "nope" in dialog.message.text(),
                    timeout=30_000)
    dialog.key_boxes["layout_positions"].setCurrentText("pos")
    with qtbot.waitSignal(c.previews.loader.finished, timeout=30_000):
        dialog.accept()
    config = c.document.config.data
    assert (config.layout_patterns, config.layout_positions) == ("frames", "pos")
    assert (config.layout_position_order, config.fftshifted) == ("rowcol", "no")
    assert c.document.modified
    qtbot.waitUntil(lambda: c.previews.data_preview is not None and not c.previews.loader.busy,
                    timeout=30_000)
    # the patterns view shows the data as read, with the flagged pixel masked in red (stored
    # at [3, 5] with the zero frequency at [0, 0]: at [11, 13] once centred)
    browser = window.pattern_browser
    assert browser.counts.shape == (16, 16)
    assert browser.bad_pixels[11, 13] and browser.mask_shown
    assert "masked" in browser.readout_at(11, 13) and "masked" not in browser.readout_at(3, 5)
    browser.mask_box.setChecked(False)
    assert not browser.mask_shown


def test_layout_dialog_needs_a_data_file(window):
    from ptycho_gui.layout_dialog import open_layout_dialog

    assert open_layout_dialog(window, window.controller.document) is None
    assert "choose a data file" in window.state_label.text()


def test_panel_colour_map_and_levels_reach_the_screen_and_the_png_export(qtbot, tmp_path):
    from PIL import Image

    from engine.render import colour_table
    from ptycho_gui.export import export_reconstruction
    from ptycho_gui.model.products import Reconstruction
    from ptycho_gui.views.reconstruction import ReconstructionView

    view = ReconstructionView()
    qtbot.addWidget(view)
    yy, xx = np.mgrid[0:48, 0:48]
    obj = (0.2 + xx / 48.0) * np.exp(1j * (yy / 48.0 - 0.5))
    view.set_object(obj.astype(np.complex64), caption="test")
    panel = view.left
    panel.set_component("amplitude")
    menu_names = [a.data() for a in panel.map_actions.actions()]
    assert menu_names[:3] == ["default", "viridis", "CET-C1"] and "fire" in menu_names
    fire = next(a for a in panel.map_actions.actions() if a.data() == "fire")
    fire.trigger()  # Colours > fire
    assert panel.colorbar.colorMap().name == "fire" and fire.isChecked()
    assert panel.display().cmap == "fire"
    panel.ask_levels = lambda parent, low, high: (0.5, 1.0)
    panel.edit_levels()  # Colours > Set levels…
    assert panel.levels() == pytest.approx((0.5, 1.0))
    view.set_object((obj * 1.01).astype(np.complex64), caption="live frame")
    assert panel.levels() == pytest.approx((0.5, 1.0))  # a live frame keeps them
    # the export draws with the panel's map and levels: the dimmest pixels (0.2 < 0.5) get
    # fire's first colour (black), the brightest (>= 1.0) its last (white)
    written = export_reconstruction(Reconstruction(obj=obj), tmp_path / "x.png",
                                    displays=view.displays())
    rgb = np.asarray(Image.open(written[0]).convert("RGB"))
    table = colour_table("fire")
    colours = {tuple(c) for c in rgb.reshape(-1, 3)}
    assert tuple(table[0]) in colours and tuple(table[-1]) in colours
    # each component keeps its own choice; "default" gives the panel's own map back
    panel.set_component("phase")
    assert panel.colorbar.colorMap().name == "CET-C1"
    panel.set_component("amplitude")
    assert panel.colorbar.colorMap().name == "fire"
    panel.set_colormap("default")
    assert panel.colorbar.colorMap().name == "viridis"
    with pytest.raises(ValueError, match="unknown colour map 'nope'"):
        panel.set_colormap("nope")


def test_probe_initial_choices_come_from_the_schema_and_reach_the_run(window):
    from engine.config import field_specs

    editor = window.form.editor("probe.initial")
    box = editor.widget
    offered = [box.itemText(i) for i in range(box.count())]
    assert offered == list(field_specs()["probe.initial"].meta.choices)
    assert {"file", "disk", "zone_plate", "from_data"} <= set(offered)
    box.setCurrentText("disk")
    document = window.controller.document
    assert document.config.probe.initial == "disk"
    assert document.run_config().config.probe.initial == "disk"


def test_levels_dialog_shows_the_panel_levels_and_reads_typed_ones(qtbot):
    from ptycho_gui.views.image_panel import levels_dialog

    dialog, (low, high) = levels_dialog(None, -0.25, float(np.float32(0.2)))
    qtbot.addWidget(dialog)
    assert (low.value(), high.value()) == (-0.25, 0.2)  # shown as 0.2, not 0.200000003
    high.setValue(2.0)
    assert high.value() == pytest.approx(2.0)
