"""The LightningModule: a :class:`~engine.model.pinn.PINN` plus its optimiser and schedule.

Hyper-parameters are stored in checkpoints as plain dicts (``model``: every ModelConfig
field; ``training``: the optimiser settings; the normalisers, ``N``, ``gridsize`` and probe
shape), and the probe is a tensor of the state dict, so a checkpoint loads with
``torch.load(weights_only=True)`` and rebuilds the network without any other file.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import lightning as L
import numpy as np
import torch

from ..config.schema import ModelConfig, TrainingConfig
from ..model.pinn import PINN, Normalisers

OPTIMISER_FIELDS = ("loss", "optimizer", "learning_rate", "weight_decay", "scheduler",
                    "lr_decay", "lr_step_epochs", "max_epochs")


def hyper_parameters(model: ModelConfig, training: TrainingConfig, normalisers: Normalisers,
                     probe_shape: tuple[int, ...], canvas_size: int | None, *,
                     beamtime: Any = None, conditions: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
    """The plain-dict hyper-parameters saved in every checkpoint.

    ``beamtime`` (the ``beamtime`` settings of a beamtime training, else None) and
    ``conditions`` (:func:`scan_conditions` of the data trained on) are recorded too: an
    inference compares them with its own data (:func:`condition_warnings`).
    """
    return {
        "beamtime": dataclasses.asdict(beamtime) if beamtime is not None else None,
        "conditions": conditions,
        "model": dataclasses.asdict(model),
        "training": {k: getattr(training, k) for k in OPTIMISER_FIELDS},
        "normalisers": {"input_scale": normalisers.input_scale,
                        "input_scale_unit": "1/sqrt(photon)",
                        "loss_scale": normalisers.loss_scale,
                        "loss_scale_unit": "photons per pattern"},
        "N": model.N,
        "gridsize": model.gridsize,
        "probe_shape": [int(s) for s in probe_shape],
        "canvas_size": canvas_size,
    }


def model_config_from(hparams: dict[str, Any]) -> ModelConfig:
    """The ModelConfig stored in checkpoint hyper-parameters (unknown keys ignored)."""
    names = {f.name for f in dataclasses.fields(ModelConfig)}
    return ModelConfig(**{k: v for k, v in hparams["model"].items() if k in names})


class PINNModule(L.LightningModule):
    """Self-supervised training of the PINN on groups of patterns.

    Parameters
    ----------
    hparams
        As made by :func:`hyper_parameters` (also how a checkpoint rebuilds the module).
    probe
        Complex probe ``(M, N, N)``; None builds a zero probe of ``probe_shape`` to be filled
        by ``load_state_dict``.
    compile
        Wrap the generator in ``torch.compile`` (``execution.compile``).
    """

    def __init__(self, hparams: dict[str, Any], probe: torch.Tensor | None = None, *,
                 compile: bool) -> None:
        super().__init__()
        self.save_hyperparameters(hparams)
        if probe is None:
            probe = torch.zeros(tuple(hparams["probe_shape"]), dtype=torch.complex64)
        norm = hparams["normalisers"]
        self.net = PINN(model_config_from(hparams), probe,
                        Normalisers(norm["input_scale"], norm["loss_scale"]),
                        loss=hparams["training"]["loss"])
        self.canvas_size = hparams.get("canvas_size")
        beamtime = hparams.get("beamtime") or {}
        self.supervised_weight = float(beamtime.get("supervised_weight", 0.0))
        self.compile_generator = compile
        self.batch_observers: list[Any] = []
        """Callables ``(batch, raw_patches)`` fed every training batch (the live preview)."""
        self.cancelled = False
        """Set by the stop callback: the validation pass that Lightning runs after a stop
        request is skipped, so a cancelled run ends within one optimisation step."""

    def configure_model(self) -> None:
        if self.compile_generator and not isinstance(self.net.generator,
                                                     torch._dynamo.eval_frame.OptimizedModule):
            self.net.generator = torch.compile(self.net.generator)  # type: ignore[assignment]

    def _shared_step(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.step(batch["counts"], batch["offsets"], batch.get("mask"),
                             self.canvas_size)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        size = batch["counts"].shape[0]
        truth = batch.get("truth")
        if truth is None:
            loss, raw = self._shared_step(batch)
        else:
            # A simulated batch (beamtime training): physics loss + supervised loss on the
            # consensus patches (what stitching uses) against the true patches.
            physics, patches, raw = self.net.step_with_patches(
                batch["counts"], batch["offsets"], batch.get("mask"), self.canvas_size)
            supervised = self.net.supervised_loss(patches, truth)
            loss = physics + self.supervised_weight * supervised
            self.log("train_supervised", supervised, on_step=False, on_epoch=True,
                     batch_size=size)
        # Two names, so "train_loss" is always the epoch mean (checkpoint monitor, plateau).
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=size,
                 sync_dist=True)
        self.log("train_loss_step", loss, on_step=True, on_epoch=False, batch_size=size)
        if truth is None:  # the live estimate is the measured scan's, not a simulated one
            for observer in self.batch_observers:
                observer(batch, raw)
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor],
                        batch_idx: int) -> torch.Tensor | None:
        if self.cancelled:
            return None
        loss, _ = self._shared_step(batch)
        self.log("val_loss", loss, on_step=False, on_epoch=True, prog_bar=False,
                 batch_size=batch["counts"].shape[0], sync_dist=True)
        return loss

    def on_validation_epoch_end(self) -> None:
        if self.cancelled:
            # The skipped validation of a cancelled epoch: NaN never becomes "best".
            self.log("val_loss", float("nan"), sync_dist=True)

    def configure_optimizers(self) -> Any:
        t = self.hparams["training"]
        params = self.parameters()
        if t["optimizer"] == "adamw":
            opt: torch.optim.Optimizer = torch.optim.AdamW(
                params, lr=t["learning_rate"], weight_decay=t["weight_decay"])
        elif t["optimizer"] == "sgd":
            opt = torch.optim.SGD(params, lr=t["learning_rate"], momentum=0.9,
                                  weight_decay=t["weight_decay"])
        else:
            opt = torch.optim.Adam(params, lr=t["learning_rate"], weight_decay=t["weight_decay"])
        if t["scheduler"] == "cosine":
            sched: Any = torch.optim.lr_scheduler.CosineAnnealingLR(
                opt, T_max=max(1, int(t["max_epochs"])))
        elif t["scheduler"] == "step":
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=int(t["lr_step_epochs"]),
                                                    gamma=float(t["lr_decay"]))
        elif t["scheduler"] == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, factor=float(t["lr_decay"]), patience=int(t["lr_step_epochs"]))
            return {"optimizer": opt, "lr_scheduler": {
                "scheduler": sched, "monitor": "train_loss", "interval": "epoch"}}
        else:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


def scan_conditions(positions: np.ndarray, probe: Any, mean_counts: float,
                    object_pixel_size_m: float | None) -> dict[str, Any]:
    """The measurement conditions a network was trained for, as plain numbers.

    Median nearest-neighbour step of the scan (px), number of positions, mean counts per
    pattern, probe shape and its power, the object pixel size: what a checkpoint records
    and an inference compares (the probe itself is in the checkpoint's weights).
    """
    from scipy.spatial import cKDTree

    pos = np.asarray(positions, dtype=np.float64)
    step = float("nan")
    if len(pos) > 1:
        dist, _ = cKDTree(pos).query(pos, k=2)
        step = float(np.median(dist[:, 1]))
    p = np.asarray(probe)
    return {"scan_step_px": step, "n_positions": int(len(pos)),
            "mean_counts_per_pattern": float(mean_counts),
            "probe_shape": [int(s) for s in p.shape],
            "probe_power": float(np.sum(np.abs(p) ** 2)),
            "object_pixel_size_m": (float(object_pixel_size_m)
                                    if object_pixel_size_m else None)}


STEP_TOLERANCE = 0.25
"""Relative difference of scan steps beyond which an inference warns."""


def condition_warnings(hparams: dict[str, Any], conditions: dict[str, Any],
                       data: str) -> list[str]:
    """Warnings for data scanned under other conditions than a beamtime model was made for.

    A beamtime model learned its prior under one scan step and pixel size: another step
    changes the overlap its groups saw, another pixel size the scale of what it learned.
    (Another probe is warned about by the caller, another N refused by
    :func:`engine.training.checkpoint.check_compatible`.)
    """
    saved = hparams.get("conditions") or {}
    if not saved or not hparams.get("beamtime"):
        return []
    out = []
    a, b = saved.get("scan_step_px"), conditions.get("scan_step_px")
    if a and b and np.isfinite(a) and np.isfinite(b) and abs(b - a) > STEP_TOLERANCE * a:
        out.append(f"{data}: scan step {b:.2f} px, the beamtime model was trained for "
                   f"{a:.2f} px; its learned prior may not hold (train a beamtime model on "
                   f"this scan)")
    a, b = saved.get("object_pixel_size_m"), conditions.get("object_pixel_size_m")
    if a and b and abs(b - a) > 0.05 * a:
        out.append(f"{data}: object pixel {b:.4g} m, the beamtime model was trained for "
                   f"{a:.4g} m")
    return out
