"""A full disk is a one-line message, never a crash or a half-written file (issue 12).

HDF5 writes are injected with ``ENOSPC`` after a given number of bytes in a fresh interpreter
(HDF5 2.0 crashes at interpreter exit after an unhandled failed write, so only a separate
process shows that it does not). Where the system allows unprivileged mount namespaces, the
CLI also runs on a real, tiny tmpfs.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.atomic import atomic_path, atomic_write_text, is_disk_full
from engine.errors import DiskFullError
from engine.io import write_ptychopinn_npz

ROOT = Path(__file__).resolve().parents[1]

INJECT = r"""
import errno, io, json, os, sys
import numpy as np
import engine.io.h5files as h5files
from engine.errors import DiskFullError
from engine.io import write_diffraction, write_product

budget = int(sys.argv[3])

class Full(io.FileIO):
    written = 0
    def write(self, data):
        n = len(memoryview(data).cast("B"))
        if Full.written + n > budget:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        Full.written += n
        return super().write(data)

h5files.open = lambda path, mode, buffering=-1: Full(path, mode.replace("b", ""))
target = sys.argv[2]
rng = np.random.default_rng(0)
try:
    if sys.argv[1] == "diffraction":
        write_diffraction(target, rng.poisson(3.0, (96, 32, 32)).astype(np.float32))
    else:
        write_product(target, obj=rng.random((256, 256)).astype(np.complex64),
                      probe=np.ones((32, 32), np.complex64), positions_px=np.zeros((4, 2)) + 100,
                      object_pixel_size_m=1e-8)
    print(json.dumps({"written": True, "bytes": Full.written}))
except DiskFullError as exc:
    print(json.dumps({"error": str(exc), "bytes": Full.written}))
"""


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


@pytest.mark.parametrize("kind", ["diffraction", "product"])
@pytest.mark.parametrize("budget", [0, 1500, 40_000])
def test_hdf5_writers_on_a_full_disk(kind, budget, tmp_path):
    target = tmp_path / f"{kind}.h5"
    target.write_bytes(b"previous complete version")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", INJECT, kind, str(target), str(budget)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])  # no crash at exit
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["error"] == (f"no space left on the disk while writing {target}; it was "
                               "left as it was before this write; free some space and try again")
    assert target.read_bytes() == b"previous complete version"
    assert leftovers(tmp_path) == []


def test_hdf5_writer_with_room_writes_the_file(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    target = tmp_path / "product.h5"
    proc = subprocess.run([sys.executable, "-c", INJECT, "product", str(target), str(10**9)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and json.loads(proc.stdout)["written"], proc.stderr
    from engine.io import read_product

    assert read_product(target).object.shape == (256, 256)


def test_npz_writer_on_a_full_disk(tmp_path, monkeypatch):
    target = tmp_path / "d.npz"
    target.write_bytes(b"old")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", full)
    with pytest.raises(DiskFullError, match=r"while writing .*d\.npz; it was left as it was"):
        write_ptychopinn_npz(target, patterns=np.ones((2, 8, 8), np.float32),
                             positions=np.zeros((2, 2)), probe=np.ones((8, 8), np.complex64),
                             measurement="counts")
    assert target.read_bytes() == b"old" and leftovers(tmp_path) == []


def test_atomic_writes_turn_every_disk_full_form_into_one_error(tmp_path, monkeypatch):
    with pytest.raises(DiskFullError):
        with atomic_path(tmp_path / "a.txt"):
            raise RuntimeError("[enforce fail] No space left on device")  # torch's form
    with pytest.raises(DiskFullError):
        with atomic_path(tmp_path / "b.txt"):
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
    with pytest.raises(ValueError):  # anything else is left alone
        with atomic_path(tmp_path / "c.txt"):
            raise ValueError("not a disk problem")

    def no_inode(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("tempfile.mkstemp", no_inode)
    with pytest.raises(DiskFullError, match="summary.json"):
        atomic_write_text(tmp_path / "summary.json", "{}")
    assert list(tmp_path.iterdir()) == []
    assert is_disk_full(OSError(errno.ENOSPC, "x")) and not is_disk_full(OSError(errno.EIO, "x"))


# -- a real full disk (tmpfs in a private mount namespace) ------------------------------------

def _namespaces_work() -> bool:
    if shutil.which("unshare") is None or sys.platform != "linux":
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


def run_on_tiny_disk(tmp_path: Path, size: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m engine.cli.main ARGS`` with ``{disk}`` a fresh tmpfs of ``size``."""
    disk = tmp_path / "disk"
    disk.mkdir()
    cli = " ".join(f"'{a.format(disk=disk)}'" for a in args)
    script = (f"mount -t tmpfs -o size={size} tmpfs '{disk}' && "
              f"'{sys.executable}' -m engine.cli.main {cli}; rc=$?; "
              f"ls -A -R '{disk}' >&2; exit $rc")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1",
               PYTHONWARNINGS="ignore")
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


needs_namespaces = pytest.mark.skipif(not _namespaces_work(),
                                      reason="no unprivileged mount namespaces here")


@needs_namespaces
def test_simulate_on_a_real_full_disk(tmp_path):
    proc = run_on_tiny_disk(tmp_path, "300k", "simulate", "--preset", "tiny", "--out",
                            "{disk}/sim", "--no-progress-bar")
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no space left on the disk while writing" in errors[0]
    assert "Traceback" not in proc.stderr and ".tmp-" not in proc.stderr


FILL_DURING_TRAINING = r"""
set -u
mount -t tmpfs -o size=270m tmpfs "$DISK" || exit 99
"$PY" -m engine.cli.main train --data "$DATA" --out "$DISK/run" --no-progress-bar \
    --accelerator cpu --set model.N=32 --set model.width=8 --set model.depth=2 \
    --set training.max_epochs=15 --set training.gain_check_every=0 --set training.batch_size=8 \
    --set execution.logger=csv \
    >/dev/null 2>"$WORK/train.err" &
pid=$!
while [ ! -f "$DISK/run/checkpoints/last.ckpt" ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done
dd if=/dev/zero of="$DISK/fill" bs=1M >/dev/null 2>&1
wait $pid; echo "train=$?"
rm "$DISK/fill"
"$PY" -m engine.cli.main train --resume "$DISK/run" --no-progress-bar >/dev/null \
    2>"$WORK/resume.err"
echo "resume=$?"
cp "$DISK/run/summary.json" "$WORK/summary.json"
find "$DISK/run" -name '.*tmp-*' > "$WORK/leftovers"
"""


@pytest.mark.slow
@needs_namespaces
def test_training_when_the_disk_fills_up_for_real(tmp_path):
    data = tmp_path / "data"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    made = subprocess.run([sys.executable, "-m", "engine.cli.main", "simulate", "--preset",
                           "tiny", "--out", str(data), "--no-progress-bar"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    disk = tmp_path / "disk"
    disk.mkdir()
    env.update(DISK=str(disk), WORK=str(tmp_path), PY=sys.executable,
               DATA=str(data / "dataset.npz"))
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", FILL_DURING_TRAINING], env=env,
                          capture_output=True, text=True, timeout=600)
    assert "train=2" in proc.stdout and "resume=0" in proc.stdout, (proc.stdout, proc.stderr)
    err = (tmp_path / "train.err").read_text()
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert "Traceback" not in err and len(errors) == 1, err
    assert "no space left on the disk" in errors[0] and "train --resume" in errors[0]
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "completed"
    assert (tmp_path / "leftovers").read_text() == ""
