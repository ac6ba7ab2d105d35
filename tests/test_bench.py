"""``ptycho-engine bench``: one JSON object with training, inference and memory figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from engine.cli.main import main
from engine.config import SessionConfig

# Small and fast: 32 x 32 patterns, a narrow network, a few hundred inference patterns.
SMALL = ["--threads", "1", "--accelerator", "cpu", "--no-progress-bar",
         "--set", "model.N=32", "--set", "model.width=8", "--set", "model.depth=2",
         "--set", "simulation.probe_diameter_px=10", "--set", "simulation.step_px=3"]


@pytest.fixture(autouse=True)
def restore_threads():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_bench_quick_json_reports_every_figure(capsys):
    assert main(["bench", "--quick", "--json", "--patterns", "300", *SMALL]) == 0
    out = capsys.readouterr().out
    figures = json.loads(out)  # exactly one JSON object on stdout
    train, infer, mem = figures["training"], figures["inference"], figures["memory"]
    assert figures["quick"] is True
    # Training: both paths measured on the same work; the overhead is their ratio.
    assert train["plain_patterns_per_s"] > 0 and train["lightning_patterns_per_s"] > 0
    expected = 100 * (train["plain_patterns_per_s"] / train["lightning_patterns_per_s"] - 1)
    assert train["overhead_percent"] == pytest.approx(expected)
    defaults = SessionConfig()
    # one step = a batch of groups of gridsize x gridsize patterns (the session defaults)
    assert train["patterns_per_step"] == defaults.training.batch_size * defaults.model.gridsize**2
    # Inference: the number of patterns is stated, and the time splits into its parts.
    assert infer["n_patterns"] == 300 and infer["N"] == 32
    assert infer["total_s"] > 0
    assert infer["network_s"] + infer["stitch_s"] == pytest.approx(infer["total_s"])
    assert infer["patterns_per_s"] == pytest.approx(300 / infer["total_s"])
    assert 0.5 < infer["illuminated_fraction"] <= 1.0
    h, w = infer["object_shape"]
    assert h > 32 and w > 32
    # Memory: peak RSS is monotone over the stages and plausible for a torch process.
    assert mem["start_mib"] <= mem["after_training_mib"] <= mem["after_inference_mib"]
    assert 100 < mem["peak_rss_mib"] < 16_000
    env, settings = figures["environment"], figures["settings"]
    assert env["device"] == "cpu" and env["torch_threads"] == 1
    assert {"torch", "lightning", "numpy", "python"} <= set(env["versions"])
    assert settings["infer_patterns"] == 300 and settings["N"] == 32


def test_bench_table_names_the_device_and_the_overhead(capsys):
    assert main(["bench", "--quick", "--patterns", "100", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "Lightning overhead" in out and "patterns/s" in out
    assert "100 of 32 x 32 px" in out and "peak resident memory" in out


def test_bench_refuses_a_bad_pattern_count(capsys):
    assert main(["bench", "--quick", "--patterns", "0", *SMALL]) == 2
    assert "--patterns" in capsys.readouterr().err


def test_bench_on_gpu_without_one_is_a_clear_error(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["bench", "--quick", "--accelerator", "gpu", "--no-progress-bar"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_bench_subprocess_stdout_is_one_json_object(tmp_path):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "bench", "--quick", "--json",
         "--patterns", "64", *SMALL],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["inference"]["n_patterns"] == 64
    assert "Traceback" not in proc.stderr


def test_bench_tries_batch_sizes_and_infers_with_the_fastest(capsys):
    from engine.bench.suite import CPU_BATCH_SIZES, QUICK

    assert main(["bench", "--quick", "--json", "--patterns", "100", *SMALL]) == 0
    figures = json.loads(capsys.readouterr().out)
    sweep = figures["batch_sizes"]
    tried = [row["batch_size"] for row in sweep["rows"]]
    assert tried == list(CPU_BATCH_SIZES[:QUICK.sweep_sizes])
    assert all(row["patterns_per_s"] > 0 and row["seconds"] > 0 for row in sweep["rows"])
    best = max(sweep["rows"], key=lambda row: row["patterns_per_s"])
    assert sweep["fastest"] == best["batch_size"]
    # the end-to-end figure (network + stitching) is measured at the fastest batch size
    assert figures["inference"]["batch_size"] == sweep["fastest"]
    assert figures["memory"]["after_sweep_mib"] <= figures["memory"]["after_inference_mib"]
