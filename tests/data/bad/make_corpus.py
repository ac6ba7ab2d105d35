"""Build the corpus of malformed inputs used by the bad-input tests.

Run ``python tests/data/bad/make_corpus.py OUT_DIR`` to write it by hand; the tests call
:func:`build_corpus` into a temporary folder, so no binary is checked in.

Each entry maps a name to ``(path, kind, words)``: ``kind`` is "data" or "session" and
``words`` are lower-case fragments the error message must contain (naming the problem).
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np

N = 16
M = 12


def _good_arrays(rng: np.random.Generator) -> dict[str, np.ndarray]:
    yy, xx = np.mgrid[0:N, 0:N]
    probe = np.exp(-((xx - N / 2) ** 2 + (yy - N / 2) ** 2) / 20.0).astype(np.complex64)
    xs = 20.0 + 3.0 * (np.arange(M) % 4)
    ys = 20.0 + 3.0 * (np.arange(M) // 4)
    return {
        "diffraction": rng.poisson(50.0, size=(M, N, N)).astype(np.float32),
        "xcoords": xs.astype(np.float64),
        "ycoords": ys.astype(np.float64),
        "probeGuess": probe,
        "objectGuess": np.ones((56, 56), np.complex64),
        "_metadata": np.array(json.dumps({"measurement": "counts"})),
    }


def _npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


def _pickled_npz(path: Path) -> Path:
    """An NPZ whose 'diffraction' member is a pickled object array (must never be unpickled)."""
    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}, None], dtype=object), allow_pickle=True)
    good = _good_arrays(np.random.default_rng(0))
    with zipfile.ZipFile(path, "w") as zf:
        for key, value in good.items():
            if key == "diffraction":
                zf.writestr("diffraction.npy", buf.getvalue())
            else:
                member = io.BytesIO()
                np.save(member, value, allow_pickle=False)
                zf.writestr(f"{key}.npy", member.getvalue())
    return path


def build_corpus(folder: str | Path) -> dict[str, tuple[Path, str, list[str]]]:
    """Write every malformed input into ``folder``; return the catalogue."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    good = _good_arrays(rng)
    corpus: dict[str, tuple[Path, str, list[str]]] = {}

    def data(name: str, path: Path, *words: str) -> None:
        corpus[name] = (path, "data", [w.lower() for w in words])

    def session(name: str, text: str, *words: str) -> None:
        path = out / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        corpus[name] = (path, "session", [w.lower() for w in words])

    missing = {k: v for k, v in good.items() if k != "diffraction"}
    data("missing_key", _npz(out / "missing_key.npz", missing), "diffraction")
    nan = dict(good, diffraction=good["diffraction"].copy())
    nan["diffraction"][3, 2, 2] = np.nan
    data("nan_counts", _npz(out / "nan_counts.npz", nan), "diffraction", "finite")
    inf_pos = dict(good, xcoords=good["xcoords"].copy())
    inf_pos["xcoords"][1] = np.inf
    data("inf_positions", _npz(out / "inf_positions.npz", inf_pos), "xcoords")
    neg = dict(good, diffraction=good["diffraction"] - 100.0)
    data("negative_counts", _npz(out / "negative_counts.npz", neg), "diffraction", "negative")
    short = dict(good, xcoords=good["xcoords"][:-2])
    data("mismatched_lengths", _npz(out / "mismatched_lengths.npz", short), "xcoords")
    big_probe = dict(good, probeGuess=np.ones((N + 4, N + 4), np.complex64))
    data("mismatched_probe", _npz(out / "mismatched_probe.npz", big_probe), "probeguess")
    absurd = dict(good, xcoords=good["xcoords"] + 1e12)
    data("absurd_positions", _npz(out / "absurd_positions.npz", absurd), "position")
    data("pickled_object", _pickled_npz(out / "pickled_object.npz"), "diffraction")

    full = _npz(out / "_full.npz", good)
    blob = full.read_bytes()
    (out / "truncated.npz").write_bytes(blob[: len(blob) // 2])
    full.unlink()
    data("truncated_npz", out / "truncated.npz", "truncated.npz")
    (out / "zero_bytes.npz").write_bytes(b"")
    data("zero_byte_npz", out / "zero_bytes.npz", "zero_bytes.npz")
    (out / "text.npz").write_text("this is not a numpy archive\n")
    data("text_as_npz", out / "text.npz", "text.npz")
    (out / "text.h5").write_text("this is not an HDF5 file\n")
    data("text_as_h5", out / "text.h5", "text.h5")

    with h5py.File(out / "product_missing_probe.h5", "w") as h5:
        h5.attrs["detector_object_distance_m"] = 2.0
        h5.attrs["photon_energy_eV"] = 8000.0
        h5["probe_position_indexes"] = np.arange(M)
        h5["probe_position_x_m"] = np.zeros(M)
        h5["probe_position_y_m"] = np.zeros(M)
        h5["object"] = np.ones((1, 56, 56), np.complex64)
    data("product_missing_probe", out / "product_missing_probe.h5", "probe")
    h5_blob_path = out / "_good.h5"
    with h5py.File(h5_blob_path, "w") as h5:
        h5["patterns"] = good["diffraction"]
    blob = h5_blob_path.read_bytes()
    (out / "truncated.h5").write_bytes(blob[: len(blob) // 3])
    h5_blob_path.unlink()
    data("truncated_h5", out / "truncated.h5", "truncated.h5")

    session("session_wrong_types", "[training]\nmax_epochs = 'ten'\nbatch_size = 1.5\n",
            "training.max_epochs", "training.batch_size")
    session("session_unknown_keys", "[training]\nlearning_rat = 0.001\n[modle]\nN = 64\n",
            "learning_rate", "model")
    session("session_syntax_error", "[training\nmax_epochs = 3\n", "syntax")
    session("session_out_of_range", "[model]\ngridsize = 99\n[execution]\ndevices = 0\n",
            "model.gridsize", "execution.devices")
    return corpus


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/bad/generated")
    for key, (path, kind, words) in build_corpus(target).items():
        print(f"{kind:8s} {key:24s} {path}  expects: {', '.join(words)}")
