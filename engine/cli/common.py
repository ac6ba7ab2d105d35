"""Schema-generated command-line options shared by every sub-command that takes a config.

``--session FILE`` (its output paths outside its folder are warned about),
``--set section.field=value`` (repeatable) for every field, and one flag
per execution field (``--accelerator``, ``--devices``, ``--deterministic/--no-deterministic``,
...). Nothing here lists fields by hand.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from ..config import ResolvedConfig, iter_fields, output_path_warnings, resolve_config
from ..config.validation import ConfigIssue
from ..errors import ConfigError


def _flag_specs() -> list:
    return [spec for spec in iter_fields() if spec.meta.flag]


def add_config_arguments(parser: argparse.ArgumentParser, session: bool = True) -> None:
    """Add ``--session``, ``--set`` and the per-field flags to ``parser``."""
    if session:
        parser.add_argument("--session", metavar="FILE", help="session file (TOML)")
    parser.add_argument(
        "--set", dest="set_values", action="append", default=[], metavar="SECTION.FIELD=VALUE",
        help="override any field, e.g. --set training.max_epochs=3 (repeatable)",
    )
    group = parser.add_argument_group("execution (each also settable with --set execution.X=...)")
    for spec in _flag_specs():
        dest = f"flag_{spec.section}_{spec.name}"
        help_text = spec.meta.help.replace("%", "%%")
        if spec.types == (bool,):
            group.add_argument(spec.cli_flag, dest=dest, action=argparse.BooleanOptionalAction,
                               default=None, help=help_text)
        else:
            metavar = "{" + ",".join(map(str, spec.meta.choices)) + "}" if spec.meta.choices \
                else spec.type_name.upper().replace(" | ", "|")
            group.add_argument(spec.cli_flag, dest=dest, default=None, metavar=metavar,
                               help=help_text)


def cli_layer(args: argparse.Namespace) -> dict[str, tuple[Any, str]]:
    """The command-line layer: ``{"section.field": (text, "cli --flag")}``."""
    layer: dict[str, tuple[Any, str]] = {}
    issues = []
    for item in getattr(args, "set_values", []) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            issues.append(ConfigIssue("--set", "expected SECTION.FIELD=VALUE", item))
            continue
        layer[key.strip()] = (value, f"cli --set {key.strip()}")
    if issues:
        raise ConfigError(issues)
    for spec in _flag_specs():
        value = getattr(args, f"flag_{spec.section}_{spec.name}", None)
        if value is not None:
            layer[spec.key] = (value, f"cli {spec.cli_flag}")
    return layer


def resolve_from_args(
    args: argparse.Namespace,
    extra: Mapping[str, tuple[Any, str]] | None = None,
) -> ResolvedConfig:
    """Resolve the config of a sub-command: session, then ``--set``/flags, then ``extra``.

    ``extra`` holds command-specific options mapped to fields, e.g.
    ``{"data.path": (args.data, "cli --data")}``; entries whose value is None are skipped.
    """
    layer = cli_layer(args)
    for key, (value, label) in (extra or {}).items():
        if value is not None:
            layer[key] = (value, label)
    session = getattr(args, "session", None)
    resolved = resolve_config(session=session, cli=layer)
    warn_outputs(session)
    return resolved


def warn_outputs(session: str | None) -> None:
    """Print the warnings for output paths a session file sets outside its own folder (every
    command that reads a session file says them; the GUI asks)."""
    for warning in output_path_warnings(session) if session else []:
        print(f"warning: {warning}", file=sys.stderr)
