"""Generator networks: a registry of encoder-decoder CNNs by name.

A generator maps a group of ``C = gridsize**2`` diffraction patterns to ``C`` complex object
patches ``(B, C, N, N)``. It is called as ``generator(x, prior)`` with

- ``x``: the normalised amplitudes ``sqrt(counts) * input_scale``, float ``(B, C, N, N)``
  (mean energy ``(N/2)**2`` per pattern, see :class:`engine.model.pinn.Normalisers`);
- ``prior``: the one-step physical estimate of each patch, complex ``(B, C, N, N)``
  (:func:`engine.model.pinn.backpropagated_estimate`), or None for generators whose
  ``uses_prior`` is False.

The physics layer (probe, forward model, loss) lives outside, in :mod:`engine.model.pinn`.

Families:

``unet`` (default)
    Physics-informed U-Net. The detector-plane amplitudes are first turned into an
    object-plane estimate by fixed, parameter-free physics (measured amplitudes with the
    probe's own far-field phase, back-propagated and divided by the probe, then
    ``model.prior_iterations`` ptychographic iterations over the group:
    :func:`engine.model.pinn.refine_estimate`); input and output then live in the same
    plane, so a U-Net (skip connections are meaningful here) learns a *local* correction, as
    a residual on the estimate's amplitude and phase. This converges an order of magnitude
    faster than mapping detector to object plane from scratch (docs/training.md has the
    measurements).
``cnn``
    The PtychoPINN-style encoder-decoder from the detector plane to the object plane (no skip
    connections: they would copy detector-plane features into object-plane positions), with a
    pixel-unshuffle stem so all convolutions run at <= N/2 (fast on CPUs).
``cnn_large``
    The reference size: full-resolution convolutions and separate amplitude and phase
    decoders with ``2 x model.width`` channels, about 2.3 M parameters at N = 64 with the
    default width; for GPUs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..config.schema import ModelConfig

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "gelu": nn.GELU,
    "silu": lambda: nn.SiLU(inplace=True),
    "leaky_relu": lambda: nn.LeakyReLU(0.1, inplace=True),
    "elu": lambda: nn.ELU(inplace=True),
}


def _block(cin: int, cout: int, act: str) -> nn.Sequential:
    """Two 3x3 convolutions, each with batch normalisation (faster training) and activation."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), ACTIVATIONS[act](),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), ACTIVATIONS[act](),
    )


def _logit(p: torch.Tensor) -> torch.Tensor:
    return torch.log(p / (1 - p))


class ObjectHead(nn.Module):
    """Turn two real channel blocks ``(a, b)`` into complex patches.

    ``amp_phase``: amplitude ``amplitude_max * sigmoid(a)`` (bounded, positive) and phase
    ``pi * tanh(b)``. ``real_imag``: real part ``1 + a`` and imaginary part ``b``. With a
    ``prior`` (residual mode) the same heads act around the prior instead: amplitude
    ``amplitude_max * sigmoid(logit(|prior| / amplitude_max) + a)``, phase
    ``angle(prior) + pi * tanh(b)``; or ``prior + (a + i b)``. At a = b = 0 an untrained
    network thus predicts a transparent object, respectively the prior itself. Always
    computed in float32, even under autocast: the physics layer that follows uses complex FFTs.
    """

    def __init__(self, mode: str, amplitude_max: float) -> None:
        super().__init__()
        if mode not in ("amp_phase", "real_imag"):
            raise ValueError(f"unknown object_output {mode!r}")
        self.mode = mode
        self.amplitude_max = float(amplitude_max)
        ratio = min(max(1.0 / self.amplitude_max, 1e-3), 1 - 1e-3)
        self.amp_bias = math.log(ratio / (1 - ratio))  # sigmoid(bias) * max == 1

    def forward(self, a: torch.Tensor, b: torch.Tensor,
                prior: torch.Tensor | None = None) -> torch.Tensor:
        a, b = a.float(), b.float()
        if prior is None:
            if self.mode == "amp_phase":
                amp = self.amplitude_max * torch.sigmoid(a + self.amp_bias)
                return torch.polar(amp, math.pi * torch.tanh(b))
            return torch.complex(a + 1.0, b)
        prior = prior.to(torch.complex64)
        if self.mode == "amp_phase":
            ratio = (prior.abs() / self.amplitude_max).clamp(1e-3, 1 - 1e-3)
            amp = self.amplitude_max * torch.sigmoid(_logit(ratio) + a)
            return torch.polar(amp, torch.angle(prior) + math.pi * torch.tanh(b))
        return prior + torch.complex(a, b)


