"""A number editor that never changes what was typed.

``QSpinBox`` and ``QDoubleSpinBox`` refuse keystrokes that would leave their range, clamp on
commit and round to their decimals: ``1e-9`` became ``1``, ``100000`` became ``10000`` and
letters vanished. :class:`NumberBox` accepts any text while typing, reads it on commit
(Return or leaving the field) and reports the number, or the text when it is no number, to
its owner, who validates it and marks the field; it never clamps, rounds or truncates. The
arrows step within the range. Python ints have no 32-bit limit.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractSpinBox, QWidget

Number = int | float


def format_float(value: float) -> str:
    """The shortest readable text that reads back as exactly ``value``.

    ``0.0001`` stays ``0.0001``, ``75e-6`` becomes ``7.5e-05``, ``1e12`` becomes ``1e+12``.
    """
    text = f"{value:.12g}"
    if float(text) != value:
        text = repr(float(value))  # shortest round-trip representation
    return text


def parse_number(text: str, integer: bool) -> Number | None:
    """``text`` as an int (``integer``) or a finite float; None when it is neither.

    An integer field accepts ``"1e3"`` (1000) but not ``"1.5"``: nothing is truncated.
    """
    body = text.strip().replace("_", "")
    if not body:
        return None
    if integer:
        try:
            return int(body)
        except ValueError:
            pass
    try:
        value = float(body)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    if integer:
        return int(value) if value.is_integer() else None
    return value


class NumberBox(QAbstractSpinBox):
    """An int or float field: any text while typing, read on commit, never clamped.

    Signals
    -------
    valueChanged(object)
        A new number (from :meth:`setValue`, a commit or the arrows).
    textCommitted(str)
        The text committed is no number (the owner flags it; the text stays as typed).
    """

    valueChanged = Signal(object)  # noqa: N815 (Qt naming)
    textCommitted = Signal(str)  # noqa: N815

    def __init__(self, integer: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.integer = integer
        self._minimum: Number = -math.inf
        self._maximum: Number = math.inf
        self._step: Number = 1
        self._value: Number = 0
        self.lineEdit().setText("0")
        self.editingFinished.connect(self.commit)

    # -- spin box API ---------------------------------------------------------------------
    def minimum(self) -> Number:
        return self._minimum

    def maximum(self) -> Number:
        return self._maximum

    def setRange(self, minimum: Number, maximum: Number) -> None:  # noqa: N802
        """The range of the arrows and of the ``allowed`` hint (typed values are not held
        to it)."""
        self._minimum, self._maximum = minimum, maximum

    def singleStep(self) -> Number:  # noqa: N802
        return self._step

    def setSingleStep(self, step: Number) -> None:  # noqa: N802
        self._step = step if step > 0 else 1

    def value(self) -> Number:
        """The last number shown or committed."""
        return self._value

    def setValue(self, value: Number) -> None:  # noqa: N802
        """Show ``value`` exactly (out of range too: validation flags it)."""
        value = int(value) if self.integer else float(value)
        self.lineEdit().setText(self.textFromValue(value))
        if value != self._value or type(value) is not type(self._value):
            self._value = value
            self.valueChanged.emit(value)

    def textFromValue(self, value: Number) -> str:  # noqa: N802
        return str(int(value)) if self.integer else format_float(float(value))

    def commit(self) -> None:
        """Read the text: a number is the new value, anything else is reported as text."""
        text = self.lineEdit().text()
        number = parse_number(text, self.integer)
        if number is None:
            self.textCommitted.emit(text)
            return
        if number != self._value or type(number) is not type(self._value):
            self._value = number
            self.valueChanged.emit(number)

    def is_number(self) -> bool:
        """Whether the text shown reads as a number."""
        return parse_number(self.lineEdit().text(), self.integer) is not None

    # -- QAbstractSpinBox overrides -----------------------------------------------------------
    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        return QValidator.State.Acceptable, text, pos  # any text while typing

    def fixup(self, text: str) -> str:
        return text  # never rewrite what was typed

    def stepBy(self, steps: int) -> None:  # noqa: N802
        if not self.is_number():
            return
        self.commit()
        value = min(self._maximum, max(self._minimum, self._value + steps * self._step))
        self.setValue(value)

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:  # noqa: N802
        flags = QAbstractSpinBox.StepEnabledFlag.StepNone
        if self._value > self._minimum:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        if self._value < self._maximum:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        return flags
