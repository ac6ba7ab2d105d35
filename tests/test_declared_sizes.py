"""Never trust a declared size (issue 12): files declaring 10^9 patterns in a few KB.

Every surface (CLI inspect/train/infer, API ``engine.inspect``/``engine.load_dataset``) runs in
a fresh interpreter limited to 4 GiB of address space and 60 s; each must exit 2 with a
one-line message naming the file and the dataset, without a traceback. Then the smaller
checks of hostile or careless files: duplicate indexes, index counts that disagree, unit
errors in a product alone, a diffraction file without patterns, real-valued objects,
duplicate positions and all-zero patterns.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_faults_helpers import TINY, make_tiny_dataset

import engine
from engine.errors import DataError
from engine.io import write_diffraction, write_product
from engine.io.bounds import DeclaredSizeError

BOMB = 10**9
N = 16
ADDRESS_SPACE = 4 << 30
LIMIT_S = 60

RUNNER = """
import atexit, json, os, resource, runpy, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
start = time.monotonic()
def _peak_rss_mib():
    # VmHWM: the peak of this program's own memory. ru_maxrss also counts the parent's peak
    # (Linux carries it across fork + exec), i.e. the test runner's after a long session.
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def _stats():
    with open(os.environ["BOMB_STATS"], "w") as fh:
        json.dump({{"wall_s": time.monotonic() - start, "max_rss_mib": _peak_rss_mib()}}, fh)
atexit.register(_stats)
mode = sys.argv[1]
if mode == "cli":
    sys.argv = ["ptycho-engine", *sys.argv[2:]]
    runpy.run_module("engine.cli.main", run_name="__main__")
else:
    import engine
    from engine.errors import EngineError
    try:
        getattr(engine, mode)(sys.argv[2])
    except EngineError as exc:
        print(f"error: {{exc}}", file=sys.stderr)
        sys.exit(2)
"""


# -- hostile files ------------------------------------------------------------------------------

def bomb_diffraction(path: Path, n: int = BOMB, *, indexes: bool = True) -> Path:
    """A few KB of HDF5 declaring ``n`` patterns (and ``n`` indexes): chunked, never written."""
    with h5py.File(path, "w") as h5:
        h5.create_dataset("patterns", shape=(n, N, N), maxshape=(None, N, N),
                          chunks=(1, N, N), dtype="u4", compression="gzip")
        if indexes:
            h5.create_dataset("indexes", shape=(n,), maxshape=(None,), chunks=(1024,),
                              dtype="i8")
    return path


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array)
    return buf.getvalue()


def bomb_npz(path: Path, n: int = BOMB) -> Path:
    """An NPZ whose ``diffraction.npy`` header declares ``n`` patterns over 1 KB of data."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (n, N, N)})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("diffraction.npy", header.getvalue() + b"\0" * 1024)
        zf.writestr("xcoords.npy", _npy(np.linspace(20, 40, 16)))
        zf.writestr("ycoords.npy", _npy(np.linspace(20, 40, 16)))
        zf.writestr("probeGuess.npy", _npy(np.ones((N, N), np.complex64)))
    return path


