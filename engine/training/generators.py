"""Generator networks: a registry of encoder-decoder CNNs by name.

A generator maps a group of ``C = gridsize**2`` normalised diffraction amplitudes
``(B, C, N, N)`` (float) to ``C`` complex object patches ``(B, C, N, N)``. The physics layer
(probe, forward model, loss) lives outside the generator, in :mod:`engine.training.pinn`.

The input lives in the detector (Fourier) plane and the output in the object plane, so every
output pixel depends on every input pixel: the networks are plain encoder-decoders (no U-Net
skip connections, which would copy detector-plane features into object-plane positions) whose
bottleneck receptive field covers the whole pattern.

Two families are registered:

``cnn`` (default, fast on CPUs)
    Pixel-unshuffle stem: the pattern is folded into 4x the channels at half resolution
    (lossless), all convolutions run at <= N/2, and a pixel-shuffle head unfolds the output to
    N x N. About 10x fewer FLOPs than the reference network at the same width.
``cnn_large`` (the reference size, for GPUs)
    Full-resolution convolutions and separate amplitude and phase decoders, as in the
    published PtychoPINN network; with the default width it has about 2.3 M parameters at
    N = 64 and is ~8x slower per pattern than ``cnn`` on a CPU.
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


def _norm(kind: str, channels: int) -> list[nn.Module]:
    if kind == "batch":
        return [nn.BatchNorm2d(channels)]
    if kind == "group":
        return [nn.GroupNorm(min(8, channels), channels)]
    return []


def _block(cin: int, cout: int, act: str, norm: str = "none") -> nn.Sequential:
    """Two 3x3 convolutions with activations (the unit of every level)."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), *_norm(norm, cout), ACTIVATIONS[act](),
        nn.Conv2d(cout, cout, 3, padding=1), *_norm(norm, cout), ACTIVATIONS[act](),
    )


class ObjectHead(nn.Module):
    """Turn ``2C`` real channels into ``C`` complex patches.

    ``amp_phase``: amplitude ``amplitude_max * sigmoid(a)`` (bounded, positive; 1 at a = 0
    for the default bound 2) and phase ``pi * tanh(p)``. ``real_imag``: the two channels are
    the real part (offset by 1, so an untrained network predicts a transparent object) and the
    imaginary part. Always computed in float32, even under autocast, because the physics layer
    that follows uses a complex FFT.
    """

    def __init__(self, mode: str, amplitude_max: float) -> None:
        super().__init__()
        if mode not in ("amp_phase", "real_imag"):
            raise ValueError(f"unknown object_output {mode!r}")
        self.mode = mode
        self.amplitude_max = float(amplitude_max)
        # sigmoid(bias) * amplitude_max == 1: an untrained network predicts a transparent object
        ratio = min(max(1.0 / self.amplitude_max, 1e-3), 1 - 1e-3)
        self.amp_bias = math.log(ratio / (1 - ratio))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = a.float(), b.float()
        if self.mode == "amp_phase":
            amp = self.amplitude_max * torch.sigmoid(a + self.amp_bias)
            return torch.polar(amp, math.pi * torch.tanh(b))
        return torch.complex(a + 1.0, b)


class FastEncoderDecoder(nn.Module):
    """The ``cnn`` family: pixel-unshuffle stem, encoder-decoder at <= N/2, pixel-shuffle head."""

    def __init__(self, channels: int, width: int, depth: int, activation: str,
                 object_output: str, amplitude_max: float, norm: str = "none",
                 log_input: bool = False, dense: int = 0, n: int = 64,
                 central: bool = False) -> None:
        super().__init__()
        self.channels = channels
        self.central = central
        self.log_input = log_input
        widths = [width * 2**i for i in range(depth + 1)]
        cin = 2 * channels if log_input else channels
        self.stem = nn.Sequential(nn.PixelUnshuffle(2),
                                  *_block(4 * cin, widths[0], activation, norm))
        self.dense = None
        if dense:
            side = n // 2 ** depth
            self.dense = nn.Sequential(
                nn.Conv2d(widths[depth - 1], dense, 1), nn.Flatten(),
                nn.Linear(dense * side * side, dense * side * side), ACTIVATIONS[activation](),
                nn.Unflatten(1, (dense, side, side)), nn.Conv2d(dense, widths[depth - 1], 1),
                ACTIVATIONS[activation]())
        self.down = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), *_block(widths[i], widths[i + 1], activation, norm))
            for i in range(depth - 1)
        )
        self.up = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                          *_block(widths[i + 1], widths[i], activation, norm))
            for i in reversed(range(depth - 1))
        )
        if central:
            self.out = nn.Conv2d(widths[0], 2 * channels, 3, padding=1)
        else:
            self.out = nn.Sequential(nn.Conv2d(widths[0], 4 * 2 * channels, 3, padding=1),
                                     nn.PixelShuffle(2))
        self.head = ObjectHead(object_output, amplitude_max)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.log_input:
            x = torch.cat([x, 0.25 * torch.log1p(16 * x * x)], dim=1)
        h = self.stem(x)
        for layer in self.down:
            h = layer(h)
        if self.dense is not None:
            h = self.dense(h)
        for layer in self.up:
            h = layer(h)
        y = self.out(h)
        if self.central:
            q = y.shape[-1] // 2
            y = nn.functional.pad(y, (q, q, q, q))
        return self.head(y[:, : self.channels], y[:, self.channels:])


class LargeEncoderDecoder(nn.Module):
    """The ``cnn_large`` family: full-resolution encoder, separate amplitude/phase decoders."""

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)
        return self.head(self.decoder_a(h), self.decoder_b(h))


@dataclass(frozen=True)
class GeneratorSpec:
    """A registered generator: how to build it and what it is for."""

    factory: Callable[..., nn.Module]
    description: str
    width_factor: int = 1


GENERATORS: dict[str, GeneratorSpec] = {
    "cnn": GeneratorSpec(
        FastEncoderDecoder,
        "fast encoder-decoder (pixel-unshuffle stem, convolutions at <= N/2); CPU default",
    ),
    "cnn_large": GeneratorSpec(
        LargeEncoderDecoder,
        "reference-size encoder-decoder (full resolution, separate amplitude/phase decoders; "
        "channels = 2 x model.width); for GPUs",
        width_factor=2,
    ),
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
