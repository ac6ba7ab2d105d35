"""A training run on a SLURM cluster: the session and a batch script written into the run folder.

:func:`write_cluster_job` writes ``session.toml`` (the resolved configuration, through
:func:`engine.config.save_session`) and ``slurm_job.sh`` into the run folder, both atomically
(:func:`plan_cluster_job` and :func:`batch_script` give the same job and text without writing).
The script asks SLURM for ``execution.num_nodes`` nodes with one task per device
(``execution.devices``, a count) and, unless the accelerator is the CPU, as many GPUs per
node; its one command is ``srun ptycho-engine train --session RUN/session.toml --out RUN``.
Lightning detects the SLURM environment the tasks run in (``SLURM_NTASKS``,
``SLURM_PROCID``, ...) and sets up the process group itself: nothing here launches processes
on the nodes. The job's time limit is ``training.max_time_min`` plus
:data:`TIME_MARGIN_MIN` minutes (the run stops itself at its own limit and then writes its
results before SLURM would kill it); without ``max_time_min`` the cluster's default limit
applies. :func:`submit` hands the script to ``sbatch`` when it is on ``PATH``.

The run folder must be on a file system that the nodes share (docs/distributed.md); a
process elsewhere can follow it while the job writes it (:func:`engine.runs_index.watch_run`).

Examples
--------
>>> from engine.config import resolve_config
>>> from engine.cluster import write_cluster_job, submit
>>> cfg = resolve_config(session="scan.toml", overrides={                  # doctest: +SKIP
...     "execution.accelerator": "gpu", "execution.devices": 4, "execution.num_nodes": 2})
>>> job = write_cluster_job(cfg, "runs/scan-2x4")                           # doctest: +SKIP
>>> submit(job).message                                                     # doctest: +SKIP
'Submitted batch job 123456'
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_write_text
from .config import ResolvedConfig, save_session
from .config.validation import ConfigIssue
from .errors import ConfigError, RunError
from .locks import open_output_folder
from .runs_index import SESSION

SCRIPT = "slurm_job.sh"
"""Name of the batch script inside the run folder."""

SLURM_LOG = "slurm-%j.out"
"""SLURM's output file inside the run folder (``%j``: the job id)."""

TIME_MARGIN_MIN = 10
"""Minutes the job gets beyond ``training.max_time_min``: start-up and writing the results."""

SUBMIT_TIMEOUT_S = 60.0
"""Longest wait for ``sbatch`` to answer."""

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ClusterJob:
    """A batch job written into a run folder.

    Attributes
    ----------
    run_dir
        The run folder (absolute).
    session, script
        ``RUN/session.toml`` and ``RUN/slurm_job.sh``.
    nodes, tasks_per_node, gpus_per_node
        What the script asks SLURM for (``gpus_per_node`` 0 on a CPU-only job).
    time_limit
        The ``--time`` directive ("HH:MM:00"), "" when the cluster's default applies.
    """

    run_dir: Path
    session: Path
    script: Path
    nodes: int
    tasks_per_node: int
    gpus_per_node: int
    time_limit: str


@dataclass(frozen=True)
class Submission:
    """What came of handing a script to ``sbatch``.

    ``submitted`` is False when ``sbatch`` is not on ``PATH``; ``message`` then says how to
    submit the script on the cluster.
    """

    submitted: bool
    job_id: str
    message: str


def devices_per_node(devices: int | str) -> int:
    """The device count of ``execution.devices`` (``4``, ``"4"`` or a list ``"0,1"``).

    Raises
    ------
    ConfigError
        ``"auto"`` or ``-1``: SLURM starts one task per device, so a count is needed.
    """
    text = str(devices).strip()
    if "," in text:
        count = len([part for part in text.split(",") if part.strip()])
    else:
        try:
            count = int(text)
        except ValueError:
            count = 0
    if count < 1:
        raise ConfigError([ConfigIssue(
            "execution.devices", "expected a device count per node for a cluster job (SLURM "
            "starts one task per device), e.g. 4 or '0,1'", devices)])
    return count


