"""``ptycho-engine cluster``: the SLURM script follows the execution settings, runs the engine on
the session beside it, and goes to ``sbatch`` when there is one (no SLURM needed)."""

import shlex
import stat

from engine.cli.main import main
from engine.cluster import SCRIPT
from engine.config import load_session


def directives(script: str) -> dict[str, str]:
    found = {}
    for line in script.splitlines():
        if line.startswith("#SBATCH --"):
            key, _, value = line[len("#SBATCH --"):].partition("=")
            found[key] = value
    return found


def srun_line(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if line.startswith("srun ")]
    assert len(lines) == 1, script
    return shlex.split(lines[0])


def test_script_follows_the_execution_settings(tmp_path, capsys):
    run = tmp_path / "run 2x4"  # a space: the paths must be quoted
    rc = main(["cluster", "--out", str(run), "--data", str(tmp_path / "scan.npz"),
               "--accelerator", "gpu", "--devices", "4", "--num-nodes", "2",
               "--set", "training.max_time_min=95"])
    assert rc == 0
    script = (run / SCRIPT).read_text()
    assert script.startswith("#!/bin/bash\n")
    assert (run / SCRIPT).stat().st_mode & stat.S_IXUSR
    d = directives(script)
    assert d["nodes"] == "2" and d["ntasks-per-node"] == "4" and d["gpus-per-node"] == "4"
    assert d["time"] == "01:45:00"  # 95 min of training + 10 min to write the results
    assert d["job-name"] == "run_2x4" and d["output"] == str(run / "slurm-%j.out")
    argv = srun_line(script)
    assert argv[0] == "srun" and argv[1].endswith("ptycho-engine") and argv[2] == "train"
    session = argv[argv.index("--session") + 1]
    assert session == str(run / "session.toml") and argv[argv.index("--out") + 1] == str(run)
    cfg = load_session(session)  # the session written beside the script
    assert (cfg.execution.num_nodes, cfg.execution.devices) == (2, 4)
    assert cfg.execution.accelerator == "gpu" and cfg.data.path == str(tmp_path / "scan.npz")
    out = capsys.readouterr().out
    assert "2 node(s) x 4 task(s), 4 GPU(s) per node, time limit 01:45:00" in out
    assert f"sbatch {run / SCRIPT}" in out


def test_cpu_job_without_time_limit_asks_for_no_gpu(tmp_path):
    assert main(["cluster", "--out", str(tmp_path / "r"), "--accelerator", "cpu",
                 "--devices", "0,1"]) == 0
    d = directives((tmp_path / "r" / SCRIPT).read_text())
    assert d["ntasks-per-node"] == "2" and "gpus-per-node" not in d and "time" not in d


def test_sbatch_on_path_receives_the_script(tmp_path, monkeypatch, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    received = tmp_path / "received.txt"
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(f'#!/bin/sh\necho "$@" > "{received}"\necho "Submitted batch job 4242"\n')
    sbatch.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    run = tmp_path / "run"
    assert main(["cluster", "--out", str(run), "--devices", "1", "--submit"]) == 0
    assert received.read_text().strip() == str(run / SCRIPT)
    assert "Submitted batch job 4242" in capsys.readouterr().out


def test_missing_sbatch_and_bad_devices_are_clear_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch there
    run = tmp_path / "run"
    assert main(["cluster", "--out", str(run), "--devices", "2", "--submit"]) == 2
    err = capsys.readouterr().err
    assert "sbatch is not on PATH" in err and f"sbatch {run / SCRIPT}" in err
    assert (run / SCRIPT).is_file()  # written, to submit on the cluster
    assert main(["cluster", "--out", str(tmp_path / "r2"), "--devices", "auto"]) == 2
    err = capsys.readouterr().err
    assert "execution.devices = 'auto'" in err and "device count" in err
    assert not (tmp_path / "r2").exists()


def test_refuses_a_folder_holding_files(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    assert main(["cluster", "--out", str(run), "--devices", "1"]) == 2
    err = capsys.readouterr().err
    assert "already holds files (checkpoints)" in err and "training.overwrite" in err
    assert main(["cluster", "--out", str(run), "--devices", "1",
                 "--set", "training.overwrite=true"]) == 0