def small_product(path: Path, positions: np.ndarray | None = None, *,
                  obj: np.ndarray | None = None, pixel_m: float = 1e-8,
                  indexes: np.ndarray | None = None) -> Path:
    k = np.arange(16)
    pos = np.stack([20.0 + 3 * (k % 4), 20.0 + 3 * (k // 4)], axis=1) if positions is None \
        else positions
    yy, xx = np.mgrid[-8:8, -8:8]
    probe = (np.exp(-(xx ** 2 + yy ** 2) / 20.0) * 30).astype(np.complex64)
    return write_product(path, obj=np.ones((64, 64), np.complex64) if obj is None else obj,
                         probe=probe, positions_px=pos, object_pixel_size_m=pixel_m,
                         indexes=indexes)


def counts(m: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.poisson(5.0, (m, N, N)).astype(np.float32)


# -- every surface under a 4 GiB address-space limit ------------------------------------------

@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bombs")
    (folder / "alone").mkdir()
    alone = bomb_diffraction(folder / "alone" / "diffraction.h5", indexes=False)
    pair = folder / "pair"
    pair.mkdir()
    small_product(pair / "product.h5")
    bomb_diffraction(pair / "diffraction.h5")
    npz = bomb_npz(folder / "bomb.npz")
    return {"alone": alone, "product": pair / "product.h5",
            "diffraction": pair / "diffraction.h5", "npz": npz}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint of a one-epoch tiny training (for ``infer --data BOMB``)."""
    import torch

    torch.set_num_threads(1)
    data = make_tiny_dataset(tmp_path_factory)
    out = tmp_path_factory.mktemp("bomb-ckpt") / "run"
    cfg = engine.resolve_config(overrides=dict(TINY, **{"data.path": str(data),
                                                        "training.output_dir": str(out)}))
    return engine.train(cfg).checkpoints["last"]


def run_limited(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    stats = cwd / "stats.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore",
               BOMB_STATS=str(stats))
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", RUNNER.format(limit=ADDRESS_SPACE), *args],
                          cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=LIMIT_S)
    return proc, json.loads(stats.read_text()) if stats.exists() else {}


def assert_refused(proc: subprocess.CompletedProcess[str], stats: dict, names: list[str]):
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], err[-3000:])
    assert "Traceback" not in err and "Traceback" not in proc.stdout
    lines = err.splitlines()
    assert len(lines) == 1, err
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert "declares" in lines[0]
    assert stats["wall_s"] < LIMIT_S
    assert stats["max_rss_mib"] < 2048, stats


SURFACES = {
    "inspect-diffraction": (["cli", "inspect", "{alone}"], ["diffraction.h5", "/patterns"]),
    "inspect-pair": (["cli", "inspect", "{product}", "--diffraction", "{diffraction}"],
                     ["diffraction.h5", "/patterns"]),
    "inspect-npz": (["cli", "inspect", "{npz}"], ["bomb.npz", "diffraction"]),
    "train-pair": (["cli", "train", "--data", "{product}", "--out", "run", "--set",
                    "data.diffraction_path={diffraction}", "--accelerator", "cpu"],
                   ["diffraction.h5", "/patterns"]),
    "train-npz": (["cli", "train", "--data", "{npz}", "--out", "run", "--accelerator", "cpu"],
                  ["bomb.npz", "diffraction"]),
    "api-inspect-npz": (["inspect", "{npz}"], ["bomb.npz", "diffraction"]),
    "api-inspect-diffraction": (["inspect", "{alone}"], ["diffraction.h5", "/patterns"]),
    "api-load-npz": (["load_dataset", "{npz}"], ["bomb.npz", "diffraction"]),
    "api-load-pair": (["load_dataset", "{product}"], ["diffraction.h5", "/patterns"]),
}


@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_bomb_is_refused_within_limits(surface, bombs, tmp_path):
    args, names = SURFACES[surface]
    proc, stats = run_limited([a.format(**bombs) for a in args], tmp_path)
    assert_refused(proc, stats, names)
    assert not (tmp_path / "run").exists()  # nothing written on a refused input


@pytest.mark.parametrize("which", ["npz", "product"])
def test_infer_of_a_bomb_is_refused_within_limits(which, bombs, checkpoint, tmp_path):
    args = ["cli", "infer", "--checkpoint", str(checkpoint), "--data", str(bombs[which]),
            "--out", "recon.h5", "--accelerator", "cpu"]
    proc, stats = run_limited(args, tmp_path)
    assert_refused(proc, stats, ["bomb.npz" if which == "npz" else "diffraction.h5"])
    assert not (tmp_path / "recon.h5").exists()


# -- the declared-size checks themselves -------------------------------------------------------

def test_contiguous_dataset_declaring_more_than_stored_is_refused(tmp_path):
    path = tmp_path / "diffraction.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("patterns", shape=(10**6, N, N), dtype="f4")  # never written
    with pytest.raises(DeclaredSizeError, match=r"diffraction.h5: /patterns: declares shape "
                       r"\(1000000, 16, 16\).*stores 0 bytes"):
        engine.inspect(path)


def test_partly_written_chunks_are_refused(tmp_path):
    path = tmp_path / "diffraction.h5"
    with h5py.File(path, "w") as h5:
        ds = h5.create_dataset("patterns", shape=(64, N, N), chunks=(1, N, N), dtype="f4")
        ds[:10] = counts(10)
    with pytest.raises(DeclaredSizeError, match=r"only 10 chunk\(s\)"):
        engine.inspect(path)


def test_npz_member_larger_than_the_archive_is_refused(tmp_path):
    path = bomb_npz(tmp_path / "b.npz", n=5000)
    with pytest.raises(DeclaredSizeError, match=r"b.npz: diffraction: declares shape "
                       r"\(5000, 16, 16\) of float32"):
        engine.load_dataset(path)


def test_npz_positions_declaring_more_than_stored_are_refused(tmp_path):
    path = tmp_path / "p.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (BOMB,)})
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("diffraction.npy", _npy(counts()))
        zf.writestr("xcoords.npy", header.getvalue() + b"\0" * 64)
        zf.writestr("ycoords.npy", _npy(np.linspace(20, 40, 16)))
        zf.writestr("probeGuess.npy", _npy(np.ones((N, N), np.complex64)))
    with pytest.raises(DeclaredSizeError, match="p.npz: xcoords: declares shape"):
        engine.load_dataset(path)


def test_index_count_mismatch_is_refused_before_reading(tmp_path):
    small_product(tmp_path / "product.h5")
    path = tmp_path / "diffraction.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("patterns", data=counts())
        h5.create_dataset("indexes", shape=(BOMB,), chunks=(1024,), dtype="i8")
    with pytest.raises(DataError, match=r"diffraction.h5: /indexes: expected one scan index "
                       r"per pattern \(16, as in /patterns\), found shape \(1000000000,\)"):
        engine.load_dataset(tmp_path / "product.h5")


def test_product_position_lengths_must_agree(tmp_path):
    path = small_product(tmp_path / "product.h5")
    with h5py.File(path, "a") as h5:
        del h5["probe_position_y_m"]
        h5.create_dataset("probe_position_y_m", data=np.zeros(7))
    report = engine.inspect(path)
    assert any("equal lengths" in p and "16, 7, 16" in p for p in report.problems), report.problems


def test_duplicate_pattern_indexes_are_a_problem_with_counts(tmp_path):
    small_product(tmp_path / "product.h5")
    write_diffraction(tmp_path / "diffraction.h5", counts(32), indexes=np.zeros(32, np.int64))
    with pytest.raises(DataError) as info:
        engine.load_dataset(tmp_path / "product.h5")
    text = str(info.value)
    assert "diffraction.h5: /indexes" in text and "index 0 appears 32 times" in text, text


def test_duplicate_position_indexes_are_a_problem(tmp_path):
    small_product(tmp_path / "product.h5", indexes=np.array([0, 1] * 8))
    write_diffraction(tmp_path / "diffraction.h5", counts())
    report = engine.inspect(tmp_path / "product.h5")
    assert any("/probe_position_indexes" in p and "14 repeated entries" in p
               for p in report.problems), report.problems


# -- messages that name the right file and the right problem ----------------------------------

def test_inspect_of_a_product_alone_reports_positions_in_pixels(tmp_path):
    # Positions written in pixels (20..29) where metres are expected: ~1e9 px once converted.
    path = small_product(tmp_path / "recon.h5")
    k = np.arange(16)
    with h5py.File(path, "a") as h5:
        h5["probe_position_x_m"][...] = 20.0 + 3 * (k % 4)
        h5["probe_position_y_m"][...] = 20.0 + 3 * (k // 4)
    report = engine.inspect(path)
    assert not report.ok
    assert any("wrong unit" in p for p in report.problems), report.problems


def test_diffraction_file_without_patterns_is_named(tmp_path):
    small_product(tmp_path / "product.h5")
    with h5py.File(tmp_path / "diffraction.h5", "w") as h5:
        h5.create_dataset("indexes", data=np.arange(16))
    with pytest.raises(DataError) as info:
        engine.load_dataset(tmp_path / "product.h5")
    assert str(info.value).startswith(f"{tmp_path / 'diffraction.h5'}: /patterns"), info.value
    report = engine.inspect(tmp_path / "product.h5")
    assert any(str(tmp_path / "diffraction.h5") in p and "/patterns" in p
               for p in report.problems), report.problems


def test_real_valued_object_is_promoted_with_a_warning(tmp_path):
    k = np.arange(16)
    pos = np.stack([20.0 + 3 * (k % 4), 20.0 + 3 * (k // 4)], axis=1)
    np.savez(tmp_path / "r.npz", diffraction=counts(), xcoords=pos[:, 0], ycoords=pos[:, 1],
             probeGuess=np.ones((N, N), np.complex64), objectGuess=np.ones((64, 64)))
    data = engine.load_dataset(tmp_path / "r.npz", probe_scale="file")
    assert data.object_guess.dtype == np.complex64
    assert any("objectGuess is real-valued" in w for w in data.warnings), data.warnings
    product = small_product(tmp_path / "product.h5")
    with h5py.File(product, "a") as h5:
        attrs = dict(h5["object"].attrs)
        del h5["object"]
        ds = h5.create_dataset("object", data=np.ones((1, 64, 64), np.float32))
        ds.attrs.update(attrs)
    report = engine.inspect(product)
    assert any("/object is real-valued (float32)" in w for w in report.warnings), report.warnings


@pytest.mark.parametrize("layout", ["identical", "twice"])
def test_duplicate_positions_are_reported_with_counts(layout, tmp_path):
    k = np.arange(16)
    if layout == "identical":
        pos = np.full((16, 2), 30.0)
        expected = "15 of 16 positions repeat another one (1 distinct; 1 position(s) used " \
            "more than once, the most repeated, x 30, y 30 px, 16 times)"
    else:
        base = np.stack([20.0 + 3 * (k % 4), 20.0 + 3 * (k // 4)], axis=1)[:8]
        pos = np.concatenate([base, base])
        expected = "8 of 16 positions repeat another one (8 distinct; 8 position(s) used " \
            "more than once"
    np.savez(tmp_path / "d.npz", diffraction=counts(), xcoords=pos[:, 0], ycoords=pos[:, 1],
             probeGuess=np.ones((N, N), np.complex64))
    report = engine.inspect(tmp_path / "d.npz")
    assert any(expected in w and "d.npz" in w for w in report.warnings), report.warnings


def test_all_zero_patterns_are_named_as_such(tmp_path):
    k = np.arange(16)
    pos = np.stack([20.0 + 3 * (k % 4), 20.0 + 3 * (k // 4)], axis=1)
    np.savez(tmp_path / "z.npz", diffraction=np.zeros((16, N, N), np.float32),
             xcoords=pos[:, 0], ycoords=pos[:, 1], probeGuess=np.ones((N, N), np.complex64))
    with pytest.raises(DataError) as info:
        engine.load_dataset(tmp_path / "z.npz")
    text = str(info.value)
    assert "z.npz" in text and "only zeros in all 16 patterns" in text, text
    assert "probe" not in text, text


def test_memory_running_out_while_reading_is_a_message(tmp_path, monkeypatch):
    # Stored, but compressed beyond the memory available: a message, not a MemoryError.
    small_product(tmp_path / "product.h5")
    write_diffraction(tmp_path / "diffraction.h5", counts())

    def no_memory(self, key):
        raise MemoryError

    monkeypatch.setattr(h5py.Dataset, "__getitem__", no_memory)
    with pytest.raises(DataError, match=r"product.h5: /probe.*: reading it needs 2 KiB of "
                       "memory, more than is available"):
        engine.load_dataset(tmp_path / "product.h5")
