"""The format registry: detection by content, compressed files read in memory, file-dialog
filters, the detector mask and layout mistakes sniffed and corrected, HDF5 links."""

from __future__ import annotations

import bz2
import gzip
import os

import h5py
import numpy as np
import pytest

from engine.errors import DataError
from engine.io import inspect, load_dataset, write_diffraction, write_product, write_ptychopinn_npz
from engine.io.formats import FORMATS, cxi, detect, file_dialog_filters, ptychopinn
from engine.io.formats.ptychodus import FolderFormat, ProductFormat

N = 16


def _data(m: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    k = np.arange(m)
    pos = np.stack([14.0 + 3 * (k % 4), 14.0 + 3 * (k // 4)], axis=1)
    yy, xx = np.mgrid[0:N, 0:N] - N // 2
    counts = rng.poisson(200.0 * np.exp(-(xx**2 + yy**2) / 8.0), (m, N, N)).astype(np.float32)
    probe = np.exp(-(xx**2 + yy**2) / 12.0).astype(np.complex64)
    return counts, pos, probe


def test_every_format_has_the_protocol_and_filters_list_them():
    for fmt in FORMATS:
        assert fmt.name and fmt.label and callable(fmt.sniff) and callable(fmt.read)
    filters = file_dialog_filters()
    assert filters[0].startswith("Data files (") and "*.cxi" in filters[0]
    assert "*.npz.bz2" in filters[0] and "*.h5.gz" in filters[0]
    assert any(f.startswith("CXI") for f in filters) and filters[-1] == "All files (*)"


@pytest.mark.parametrize("pack", ["gzip", "bzip2"])
def test_compressed_npz_and_product_pair_read_in_memory(tmp_path, pack):
    counts, pos, probe = _data()
    bad = np.zeros((N, N), bool)
    bad[1, 2] = True
    plain = write_ptychopinn_npz(tmp_path / "d.npz", measurement="counts", patterns=counts,
                                 positions=pos, probe=probe, bad_pixels=bad)
    opener = gzip.compress if pack == "gzip" else bz2.compress
    packed = tmp_path / ("d.npz.gz" if pack == "gzip" else "d.npz.bz2")
    packed.write_bytes(opener(plain.read_bytes()))
    before = set(os.listdir(tmp_path))
    fmt, source = detect(packed)
    assert fmt is ptychopinn and source.compression == pack
    data = load_dataset(packed, probe_scale="file")
    expected = counts.copy()
    expected[:, bad] = 0
    assert np.array_equal(data.patterns, expected) and np.array_equal(data.bad_pixels, bad)
    assert set(os.listdir(tmp_path)) == before  # nothing unpacked to disk
    # A compressed CXI (HDF5) too.
    path = cxi.write(tmp_path / "c.cxi", positions_px=pos, object_pixel_size_m=1e-8,
                     patterns=counts, probe=probe[None], object_shape=(40, 40))
    (tmp_path / "c.cxi.gz").write_bytes(gzip.compress(path.read_bytes()))
    again = load_dataset(tmp_path / "c.cxi.gz", probe_scale="file")
    assert np.array_equal(again.patterns, counts) and np.allclose(again.positions, pos)
    assert "gzip-compressed" in inspect(tmp_path / "c.cxi.gz").kind


def test_ptychodus_formats_are_detected_by_content(tmp_path):
    counts, pos, probe = _data()
    write_diffraction(tmp_path / "diffraction.h5", counts)
    write_product(tmp_path / "product.h5", obj=np.ones((40, 40), np.complex64), probe=probe,
                  positions_px=pos, object_pixel_size_m=1e-8)
    assert isinstance(detect(tmp_path / "product.h5")[0], ProductFormat)
    assert isinstance(detect(tmp_path)[0], FolderFormat)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="found a text file"):
        detect(tmp_path / "notes.txt")


def test_flags_gaps_and_negative_gap_values_become_masked_pixels(tmp_path):
    counts, pos, probe = _data()
    counts[:, 5, :] = 0          # a dead row in every pattern (interior)
    counts[:, :, 9] = -1         # an Eiger gap column (-1 in every pattern)
    counts[3, 2, 2] = 65535      # a saturation flag in one pattern
    counts[:, 12, 3] = 2**31 - 1  # a hot pixel flagged in every pattern
    np.savez(tmp_path / "flags.npz", diffraction=counts, xcoords=pos[:, 0],
             ycoords=pos[:, 1], probeGuess=probe)
    report = inspect(tmp_path / "flags.npz", measurement="counts")
    assert report.ok, report.problems
    assert report.bad_pixels == N + N - 1 + 2  # row, column (crossing), two flagged pixels
    text = " ".join(report.corrections)
    assert "flag value" in text and "negative in every pattern" in text and "row(s)" in text
    data = load_dataset(tmp_path / "flags.npz", measurement="counts")
    assert int(data.bad_pixels.sum()) == report.bad_pixels
    assert data.patterns.min() >= 0 and data.patterns.max() < 65535


def test_unshifted_patterns_are_detected_and_shifted(tmp_path):
    counts, pos, probe = _data()
    np.savez(tmp_path / "u.npz", diffraction=np.fft.ifftshift(counts, axes=(-2, -1)),
             xcoords=pos[:, 0], ycoords=pos[:, 1], probeGuess=probe)
    data = load_dataset(tmp_path / "u.npz", measurement="counts", probe_scale="file")
    assert np.array_equal(data.patterns, counts)
    report = inspect(tmp_path / "u.npz", measurement="counts")
    assert report.ok and any("not fft-shifted" in c for c in report.corrections)
    kept = load_dataset(tmp_path / "u.npz", measurement="counts", fftshifted="yes")
    assert not np.array_equal(kept.patterns, counts)


def test_bin_and_crop_bring_the_data_to_a_chosen_size(tmp_path):
    counts, pos, probe = _data()
    g = {"photon_energy_ev": 8000.0, "detector_distance_m": 2.0,
         "detector_pixel_size_m": 75e-6}
    write_ptychopinn_npz(tmp_path / "g.npz", measurement="counts", patterns=counts,
                         positions=pos, probe=probe, metadata={"geometry": g})
    full = load_dataset(tmp_path / "g.npz")
    binned = load_dataset(tmp_path / "g.npz", bin=2)
    assert binned.N == 8 and binned.patterns.sum() == pytest.approx(counts.sum())
    assert binned.object_pixel_size_m == pytest.approx(full.object_pixel_size_m)
    cropped = load_dataset(tmp_path / "g.npz", crop=8)
    assert cropped.N == 8 and cropped.probe.shape == (1, 8, 8)
    assert cropped.object_pixel_size_m == pytest.approx(2 * full.object_pixel_size_m)
    assert np.allclose(np.diff(cropped.positions[:2, 0]), 1.5)  # 3 px steps, pixels twice as big
    assert inspect(tmp_path / "g.npz", crop=8).pattern_shape == (8, 8)


@pytest.mark.parametrize("initial", ["disk", "from_data"])
def test_probe_initial_when_the_file_has_none(tmp_path, initial):
    from engine.config import ProbeConfig

    counts, pos, _probe = _data()
    np.savez(tmp_path / "np.npz", diffraction=counts, xcoords=pos[:, 0], ycoords=pos[:, 1])
    with pytest.raises(DataError, match="probe.initial"):
        load_dataset(tmp_path / "np.npz", probe=ProbeConfig(initial="file"))
    data = load_dataset(tmp_path / "np.npz", probe=ProbeConfig(initial=initial))
    assert data.probe.shape == (1, N, N) and data.metadata["probe_initial"] == initial
    # Scaled to the data: a transparent object predicts the measured mean counts.
    predicted = (np.abs(np.fft.fft2(data.probe[0], norm="ortho")) ** 2).sum()
    assert predicted == pytest.approx(counts.sum((1, 2)).mean(), rel=1e-3)


def test_zone_plate_probe_needs_its_parameters_and_the_geometry(tmp_path):
    from engine.config import ProbeConfig

    counts, pos, _probe = _data()
    np.savez(tmp_path / "z.npz", diffraction=counts, xcoords=pos[:, 0], ycoords=pos[:, 1])
    with pytest.raises(DataError, match="probe.zone_plate_outer_zone_m"):
        load_dataset(tmp_path / "z.npz", probe=ProbeConfig(initial="zone_plate"))
    geometry = dict(photon_energy_ev=8000.0, detector_distance_m=2.0,
                    detector_pixel_size_m=75e-6)
    with pytest.raises(DataError, match="fills it"):  # 50 nm zones: NA beyond the detector
        load_dataset(tmp_path / "z.npz", probe=ProbeConfig(
            initial="zone_plate", zone_plate_outer_zone_m=50e-9), **geometry)
    zp = ProbeConfig(initial="zone_plate", zone_plate_outer_zone_m=1e-6, defocus_m=20e-6)
    data = load_dataset(tmp_path / "z.npz", probe=zp, **geometry)
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(data.probe[0], norm="ortho"))) ** 2
    # The far field is the pupil: a disk about 2 px in radius (NA/lambda * N * dx).
    assert spectrum[N // 2, N // 2] > 0 and spectrum[0, 0] < 1e-6 * spectrum.max()
    assert 4 <= int((spectrum > 0.5 * spectrum.max()).sum()) <= 25


# -- HDF5 links ---------------------------------------------------------------------------------

def _link_file(path, how, target_dir=None):
    counts, pos, probe = _data()
    with h5py.File(path, "w") as h5:
        h5["pos"] = pos
        if how == "loop":
            h5["frames"] = h5py.SoftLink("/frames")
        elif how == "dangling":
            h5["frames"] = h5py.SoftLink("/nowhere/data")
        elif how in ("external", "missing", "text", "outside"):
            folder = target_dir or path.parent
            other = folder / ("frames.h5" if how != "text" else "frames.txt")
            if how == "text":
                other.write_text("not hdf5")
            elif how != "missing":
                with h5py.File(other, "w") as o:
                    o["data"] = counts
            h5["frames"] = h5py.ExternalLink(str(other) if how == "outside" else other.name,
                                             "/data")
    return path


@pytest.mark.parametrize("how, words", [
    ("loop", ["/frames", "loops back on itself"]),
    ("dangling", ["/frames", "/nowhere/data", "does not exist"]),
    ("missing", ["/frames", "frames.h5", "does not exist"]),
    ("text", ["/frames", "frames.txt", "is not HDF5"]),
])
def test_bad_links_are_refused_naming_the_link_and_its_target(tmp_path, how, words):
    path = _link_file(tmp_path / "l.h5", how)
    with pytest.raises(DataError) as info:
        load_dataset(path, layout_patterns="frames", layout_positions="pos")
    for word in words:
        assert word in str(info.value)


def test_external_links_inside_the_folder_are_followed_and_listed(tmp_path):
    path = _link_file(tmp_path / "l.h5", "external")
    report = inspect(path, layout_patterns="frames", layout_positions="pos")
    assert report.ok and report.files == [str(path), str(tmp_path / "frames.h5")]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "data").mkdir()
    path = _link_file(tmp_path / "data" / "l.h5", "outside", target_dir=elsewhere)
    with pytest.raises(DataError, match="outside the data file's folder.*allow_external_links"):
        load_dataset(path, layout_patterns="frames", layout_positions="pos")
    data = load_dataset(path, layout_patterns="frames", layout_positions="pos",
                        allow_external_links=True)
    assert data.n_patterns == 12


def test_training_batches_carry_the_mask_and_the_loss_leaves_it_out():
    import torch

    from engine.physics.losses import amplitude_mae, poisson_nll
    from engine.training.data import GroupDataModule, make_split

    counts, pos, _probe = _data()
    bad = np.zeros((N, N), bool)
    bad[4, 4] = bad[10, 2] = True
    split = make_split(pos, 2, 4, 0.25, seed=0)
    dm = GroupDataModule(counts, pos, split, 4, 0, False, False, 0, bad_pixels=bad)
    batch = next(iter(dm.train_dataloader()))
    assert torch.equal(batch["mask"], torch.as_tensor(bad))
    pred = torch.rand(batch["counts"].shape) * 50 + 1
    changed = batch["counts"].clone()
    changed[..., 4, 4] += 1e6  # whatever a masked pixel holds never enters the loss
    for loss in (poisson_nll, amplitude_mae):
        assert torch.allclose(loss(pred, batch["counts"], batch["mask"]),
                              loss(pred, changed, batch["mask"]))
        assert not torch.allclose(loss(pred, batch["counts"]), loss(pred, changed))


def test_model_n_zero_takes_the_data_size_and_a_mismatch_names_the_fix(tmp_path):
    from engine.config import SessionConfig
    from engine.errors import ConfigError
    from engine.training.setup import check_data_matches

    counts, pos, probe = _data()
    np.savez(tmp_path / "s.npz", diffraction=counts, xcoords=pos[:, 0], ycoords=pos[:, 1],
             probeGuess=probe)
    data = load_dataset(tmp_path / "s.npz", measurement="counts")
    config = SessionConfig()
    config.model.depth = 2
    assert config.model.N == 0  # the default follows the data
    check_data_matches(config, data)
    assert config.model.N == N
    config.model.N = 32
    with pytest.raises(ConfigError, match=r"set model.N = 16 \(or 0.*data.crop = 32"):
        check_data_matches(config, data)


def test_layout_settings_are_validated_before_reading(tmp_path):
    from engine.errors import ConfigError

    counts, pos, probe = _data()
    np.savez(tmp_path / "v.npz", frames=counts, pos=pos)
    with pytest.raises(ConfigError, match="data.layout_positions"):
        load_dataset(tmp_path / "v.npz", layout_patterns="frames")
    with pytest.raises(ConfigError, match="data.mask_values"):
        load_dataset(tmp_path / "v.npz", layout_patterns="frames", layout_positions="pos",
                     mask_values="65535, lots")
    data = load_dataset(tmp_path / "v.npz", layout_patterns="frames", layout_positions="pos",
                        mask_values="7", measurement="counts", probe_scale="file")
    assert data.n_patterns == 12


def test_default_disk_follows_the_scan_step(tmp_path):
    from engine.config import ProbeConfig

    counts, pos, _probe = _data()  # 3 px steps: a disk of 2.7 x 3 = 8.1 px
    np.savez(tmp_path / "d.npz", diffraction=counts, xcoords=pos[:, 0], ycoords=pos[:, 1])
    data = load_dataset(tmp_path / "d.npz", probe=ProbeConfig(initial="disk"))
    area = int((np.abs(data.probe[0]) > 0).sum())
    assert abs(area - np.pi * 8.1**2 / 4) < 8


def test_ptychodus_files_refuse_bad_links_too(tmp_path):
    counts, pos, probe = _data()
    write_product(tmp_path / "product.h5", obj=np.ones((40, 40), np.complex64), probe=probe,
                  positions_px=pos, object_pixel_size_m=1e-8)
    (tmp_path / "frames.bin").write_bytes(b"\x00" * 64)
    with h5py.File(tmp_path / "diffraction.h5", "w") as h5:
        h5["patterns"] = h5py.ExternalLink("frames.bin", "/data")
    with pytest.raises(DataError, match=r"/patterns.*frames\.bin.*is not HDF5"):
        load_dataset(tmp_path)
