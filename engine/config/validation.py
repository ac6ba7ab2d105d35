"""Validation of configurations: per field and across fields, all problems at once.

Pure Python (no torch, no Qt) so that the GUI can validate as the user types.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
from dataclasses import dataclass
from typing import Any

from .schema import FieldSpec, SessionConfig, field_specs, format_number, section_classes


@dataclass(frozen=True)
class ConfigIssue:
    """One configuration problem: the field path, the offending value and what is allowed."""

    key: str
    message: str
    value: Any = None
    has_value: bool = True

    def __str__(self) -> str:
        if self.has_value:
            return f"{self.key} = {self.value!r}: {self.message}"
        return f"{self.key}: {self.message}"


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def suggest(name: str, candidates: list[str]) -> str:
    """A " (did you mean 'x'?)" suffix, or "" when nothing is close."""
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_key_issue(key: str) -> ConfigIssue:
    """The issue for a key that is not in the schema, with a suggestion."""
    specs = field_specs()
    sections = list(section_classes())
    parts = key.split(".")
    if len(parts) == 1:
        hint = suggest(parts[0], sections + ["schema_version"])
        return ConfigIssue(key, f"unknown section{hint}; sections are {', '.join(sections)}",
                           has_value=False)
    section, name = parts[0], ".".join(parts[1:])
    if section not in sections:
        hint = suggest(section, sections)
        return ConfigIssue(key, f"unknown section '{section}'{hint}", has_value=False)
    names = [s.name for s in specs.values() if s.section == section]
    hint = suggest(name, names)
    if not hint:
        # A field that lives in another section is a common slip: say where it is.
        elsewhere = [s.key for s in specs.values() if s.name == name]
        if elsewhere:
            hint = f" (did you mean '{elsewhere[0]}'?)"
    return ConfigIssue(key, f"unknown field of [{section}]{hint}", has_value=False)


def coerce(spec: FieldSpec, value: Any, *, from_text: bool = False) -> Any:
    """Convert ``value`` to the field's type or raise ``ValueError`` saying what is expected.

    ``from_text`` accepts strings as typed on a command line (``"1e-4"``, ``"true"``).
    Ints are accepted for float fields; nothing else is converted silently.
    """
    errors = []
    for typ in spec.types:
        try:
            return _coerce_one(typ, value, from_text)
        except ValueError as exc:
            errors.append(str(exc))
    raise ValueError(" or ".join(errors))


def _coerce_one(typ: type, value: Any, from_text: bool) -> Any:
    if typ is bool:
        if isinstance(value, bool):
            return value
        if from_text and isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError("expected true or false")
    if typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer() and from_text:
            return int(value)
        if from_text and isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ValueError("expected an integer")
    if typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if from_text and isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ValueError("expected a number")
    if typ is str:
        if isinstance(value, str):
            return value
        raise ValueError("expected a string")
    raise ValueError(f"unsupported field type {typ!r}")


def _check_field(spec: FieldSpec, value: Any) -> list[ConfigIssue]:
    meta = spec.meta
    issues = []
    if isinstance(value, float) and not math.isfinite(value):
        return [ConfigIssue(spec.key, "must be a finite number", value)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if meta.min is not None and value < meta.min:
            issues.append(ConfigIssue(spec.key, f"must be >= {format_number(meta.min)}", value))
        if meta.max is not None and value > meta.max:
            issues.append(ConfigIssue(spec.key, f"must be <= {format_number(meta.max)}", value))
    if meta.choices is not None and value not in meta.choices:
        allowed = ", ".join(repr(c) for c in meta.choices)
        hint = suggest(str(value), [str(c) for c in meta.choices])
        issues.append(ConfigIssue(spec.key, f"must be one of {allowed}{hint}", value))
    return issues


NAME_MAX = 255
"""Longest file or folder name, in bytes, that common file systems store (ext4, XFS, APFS)."""
PATH_MAX = 4096
"""Longest path, in bytes, that Linux system calls take."""

SYSTEM_FOLDERS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32",
                  "/proc", "/sbin", "/sys", "/usr", "/var/lib", "/var/log", "/var/spool",
                  "/var/cache", "/var/mail", "/System", "/Library", "/private/etc",
                  "C:/Windows", "C:/Program Files")
"""Folders of the operating system: no output path may lead into them (a session file
received from someone else must not be able to write there)."""


def path_issues(key: str, value: str, *, output: bool) -> list[ConfigIssue]:
    """Problems of one path value: not UTF-8, a name or the whole path too long, and (for an
    output path) a system folder. Checked before anything is created, so a refused path
    leaves nothing half-made."""
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        shown = value.encode("utf-8", "replace").decode("utf-8")
        return [ConfigIssue(key, f"the path is not valid UTF-8 (bytes {_bad_bytes(value)} in "
                            "a name); rename the file or folder, or choose another one",
                            shown)]
    if len(encoded) >= PATH_MAX:
        return [ConfigIssue(key, f"the path is {len(encoded)} bytes long; at most "
                            f"{PATH_MAX - 1} are possible", value[:60] + "...")]
    long_names = [part for part in value.replace("\\", "/").split("/")
                  if len(part.encode("utf-8")) > NAME_MAX]
    if long_names:
        return [ConfigIssue(key, f"a name in the path is {len(long_names[0].encode())} bytes "
                            f"long ('{long_names[0][:20]}...'); file systems store at most "
                            f"{NAME_MAX}", value[:60] + "...")]
    folder = system_folder(value) if output else None
    if folder is not None:
        return [ConfigIssue(key, f"'{value}' is inside the system folder {folder}; outputs "
                            "may not be written there: choose a folder of your own", value)]
    return []


def _bad_bytes(value: str) -> str:
    """The undecodable bytes of a path read from the command line (``\\xff\\xfe``)."""
    bad = [ch for ch in value if "\udc80" <= ch <= "\udcff"]
    return "".join(f"\\x{ord(ch) - 0xDC00:02x}" for ch in bad[:4]) or "?"


def system_folder(value: str) -> str | None:
    """The system folder (:data:`SYSTEM_FOLDERS`) an absolute path leads into, or None."""
    if not os.path.isabs(value):
        return None
    candidates = {os.path.normpath(value)}
    try:
        candidates.add(os.path.realpath(value))
    except (OSError, ValueError):
        pass
    for path in candidates:
        norm = path.replace("\\", "/")
        for folder in SYSTEM_FOLDERS:
            if norm.lower() == folder.lower() or norm.lower().startswith(folder.lower() + "/"):
                return folder
    return None


def parse_devices(value: int | str) -> int | list[int] | str:
    """Normalise ``execution.devices`` as Lightning takes it, or raise ``ValueError``."""
    if isinstance(value, int):
        if value == -1 or value >= 1:
            return value
        raise ValueError("a device count must be >= 1 (or -1 for all)")
    text = value.strip()
    if text == "auto":
        return "auto"
    if text.lstrip("-").isdigit():
        return parse_devices(int(text))
    parts = [p.strip() for p in text.strip("[]").split(",") if p.strip()]
    if parts and all(p.isdigit() for p in parts):
        return [int(p) for p in parts]
    raise ValueError("expected 'auto', a count such as 2, -1 for all, or indexes such as '0,1'")


def device_count(value: int | str) -> int | None:
    """How many devices per node ``execution.devices`` asks for (None: decided at run time)."""
    parsed = parse_devices(value)
    if isinstance(parsed, list):
        return len(parsed)
    if isinstance(parsed, int) and parsed >= 1:
        return parsed
    return None


def validate(config: SessionConfig) -> list[ConfigIssue]:
    """Every problem of ``config``: types, ranges, choices, then cross-field rules."""
    issues: list[ConfigIssue] = []
    for spec in field_specs().values():
        value = getattr(getattr(config, spec.section), spec.name)
        try:
            coerced = coerce(spec, value)
        except ValueError as exc:
            issues.append(ConfigIssue(spec.key, str(exc), value))
            continue
        issues.extend(_check_field(spec, coerced))
        if spec.meta.path and isinstance(coerced, str) and coerced:
            issues.extend(path_issues(spec.key, coerced, output=spec.meta.group == "output"))
    if issues:
        return issues  # cross-field rules assume well-typed values
    return _cross_field(config)


def _cross_field(c: SessionConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    ex, model, tr = c.execution, c.model, c.training

    try:
        ndev = device_count(ex.devices)
    except ValueError as exc:
        issues.append(ConfigIssue("execution.devices", str(exc), ex.devices))
        ndev = None

    if ex.accelerator == "cpu" and ex.precision in ("16-mixed", "16-true"):
        issues.append(ConfigIssue(
            "execution.precision",
            "float16 is not supported on the CPU; use '32-true' or 'bf16-mixed' "
            "(or a GPU accelerator)", ex.precision))
    if ex.strategy.startswith("ddp") or ex.strategy == "fsdp":
        if ndev == 1 and ex.num_nodes == 1:
            issues.append(ConfigIssue(
                "execution.strategy",
                "a distributed strategy needs more than one device or node; set "
                "execution.devices >= 2 or use strategy 'auto'", ex.strategy))
    if ex.strategy == "single_device" and ndev is not None and ndev > 1:
        issues.append(ConfigIssue(
            "execution.strategy", f"'single_device' cannot use {ndev} devices", ex.strategy))
    if ex.accelerator == "mps" and (ex.strategy not in ("auto", "single_device")
                                    or (ndev is not None and ndev > 1)):
        issues.append(ConfigIssue(
            "execution.accelerator", "Apple MPS runs on one device only", ex.accelerator))
    if ex.persistent_workers and ex.num_workers == 0:
        issues.append(ConfigIssue(
            "execution.persistent_workers", "needs execution.num_workers > 0", True))
    if ex.checkpoint_monitor == "val_loss" and tr.val_fraction == 0 and (
        ex.checkpointing or ex.early_stopping_patience > 0
    ):
        issues.append(ConfigIssue(
            "execution.checkpoint_monitor",
            "'val_loss' needs a validation split (training.val_fraction > 0); "
            "monitor 'train_loss' instead", ex.checkpoint_monitor))
    if ex.checkpoint_save_top_k == 0 and ex.checkpointing:
        issues.append(ConfigIssue(
            "execution.checkpoint_save_top_k",
            "0 keeps no best checkpoint; use >= 1, -1 for all, or execution.checkpointing = "
            "false", 0))

    groupsize = model.gridsize**2
    if model.gridsize > 1 and model.n_neighbours < groupsize:
        issues.append(ConfigIssue(
            "model.n_neighbours",
            f"gridsize {model.gridsize} groups {groupsize} patterns, so at least {groupsize} "
            "neighbours are needed", model.n_neighbours))
    if 0 < model.N < 8:
        issues.append(ConfigIssue("model.N", "expected 0 (the data's pattern size) or at "
                                  "least 8 px", model.N))
    elif model.N and model.N % (2**model.depth) != 0:
        issues.append(ConfigIssue(
            "model.depth",
            f"N = {model.N} must be divisible by 2^depth = {2**model.depth}", model.depth))

    sim = c.simulation
    if sim.object == "image" and not sim.object_path:
        issues.append(ConfigIssue("simulation.object_path",
                                  "object = 'image' needs an image file", ""))
    if sim.probe == "file" and not sim.probe_path:
        issues.append(ConfigIssue("simulation.probe_path",
                                  "probe = 'file' needs a probe file", ""))
    if c.reconstruct.initial_object == "file" and not c.reconstruct.object_path:
        issues.append(ConfigIssue("reconstruct.object_path",
                                  "initial_object = 'file' needs a product file", ""))
    if c.data.diffraction_path and not c.data.path:
        issues.append(ConfigIssue("data.path", "data.diffraction_path needs the product file "
                                  "in data.path", ""))
    issues += _data_layout_issues(c.data)
    return issues


def _data_layout_issues(data: Any) -> list[ConfigIssue]:
    """A declared layout needs its positions; flag values must be numbers."""
    issues = []
    if data.layout_patterns and not data.layout_positions:
        issues.append(ConfigIssue("data.layout_positions", "the key or dataset of the scan "
                                  "positions, needed with data.layout_patterns", ""))
    for part in data.mask_values.replace(";", ",").split(","):
        try:
            float(part) if part.strip() else None
        except ValueError:
            issues.append(ConfigIssue("data.mask_values", "numbers separated by commas, e.g. "
                                      "'-2, 4095'", data.mask_values))
            break
    return issues


def is_valid(config: SessionConfig) -> bool:
    return not validate(config)


def copy_config(config: SessionConfig) -> SessionConfig:
    """A deep copy (configs are plain dataclasses of scalars)."""
    return dataclasses.replace(
        config,
        **{name: dataclasses.replace(getattr(config, name)) for name in section_classes()},
    )
