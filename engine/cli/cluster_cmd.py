"""``ptycho-engine cluster``: write a SLURM batch job for a training run (and submit it).

The session and ``slurm_job.sh`` go into the run folder (:mod:`engine.cluster`); with
``--submit`` the script is handed to ``sbatch`` when it is on ``PATH``.
"""

from __future__ import annotations

import argparse
import sys

from ..config.validation import ConfigIssue
from ..errors import ConfigError
from .common import add_config_arguments, resolve_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "cluster", help="write a SLURM batch job that trains in a run folder (and submit it)",
        description="Write the resolved session (session.toml) and a SLURM batch script "
        "(slurm_job.sh: --nodes from execution.num_nodes, one task and, unless the "
        "accelerator is cpu, one GPU per device of execution.devices, --time from "
        "training.max_time_min plus 10 minutes; srun ptycho-engine train) into the run folder "
        "--out (or training.output_dir). --submit hands it to sbatch. Follow the folder with "
        "the desktop app (Runs > Follow a run folder...). See docs/distributed.md.")
    parser.add_argument("--data", metavar="PATH", help="dataset (sets data.path)")
    parser.add_argument("--out", metavar="DIR", help="run folder, on a file system the nodes "
                        "share (sets training.output_dir)")
    parser.add_argument("--submit", action="store_true",
                        help="submit the script with sbatch (says so when sbatch is missing)")
    add_config_arguments(parser)
    parser.set_defaults(func=_cluster)


def _cluster(args: argparse.Namespace) -> int:
    from ..cluster import submit, write_cluster_job

    resolved = resolve_from_args(args, extra={"data.path": (args.data, "cli --data"),
                                              "training.output_dir": (args.out, "cli --out")})
    out = resolved.config.training.output_dir
    if not out:
        raise ConfigError([ConfigIssue("--out", "expected the run folder of the cluster job "
                                       "(--out DIR or training.output_dir)", out)])
    job = write_cluster_job(resolved, out)
    gpus = f", {job.gpus_per_node} GPU(s) per node" if job.gpus_per_node else ""
    limit = f", time limit {job.time_limit}" if job.time_limit else \
        ", the cluster's default time limit (set training.max_time_min to choose one)"
    print(f"wrote {job.session}")
    print(f"wrote {job.script}: {job.nodes} node(s) x {job.tasks_per_node} task(s){gpus}{limit}")
    if not args.submit:
        print(f"submit it with: sbatch {job.script}")
        return 0
    result = submit(job)
    if not result.submitted:
        print(f"error: {result.message}", file=sys.stderr)
        return 2
    print(result.message)
    return 0