class PriorUNet(nn.Module):
    """The ``unet`` family: a U-Net refining the one-step physical estimate (residual).

    Input channels per group member: ``|prior|``, ``Re prior``, ``Im prior`` and the
    normalised detector amplitude ``x``. A pixel-unshuffle stem runs every 3x3 convolution at
    <= N/2; a final 1x1 convolution sees the full-resolution inputs again so fine detail of
    the estimate is not lost.
    """

    uses_prior = True
    FEATURES = 4

    def __init__(self, channels: int, width: int, depth: int, activation: str,
                 object_output: str, amplitude_max: float) -> None:
        super().__init__()
        self.channels = channels
        cin = self.FEATURES * channels
        widths = [width * 2**i for i in range(depth)]
        self.stem = nn.Sequential(nn.PixelUnshuffle(2), *_block(4 * cin, widths[0], activation))
        self.down = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), *_block(widths[i], widths[i + 1], activation))
            for i in range(depth - 1))
        self.up = nn.ModuleList(
            _block(widths[i + 1] + widths[i], widths[i], activation)
            for i in reversed(range(depth - 1)))
        self.out = nn.Sequential(nn.Conv2d(widths[0], 4 * 2 * channels, 3, padding=1),
                                 nn.PixelShuffle(2))
        self.fuse = nn.Conv2d(2 * channels + cin, 2 * channels, 1)
        self.head = ObjectHead(object_output, amplitude_max)

    def forward(self, x: torch.Tensor, prior: torch.Tensor | None = None) -> torch.Tensor:
        if prior is None:
            raise ValueError("the 'unet' generator needs the physical prior estimate")
        p = prior.to(torch.complex64)
        feats = torch.cat([p.abs(), p.real, p.imag, x.float()], dim=1).to(x.dtype)
        h = self.stem(feats)
        skips = [h]
        for layer in self.down:
            h = layer(h)
            skips.append(h)
        skips.pop()
        for layer in self.up:
            h = nn.functional.interpolate(h, scale_factor=2, mode="nearest")
            h = layer(torch.cat([h, skips.pop()], dim=1))
        y = self.fuse(torch.cat([self.out(h), feats], dim=1))
        c = self.channels
        return self.head(y[:, :c], y[:, c:], prior)


class FastEncoderDecoder(nn.Module):
    """The ``cnn`` family: pixel-unshuffle stem, encoder-decoder at <= N/2, pixel-shuffle head."""

    uses_prior = False

    def __init__(self, channels: int, width: int, depth: int, activation: str,
                 object_output: str, amplitude_max: float) -> None:
        super().__init__()
        self.channels = channels
        widths = [width * 2**i for i in range(depth)]
        self.stem = nn.Sequential(nn.PixelUnshuffle(2),
                                  *_block(4 * channels, widths[0], activation))
        self.down = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), *_block(widths[i], widths[i + 1], activation))
            for i in range(depth - 1))
        self.up = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                          *_block(widths[i + 1], widths[i], activation))
            for i in reversed(range(depth - 1)))
        self.out = nn.Sequential(nn.Conv2d(widths[0], 4 * 2 * channels, 3, padding=1),
                                 nn.PixelShuffle(2))
        self.head = ObjectHead(object_output, amplitude_max)

    def forward(self, x: torch.Tensor, prior: torch.Tensor | None = None) -> torch.Tensor:
        h = self.stem(x)
        for layer in self.down:
            h = layer(h)
        for layer in self.up:
            h = layer(h)
        y = self.out(h)
        return self.head(y[:, : self.channels], y[:, self.channels:])


class LargeEncoderDecoder(nn.Module):
    """The ``cnn_large`` family: full-resolution encoder, separate amplitude/phase decoders."""

    uses_prior = False

    def __init__(self, channels: int, width: int, depth: int, activation: str,
                 object_output: str, amplitude_max: float) -> None:
        super().__init__()
        widths = [width * 2**i for i in range(depth + 1)]
        enc: list[nn.Module] = [*_block(channels, widths[0], activation)]
        for i in range(depth):
            enc += [nn.MaxPool2d(2), *_block(widths[i], widths[i + 1], activation)]
        self.encoder = nn.Sequential(*enc)

        def decoder() -> nn.Sequential:
            dec: list[nn.Module] = []
            for i in reversed(range(depth)):
                dec += [nn.Upsample(scale_factor=2, mode="nearest"),
                        *_block(widths[i + 1], widths[i], activation)]
            dec.append(nn.Conv2d(widths[0], channels, 3, padding=1))
            return nn.Sequential(*dec)

        self.decoder_a = decoder()
        self.decoder_b = decoder()
        self.head = ObjectHead(object_output, amplitude_max)

    def forward(self, x: torch.Tensor, prior: torch.Tensor | None = None) -> torch.Tensor:
        h = self.encoder(x)
        return self.head(self.decoder_a(h), self.decoder_b(h))


@dataclass(frozen=True)
class GeneratorSpec:
    """A registered generator: how to build it and what it is for."""

    factory: Callable[..., nn.Module]
    description: str
    width_factor: int = 1


GENERATORS: dict[str, GeneratorSpec] = {
    "unet": GeneratorSpec(
        PriorUNet,
        "physics-informed U-Net refining a physical estimate of each patch; the default "
        "(converges in minutes on a CPU)"),
    "cnn": GeneratorSpec(
        FastEncoderDecoder,
        "PtychoPINN-style encoder-decoder from the detector plane (pixel-unshuffle stem)"),
    "cnn_large": GeneratorSpec(
        LargeEncoderDecoder,
        "reference-size encoder-decoder (full resolution, separate amplitude/phase decoders, "
        "channels = 2 x model.width, ~2.3 M parameters at N = 64); for GPUs",
        width_factor=2),
}
"""Generator registry: ``ModelConfig.generator`` choices are exactly these names."""


def build_generator(model: ModelConfig) -> nn.Module:
    """Build the generator named by ``model.generator`` for ``model.gridsize**2`` channels.

    Raises
    ------
    ValueError
        For an unknown name (configs are validated before, so this is a programming error).
    """
    try:
        spec = GENERATORS[model.generator]
    except KeyError:
        raise ValueError(f"unknown generator {model.generator!r}; known: {sorted(GENERATORS)}") \
            from None
    return spec.factory(
        channels=model.gridsize**2,
        width=model.width * spec.width_factor,
        depth=model.depth,
        activation=model.activation,
        object_output=model.object_output,
        amplitude_max=model.amplitude_max,
    )


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
