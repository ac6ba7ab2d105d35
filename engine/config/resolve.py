"""The one resolver: defaults < session file < GUI edits or command-line flags < API overrides.

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
from .schema import SessionConfig, canonical_key, field_specs
from .session import config_from_flat, config_to_dict, resolve_path_value, session_layer
from .validation import ConfigIssue, coerce, unknown_key_issue, validate

DEFAULT_SOURCE = "default"
API_SOURCE = "api override"
GUI_SOURCE = "gui"
"""The source label of a value edited in the desktop app's form."""


@dataclass(frozen=True)
class SessionFile:
    """A session file read once: its path and its values (coerced, paths made absolute).

    The desktop app reads its session file when it opens it and resolves every edit against
    these values, so a file changed on disk later does not change the open session.
    """

    path: Path
    values: Mapping[str, Any]

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> SessionFile:
        """Read ``path``; raise :class:`ConfigError` naming the file with every problem."""
        return cls(Path(path).resolve(), session_layer(path))

    @property
    def label(self) -> str:
        """The source label of its values: ``"session <path>"``."""
        return f"session {self.path}"


@dataclass
class ResolvedConfig:
    """A validated config and the source of every value.

    Attributes
    ----------
    config
        The resolved :class:`SessionConfig`.
    sources
        ``"section.field"`` -> ``"default"``, ``"session <path>"``, ``"gui"``,
        ``"cli --flag"`` or ``"api override"``.
    """

    config: SessionConfig
    sources: dict[str, str] = field(default_factory=dict)

    def explain(self) -> list[tuple[str, Any, str]]:
        """``(key, value, source)`` for every field, in schema order."""
        data = config_to_dict(self.config)
        return [(key, data[s.section][s.name], self.sources[key])
                for key, s in field_specs().items()]

    def default_keys(self) -> list[str]:
        """The keys whose value is the schema's default (what a run folder's own session
        file writes as the default, see :func:`engine.config.save_session`)."""
        return [key for key, source in self.sources.items() if source == DEFAULT_SOURCE]


