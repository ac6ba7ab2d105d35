"""The quality benchmark (engine.bench.quality) on two tiny simulated sets."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from test_training_helpers import tiny_config

from engine.bench import format_quality_table, run_quality_bench
from engine.bench.quality import STAGES, set_folders
from engine.config import SessionConfig
from engine.errors import DataError
from engine.runs import simulate


@pytest.fixture(scope="module")
def tiny_sets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-sets")
    for name, seed in (("set_a", None), ("set_b", 99)):
        result = simulate(SessionConfig(), root / name, preset="tiny", object_seed=seed)
        assert result.status == "completed"
    return root


def test_quality_bench_scores_every_stage_on_every_set(tiny_sets: Path, tmp_path: Path):
    cfg = tiny_config(tiny_sets / "set_a" / "dataset.npz", tmp_path / "run").config
    cfg = dataclasses.replace(cfg, refinement=dataclasses.replace(cfg.refinement, epochs=8),
                              inference=dataclasses.replace(cfg.inference, alignment_passes=0))
    result = run_quality_bench(cfg, tiny_sets, sets=("set_a", "set_b"))
    rows = result["stages"]
    assert result["train_seconds"] > 0
    assert {(r["set"], r["role"]) for r in rows} == {("set_a", "training scan"),
                                                     ("set_b", "inference")}
    for name in ("set_a", "set_b"):
        stages = {r["stage"]: r for r in rows if r["set"] == name}
        assert {"network", "refinement", "final"} <= set(stages) <= set(STAGES)
        for row in stages.values():
            assert row["seconds"] > 0 and row["patterns_per_s"] > 0
            for part in ("amplitude", "phase"):
                assert 0 < row[part]["ssim"] <= 1 and math.isfinite(row[part]["psnr"])
                assert 0 < row[part]["nrmse"] < 2  # the complex NRMSE, as evaluate reports
        # The refinement (from the network's estimate) makes the final stage beat the network.
        net, final = stages["network"], stages["final"]
        assert final["amplitude"]["ssim"] + final["phase"]["ssim"] > \
            net["amplitude"]["ssim"] + net["phase"]["ssim"]
    table = format_quality_table(result)
    assert "set_b" in table and "final" in table and "amp SSIM" in table


def test_missing_sets_are_named(tmp_path: Path):
    with pytest.raises(DataError, match="images_a.*missing product.h5"):
        set_folders(tmp_path, ("images_a",))
