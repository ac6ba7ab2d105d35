"""Training throughput: the Lightning path against a plain PyTorch loop on the same work.

:func:`measure_throughput` builds one model and one data module (exactly as training does),
then times ``steps`` optimisation steps (after ``warmup`` untimed ones) twice, from the same
initial weights: once in a hand-written loop (loader -> forward -> backward -> Adam step),
once through :func:`engine.training.build_trainer` with checkpointing, logging and progress
bars off. Both include data loading. The difference is Lightning's overhead.
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
import time
from typing import Any

import lightning as L
import torch

from ..config import ResolvedConfig, SessionConfig
from ..reporting import Clock, Reporter
from ..training.devices import resolve_device
from ..training.setup import prepare_fit
from ..training.trainer import build_trainer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _StepTimer(L.Callback):
    """Wall time from the start of batch ``warmup`` to the end of the last batch."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start: float | None = None
        self.end = 0.0
        self.groups = 0

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: Any, batch: Any,
                             batch_idx: int) -> None:
        if batch_idx == self.warmup:
            _sync(pl_module.device)
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if batch_idx >= self.warmup:
            _sync(pl_module.device)
            self.end = time.perf_counter()
            self.groups += int(batch["counts"].shape[0])


def _batches(loader: Any, count: int) -> Any:
    while True:
        for batch in loader:
            yield batch
            count -= 1
            if count <= 0:
                return


def measure_throughput(config: SessionConfig | ResolvedConfig, data: Any = None, *,
                       steps: int = 20, warmup: int = 3,
                       reporter: Reporter | None = None) -> dict[str, Any]:
    """Patterns per second of training, plain PyTorch loop vs Lightning.

    Parameters
    ----------
    config
        Session (model, batch size, execution: accelerator and devices; single device).
    data
        A loaded :class:`engine.io.PtychoData`; default: load ``config.data``.
    steps, warmup
        Timed and untimed optimisation steps of each path.
    reporter
        Progress (stage "bench") and log lines.

    Returns
    -------
    dict
        ``plain_patterns_per_s``, ``lightning_patterns_per_s``, ``overhead_percent``
        (positive: Lightning slower), ``steps``, ``batch_size`` (groups), ``patterns_per_step``,
        ``device``. A pattern is one member of a group (C per group).
    """
    from ..io import load_dataset

    session = config.config if isinstance(config, ResolvedConfig) else config
    report = reporter or Reporter()
    if data is None:
        data = load_dataset(session.data)
    L.seed_everything(session.execution.seed, workers=True, verbose=False)
    prepared = prepare_fit(session, data)
    channels = session.model.gridsize**2
    initial = copy.deepcopy(prepared.module.state_dict())
    device = resolve_device(session.execution).torch_device()
    clock = Clock(total=2 * (steps + warmup))

    # Plain PyTorch: the same network, loader and optimiser settings.
    net = prepared.module.net.to(device).train()
    optimiser = torch.optim.Adam(net.parameters(), lr=session.training.learning_rate)
    loader = prepared.datamodule.train_dataloader()
    canvas = prepared.module.canvas_size
    groups = 0
    start = 0.0
    for i, batch in enumerate(_batches(loader, warmup + steps)):
        if i == warmup:
            _sync(device)
            start = time.perf_counter()
        counts = batch["counts"].to(device)
        loss, _ = net.step(counts, batch["offsets"].to(device), None, canvas)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if i >= warmup:
            groups += int(counts.shape[0])
        report.progress(clock.progress("bench", i + 1, unit="step"))
    _sync(device)
    plain_s = time.perf_counter() - start
    plain = groups * channels / plain_s

    # Lightning: the one Trainer factory, nothing but the fit loop switched on.
    prepared.module.net.to("cpu")
    prepared.module.load_state_dict(initial)
    execution = dataclasses.replace(
        session.execution, checkpointing=False, logger="none", progress_bar=False, devices=1,
        strategy="auto", num_nodes=1, early_stopping_patience=0,
        accelerator="cpu" if device.type == "cpu" else session.execution.accelerator)
    timer = _StepTimer(warmup)
    with tempfile.TemporaryDirectory(prefix="ptycho-bench-") as tmp:
        trainer = build_trainer(execution, max_epochs=1, run_dir=tmp, callbacks=[timer],
                                max_time_min=0.0,
                                logger=False, enable_progress_bar=False,
                                limit_train_batches=warmup + steps, limit_val_batches=0)
        trainer.fit(prepared.module, datamodule=prepared.datamodule)
    lightning_s = max(timer.end - (timer.start or timer.end), 1e-9)
    lightning_rate = timer.groups * channels / lightning_s
    report.progress(clock.progress("bench", 2 * (steps + warmup), unit="step"))
    result = {
        "plain_patterns_per_s": plain,
        "lightning_patterns_per_s": lightning_rate,
        "overhead_percent": 100.0 * (plain / lightning_rate - 1.0),
        "steps": steps,
        "batch_size": session.training.batch_size,
        "patterns_per_step": session.training.batch_size * channels,
        "device": str(device),
    }
    report.log("info", f"training throughput: plain PyTorch {plain:.0f} patterns/s, "
               f"Lightning {lightning_rate:.0f} patterns/s "
               f"({result['overhead_percent']:+.1f} % overhead)")
    return result