def flatten_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Accept ``{"training.max_epochs": 3}`` or ``{"training": {"max_epochs": 3}}`` (and a
    group's table, ``{"data": {"layout": {"patterns": "data"}}}``); keys in canonical form."""
    flat: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            for name, inner in flatten_overrides(value).items():
                flat[canonical_key(f"{key}.{name}")] = inner
        else:
            flat[canonical_key(key)] = value
    return flat


def resolve_config(
    session: str | os.PathLike[str] | SessionFile | None = None,
    cli: Mapping[str, tuple[Any, str]] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    gui: Mapping[str, tuple[Any, str]] | None = None,
    base: SessionConfig | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> ResolvedConfig:
    """Resolve a configuration from its layers and validate it.

    Parameters
    ----------
    session
        Session file (TOML), or a :class:`SessionFile` read before; its relative paths
        resolve against its folder.
    cli
        ``{"section.field": (text, "cli --flag")}`` as typed on a command line; text is parsed
        by the field's type (``"1e-4"``, ``"true"``).
    overrides
        Python values from the API, dotted or nested; they win over everything.
    gui
        ``{"section.field": (value, label)}``: Python values edited in the desktop app, above
        the session file; labels start with :data:`GUI_SOURCE` (``"gui"``,
        ``"gui preset tiny"``).
    base
        Start from this config instead of the defaults (its values are reported as
        ``"base"``).
    cwd
        Folder against which relative command-line, GUI and API paths resolve (default: the
        current directory; the desktop app passes its session's folder). Relative default
        paths (``training.output_dir = "ptycho-run"``) resolve against the session file's
        folder, or this folder without a session file: every path of the result is absolute.

    Raises
    ------
    ConfigError
        With every problem of every layer at once.
    """
    resolved, issues = resolve_layers(session, cli, overrides, gui=gui, base=base, cwd=cwd)
    if issues:
        source = session.path if isinstance(session, SessionFile) else session
        raise ConfigError(issues, source=str(source) if source is not None else None)
    return resolved


def resolve_layers(
    session: str | os.PathLike[str] | SessionFile | None = None,
    cli: Mapping[str, tuple[Any, str]] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    gui: Mapping[str, tuple[Any, str]] | None = None,
    base: SessionConfig | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> tuple[ResolvedConfig, list[ConfigIssue]]:
    """:func:`resolve_config` that returns its problems instead of raising them.

    A value that cannot be converted to its field's type is left out (the layer below keeps
    its field) and reported; the config returned may break range and cross-field rules, each
    reported. An editor shows this config and these problems while the user types; a run
    needs :func:`resolve_config`. A session file that cannot be read still raises.
    """
    specs = field_specs()
    root = Path(cwd) if cwd is not None else Path.cwd()
    values: dict[str, Any] = {}
    sources = {key: (DEFAULT_SOURCE if base is None else "base") for key in specs}
    issues: list[ConfigIssue] = []

    layer: Mapping[str, Any] = {}
    if isinstance(session, SessionFile):
        layer, label = session.values, session.label
    elif session is not None:
        layer, label = session_layer(session), f"session {Path(session)}"  # raises, naming it
    for key, value in layer.items():
        values[key] = value
        sources[key] = label

    def apply(key: str, raw: Any, label: str, from_text: bool) -> None:
        key = canonical_key(key)
        if key not in specs:
            issues.append(unknown_key_issue(key))
            return
        spec = specs[key]
        try:
            values[key] = resolve_path_value(spec, coerce(spec, raw, from_text=from_text), root)
            sources[key] = label
        except ValueError as exc:
            issues.append(ConfigIssue(key, f"{exc} (from {label})", raw))

    for key, (raw, label) in (gui or {}).items():
        apply(key, raw, label, from_text=False)
    for key, (raw, label) in (cli or {}).items():
        apply(key, raw, label, from_text=True)
    for key, raw in flatten_overrides(overrides or {}).items():
        apply(key, raw, API_SOURCE, from_text=False)

    # Defaults are paths too: a default relative path ("ptycho-run") lands next to the session
    # file (or in ``cwd`` without one), not wherever the process happens to run.
    defaults_root = session.path.parent if isinstance(session, SessionFile) else \
        Path(session).resolve().parent if session is not None else root
    for key, spec in specs.items():
        if spec.meta.path and key not in values and sources[key] == DEFAULT_SOURCE:
            value = resolve_path_value(spec, spec.default, defaults_root)
            if value != spec.default:
                values[key] = value
    config = config_from_flat(values, base=base)
    issues += [ConfigIssue(p.key, f"{p.message} (from {sources.get(p.key, '?')})", p.value,
                           p.has_value) for p in validate(config)]
    return ResolvedConfig(config=config, sources=sources), issues


def amend(resolved: ResolvedConfig, values: Mapping[str, Any], label: str,
          cwd: str | os.PathLike[str] | None = None) -> ResolvedConfig:
    """``resolved`` with ``values`` set (coerced, relative paths made absolute against
    ``cwd``, validated), their source ``label``; every other value keeps its source.

    Raises
    ------
    ConfigError
        The amended config does not validate.
    """
    again = resolve_config(overrides=values, base=resolved.config, cwd=cwd)
    sources = dict(resolved.sources)
    sources.update({key: label for key in flatten_overrides(values)})
    return ResolvedConfig(again.config, sources)


def resume_config(run_dir: str | os.PathLike[str],
                  cli: Mapping[str, tuple[Any, str]] | None = None,
                  overrides: Mapping[str, Any] | None = None, *,
                  gui: Mapping[str, tuple[Any, str]] | None = None) -> ResolvedConfig:
    """The configuration that resumes the run in ``run_dir``: its own ``session.toml``, then
    the changes asked for (``training.max_epochs``...), ``training.output_dir`` = the run.

    Raises
    ------
    ConfigError
        ``run_dir`` holds no ``session.toml``, or the result does not validate.
    """
    folder = Path(run_dir).expanduser().absolute()
    session = folder / "session.toml"
    if not session.is_file():
        raise ConfigError([ConfigIssue("training.output_dir", "expected a run folder with "
                                       f"session.toml, found none in {folder}", str(folder))])
    layer = dict(cli or {})
    layer["training.output_dir"] = (str(folder), "resume")
    return resolve_config(session=session, cli=layer, overrides=overrides, gui=gui)
