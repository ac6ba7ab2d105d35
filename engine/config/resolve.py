"""The one resolver: defaults < session file < command-line flags < API overrides.

It records, for every field, where its value came from, so a run can say why each setting is
what it is (``ptycho-engine config show --explain``, ``provenance.json``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .schema import SessionConfig, field_specs
from .session import config_from_flat, config_to_dict, resolve_path_value, session_layer
from .validation import ConfigIssue, coerce, unknown_key_issue, validate

DEFAULT_SOURCE = "default"
API_SOURCE = "api override"


@dataclass
class ResolvedConfig:
    """A validated config and the source of every value.

    Attributes
    ----------
    config
        The resolved :class:`SessionConfig`.
    sources
        ``"section.field"`` -> ``"default"``, ``"session <path>"``, ``"cli --flag"`` or
        ``"api override"``.
    """

    config: SessionConfig
    sources: dict[str, str] = field(default_factory=dict)

    def explain(self) -> list[tuple[str, Any, str]]:
        """``(key, value, source)`` for every field, in schema order."""
        data = config_to_dict(self.config)
        return [(key, data[s.section][s.name], self.sources[key])
                for key, s in field_specs().items()]


def flatten_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Accept ``{"training.max_epochs": 3}`` or ``{"training": {"max_epochs": 3}}``."""
    flat: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            for name, inner in value.items():
                flat[f"{key}.{name}"] = inner
        else:
            flat[key] = value
    return flat


def resolve_config(
    session: str | os.PathLike[str] | None = None,
    cli: Mapping[str, tuple[Any, str]] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    base: SessionConfig | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> ResolvedConfig:
    """Resolve a configuration from its layers and validate it.

    Parameters
    ----------
    session
        Session file (TOML); its relative paths resolve against its folder.
    cli
        ``{"section.field": (text, "cli --flag")}`` as typed on a command line; text is parsed
        by the field's type (``"1e-4"``, ``"true"``).
    overrides
        Python values from the API, dotted or nested; they win over everything.
    base
        Start from this config instead of the defaults (its values are reported as
        ``"base"``); the GUI uses it.
    cwd
        Folder against which relative command-line and API paths resolve (default: the
        current directory).

    Raises
    ------
    ConfigError
        With every problem of every layer at once.
    """
    specs = field_specs()
    root = Path(cwd) if cwd is not None else Path.cwd()
    values: dict[str, Any] = {}
    sources = {key: (DEFAULT_SOURCE if base is None else "base") for key in specs}
    issues: list[ConfigIssue] = []

    if session is not None:
        layer = session_layer(session)  # raises with its own problems, naming the file
        label = f"session {Path(session)}"
        for key, value in layer.items():
            values[key] = value
            sources[key] = label

    def apply(key: str, raw: Any, label: str, from_text: bool) -> None:
        if key not in specs:
            issues.append(unknown_key_issue(key))
            return
        spec = specs[key]
        try:
            values[key] = resolve_path_value(spec, coerce(spec, raw, from_text=from_text), root)
            sources[key] = label
        except ValueError as exc:
            issues.append(ConfigIssue(key, f"{exc} (from {label})", raw))

    for key, (raw, label) in (cli or {}).items():
        apply(key, raw, label, from_text=True)
    for key, raw in flatten_overrides(overrides or {}).items():
        apply(key, raw, API_SOURCE, from_text=False)
    if issues:
        raise ConfigError(issues)

    config = config_from_flat(values, base=base)
    problems = validate(config)
    if problems:
        problems = [ConfigIssue(p.key, f"{p.message} (from {sources.get(p.key, '?')})", p.value,
                                p.has_value) for p in problems]
        raise ConfigError(problems, source=str(session) if session is not None else None)
    return ResolvedConfig(config=config, sources=sources)
