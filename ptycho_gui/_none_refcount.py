"""Work-around for a reference-counting bug of some PySide6 builds on CPython 3.11.

PySide6 6.12.0 (an abi3 wheel compiled against CPython >= 3.12 headers, where ``None`` is
immortal) returns ``None`` without taking a reference: on CPython 3.11 every call of a
``void`` Qt method (``setObjectName``, ``hide``...) or of one returning a null pointer
(``parent()``) leaves ``None`` one reference short. A GUI makes such calls constantly, so
after some thousands of them the interpreter aborts with "Fatal Python error: none_dealloc:
deallocating None".

:func:`protect_none` detects the leak (a few void calls, refcount measured before and after)
and, only when present, gives ``None`` a huge number of extra references: it then behaves as
on CPython 3.12, where ``None`` is immortal. Nothing is done on 3.12+ or with a sound build.
"""

from __future__ import annotations

import ctypes
import sys

EXTRA_REFERENCES = 1 << 60
PROBE_CALLS = 64


def none_leaks_per_call() -> float:
    """References to ``None`` lost per ``void`` Qt call (0.0 with a sound build)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        probe.setObjectName("probe")
    return (before - sys.getrefcount(None)) / PROBE_CALLS


def protect_none() -> bool:
    """Make ``None`` effectively immortal when the binding leaks it; True if applied."""
    if sys.version_info >= (3, 12) or hasattr(sys, "getobjects"):
        # 3.12+: None is immortal already. Trace-refs debug builds lay PyObject out
        # differently; leave them alone.
        return False
    if none_leaks_per_call() <= 0:
        return False
    refcount = ctypes.c_ssize_t.from_address(id(None))
    before = sys.getrefcount(None)
    refcount.value += EXTRA_REFERENCES
    if sys.getrefcount(None) != before + EXTRA_REFERENCES:  # not the field we expected
        refcount.value -= EXTRA_REFERENCES
        return False
    return True
