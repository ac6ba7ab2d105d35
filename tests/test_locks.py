"""One writer per output folder (issue 12): ``engine.locks`` with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_faults_helpers import snapshot, start_holder

from engine.atomic import atomic_path, is_temporary, remove_temporaries
from engine.errors import RunError
from engine.locks import LOCK_NAME, FolderInUseError, lock_folder, read_holder

ROOT = Path(__file__).resolve().parents[1]

def test_second_writer_is_refused_with_the_holders_pid_and_changes_nothing(tmp_path):
    folder = tmp_path / "run"
    holder = start_holder(folder)
    try:
        (folder / "summary.json").write_text("{}")
        before = snapshot(folder)
        with pytest.raises(FolderInUseError, match=rf"in use by PID {holder.pid} "
                           r"\(test holder\)") as info:
            lock_folder(folder, "second")
        assert isinstance(info.value, RunError) and info.value.pid == holder.pid
        assert snapshot(folder) == before
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0
    # Released: the lock file is gone and the folder can be taken.
    assert not (folder / LOCK_NAME).exists()
    with lock_folder(folder, "third") as lock:
        assert lock.held
    assert sorted(p.name for p in folder.iterdir()) == ["summary.json"]


def test_lock_of_a_killed_process_is_taken_over_and_its_temporaries_removed(tmp_path):
    folder = tmp_path / "run"
    holder = start_holder(folder)
    with atomic_path(folder / "keep.txt") as tmp:   # a complete file stays
        tmp.write_text("ok")
    (folder / "checkpoints").mkdir()
    leftovers = [folder / ".reconstruction.h5.tmp-a1b2c3d4.h5",
                 folder / "checkpoints" / ".last.ckpt.tmp-zz99yy88.ckpt"]
    for path in leftovers:
        path.write_bytes(b"partial")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    # The dead holder's PID is still written in the lock file...
    assert read_holder(folder / LOCK_NAME)[0] == holder.pid
    # ...but the operating system released its flock: the lock is taken over.
    with lock_folder(folder, "resume") as lock:
        assert read_holder(folder / LOCK_NAME)[0] == os.getpid()
        assert sorted(lock.removed_temporaries) == sorted(leftovers)
        assert not any(p.exists() for p in leftovers)
        assert (folder / "keep.txt").read_text() == "ok"
    assert not (folder / LOCK_NAME).exists()


def test_only_one_of_many_simultaneous_writers_wins(tmp_path):
    folder = tmp_path / "run"
    racer = ("import sys, time\nfrom engine.locks import lock_folder, FolderInUseError\n"
             "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
             "try:\n    lock = lock_folder(sys.argv[1], 'race')\nexcept FolderInUseError:\n"
             "    print('refused'); sys.exit(0)\nprint('won', flush=True); time.sleep(1.5)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = f"{time.time() + 2.0}"
    procs = [subprocess.Popen([sys.executable, "-c", racer, str(folder), start], env=env,
                              text=True, stdout=subprocess.PIPE) for _ in range(4)]
    outcomes = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outcomes == ["refused", "refused", "refused", "won"], outcomes


def test_a_forked_child_does_not_release_the_parents_lock(tmp_path):
    folder = tmp_path / "run"
    lock = lock_folder(folder, "parent")
    pid = os.fork()
    if pid == 0:  # the child drops its copy, as a data-loader worker would
        lock.release()
        os._exit(0)
    os.waitpid(pid, 0)
    assert (folder / LOCK_NAME).exists()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    probe = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom engine.locks import lock_folder\n"
         "lock_folder(sys.argv[1])", str(folder)], env=env, capture_output=True, text=True,
        timeout=60)
    assert "in use by PID" in probe.stderr
    lock.release()


def test_remove_temporaries_only_touches_atomic_temporaries(tmp_path):
    names = [".a.h5.tmp-abcd1234.h5", "a.h5", ".hidden", "notes.tmp-1", ".session.toml"]
    for name in names:
        (tmp_path / name).write_text("x")
    assert [n for n in names if is_temporary(n)] == [".a.h5.tmp-abcd1234.h5"]
    assert remove_temporaries(tmp_path) == [tmp_path / ".a.h5.tmp-abcd1234.h5"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])


def test_unwritable_folder_is_a_run_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunError, match="cannot create the output folder"):
        lock_folder(blocker / "run")
