"""Every schema field has a fitting widget, and every value survives widget -> config."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox

from engine.config import FieldMeta, FieldSpec, SessionConfig, config_to_dict, iter_fields
from ptycho_gui.config_form import ConfigForm
from ptycho_gui.field_editors import PathEditor, field_label, make_editor
from ptycho_gui.spinboxes import NumberBox, format_float


def sample_values(spec: FieldSpec) -> list:
    """Values a user may set: bounds, the default, and tricky ones (1e-4, large ints)."""
    meta = spec.meta
    if meta.choices:
        return list(meta.choices)
    if spec.types == (bool,):
        return [True, False]
    if spec.types == (int,):
        low, high = int(meta.min), int(meta.max)
        return sorted({low, high, spec.default, (low + high) // 2, min(high, low + 1)})
    if spec.types == (float,):
        values = {meta.min, meta.max, spec.default, (meta.min + meta.max) / 3}
        values |= {v for v in (1e-4, 7.5e-5, 1e-8, 123456.789) if meta.min <= v <= meta.max}
        return sorted(float(v) for v in values)
    if spec.meta.path:
        return ["", "/data/scan 042/ü-dataset.npz", "relative/product.h5"]
    values: list = [spec.default, "0,1"]
    if int in spec.types:
        values += [2, -1]
    return values


def non_default(spec: FieldSpec):
    return next(v for v in reversed(sample_values(spec)) if v != spec.default)


@pytest.mark.parametrize("spec", iter_fields(), ids=lambda s: s.key)
def test_every_field_round_trips_through_its_widget(qtbot, spec):
    editor = make_editor(spec)
    qtbot.addWidget(editor.widget)
    for value in sample_values(spec):
        editor.set_value(value)
        got = editor.value()
        assert got == value and type(got) is type(value), (spec.key, value, got)


def test_form_round_trips_a_config_with_every_field_changed(qtbot):
    config = SessionConfig()
    for spec in iter_fields():
        setattr(getattr(config, spec.section), spec.name, non_default(spec))
    form = ConfigForm()
    qtbot.addWidget(form)
    form.set_config(config)
    assert config_to_dict(form.config()) == config_to_dict(config)
    # Every field of the schema has a row: adding one to the schema adds it to the form.
    assert set(form.rows) == {spec.key for spec in iter_fields()}


def test_widget_kind_follows_field_type(qtbot):
    form = ConfigForm()
    qtbot.addWidget(form)
    for spec in iter_fields():
        widget = form.editor(spec.key).widget
        if spec.meta.choices:
            assert isinstance(widget, QComboBox)
            assert [widget.itemData(i) for i in range(widget.count())] == list(spec.meta.choices)
        elif spec.types == (bool,):
            assert isinstance(widget, QCheckBox)
        elif spec.types in ((int,), (float,)):
            assert isinstance(widget, NumberBox) and widget.integer == (spec.types == (int,))
            assert (widget.minimum(), widget.maximum()) == (spec.meta.min, spec.meta.max)
        elif spec.meta.path:
            assert isinstance(form.editor(spec.key), PathEditor)
        assert spec.meta.help in widget.toolTip()
        if spec.meta.unit:
            assert f"({spec.meta.unit})" in form.rows[spec.key].label.text()


def test_typing_scientific_notation_keeps_full_precision(qtbot):
    box = NumberBox(integer=False)
    qtbot.addWidget(box)
    box.setRange(1e-8, 10.0)
    for typed, expected in (("1e-4", 1e-4), ("7.5e-05", 7.5e-5), ("0.000123", 0.000123)):
        box.lineEdit().selectAll()
        qtbot.keyClicks(box.lineEdit(), typed)
        qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
        assert box.value() == expected
    box.setValue(1e-4)
    assert box.text() == "0.0001"  # not "0.00" as a default QDoubleSpinBox shows
    assert format_float(75e-6) == "7.5e-05" and format_float(1e12) == "1e+12"


def test_learning_rate_1e_4_survives_the_form(qtbot):
    form = ConfigForm()
    qtbot.addWidget(form)
    edits = []
    form.value_edited.connect(lambda key, value: edits.append((key, value)))
    line = form.editor("training.learning_rate").widget.lineEdit()
    line.selectAll()
    qtbot.keyClicks(line, "1e-4")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    assert edits[-1] == ("training.learning_rate", 1e-4)
    assert form.config().training.learning_rate == 1e-4


def test_integers_beyond_32_bits_are_kept(qtbot):
    spec = FieldSpec("data", "huge", int, 0,
                     FieldMeta(help="A count beyond 2^31.", min=0, max=2**40, step=1000))
    editor = make_editor(spec)
    qtbot.addWidget(editor.widget)
    for value in (0, 2**31 + 5, 2**40):
        editor.set_value(value)
        assert editor.value() == value
    edits = []
    editor.edited.connect(edits.append)
    line = editor.widget.lineEdit()
    line.selectAll()
    qtbot.keyClicks(line, str(3 * 2**33))
    qtbot.keyClick(line, Qt.Key.Key_Return)
    assert editor.value() == 3 * 2**33 and edits[-1] == 3 * 2**33
    editor.widget.stepBy(2)
    assert editor.value() == 3 * 2**33 + 2000
    editor.set_value(2**41)  # beyond max: shown as it is (validation flags it), never clamped
    assert editor.value() == 2**41


def type_into(qtbot, window, key, text):
    """Type ``text`` into ``key``'s number field as a user would, then press Return."""
    line = window.form.editor(key).widget.lineEdit()
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)
    return line


