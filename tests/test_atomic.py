"""Atomic writes: a failure mid-write leaves the previous file intact and no debris."""

import os
import stat

import pytest

from engine.atomic import atomic_path, atomic_write_text


def test_failure_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "result.h5"
    target.write_text("old complete file")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half-writ")
        raise RuntimeError("disk full")
    assert target.read_text() == "old complete file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.h5"]


def test_success_replaces_and_keeps_suffix(tmp_path):
    target = tmp_path / "a" / "session.toml"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".toml" and tmp.parent == target.parent
        tmp.write_text("x = 1\n")
    assert target.read_text() == "x = 1\n"


def test_written_files_are_readable_by_others(tmp_path):
    target = tmp_path / "shared.txt"
    old = os.umask(0o022)
    try:
        atomic_write_text(target, "hello")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
