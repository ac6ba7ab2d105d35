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


def write_good_npz(path: str | Path) -> Path:
    """A valid PtychoPINN NPZ of the corpus's size (the reference the bad files deviate from)."""
    return _npz(Path(path), _good_arrays(np.random.default_rng(7)))


def _layout(folder: Path, patterns: np.ndarray, n_indexes: int | None = None) -> Path:
    """A ptychodus standard-layout folder written field by field (formats.md §2, §3)."""
    folder.mkdir(parents=True, exist_ok=True)
    dx = 1e-7
    n_positions = M
    with h5py.File(folder / "product.h5", "w") as h5:
        h5.attrs["detector_object_distance_m"] = 2.0
        h5.attrs["photon_energy_eV"] = 8000.0
        h5["probe_position_indexes"] = np.arange(n_positions)
        h5["probe_position_x_m"] = (np.arange(n_positions) % 4 - 1.5) * 3 * dx
        h5["probe_position_y_m"] = (np.arange(n_positions) // 4 - 1.0) * 3 * dx
        probe = h5.create_dataset("probe", data=_good_arrays(np.random.default_rng(0))[
            "probeGuess"][None, None])
        probe.attrs["pixel_width_m"] = dx
        probe.attrs["pixel_height_m"] = dx
        obj = h5.create_dataset("object", data=np.ones((1, 56, 56), np.complex64))
        for key, value in (("center_x_m", 0.0), ("center_y_m", 0.0), ("pixel_width_m", dx),
                           ("pixel_height_m", dx)):
            obj.attrs[key] = value
    with h5py.File(folder / "diffraction.h5", "w") as h5:
        h5.create_dataset("patterns", data=patterns)
        h5["indexes"] = np.arange(len(patterns) if n_indexes is None else n_indexes)
    return folder


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
    inf_counts = dict(good, diffraction=good["diffraction"].copy())
    inf_counts["diffraction"][5, 0, 7] = np.inf
    data("inf_counts", _npz(out / "inf_counts.npz", inf_counts), "diffraction", "finite")
    data("complex_counts", _npz(out / "complex_counts.npz", dict(
        good, diffraction=good["diffraction"].astype(np.complex64))), "diffraction", "real")
    data("two_d_counts", _npz(out / "two_d_counts.npz", dict(
        good, diffraction=good["diffraction"][0])), "diffraction", "dimensions")
    data("non_square_patterns", _npz(out / "non_square_patterns.npz", dict(
        good, diffraction=good["diffraction"][:, :, : N // 2])), "diffraction", "square")
    data("empty_dataset", _npz(out / "empty_dataset.npz", dict(
        good, diffraction=good["diffraction"][:0], xcoords=good["xcoords"][:0],
        ycoords=good["ycoords"][:0])), "diffraction", "pattern")
    data("text_positions", _npz(out / "text_positions.npz", dict(
        good, xcoords=np.array(["12.5"] * M))), "xcoords", "real")
    data("nan_probe", _npz(out / "nan_probe.npz", dict(
        good, probeGuess=np.full((N, N), np.nan, np.complex64))), "probeguess", "finite")
    (out / "empty_folder").mkdir(exist_ok=True)
    data("empty_folder", out / "empty_folder", "diffraction.h5", "product.h5")
    data("layout_count_mismatch", _layout(out / "layout_count_mismatch",
                                          good["diffraction"][: M - 2], n_indexes=M),
         "/indexes", "per pattern")
    negative = good["diffraction"].copy()
    negative[2, 3, 4] = -7.0
    data("layout_negative_counts", _layout(out / "layout_negative_counts", negative),
         "diffraction.h5", "negative")
    data("layout_wrong_pattern_size", _layout(out / "layout_wrong_pattern_size",
                                              good["diffraction"][:, :8, :8]), "probe", "8 x 8")

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
    session("session_out_of_range", "[model]\ngridsize = 99\nwidth = 0\n",
            "model.gridsize", "model.width")
    session("session_bad_devices", "[execution]\ndevices = 0\n", "execution.devices")
    session("session_code_in_numbers",
            "[training]\nmax_epochs = \"__import__('os').getcwd()\"\n", "training.max_epochs")
    session("session_not_toml", "\x00\x01 binary junk \xff\n", "session_not_toml.toml")
    return corpus


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/bad/generated")
    for key, (path, kind, words) in build_corpus(target).items():
        print(f"{kind:8s} {key:24s} {path}  expects: {', '.join(words)}")
