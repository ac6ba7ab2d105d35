"""Kill a workflow at random moments, then check what it left and that it recovers.

Run by ``tests/test_kill_faults.py`` in its own interpreter::

    python tests/kill_harness.py KIND WORKDIR DATA SEEDS [CHECKPOINT]

KIND is ``simulate``, ``train`` or ``infer``. The interpreter imports the engine once, then,
for every seed, forks a child that runs the workflow through the public API, SIGKILLs it after
a random delay (uniform over the duration of an undisturbed run, measured first in a forked
child too), checks that every final file present is complete (loads with the engine's own
readers; a dead writer's ``.NAME.tmp-*`` may remain), then forks a recovery run (``--resume``
for training when a checkpoint exists, otherwise the same run again, replacing the folder)
and checks that it completes and leaves no temporary file. Prints one JSON report.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

TINY = {
    "model.N": 32, "model.width": 8, "model.depth": 2, "training.batch_size": 8,
    "training.max_epochs": 3, "training.val_fraction": 0.25, "execution.accelerator": "cpu",
    "execution.devices": 1, "execution.progress_bar": False, "execution.logger": "csv",
    "execution.seed": 1,
}


def temporaries(folder: Path) -> list[str]:
    from engine.atomic import is_temporary

    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if is_temporary(p.name))


def check_complete(folder: Path) -> list[str]:
    """Every final file present in ``folder`` loads completely; return the problems."""
    import csv

    import h5py
    import numpy as np
    import torch
    from PIL import Image

    from engine.atomic import is_temporary
    from engine.config import load_session

    problems = []
    if not folder.exists():
        return problems
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or is_temporary(path.name) or path.name.startswith(".ptycho"):
            continue
        try:
            suffix = path.suffix
            if suffix == ".npz":
                with np.load(path, allow_pickle=False) as npz:
                    for key in npz.files:
                        np.asarray(npz[key])
            elif suffix == ".h5":
                with h5py.File(path, "r") as h5:
                    h5.visititems(lambda _n, obj: obj[()] if isinstance(obj, h5py.Dataset)
                                  else None)
            elif suffix == ".ckpt":
                torch.load(path, map_location="cpu", weights_only=True)
            elif suffix == ".json":
                json.loads(path.read_text())
            elif suffix == ".toml":
                load_session(path)
            elif suffix == ".csv":
                with path.open(newline="") as fh:
                    list(csv.DictReader(fh))
            elif suffix == ".png":
                with Image.open(path) as img:
                    img.load()
        except Exception as exc:  # noqa: BLE001 - any failure to load is the finding
            problems.append(f"{path.relative_to(folder)}: {type(exc).__name__}: {exc}")
    return problems


def workflow(kind: str, folder: Path, data: str, checkpoint: str | None,
             recovery: bool) -> str:
    """Run one workflow to its end in this process; return how it was run."""
    import engine

    if kind == "simulate":
        from engine.config import SessionConfig

        overrides = {"simulation.overwrite": True} if recovery else {}
        cfg = engine.resolve_config(overrides=overrides, base=SessionConfig())
        result = engine.simulate(cfg, folder, preset="tiny")
        assert result.status == "completed", result.status
        return "rerun" if recovery else "run"
    if kind == "train":
        values = dict(TINY, **{"data.path": data, "training.output_dir": str(folder)})
        summary = folder / "summary.json"
        if recovery and summary.is_file() and \
                json.loads(summary.read_text()).get("status") == "completed":
            # the kill came after the run had finished: nothing to recover (a resume of a
            # finished run that asks for no more epochs is refused, issue 21)
            return "finished"
        resume = recovery and (folder / "checkpoints" / "last.ckpt").is_file()
        if recovery and not resume:
            values["training.overwrite"] = True
        result = engine.train(engine.resolve_config(overrides=values), resume=resume)
        assert result.status == "completed", result.status
        return "resume" if resume else ("restart" if recovery else "run")
    assert checkpoint is not None
    values = dict(TINY, **{"data.path": data})
    if recovery:  # the killed run may have left a complete recon.h5: replacing it is asked for
        values["inference.overwrite"] = True
    engine.infer(checkpoint, data, folder / "recon.h5", config=engine.resolve_config(
        overrides=values))
    return "rerun" if recovery else "run"


def in_child(kind: str, folder: Path, data: str, checkpoint: str | None, recovery: bool,
             result_file: Path | None = None) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 0
        try:
            how = workflow(kind, folder, data, checkpoint, recovery)
            if result_file is not None:
                result_file.write_text(how)
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
            code = 3
        os._exit(code)
    return pid


def wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main(argv: list[str]) -> int:
    kind, workdir, data, seeds = argv[0], Path(argv[1]), argv[2], int(argv[3])
    checkpoint = argv[4] if len(argv) > 4 else None
    import torch

    torch.set_num_threads(1)
    import lightning  # noqa: F401

    import engine  # noqa: F401 - imported once, before the forks

    report: dict[str, Any] = {"kind": kind, "seeds": []}
    start = time.monotonic()
    pid = in_child(kind, workdir / "reference", data, checkpoint, recovery=False)
    code = wait(pid)
    duration = time.monotonic() - start
    report["reference_s"] = duration
    if code != 0:
        report["error"] = f"reference run exited {code}"
        print(json.dumps(report))
        return 1
    for seed in range(seeds):
        folder = workdir / f"seed-{seed}"
        delay = random.Random(seed).uniform(0.0, duration)
        pid = in_child(kind, folder, data, checkpoint, recovery=False)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        killed = wait(pid) == -signal.SIGKILL
        entry: dict[str, Any] = {"seed": seed, "delay_s": round(delay, 3), "killed": killed,
                                 "after_kill": check_complete(folder),
                                 "left_by_kill": temporaries(folder)}
        how_file = workdir / f"how-{seed}"
        t0 = time.monotonic()
        code = wait(in_child(kind, folder, data, checkpoint, recovery=True,
                             result_file=how_file))
        entry.update({"recovery_exit": code, "recovery_s": round(time.monotonic() - t0, 2),
                      "recovery": how_file.read_text() if how_file.exists() else None,
                      "after_recovery": check_complete(folder),
                      "left_after_recovery": temporaries(folder)})
        report["seeds"].append(entry)
    report["total_s"] = time.monotonic() - start
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main(sys.argv[1:]))
