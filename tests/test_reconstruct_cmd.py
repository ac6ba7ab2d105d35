"""``ptycho-engine reconstruct``: the solver alone, from a flat object or a file (issue 18),
through the one pipeline and the engine's run plan (issue 21)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_faults_helpers import make_tiny_dataset

import engine
from engine.cli.main import main
from engine.io import read_product
from engine.runs import run_plan


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory)


def _args(data: Path, out: Path, *more: str) -> list[str]:
    return ["reconstruct", "--data", str(data), "--out", str(out), "--accelerator", "cpu",
            "--set", "refinement.epochs=3", *more]


def test_reconstruct_writes_a_product_and_a_summary_with_numbered_bars(tiny_dataset, tmp_path,
                                                                       capsys):
    out = tmp_path / "recon"
    assert main(_args(tiny_dataset, out)) == 0
    captured = capsys.readouterr()
    assert "refine" in captured.err and "Traceback" not in captured.err
    assert f"wrote {out / 'reconstruction.h5'}" in captured.out
    plan = run_plan("reconstruct", engine.resolve_config(
        overrides={"reconstruct.output_dir": str(out)}))
    for name in ("reconstruction", "amplitude_png", "phase_png", "session", "provenance",
                 "summary"):
        assert plan.outputs[name].is_file(), name
    product = read_product(out / "reconstruction.h5")
    assert product.object_masked.shape[-2:] == tuple(
        engine.load_dataset(tiny_dataset).object_shape)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "reconstruct" and summary["status"] == "completed"
    assert summary["start"]["kind"] == "flat" and summary["refinement"]["epochs"] == 3
    assert summary["quality"]["phase"]["ssim"] > 0.3  # truth.h5 next to the data
    sources = json.loads((out / "provenance.json").read_text())["sources"]
    assert sources["reconstruct.output_dir"] == "cli --out"
    assert sources["refinement.epochs"] == "cli --set refinement.epochs"
    # session.toml re-runs it: the same folder, the same settings.
    again = engine.load_session(out / "session.toml")
    assert again.reconstruct.output_dir == str(out) and again.refinement.epochs == 3


def test_reconstruct_starts_from_a_file_and_refuses_a_used_folder(tiny_dataset, tmp_path,
                                                                  capsys):
    first = tmp_path / "first"
    assert main(_args(tiny_dataset, first)) == 0
    second = tmp_path / "second"
    assert main(_args(tiny_dataset, second, "--object",
                      str(first / "reconstruction.h5"))) == 0
    summary = json.loads((second / "summary.json").read_text())
    assert summary["start"] == {"kind": "file", "source": str(first / "reconstruction.h5")}
    capsys.readouterr()
    before = (second / "summary.json").read_bytes()
    assert main(_args(tiny_dataset, second)) == 2
    err = capsys.readouterr().err
    assert "already holds files" in err and "--overwrite" in err
    assert (second / "summary.json").read_bytes() == before
    assert main(_args(tiny_dataset, second, "--overwrite")) == 0


def test_reconstruct_needs_the_object_file_it_names(tiny_dataset, tmp_path, capsys):
    assert main(_args(tiny_dataset, tmp_path / "o", "--set",
                      "reconstruct.initial_object=file")) == 2
    assert "reconstruct.object_path" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_run_plan_names_stages_and_absolute_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = engine.resolve_config(overrides={"inference.alignment_passes": 2})
    train = run_plan("train", cfg)
    assert train.names == ["train", "stitch", "align", "refine"]
    assert train.position("stitch") == (2, 4)
    assert train.outputs["folder"] == tmp_path / "ptycho-run"
    infer = run_plan("infer", cfg)
    assert infer.names == ["infer", "align", "refine"]
    assert infer.outputs["reconstruction"] == tmp_path / "reconstruction.h5"
    assert infer.outputs["phase_png"] == tmp_path / "reconstruction-phase.png"
    assert run_plan("reconstruct", cfg).names == ["refine"]
    assert all(p.is_absolute() for plan in (train, infer) for p in plan.outputs.values())
    with pytest.raises(ValueError, match="unknown run kind"):
        run_plan("bake", cfg)
