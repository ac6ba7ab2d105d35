"""The PySide6 None-refcount guard keeps long sessions alive on CPython 3.11."""

import sys

import ptycho_gui
from ptycho_gui._none_refcount import none_leaks_per_call


def test_void_qt_calls_cannot_exhaust_none(qapp):
    from PySide6.QtCore import QObject

    leak = none_leaks_per_call()
    assert leak == 0 or ptycho_gui.SINGLETON_GUARD_APPLIED
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(20000):  # far more than None's natural reference count on 3.11
        probe.setObjectName("x")
    assert sys.getrefcount(None) > 1000
    for singleton in (True, False):
        assert sys.getrefcount(singleton) > 1000
    assert before - sys.getrefcount(None) <= 20000 * max(leak, 0)
