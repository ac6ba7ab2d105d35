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
import torch

from ..config.schema import ModelConfig, TrainingConfig
from ..model.pinn import PINN, Normalisers

OPTIMISER_FIELDS = ("loss", "optimizer", "learning_rate", "weight_decay", "scheduler",
                    "lr_decay", "lr_step_epochs", "max_epochs")


def hyper_parameters(model: ModelConfig, training: TrainingConfig, normalisers: Normalisers,
                     probe_shape: tuple[int, ...], canvas_size: int | None) -> dict[str, Any]:
    """The plain-dict hyper-parameters saved in every checkpoint."""
    return {
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
        loss, raw = self._shared_step(batch)
        size = batch["counts"].shape[0]
        # Two names, so "train_loss" is always the epoch mean (checkpoint monitor, plateau).
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=size,
                 sync_dist=True)
        self.log("train_loss_step", loss, on_step=True, on_epoch=False, batch_size=size)
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
