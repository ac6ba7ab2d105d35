"""The settings form, generated from the schema: one tab per section, one box per group.

Adding a field to ``engine/config/schema.py`` adds a row here; nothing lists fields by hand.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QLabel,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.config import (
    ConfigIssue,
    FieldSpec,
    SessionConfig,
    copy_config,
    iter_fields,
    section_classes,
    section_label,
)

from .field_editors import FieldEditor, allowed_range, field_label, make_editor
from .views.widgets import SectionBar

_GUI_SOURCE = re.compile(r" \(from gui[^)]*\)")


@dataclasses.dataclass
class FieldRow:
    """The widgets of one field: its label, editor and (hidden until needed) problem text."""

    spec: FieldSpec
    label: QLabel
    editor: FieldEditor
    message: QLabel
    box: QGroupBox

    def set_visible(self, visible: bool) -> None:
        self.label.setVisible(visible)
        self.editor.widget.setVisible(visible)
        self.message.setVisible(visible and bool(self.message.text()))


class ConfigForm(QWidget):
    """All settings of a :class:`SessionConfig`, editable.

    Signals
    -------
    value_edited(str, object)
        ``(key, value)`` after the user changed one field (never while :meth:`set_config`
        loads values).
    """

    value_edited = Signal(str, object)

    def __init__(self, specs: Iterable[FieldSpec] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: dict[str, FieldRow] = {}
        self._show_advanced = False
        self._issue_keys: set[str] = set()
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("config-tabs")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self._boxes: dict[tuple[str, str], tuple[QGroupBox, QFormLayout]] = {}
        self._section_pages: dict[str, QVBoxLayout] = {}
        for spec in specs if specs is not None else iter_fields():
            self._add_row(spec)
        for page in self._section_pages.values():
            page.addStretch(1)
        # Every section one click away, also in a narrow dock (buttons wrap into rows).
        self.section_bar = SectionBar(self.tabs)
        layout.insertWidget(0, self.section_bar)
        self._apply_visibility()

    # -- construction ---------------------------------------------------------------------
    def _section_layout(self, section: str) -> QVBoxLayout:
        if section not in self._section_pages:
            inner = QWidget()
            page = QVBoxLayout(inner)
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(inner)
            index = self.tabs.addTab(scroll, section_label(section))
            cls = section_classes().get(section)
            doc = (cls.__doc__ or "").strip().splitlines()[0] if cls is not None else ""
            self.tabs.setTabToolTip(index, doc)
            self._section_pages[section] = page
        return self._section_pages[section]

    def _group_box(self, section: str, group: str) -> tuple[QGroupBox, QFormLayout]:
        key = (section, group)
        if key not in self._boxes:
            box = QGroupBox(group.capitalize())
            form = QFormLayout(box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            self._section_layout(section).addWidget(box)
            self._boxes[key] = (box, form)
        return self._boxes[key]

    def _add_row(self, spec: FieldSpec) -> None:
        box, form = self._group_box(spec.section, spec.meta.group)
        editor = make_editor(spec, box)
        label = QLabel(field_label(spec) + (" ⚙" if spec.meta.advanced else ""), box)
        label.setToolTip(editor.widget.toolTip())
        label.setBuddy(editor.widget)
        message = QLabel(box)
        message.setObjectName(f"issue:{spec.key}")
        message.setWordWrap(True)
        message.setStyleSheet("color: #d32f2f;")
        message.setVisible(False)
        form.addRow(label, editor.widget)
        form.addRow("", message)
        editor.edited.connect(lambda value, key=spec.key: self.value_edited.emit(key, value))
        self.rows[spec.key] = FieldRow(spec, label, editor, message, box)

    # -- values ---------------------------------------------------------------------------
    def editor(self, key: str) -> FieldEditor:
        """The editor of ``section.field``."""
        return self.rows[key].editor

    def set_config(self, config: SessionConfig) -> None:
        """Show every value of ``config`` (no :attr:`value_edited` signals)."""
        for row in self.rows.values():
            row.editor.set_value(getattr(getattr(config, row.spec.section), row.spec.name))

    def show_value(self, key: str, value: object) -> None:
        """Show ``value`` in ``key``'s editor unless it shows it already (no signal)."""
        editor = self.rows[key].editor
        if editor.value() != value:
            editor.set_value(value)

    def config(self, base: SessionConfig | None = None) -> SessionConfig:
        """The config shown: ``base`` (default: defaults) with every form value set."""
        config = copy_config(base if base is not None else SessionConfig())
        for row in self.rows.values():
            setattr(getattr(config, row.spec.section), row.spec.name, row.editor.value())
        return config

    # -- advanced and problems --------------------------------------------------------------
    @property
    def show_advanced(self) -> bool:
        return self._show_advanced

    def set_show_advanced(self, show: bool) -> None:
        """Unfold (or fold away) the fields marked advanced."""
        self._show_advanced = show
        self._apply_visibility()

    def is_field_visible(self, key: str) -> bool:
        """Whether ``key``'s row is shown (advanced rows fold away unless they have a problem)."""
        row = self.rows[key]
        return self._show_advanced or not row.spec.meta.advanced or key in self._issue_keys

    def _apply_visibility(self) -> None:
        shown_boxes: set[int] = set()
        for key, row in self.rows.items():
            visible = self.is_field_visible(key)
            row.set_visible(visible)
            if visible:
                shown_boxes.add(id(row.box))
        for box, _ in self._boxes.values():
            box.setVisible(id(box) in shown_boxes)

    def show_issues(self, issues: Iterable[ConfigIssue]) -> list[ConfigIssue]:
        """Mark each issue at its field; return the issues that belong to no field."""
        by_key: dict[str, list[str]] = {}
        unplaced: list[ConfigIssue] = []
        for issue in issues:
            if issue.key in self.rows:
                by_key.setdefault(issue.key, []).append(issue.message)
            else:
                unplaced.append(issue)
        for key, row in self.rows.items():
            # "(from gui)" says where a value came from: plain at the field the user edits.
            text = "; ".join(_GUI_SOURCE.sub("", message) for message in by_key.get(key, []))
            if text and allowed_range(row.spec):
                text += f" (allowed: {allowed_range(row.spec)})"
            row.editor.set_issue(text or None)
            row.message.setText(text)
        self._issue_keys = set(by_key)
        self._apply_visibility()
        return unplaced

    def issue_text(self, key: str) -> str:
        """The problem shown under ``key`` ("" when none)."""
        return self.rows[key].message.text()

    def focus_field(self, key: str) -> None:
        """Bring the tab of ``key`` forward and focus its editor."""
        row = self.rows[key]
        label = section_label(row.spec.section)
        for index in range(self.tabs.count()):
            if self.tabs.tabText(index) == label:
                self.tabs.setCurrentIndex(index)
        row.editor.widget.setFocus(Qt.FocusReason.OtherFocusReason)

