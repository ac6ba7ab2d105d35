"""Past results: opening products and run folders, the Runs panel, the comparison view, the
FRC curve."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import SessionConfig
from engine.errors import DataError
from engine.io import write_product
from engine.metrics import evaluate
from ptycho_gui.model.results import open_result
from ptycho_gui.runs_panel.view import RunsPanel, format_duration
from ptycho_gui.views.compare import CompareView, centre_offsets
from ptycho_gui.views.frc_view import FrcView

PIXEL = 10e-9


def _object(h=48, w=56, seed=0):
    rng = np.random.default_rng(seed)
    spec = np.zeros((h, w), complex)
    spec[:8, :8] = rng.normal(size=(8, 8)) + 1j * rng.normal(size=(8, 8))
    field = np.fft.ifft2(spec)
    amp = 0.7 + 0.3 * field.real / np.abs(field.real).max()
    obj = amp * np.exp(1.0j * field.imag / np.abs(field.imag).max())
    return obj.astype(np.complex64)


def _product(path, obj, pixel=PIXEL, losses=(3.0, 2.0, 1.5)):
    return write_product(path, obj=obj, probe=np.ones((1, 8, 8), np.complex64),
                         positions_px=np.array([[20.0, 20.0], [30.0, 25.0]]),
                         object_pixel_size_m=pixel,
                         loss_epochs=np.arange(len(losses)), loss_values=np.asarray(losses))


def _run(folder, obj, status="completed", truth=None, last_ckpt=False):
    from engine.training.rundir import RunDirectory

    run = RunDirectory(folder)
    run.path.mkdir(parents=True)
    run.checkpoints.mkdir()
    cfg = SessionConfig()
    cfg.data.path = "/beamline/scan12.npz"
    run.write_session(cfg)
    run.write_provenance({"started": "2026-12-01T09:00:00",
                          "data": {"source": cfg.data.path}})
    run.write_metrics([{"epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": 1.5 / (e + 1),
                        "lr": 1e-3, "epoch_time_s": 1.0, "patterns_per_s": 10.0}
                       for e in range(4)])
    quality = evaluate(obj, truth, register=False) if truth is not None else None
    run.write_summary({"status": status, "epochs": 4, "max_epochs": 8,
                       "started": "2026-12-01T09:00:00", "wall_time_s": 75.0,
                       "quality": quality})
    if obj is not None:
        _product(run.file("reconstruction.h5"), obj)
    if last_ckpt:
        run.last_checkpoint.write_bytes(b"x")
    return run.path


def test_open_result_reads_products_and_run_folders(tmp_path):
    obj = _object()
    obj[:3] = np.nan
    product = open_result(_product(tmp_path / "other-tool.h5", obj))
    assert product.label == "other-tool.h5" and product.run is None
    assert product.object_pixel_size_m == pytest.approx((PIXEL, PIXEL))
    assert np.isnan(product.reconstruction.obj[0, 0])  # the illumination mask is applied
    assert product.losses["train_loss"] == [3.0, 2.0, 1.5]
    run = open_result(_run(tmp_path / "run-001", _object(), truth=_object()))
    assert run.label == "run-001" and run.settings_file.name == "session.toml"
    assert run.loss_epochs == [0, 1, 2, 3] and "val_loss" in run.losses  # from metrics.csv
    assert run.frc is not None and len(run.frc["phase"]) == 24
    # Every run's product has the same file name: opened directly, its run names it.
    inside = open_result(tmp_path / "run-001" / "reconstruction.h5")
    assert inside.label == "run-001/reconstruction.h5"
    stopped = open_result(_run(tmp_path / "run-002", None, status="cancelled"))
    assert stopped.reconstruction is None and stopped.losses["train_loss"][0] == 1.0
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="junk.h5"):
        open_result(tmp_path / "junk.h5")


def test_runs_panel_lists_opens_compares_and_resumes(qtbot, tmp_path, wait_listed):
    _run(tmp_path / "run-001", _object(), truth=_object())
    _run(tmp_path / "run-002", _object(seed=1), status="cancelled", last_ckpt=True)
    panel = RunsPanel()
    qtbot.addWidget(panel)
    panel.set_folder(tmp_path)
    wait_listed(panel)
    assert panel.table.topLevelItemCount() == 2 and "2 runs" in panel.folder_label.text()
    first = panel.table.topLevelItem(0)
    texts = [first.text(i) for i in range(7)]
    assert texts[:2] == ["run-002", "cancelled"] or texts[:2] == ["run-001", "completed"]
    rows = {panel.table.topLevelItem(i).text(0): panel.table.topLevelItem(i) for i in range(2)}
    done = rows["run-001"]
    assert done.text(3) == "scan12.npz" and done.text(4) == "4 / 8" and done.text(5) == "1:15"
    assert "phase SSIM 1.000" in done.text(6)
    panel.select(tmp_path / "run-001")
    assert panel.open_button.isEnabled() and not panel.resume_button.isEnabled()
    with qtbot.waitSignal(panel.open_requested) as opened:
        panel.open_button.click()
    assert opened.args == [tmp_path / "run-001"]
    panel.select(tmp_path / "run-002")
    assert panel.resume_button.isEnabled()
    with qtbot.waitSignal(panel.resume_requested) as resumed:
        panel.resume_button.click()
    assert resumed.args == [tmp_path / "run-002"]
    panel.select(tmp_path / "run-001", tmp_path / "run-002")
    assert panel.compare_button.isEnabled()
    with qtbot.waitSignal(panel.compare_requested) as compared:
        panel.compare_button.click()
    assert set(compared.args) == {tmp_path / "run-001", tmp_path / "run-002"}
    _run(tmp_path / "run-003", _object(seed=2))
    panel.refresh()
    wait_listed(panel)
    assert panel.table.topLevelItemCount() == 3
    assert len(panel.selected_runs()) == 2  # the selection survives a refresh
    assert format_duration(3723) == "1:02:03" and format_duration(None) == ""


def test_compare_view_links_zoom_and_shows_the_aligned_difference(qtbot, tmp_path):
    truth = _object()
    rec = (truth * np.exp(0.7j) * 0.5).astype(np.complex64)  # global phase and scale only
    rec[20:24, 20:24] *= np.exp(0.3j)  # and one local change
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    a = open_result(_product(tmp_path / "truth.h5", truth))
    b = open_result(_product(tmp_path / "rec.h5", rec))
    with qtbot.waitSignal(view.compared) as done:
        view.set_pair(a, b)
    assert "offset 0.70" in done.args[0] and "scale 2 removed" in done.args[0]
    diff = view.difference
    assert np.nanmax(np.abs(diff)) == pytest.approx(0.3, abs=0.02)  # only the local change
    assert np.nanmedian(np.abs(diff)) < 0.02  # the global offset is gone
    assert view.panel_diff.colorbar.axis.labelText == "phase B - A (rad)"
    low, high = view.panel_diff.levels()
    assert low == pytest.approx(-high)  # a diverging map centred on zero
    view.panel_a.plot.setRange(xRange=(5, 15), yRange=(5, 15), padding=0)
    for panel in (view.panel_b, view.panel_diff):  # same centre, same zoom (+- bar widths)
        (x0, x1), (y0, y1) = panel.plot.viewRange()
        assert (x0 + x1) / 2 == pytest.approx(10) and x1 - x0 == pytest.approx(10, rel=0.05)
    assert view.panel_b.plot.getAxis("bottom").labelUnits == "m"
    view.component_box.setCurrentText("amplitude")
    assert view.panel_b.component == "amplitude"
    assert view.panel_diff.colorbar.axis.labelText == "amplitude B - A"
    assert np.nanmax(np.abs(view.difference)) < 0.02  # the scale is removed too
    assert view.frc_view.resolutions_px  # FRC of B against A
    with qtbot.waitSignal(view.compared, timeout=10000):
        view.swap_button.click()
    assert view.a is b and view.panel_a.title.text() == "A: rec.h5"
    assert not view._comparer.holds_thread  # no thread left running while idle


def test_compare_view_lines_up_objects_of_different_sizes(qtbot, tmp_path):
    truth = _object(48, 56)
    small = truth[4:44, 6:50]
    assert centre_offsets(truth.shape, small.shape) == ((4, 6), (0, 0))
    view = CompareView()
    qtbot.addWidget(view)
    view.choose_file = {"A": str(_product(tmp_path / "a.h5", truth)),
                        "B": str(_product(tmp_path / "b.h5", small))}.get
    view.open_a_button.click()
    with qtbot.waitSignal(view.compared, timeout=10000):
        view.open_b_button.click()
    assert view.panel_b.image.pos().x() == 6 and view.panel_b.image.pos().y() == 4
    assert np.nanmax(np.abs(view.difference)) < 1e-4
    view.choose_file = lambda which: str(tmp_path / "missing.h5")
    view.open_b_button.click()
    assert "missing.h5" in view.summary.text()


def test_frc_view_in_inverse_metres_and_resolution_in_nm(qtbot):
    view = FrcView()
    qtbot.addWidget(view)
    freq = (np.arange(20) + 0.5) / 40
    frc = {"frequency_per_px": list(freq), "amplitude": list(np.clip(1 - 2 * freq, 0, 1)),
           "phase": list(np.ones(20)), "threshold": 1 / 7}
    view.set_frc(frc, (PIXEL, PIXEL))
    xs, _ = view.curves["amplitude"].getData()
    assert xs[-1] == pytest.approx(freq[-1] / PIXEL)
    assert view.plot.getAxis("bottom").labelUnits == "m⁻¹"
    assert view.resolutions_px["phase"] == 2.0  # never below: Nyquist
    assert "20 nm" in view.info.text()
    assert view.threshold.label.toPlainText() == "threshold 0.143"
    # The legend is one row: both names fit a short plot (the comparison's, at 1280 x 800).
    assert view.legend.columnCount == 2 and len(view.legend.items) == 2
    view.set_frc(None)
    assert "ground truth" in view.info.text() and not view.threshold.isVisible()


def test_window_opens_another_tools_product_in_metres_and_exports_it(window, qtbot, tmp_path,
                                                                     wait_read):
    c = window.controller
    obj = _object()
    other = _product(tmp_path / "ptychodus-recon.h5", obj, pixel=25e-9)
    c.dialogs.choose_product = lambda parent, start: str(other)
    assert not window.action_export.isEnabled()
    with qtbot.waitSignal(c.previews.opener.finished, timeout=60_000):
        window.action_open_result.trigger()  # File > Open reconstruction (read off-thread)
    qtbot.waitUntil(lambda: window.reconstruction_view.obj is not None)
    view = window.reconstruction_view
    assert view.obj.shape == obj.shape and "ptychodus-recon.h5" in view.caption.text()
    assert view.left.pixel_size == pytest.approx((25e-9, 25e-9))
    assert window.positions_view.pixel_size == pytest.approx((25e-9, 25e-9))
    assert window.probe_view.probe is not None and window.probe_view.pixel_size is not None
    assert window.loss_view.history["train_loss"][1] == [3.0, 2.0, 1.5]
    assert window.action_export.isEnabled()  # the opened result is what Export writes
    written = c.previews.export(tmp_path / "copy.h5")
    assert open_result(written[0]).reconstruction.obj.shape == obj.shape
    errors = []
    c.dialogs.show_error = lambda parent, title, message, details: errors.append(message)
    (tmp_path / "broken.h5").write_bytes(b"not hdf5")
    c.results.open_path(tmp_path / "broken.h5")  # the Runs panel's way of opening
    wait_read(window)
    assert errors and "broken.h5" in errors[0]
    assert view.obj.shape == obj.shape  # the previous result stays
    c.results.open_path(other)
    wait_read(window)
    assert window.view_tabs.currentWidget() is view


def test_runs_panel_follows_the_sessions_output_folder(window, qtbot, tmp_path, wait_read):
    c = window.controller
    out = tmp_path / "beamtime"
    _run(out / "run-001", _object(), truth=_object())
    _run(out / "run-002", None, status="cancelled", last_ckpt=True)
    c.session.set_field("training.output_dir", str(out))
    panel = window.runs_panel
    wait_read(window)
    assert panel.folder == out and panel.table.topLevelItemCount() == 2
    # Open a run: reconstruction, loss curves (metrics.csv) and FRC against ground truth
    panel.select(out / "run-001")
    panel.open_button.click()
    wait_read(window)
    assert window.reconstruction_view.obj is not None
    assert window.loss_view.history["val_loss"][1][0] == 1.5
    assert window.frc_view.resolutions_px  # the run was scored against ground truth
    # A cancelled run without a reconstruction opens on its loss curves; Resume asks the
    # run controller to continue it
    resumed = []
    c.runs.start_train = lambda resume_from=None: resumed.append(resume_from) or True
    panel.select(out / "run-002")
    panel.open_button.click()
    wait_read(window)
    assert window.view_tabs.currentWidget() is window.loss_view
    panel.resume_button.click()
    assert resumed == [out / "run-002"]
    shown = []
    c.dialogs.show_text = lambda parent, title, text, folder=None: shown.append((title, text))
    panel.settings_button.click()  # the settings the run used, read-only
    assert shown[0][0] == "Settings of run-002" and "[training]" in shown[0][1]
    # The run this window trains now is marked running and cannot be resumed
    window.refresh_runs(out / "run-002")
    wait_read(window)
    row = next(panel.table.topLevelItem(i) for i in range(panel.table.topLevelItemCount())
               if panel.table.topLevelItem(i).text(0) == "run-002")
    assert row.text(1) == "running"
    panel.select(out / "run-002")
    assert not panel.resume_button.isEnabled()
    window.refresh_runs(None)
    wait_read(window)
    # Compare two runs: the comparison tab with both
    _run(out / "run-003", _object(seed=1))
    c.runs.state_changed.emit()  # a run ended: the list is read again (next event-loop turn)
    qtbot.waitUntil(lambda: panel.table.topLevelItemCount() == 3, timeout=2000)
    wait_read(window)
    panel.select(out / "run-001", out / "run-003")
    with qtbot.waitSignal(window.compare_view.compared, timeout=10000):
        panel.compare_button.click()  # both read off the GUI thread, then compared
    assert window.view_tabs.currentWidget() is window.compare_view
    assert window.compare_view.difference is not None


def test_data_preview_pixel_size_puts_the_live_views_in_metres(window):
    window.show_data(positions=np.array([[10.0, 10.0], [20.0, 12.0]]), object_shape=(40, 40),
                     probe=np.ones((1, 8, 8), np.complex64), pixel_size=12e-9)
    assert window.positions_view.pixel_size == (12e-9, 12e-9)
    assert window.reconstruction_view.right.pixel_size == (12e-9, 12e-9)
    assert window.probe_view.pixel_size == (12e-9, 12e-9)
    window.show_data(positions=np.array([[10.0, 10.0]]), object_shape=(40, 40))
    assert window.positions_view.pixel_size is None  # a file without geometry: pixels


def test_opening_a_session_shows_its_newest_run_after_a_restart(window, tmp_path, wait_read):
    from engine.config import SessionConfig, save_session

    out = tmp_path / "runs"
    _run(out / "run-001", _object())
    _run(out / "run-002", None, status="failed")  # newer, but nothing to show
    config = SessionConfig()
    config.training.output_dir = str(out)
    session = save_session(config, tmp_path / "beamtime.toml")
    assert window.controller.session.open_session(session)
    wait_read(window)
    assert window.reconstruction_view.obj is not None
    assert window.reconstruction_view.caption.text().startswith("run-001 (completed)")
    assert window.action_export.isEnabled()
    window.controller.session.new_session()  # New: defaults, nothing of the old runs
    assert window.reconstruction_view.obj is None


def test_compare_view_fits_a_and_b_to_their_values(qtbot, tmp_path):
    """A weak phase (a few tenths of a radian, as in a real sample) fills the colour bar of
    each panel, each fitted to its own values (a global phase offset of 0.4 rad between the
    two would wash one out on a shared scale); long titles do not widen the panels."""
    from PySide6.QtWidgets import QApplication

    rng = np.random.default_rng(3)
    phase_a = 0.3 * rng.random((48, 56))
    a_obj = (0.9 * np.exp(1j * phase_a)).astype(np.complex64)
    b_obj = (0.7 * np.exp(1j * (phase_a - 0.4))).astype(np.complex64)
    view = CompareView()
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    long_name = "a-reconstruction-with-a-long-descriptive-name.h5"
    with qtbot.waitSignal(view.compared, timeout=10000):
        view.set_pair(open_result(_product(tmp_path / long_name, a_obj)),
                      open_result(_product(tmp_path / "b.h5", b_obj)))
    for _ in range(5):
        QApplication.processEvents()
    assert view.width() <= 1000  # not grown to fit the titles (it grew to 1419 px)
    right_edge = view.panel_diff.mapTo(view, view.panel_diff.rect().topRight()).x()
    assert right_edge <= view.width()
    assert view.panel_a.title.toolTip() == view.panel_a.title.text()
    low, high = view.panel_a.levels()
    assert -0.05 < low < 0.05 and 0.25 < high < 0.35  # fitted, not -pi..pi
    low, high = view.panel_b.levels()
    assert -0.45 < low < -0.35 and -0.15 < high < -0.05
    assert "phase range fitted" in view.panel_a.title.text()
    assert np.nanmax(np.abs(view.difference)) < 0.02  # the offset is removed there
    view.component_box.setCurrentText("amplitude")
    assert view.panel_b.levels()[1] < 0.75 < view.panel_a.levels()[0]  # 0.7 and 0.9


def test_a_large_comparison_runs_off_the_gui_thread(qtbot, tmp_path):
    """Two 1024 x 1024 results (about a second to align and score here, seconds for larger
    ones): the window keeps answering while they are compared, a newer request replaces an
    older one, and only the newest comparison is shown."""
    from PySide6.QtCore import QTimer

    rng = np.random.default_rng(4)
    big = (0.9 * np.exp(0.3j * rng.random((1024, 1024)))).astype(np.complex64)
    view = CompareView()
    qtbot.addWidget(view)
    a = open_result(_product(tmp_path / "a.h5", big))
    b = open_result(_product(tmp_path / "b.h5", (big * np.exp(0.2j)).astype(np.complex64)))
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    with qtbot.waitSignal(view.compared, timeout=60000) as done:
        view.set_pair(a, b)
        assert view.busy and "Comparing b.h5 with a.h5" in view.summary.text()
        view.register_box.setChecked(True)  # a newer request while the first one runs
    timer.stop()
    assert "shift (dy, dx)" in done.args[0]  # the newest request's result, not the first
    assert "offset 0.200 rad" in done.args[0]
    assert len(ticks) >= 5  # the event loop kept running during the comparison
    assert view.shutdown(10)


def test_after_a_restart_infer_uses_the_newest_completed_run_not_a_cancelled_one(
        window, qtbot, tmp_path, wait_read):
    from engine.config import SessionConfig, save_session

    out = tmp_path / "runs"
    done = _run(out / "run-001", _object(), truth=_object(), last_ckpt=True)
    (done / "checkpoints" / "best-0003.ckpt").write_bytes(b"w")
    _run(out / "run-002", _object(seed=1), status="cancelled", last_ckpt=True)  # newer
    config = SessionConfig()
    config.training.output_dir = str(out)
    c = window.controller
    assert c.session.open_session(save_session(config, tmp_path / "beamtime.toml"))
    wait_read(window)
    # The completed run is shown and inferred with, although the cancelled one is newer.
    assert window.reconstruction_view.caption.text().startswith("run-001 (completed)")
    assert c.document.config.inference.checkpoint == str(done / "checkpoints/best-0003.ckpt")
    assert window.form.editor("inference.checkpoint").value().endswith("best-0003.ckpt")
    assert not [r for r in c.runs.run_blockers("infer") if "checkpoint" in r]
    # The Runs panel infers with the run the user picks (a pin: later runs leave it).
    started = []
    c.runs.start_infer = lambda: started.append(c.document.config.inference.checkpoint) or True
    panel = window.runs_panel
    panel.select(out / "run-002")
    assert panel.infer_button.isEnabled()
    panel.infer_button.click()
    assert started == [str(out / "run-002" / "checkpoints" / "last.ckpt")]
    assert not c.runs.checkpoint_follows_runs()


def test_runs_panel_cannot_infer_with_a_run_without_checkpoint(qtbot, tmp_path, wait_listed):
    _run(tmp_path / "run-001", _object())
    panel = RunsPanel()
    qtbot.addWidget(panel)
    panel.set_folder(tmp_path)
    wait_listed(panel)
    panel.select(tmp_path / "run-001")
    assert panel.open_button.isEnabled() and not panel.infer_button.isEnabled()


def test_runs_panel_loads_a_runs_settings_and_diffs_two_runs(window, tmp_path, wait_read):
    from engine.config import SessionConfig, save_session

    out = tmp_path / "runs"
    first, second = _run(out / "run-001", _object()), _run(out / "run-002", _object())
    config = SessionConfig()
    config.data.path = "/beamline/scan12.npz"
    config.training.learning_rate = 3e-4
    config.training.max_epochs = 7
    config.training.output_dir = str(second)  # a run's own file names its run folder
    save_session(config, second / "session.toml")
    c = window.controller
    c.session.set_field("training.output_dir", str(out))
    panel = window.runs_panel
    wait_read(window)
    shown = []
    c.dialogs.show_text = lambda parent, title, text, folder=None: shown.append((title, text))
    panel.select(first, second)
    assert panel.diff_button.isEnabled() and not panel.load_settings_button.isEnabled()
    panel.diff_button.click()
    title, text = shown[-1]
    assert title == "Settings: run-001 vs run-002"
    assert "`training.learning_rate`" in text and "`0.0003`" in text
    assert "`training.max_epochs`" in text and "`data.path`" not in text
    panel.select(second)
    panel.load_settings_button.click()
    assert c.document.config.training.learning_rate == 3e-4
    assert c.document.config.training.max_epochs == 7
    assert window.form.editor("training.max_epochs").widget.value() == 7
    assert c.document.config.training.output_dir == str(out)  # the session's runs stay put
    assert "Loaded the settings of run-002" in window.log_pane.toPlainText()
    (first / "session.toml").write_text("[training]\nmax_epochs = 'many'\n")
    errors = []
    c.dialogs.show_error = lambda parent, title, text, details: errors.append(text)
    panel.select(first)
    panel.load_settings_button.click()
    assert "session.toml" in errors[0] and "max_epochs" in errors[0]
    assert c.document.config.training.max_epochs == 7  # nothing changed


def test_a_run_without_settings_file_is_refused_in_one_readable_line(tmp_path):
    from engine.errors import ConfigError
    from ptycho_gui.model.results import run_settings

    with pytest.raises(ConfigError) as refused:
        run_settings(tmp_path)
    assert refused.value.issues == ["no settings file in this run folder (expected "
                                    "session.toml)"]
    assert str(tmp_path / "session.toml") in str(refused.value)
