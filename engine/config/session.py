"""Session files: TOML read with ``tomllib``, written with ``tomli-w``, atomically.

A session file holds ``schema_version`` and one table per config section. Relative paths in a
session resolve against the file's folder; when saving, paths inside that folder are written
relative to it, so a session and its data can be moved together.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import tomli_w

from ..atomic import atomic_write_text
from ..errors import ConfigError
from .schema import (
    SCHEMA_VERSION,
    FieldSpec,
    SessionConfig,
    canonical_key,
    field_specs,
    format_number,
    section_classes,
)
from .validation import ConfigIssue, coerce, unknown_key_issue, validate

Migration = Callable[[dict[str, Any]], dict[str, Any]]

MIGRATIONS: Mapping[int, Migration] = {}
"""``{n: f}``: ``f`` turns a version-``n`` session mapping into a version ``n + 1`` mapping.

Register one here whenever a field is renamed or moved, and bump ``SCHEMA_VERSION``.
"""


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML file, turning every failure into a :class:`ConfigError` naming the file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(["session file not found"], source=str(p)) from None
    except IsADirectoryError:
        raise ConfigError(["expected a session .toml file, found a folder"],
                          source=str(p)) from None
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror}"], source=str(p)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(["not a text file (expected UTF-8 TOML)"], source=str(p)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"TOML syntax error: {exc}"], source=str(p)) from None


def migrate(
    data: dict[str, Any], source: str, migrations: Mapping[int, Migration] = MIGRATIONS,
    current: int = SCHEMA_VERSION,
) -> dict[str, Any]:
    """Bring a session mapping to the ``current`` schema version via ``migrations``."""
    data = dict(data)
    version = data.pop("schema_version", current)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ConfigError([ConfigIssue("schema_version", "expected a positive integer", version)],
                          source=source)
    if version > current:
        raise ConfigError([ConfigIssue(
            "schema_version", f"written by a newer release (this one reads up to {current})",
            version)], source=source)
    while version < current:
        if version not in migrations:
            raise ConfigError([ConfigIssue(
                "schema_version", f"no migration from version {version}", version)],
                source=source)
        data = migrations[version](data)
        version += 1
    return data


def flatten_session(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[ConfigIssue]]:
    """Nested ``{section: {field: value}}`` -> ``{"section.field": value}`` plus key issues."""
    specs = field_specs()
    sections = section_classes()
    flat: dict[str, Any] = {}
    issues: list[ConfigIssue] = []
    for section, table in data.items():
        if section not in sections:
            issues.append(unknown_key_issue(section))
            continue
        if not isinstance(table, Mapping):
            issues.append(ConfigIssue(section, "expected a table of settings", table))
            continue
        for name, value in table.items():
            key = f"{section}.{name}"
            if isinstance(value, Mapping) and key not in specs:
                # a group written as a table of its own: [data.layout] -> data.layout_*
                for sub, sub_value in value.items():
                    sub_key = canonical_key(f"{key}.{sub}")
                    if sub_key not in specs:
                        issues.append(unknown_key_issue(f"{key}.{sub}"))
                    else:
                        flat[sub_key] = sub_value
            elif key not in specs:
                issues.append(unknown_key_issue(key))
            elif isinstance(value, Mapping):
                issues.append(ConfigIssue(key, "expected a value, found a table", dict(value)))
            else:
                flat[key] = value
    return flat, issues


def config_to_dict(config: SessionConfig) -> dict[str, dict[str, Any]]:
    """``{section: {field: value}}`` for every field (no ``schema_version``)."""
    return {name: dataclasses.asdict(getattr(config, name)) for name in section_classes()}


def config_from_flat(values: Mapping[str, Any], base: SessionConfig | None = None) -> SessionConfig:
    """A new config: ``base`` (default: defaults) with dotted-key ``values`` set as they are."""
    config = base if base is not None else SessionConfig()
    sections = {name: dict(dataclasses.asdict(getattr(config, name))) for name in section_classes()}
    for key, value in values.items():
        section, name = key.split(".", 1)
        sections[section][name] = value
    return SessionConfig(**{name: cls(**sections[name]) for name, cls in section_classes().items()})


def resolve_path_value(spec: FieldSpec, value: Any, base_dir: Path) -> Any:
    """A non-empty relative path of a path field, made absolute against ``base_dir``."""
    if spec.meta.path and isinstance(value, str) and value and not os.path.isabs(value):
        return str((base_dir / os.path.expanduser(value)).resolve())
    return value


def absolutize_paths(config: SessionConfig, base_dir: str | os.PathLike[str]) -> SessionConfig:
    """A copy of ``config`` whose relative paths are made absolute against ``base_dir``.

    Runs call this before writing their ``session.toml`` so the copy re-runs from anywhere.
    """
    base = Path(base_dir).resolve()
    values = {spec.key: resolve_path_value(spec, getattr(getattr(config, spec.section),
                                                         spec.name), base)
              for spec in field_specs().values() if spec.meta.path}
    return config_from_flat(values, base=config)


def session_layer(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a session file into coerced dotted-key values, paths made absolute.

    Raises :class:`ConfigError` naming the file with every key or type problem at once.
    """
    p = Path(path)
    source = str(p)
    data = migrate(read_toml(p), source)
    flat, issues = flatten_session(data)
    specs = field_specs()
    values: dict[str, Any] = {}
    for key, raw in flat.items():
        spec = specs[key]
        try:
            values[key] = resolve_path_value(spec, coerce(spec, raw), p.parent.resolve())
        except ValueError as exc:
            issues.append(ConfigIssue(key, str(exc), raw))
    if issues:
        raise ConfigError(issues, source=source)
    return values