def time_limit(max_time_min: float) -> str:
    """SLURM's ``--time`` for a run limited to ``max_time_min`` minutes ("" for no limit)."""
    if max_time_min <= 0:
        return ""
    minutes = int(-(-max_time_min // 1)) + TIME_MARGIN_MIN
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def engine_command() -> str:
    """The ``ptycho-engine`` of this installation (absolute, as the nodes share the file
    system), or the bare name when this Python has no console script beside it."""
    beside = Path(sys.executable).parent / "ptycho-engine"
    return str(beside) if beside.is_file() else "ptycho-engine"


def batch_script(job: ClusterJob, engine: str | None = None) -> str:
    """The text of the batch script of ``job`` (``engine``: :func:`engine_command`)."""
    q = shlex.quote
    engine = engine or engine_command()
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={_SAFE_NAME.sub('_', job.run_dir.name) or 'ptycho'}",
        f"#SBATCH --nodes={job.nodes}",
        f"#SBATCH --ntasks-per-node={job.tasks_per_node}",
    ]
    if job.gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={job.gpus_per_node}")
    if job.time_limit:
        lines.append(f"#SBATCH --time={job.time_limit}")
    lines += [
        f"#SBATCH --output={job.run_dir / SLURM_LOG}",
        "# Written by `ptycho-engine cluster` (engine/cluster.py). One task per device:",
        "# Lightning reads SLURM's environment (SLURM_NTASKS, SLURM_PROCID, ...) and sets up",
        "# the process group; rank 0 writes the run folder. Re-running this script replaces",
        "# the run in the folder (training.overwrite).",
        "set -euo pipefail",
        f"srun {q(engine)} train --session {q(str(job.session))} --out {q(str(job.run_dir))} "
        "--set training.overwrite=true",
    ]
    return "\n".join(lines) + "\n"


def plan_cluster_job(resolved: ResolvedConfig, run_dir: str | os.PathLike[str]) -> ClusterJob:
    """The job :func:`write_cluster_job` would write (nothing is written; a dialog shows
    :func:`batch_script` of it as a preview).

    Raises
    ------
    ConfigError
        ``execution.devices`` is not a count, the accelerator is ``mps``, or the strategy
        cannot run under ``srun`` (``ddp_spawn``, ``ddp_notebook``).
    """
    config = resolved.config
    ex = config.execution
    issues = []
    if ex.accelerator == "mps":
        issues.append(ConfigIssue("execution.accelerator", "expected 'gpu', 'cpu' or 'auto' "
                                  "for a cluster job (SLURM nodes have no Apple GPU)",
                                  ex.accelerator))
    if ex.strategy in ("ddp_spawn", "ddp_notebook"):
        issues.append(ConfigIssue("execution.strategy", "expected 'auto' or 'ddp' for a "
                                  "cluster job (srun starts the processes, Lightning must not)",
                                  ex.strategy))
    if issues:
        raise ConfigError(issues)
    tasks = devices_per_node(ex.devices)
    folder = Path(run_dir).expanduser().absolute()
    return ClusterJob(run_dir=folder, session=folder / SESSION, script=folder / SCRIPT,
                      nodes=ex.num_nodes, tasks_per_node=tasks,
                      gpus_per_node=0 if ex.accelerator == "cpu" else tasks,
                      time_limit=time_limit(config.training.max_time_min))


def write_cluster_job(resolved: ResolvedConfig, run_dir: str | os.PathLike[str],
                      engine: str | None = None) -> ClusterJob:
    """Write ``session.toml`` and ``slurm_job.sh`` into ``run_dir`` (created when missing).

    Parameters
    ----------
    resolved
        The configuration of the run; its ``training.output_dir`` becomes ``run_dir``.
    run_dir
        The run folder, on a file system the nodes share.
    engine
        The command the nodes run (default: :func:`engine_command`).

    Raises
    ------
    ConfigError
        As :func:`plan_cluster_job`.
    RunError
        The folder is a file, holds files already (and ``training.overwrite`` is off),
        another process writes there, or it cannot be written.
    """
    job = plan_cluster_job(resolved, run_dir)
    config = resolved.config
    run_config = dataclasses.replace(
        config, training=dataclasses.replace(config.training, output_dir=str(job.run_dir)))
    with open_output_folder(job.run_dir, "writing a cluster job",
                            overwrite=config.training.overwrite, setting="training.overwrite"):
        save_session(run_config, job.session, defaults=resolved.default_keys())
        atomic_write_text(job.script, batch_script(job, engine))
        job.script.chmod(0o755)
    return job


def submit(job: ClusterJob, sbatch: str | None = None) -> Submission:
    """Hand ``job.script`` to ``sbatch`` (found on ``PATH`` unless given).

    Returns ``Submission(submitted=False, ...)`` when there is no ``sbatch``: the script is
    written and can be submitted on the cluster.

    Raises
    ------
    RunError
        ``sbatch`` refused the script (its message is quoted) or did not answer within
        :data:`SUBMIT_TIMEOUT_S`.
    """
    program = sbatch or shutil.which("sbatch")
    if program is None:
        return Submission(False, "", f"sbatch is not on PATH: {job.script} was written but "
                          "not submitted; on the cluster run: "
                          f"sbatch {shlex.quote(str(job.script))}")
    try:
        done = subprocess.run([program, str(job.script)], cwd=job.run_dir, capture_output=True,
                              text=True, timeout=SUBMIT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise RunError(f"sbatch did not answer within {SUBMIT_TIMEOUT_S:.0f} s; "
                       f"{job.script} was not submitted") from None
    except OSError as exc:
        raise RunError(f"cannot run {program}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        raise RunError(f"sbatch refused {job.script}: {reason}")
    answer = done.stdout.strip()
    found = re.search(r"(\d+)", answer)
    return Submission(True, found.group(1) if found else "", answer or "submitted")
