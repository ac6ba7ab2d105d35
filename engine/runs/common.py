"""What every workflow does with its configuration: take it resolved, never re-check it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..atomic import refuse_symlink
from ..config import ResolvedConfig, SessionConfig, field_specs, resolve_config
from ..errors import RunError

API_SOURCE = "api SessionConfig"


def as_resolved(config: SessionConfig | ResolvedConfig | None, workflow: str) -> ResolvedConfig:
    """The configuration a workflow runs with.

    A :class:`ResolvedConfig` (from :func:`engine.config.resolve_config`: validated, paths of
    its layers absolute) is used as it is, not validated again. A bare :class:`SessionConfig`
    handed to the API (``None``: the defaults) goes once through the resolver, its relative
    paths resolving against the current directory; every value is then recorded as
    ``"api SessionConfig"``.

    Raises
    ------
    ConfigError
        The SessionConfig does not validate.
    TypeError
        ``config`` is neither.
    """
    if isinstance(config, ResolvedConfig):
        # The resolver leaves schema defaults as written ("ptycho-run"); a run needs them
        # absolute (its session.toml re-runs from anywhere): the resolver does it, against the
        # current directory, and the sources stay as they were.
        leftover = _relative_paths(config.config)
        if not leftover:
            return config
        return ResolvedConfig(resolve_config(overrides=leftover, base=config.config,
                                             cwd=os.getcwd()).config, dict(config.sources))
    if config is None:
        config = SessionConfig()
    if not isinstance(config, SessionConfig):
        raise TypeError(f"{workflow}: expected a SessionConfig or ResolvedConfig, found "
                        f"{type(config).__name__}")
    resolved = resolve_config(overrides=_relative_paths(config), base=config, cwd=os.getcwd())
    return ResolvedConfig(resolved.config, {key: API_SOURCE for key in field_specs()})


def _relative_paths(config: SessionConfig) -> dict[str, str]:
    """``{"section.field": value}`` of the path fields that are set and not absolute."""
    found = {}
    for key, spec in field_specs().items():
        value = getattr(getattr(config, spec.section), spec.name)
        if spec.meta.path and isinstance(value, str) and value and not os.path.isabs(value):
            found[key] = value
    return found


def output_file(path: str | os.PathLike[str], setting: str, *, overwrite: bool,
                companions: Iterable[Path] = ()) -> Path:
    """The absolute path of an output file a run will write, checked before any work.

    The last component is not resolved: a symbolic link there is refused (never written
    through), as are a folder in its place and, without ``overwrite``, an existing file. The
    ``companions`` (the PNG pictures next to a product) obey the same rules.

    Raises
    ------
    RunError
        Naming the path, the setting and what to do.
    """
    target = Path(os.path.abspath(os.fspath(path)))
    for one in (target, *(Path(os.path.abspath(c)) for c in companions)):
        refuse_symlink(one, setting)
        if one.is_dir():
            raise RunError(f"{setting} = '{one}': expected a file name, found a folder")
        if one.exists() and not overwrite:
            flag = setting.replace("output", "overwrite").rsplit(".", 1)
            raise RunError(f"{setting} = '{target}': '{one}' already exists; choose another "
                           f"name, or replace it with --overwrite ({flag[0]}.overwrite = "
                           "true)")
    return target


def versions() -> dict[str, str]:
    """The versions a run records in ``provenance.json``."""
    import platform
    import sys

    import lightning
    import numpy as np
    import torch

    from .. import __version__

    return {"ptycho-engine": __version__, "torch": torch.__version__,
            "lightning": lightning.__version__, "numpy": np.__version__,
            "python": sys.version.split()[0], "platform": platform.platform()}