@pytest.mark.parametrize("key, typed, expected", [
    ("training.learning_rate", "1e-9", 1e-9),
    ("training.learning_rate", "20", 20.0),
    ("training.batch_size", "100000", 100000),
    ("training.batch_size", "999999999", 999999999),
])
def test_numbers_are_never_clamped_out_of_range_ones_are_marked(window, qtbot, key, typed,
                                                               expected):
    line = type_into(qtbot, window, key, typed)
    assert line.text() == typed  # what was typed stays
    assert window.controller.document.config.training.__dict__[key.split(".")[1]] == expected
    text = window.form.issue_text(key)
    assert "must be" in text and "allowed:" in text, text
    assert window.form.editor(key).widget.property("invalid") is True
    assert not window.action_simulate.isEnabled()


def test_letters_in_a_number_field_stay_and_are_marked(window, qtbot):
    line = type_into(qtbot, window, "training.batch_size", "12a")
    assert line.text() == "12a"
    text = window.form.issue_text("training.batch_size")
    assert "expected an integer" in text and "allowed: 1 .. 65536" in text
    assert window.controller.document.modified
    line = type_into(qtbot, window, "training.batch_size", "32")
    assert window.form.issue_text("training.batch_size") == ""
    assert window.controller.document.config.training.batch_size == 32


def test_typing_does_not_validate_until_commit(window, qtbot):
    line = window.form.editor("training.batch_size").widget.lineEdit()
    line.selectAll()
    qtbot.keyClicks(line, "1000000")  # passes through 1, 10... 100000: nothing said yet
    assert line.text() == "1000000"
    assert window.form.issue_text("training.batch_size") == ""
    qtbot.keyClick(line, Qt.Key.Key_Return)
    assert "must be <= 65536" in window.form.issue_text("training.batch_size")


def test_union_field_parses_numbers_and_words(qtbot):
    spec = next(s for s in iter_fields() if len(s.types) > 1)
    editor = make_editor(spec)
    qtbot.addWidget(editor.widget)
    editor.widget.setText("4")
    assert editor.value() == 4
    editor.widget.setText("auto")
    assert editor.value() == "auto"


def test_advanced_fields_are_folded_until_asked(qtbot):
    form = ConfigForm()
    qtbot.addWidget(form)
    form.show()
    advanced = [s.key for s in iter_fields() if s.meta.advanced]
    basic = [s.key for s in iter_fields() if not s.meta.advanced]
    assert advanced and basic
    assert not any(form.is_field_visible(k) for k in advanced)
    assert all(form.is_field_visible(k) for k in basic)
    assert not form.editor(advanced[0]).widget.isVisibleTo(form)
    form.set_show_advanced(True)
    assert all(form.is_field_visible(k) for k in advanced)
    assert form.editor(advanced[0]).widget.isVisibleTo(form)


def test_groups_become_boxes_titled_by_group(qtbot):
    form = ConfigForm()
    qtbot.addWidget(form)
    for spec in iter_fields():
        assert form.rows[spec.key].box.title() == spec.meta.group.capitalize()


def test_path_field_browse_fills_the_path(qtbot):
    spec = next(s for s in iter_fields() if s.meta.path)
    editor = make_editor(spec)
    qtbot.addWidget(editor.widget)
    edits = []
    editor.edited.connect(edits.append)
    editor.browse(lambda parent, caption, start: "/beamline/scan7.npz")
    assert editor.value() == "/beamline/scan7.npz" and edits == ["/beamline/scan7.npz"]
    editor.browse(lambda parent, caption, start: "")  # cancelled dialog: unchanged
    assert editor.value() == "/beamline/scan7.npz"


def test_labels_drop_unit_suffixes():
    spec = next(s for s in iter_fields() if s.key == "simulation.detector_distance_m")
    assert field_label(spec) == "Detector distance (m)"
