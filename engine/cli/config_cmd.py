"""``ptycho-engine config init|show|validate|docs``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..atomic import atomic_write_text
from ..config import (
    SessionConfig,
    config_to_dict,
    dumps_session,
    iter_fields,
    load_session,
)
from ..config.docs import render_markdown
from ..config.validation import ConfigIssue
from ..errors import ConfigError
from .common import add_config_arguments, resolve_from_args, warn_outputs


def register(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="create, show and validate session files")
    csub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)

    init = csub.add_parser("init", help="write a complete, commented default session")
    init.add_argument("--out", metavar="FILE", help="session file to write (default: stdout)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=_init)

    show = csub.add_parser("show", help="print the resolved configuration")
    add_config_arguments(show)
    show.add_argument("--explain", action="store_true", help="add the source of each value")
    show.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    show.set_defaults(func=_show)

    val = csub.add_parser("validate", help="check a session file (exit 0 valid, 2 invalid)")
    val.add_argument("--session", metavar="FILE", required=True)
    val.set_defaults(func=_validate)

    docs = csub.add_parser("docs", help="write the configuration or CLI reference (Markdown)")
    docs.add_argument("--out", metavar="FILE", help="file to write (default: stdout)")
    docs.add_argument("--cli", action="store_true",
                      help="write the CLI reference (docs/cli.md) instead")
    docs.set_defaults(func=_docs)


def _write_or_print(text: str, out: str | None, force: bool = True) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    path = Path(out)
    if path.exists() and not force:
        raise ConfigError([f"{path} already exists; pass --force to overwrite it"])
    atomic_write_text(path, text)
    print(f"wrote {path}", file=sys.stderr)


def _init(args: argparse.Namespace) -> int:
    folder = Path(args.out).resolve().parent if args.out else None
    _write_or_print(dumps_session(SessionConfig(), folder=folder), args.out, force=args.force)
    return 0


def _show(args: argparse.Namespace) -> int:
    resolved = resolve_from_args(args)  # warns about outputs outside the session's folder
    if args.json:
        if args.explain:
            payload = {key: {"value": value, "source": source}
                       for key, value, source in resolved.explain()}
        else:
            payload = config_to_dict(resolved.config)
        print(json.dumps(payload, indent=2))
    elif args.explain:
        rows = [(key, json.dumps(value), source) for key, value, source in resolved.explain()]
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        for key, value, source in rows:
            print(f"{key:<{w0}}  {value:<{w1}}  # {source}")
    else:
        sys.stdout.write(dumps_session(resolved.config, comments=False))
    return 0


def _validate(args: argparse.Namespace) -> int:
    config = load_session(args.session)
    warn_outputs(args.session)
    missing = missing_inputs(config)
    if missing:  # valid settings, but a run would stop at its first read
        raise ConfigError(missing, source=args.session)
    print(f"{args.session}: valid")
    return 0


def missing_inputs(config: SessionConfig) -> list[ConfigIssue]:
    """The input files a session names that do not exist (data, probe, checkpoint...)."""
    issues = []
    for spec in iter_fields():
        value = getattr(getattr(config, spec.section), spec.name)
        if spec.meta.path and spec.meta.group != "output" and value and \
                not Path(value).exists():
            issues.append(ConfigIssue(spec.key, f"not found: {value} does not exist "
                                      "(the settings are valid; the file is missing)", value))
    return issues


def _docs(args: argparse.Namespace) -> int:
    if args.cli:
        from .reference import render_cli_markdown

        _write_or_print(render_cli_markdown(), args.out)
    else:
        _write_or_print(render_markdown(), args.out)
    return 0
