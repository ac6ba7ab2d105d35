"""Work-around for a reference-counting bug of some PySide6 builds on CPython 3.11.

PySide6 6.12.0 is an abi3 wheel compiled against CPython >= 3.12 headers, where ``None``,
``True`` and ``False`` are immortal and ``Py_RETURN_NONE`` / ``Py_RETURN_TRUE`` /
``Py_RETURN_FALSE`` no longer take a reference. Run on CPython 3.11, every call of a ``void``
Qt method (``setObjectName``, ``hide``...), of one returning a null pointer (``parent()``)
and some boolean results leave these singletons one reference short. A GUI makes such calls
constantly, so after some thousands of them the interpreter aborts with "Fatal Python error:
none_dealloc: deallocating None" (or ``bool_dealloc``).

:func:`protect_singletons` detects the leak (a few void calls, ``None``'s refcount measured
before and after) and, only when present, gives the singletons that CPython 3.12 made
immortal a huge number of extra references: they then behave as on 3.12. Nothing is done on
3.12+ or with a sound build.
"""

from __future__ import annotations

import ctypes
import sys

EXTRA_REFERENCES = 1 << 60
PROBE_CALLS = 64
SINGLETONS = (None, True, False, NotImplemented, Ellipsis)


def none_leaks_per_call() -> float:
    """References to ``None`` lost per ``void`` Qt call (0.0 with a sound build)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        probe.setObjectName("probe")
    return (before - sys.getrefcount(None)) / PROBE_CALLS


def _add_references(obj: object, count: int) -> bool:
    field = ctypes.c_ssize_t.from_address(id(obj))
    before = sys.getrefcount(obj)
    field.value += count
    if sys.getrefcount(obj) != before + count:  # not the field we expected: undo
        field.value -= count
        return False
    return True


def protect_singletons() -> bool:
    """Make ``None``, ``True``, ``False``... effectively immortal when the binding leaks them.

    Returns True when the protection was applied.
    """
    if sys.version_info >= (3, 12) or hasattr(sys, "getobjects"):
        # 3.12+: the singletons are immortal already. Trace-refs debug builds lay PyObject
        # out differently; leave them alone.
        return False
    if none_leaks_per_call() <= 0:
        return False
    return all([_add_references(obj, EXTRA_REFERENCES) for obj in SINGLETONS])
