"""Named simulation presets: override dicts applied through the resolver, never new defaults.

``default`` is the schema defaults (the embedded default dataset). A preset's values sit above
the session file and below explicit command-line settings; their source reads
``"preset <name>"`` in ``config show --explain`` style audits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .resolve import ResolvedConfig, resolve_config
from .schema import SessionConfig
from .validation import ConfigIssue

PRESETS: Mapping[str, Mapping[str, Any]] = {
    # The schema defaults: 784 patterns of 64 x 64, 1e6 photons.
    "default": {},
    # About a second: 64 patterns of 32 x 32 for tests and quick checks.
    "tiny": {
        "model.N": 32,
        "simulation.n_positions": 64,
        "simulation.step_px": 3.0,
        "simulation.probe_diameter_px": 10.0,
        "simulation.defocus_px": 12.0,
        "simulation.jitter_px": 0.3,
    },
    # The default scan at 1e4 photons per pattern, where methods differ.
    "lowdose": {"simulation.photons_per_pattern": 1.0e4},
}

# The preset names, in the order the CLI and the GUI list them.
PRESET_NAMES: tuple[str, ...] = tuple(PRESETS)


def preset_label(name: str) -> str:
    return f"preset {name}"


def preset_layer(name: str) -> dict[str, tuple[Any, str]]:
    """``{"section.field": (value, "preset <name>")}`` for the resolver's command-line layer."""
    if name not in PRESETS:
        raise ConfigError([ConfigIssue("--preset", f"unknown preset; choose one of "
                                       f"{', '.join(PRESETS)}", name)])
    return {key: (value, preset_label(name)) for key, value in PRESETS[name].items()}


def apply_preset(config: SessionConfig, name: str) -> ResolvedConfig:
    """``config`` with preset ``name`` applied over it, validated, with sources recorded."""
    return resolve_config(cli=preset_layer(name), base=config)
