"""Everything a fit needs, built one way for training runs and benchmarks alike."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import SessionConfig
from ..errors import ConfigError, DataError
from ..model.pinn import Normalisers
from .data import BeamtimeDataModule, GroupDataModule, Split, make_split, max_offset_px
from .module import PINNModule, hyper_parameters, scan_conditions


@dataclass
class Prepared:
    """Data split, data module and LightningModule of one fit."""

    split: Split
    datamodule: GroupDataModule
    module: PINNModule
    normalisers: Normalisers


def check_data_matches(config: SessionConfig, data: Any) -> None:
    """Refuse data whose pattern size differs from ``model.N`` or that are too few.

    ``model.N = 0`` (the default) takes the data's pattern size: ``config.model.N`` is set to
    it here, so everything built from the config afterwards sees the real size.
    """
    depth = 2**config.model.depth
    if config.model.N == 0:
        if data.N % depth:
            raise ConfigError([
                f"model.N = 0 takes the data's pattern size, {data.N} px in {data.source}, "
                f"which is not divisible by 2^model.depth = {depth}; set data.crop (or "
                f"data.bin) to a multiple of {depth}, or lower model.depth"])
        config.model.N = data.N
    if data.N != config.model.N:
        raise ConfigError([
            f"model.N = {config.model.N}: the data in {data.source} have "
            f"{data.N} x {data.N} px patterns; set model.N = {data.N} (or 0: the data's size), "
            f"or data.crop = {config.model.N} to crop them"])
    groupsize = config.model.gridsize**2
    if data.n_patterns < max(2, groupsize):
        raise DataError(f"{data.source}: training needs at least {max(2, groupsize)} patterns "
                        f"for gridsize {config.model.gridsize}, found {data.n_patterns}")


def prepare_fit(config: SessionConfig, data: Any,
                normalisers: Normalisers | None = None) -> Prepared:
    """Group and split the data, compute the normalisers (unless given), build the module.

    With ``beamtime.simulated_training`` the training batches are simulated under the data's own
    conditions and mixed with the data (:class:`engine.training.data.BeamtimeDataModule`).

    Parameters
    ----------
    config
        The session (model, training and execution settings are used).
    data
        A loaded :class:`engine.io.PtychoData`.
    normalisers
        Reuse these (a resumed run takes them from its checkpoint).
    """
    check_data_matches(config, data)
    ex = config.execution
    split = make_split(data.positions, config.model.gridsize, config.model.n_neighbours,
                       config.training.val_fraction, ex.seed)
    args = (data.patterns, data.positions, split, config.training.batch_size,
            ex.num_workers, ex.pin_memory, ex.persistent_workers, ex.seed)
    beamtime = config.beamtime if config.beamtime.simulated_training else None
    dm = (GroupDataModule(*args, bad_pixels=data.bad_pixels) if beamtime is None else
          BeamtimeDataModule(*args, probe=data.probe, bad_pixels=data.bad_pixels,
                             beamtime=beamtime))
    if normalisers is None:
        normalisers = dm.normalisers(data.N)
    canvas = None
    if config.model.gridsize > 1:
        # One canvas size for every batch: no per-batch device sync to size it.
        canvas = data.N + 2 * math.ceil(max_offset_px(data.positions, split.groups)) + 2
    conditions = scan_conditions(data.positions, data.probe, normalisers.loss_scale,
                                 data.object_pixel_size_m)
    hparams = hyper_parameters(config.model, config.training, normalisers,
                               tuple(np.shape(data.probe)), canvas, beamtime=beamtime,
                               conditions=conditions)
    module = PINNModule(hparams, probe=torch.from_numpy(np.asarray(data.probe)),
                        compile=ex.compile)
    return Prepared(split=split, datamodule=dm, module=module, normalisers=normalisers)