def outside_output_paths(path: str | os.PathLike[str]) -> dict[str, Path]:
    """The output paths a session file sets outside its own folder: ``{key: target}``.

    A session file received from someone else must not silently choose where files are
    written: ``training.output_dir = "../../../tmp/x"`` or an absolute path elsewhere counts.
    Output paths are the path fields of the schema's ``output`` group; only the values
    written in the file count (defaults resolve against the working folder).

    Raises
    ------
    ConfigError
        When the file cannot be read (as :func:`load_session`).
    """
    p = Path(path).expanduser()
    folder = p.resolve().parent
    values = session_layer(p)  # paths already made absolute against the file's folder
    outside: dict[str, Path] = {}
    for spec in field_specs().values():
        if not (spec.meta.path and spec.meta.group == "output") or spec.key not in values:
            continue
        value = values[spec.key]
        if not isinstance(value, str) or not value:
            continue
        target = Path(value).expanduser().resolve()
        if not target.is_relative_to(folder):
            outside[spec.key] = target
    return outside


def output_path_warning(path: str | os.PathLike[str], key: str, target: Path) -> str:
    """The one-line warning for an output path outside the session's folder."""
    p = Path(path).expanduser()
    return (f"{p}: {key} writes outside the session's folder {p.resolve().parent}, to "
            f"{target}; make sure files should go there (a session file chooses where it "
            "writes)")


def output_path_warnings(path: str | os.PathLike[str]) -> list[str]:
    """Warnings for the output paths a session file sets outside its own folder
    (:func:`outside_output_paths`); ``config validate``/``config show`` print these and the
    GUI asks before writing there.

    Raises
    ------
    ConfigError
        When the file cannot be read (as :func:`load_session`).
    """
    return [output_path_warning(path, key, target)
            for key, target in outside_output_paths(path).items()]


def load_session(path: str | os.PathLike[str]) -> SessionConfig:
    """Load and validate a session file (missing fields take their defaults).

    Raises
    ------
    ConfigError
        Naming the file, with every problem (syntax, unknown keys with suggestions, types,
        ranges, cross-field rules) at once.
    """
    config = config_from_flat(session_layer(path))
    issues = validate(config)
    if issues:
        raise ConfigError(issues, source=str(path))
    return config


def _relative_paths(config: SessionConfig, folder: Path,
                    defaults: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    data = config_to_dict(config)
    folder = folder.resolve()
    keep_default = set(defaults)
    for spec in field_specs().values():
        value = data[spec.section][spec.name]
        if spec.meta.path and spec.key in keep_default:
            # a default path stays the default: it resolves against the new file's folder
            data[spec.section][spec.name] = spec.default
        elif spec.meta.path and isinstance(value, str) and os.path.isabs(value):
            try:
                data[spec.section][spec.name] = Path(value).resolve().relative_to(folder).as_posix()
            except ValueError:
                pass  # outside the session's folder: keep absolute
    return data


def _describe(spec: FieldSpec) -> str:
    meta = spec.meta
    bits = [meta.help]
    extra = []
    if meta.unit:
        extra.append(f"unit: {meta.unit}")
    if meta.choices:
        extra.append("one of: " + ", ".join(str(c) for c in meta.choices))
    elif meta.min is not None or meta.max is not None:
        extra.append(f"range: {format_number(meta.min)} .. {format_number(meta.max)}")
    extra.append(f"default: {tomli_w.dumps({'v': spec.default})[4:].strip()}")
    bits.append("(" + "; ".join(extra) + ")")
    return " ".join(bits)


def dumps_session(config: SessionConfig, folder: str | os.PathLike[str] | None = None,
                  comments: bool = True, defaults: Iterable[str] = ()) -> str:
    """The TOML text of ``config``; with ``comments``, each field preceded by its help.

    Paths inside ``folder`` (the session file's folder) are written relative to it. Path
    fields named in ``defaults`` (keys whose value came from the schema's default, e.g.
    :func:`default_keys` of a resolved config) are written as that default, so they resolve
    against the new file's folder instead of pointing back at the folder the run came from.
    """
    data = _relative_paths(config, Path(folder), defaults) if folder is not None \
        else config_to_dict(config)
    if not comments:
        return tomli_w.dumps({"schema_version": SCHEMA_VERSION, **data})
    specs = field_specs()
    lines = [
        "# ptycho-engine session file.",
        "# Read with tomllib; every field below is shown with its help, unit, range and default.",
        "# Relative paths resolve against this file's folder.",
        "",
        f"schema_version = {SCHEMA_VERSION}",
    ]
    classes = section_classes()
    for section, values in data.items():
        doc = (classes[section].__doc__ or "").strip().splitlines()[0]
        lines += ["", f"# {doc}", f"[{section}]"]
        for name, value in values.items():
            for chunk in _wrap(_describe(specs[f"{section}.{name}"])):
                lines.append(f"# {chunk}")
            lines.append(tomli_w.dumps({name: value}).rstrip("\n"))
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int = 96) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width) or [""]


def save_session(config: SessionConfig, path: str | os.PathLike[str],
                 comments: bool = True, defaults: Iterable[str] = ()) -> Path:
    """Validate and write ``config`` to ``path`` atomically; return the path.

    ``defaults``: as :func:`dumps_session` (a run folder's own ``session.toml`` passes the
    keys its resolved config took from the schema's defaults).

    Raises :class:`ConfigError` (and writes nothing) when the config is invalid.
    """
    p = Path(path)
    issues = validate(config)
    if issues:
        raise ConfigError(issues, source=str(p))
    atomic_write_text(p, dumps_session(config, folder=p.parent, comments=comments,
                                       defaults=defaults))
    return p
