"""HDF5 links, followed safely: soft links that loop or lead nowhere, and external links.

An HDF5 path can pass through soft links (``/entry_1/data_1/data`` -> ``/entry_1/instrument_1/
detector_1/data`` in CXI files) and external links (an Eiger master file pointing at its
``data_000001.h5`` frames). HDF5 itself follows them silently: a self-looping link fails deep
inside the library, a dangling one looks like a missing key, and an external link may open any
file on the machine. :func:`resolve` walks a path one link at a time instead:

- a soft link that loops, or whose target does not exist, is refused naming the link and its
  target;
- an external link is followed only to an HDF5 file in the data file's own folder or below
  (others need ``data.allow_external_links``), and a missing or non-HDF5 target is refused
  naming the link, the file and what was found there.

The files it opened are returned, so ``inspect`` can list every file a data set reads.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py

from .issues import UnreadableFileError, describe_head

MAX_HOPS = 32
"""Links followed along one path before it is taken as a loop."""


@dataclass
class LinkPolicy:
    """Where external links may lead, and what was opened on the way.

    Attributes
    ----------
    source
        The data file (named in messages).
    folder
        External links are followed to files in this folder or below.
    allow_external
        Follow external links anywhere (``data.allow_external_links``).
    files
        Every external file opened (absolute paths, in order).
    """

    source: str
    folder: Path | None
    allow_external: bool = False
    files: list[str] = field(default_factory=list)
    _open: list[h5py.File] = field(default_factory=list)

    def close(self) -> None:
        for handle in self._open:
            handle.close()
        self._open.clear()


def _refuse(policy: LinkPolicy, link: str, target: str, found: str, fix: str = "") -> None:
    raise UnreadableFileError(f"{policy.source}: {link}: expected a link to an existing "
                              f"dataset or group, found a link to {target} that {found}"
                              + (f"; {fix}" if fix else ""))


def _external_file(policy: LinkPolicy, link: str, filename: str, base: Path | None) -> Path:
    target = Path(filename)
    if not target.is_absolute():
        target = (base or Path.cwd()) / target
    target = target.resolve()
    if policy.folder is not None and not policy.allow_external:
        folder = policy.folder.resolve()
        if folder not in target.parents:
            _refuse(policy, link, f"file {target}", f"lies outside the data file's folder "
                    f"{folder}", "move the file next to the data or set "
                    "data.allow_external_links = true")
    if not target.is_file():
        _refuse(policy, link, f"file {target}", "does not exist")
    with open(target, "rb") as fh:
        head = fh.read(8)
    if not head.startswith(b"\x89HDF"):
        _refuse(policy, link, f"file {target}", f"is not HDF5 ({describe_head(head)})")
    return target


def resolve(h5: h5py.File, key: str, policy: LinkPolicy) -> Any | None:
    """The object at ``key`` (a dataset or group), following links safely; ``None`` if absent.

    Raises :class:`~engine.io.issues.UnreadableFileError` for a looping or dangling soft link
    and for an external link to a missing, non-HDF5 or (by policy) out-of-folder file.
    """
    handle = h5
    base = Path(h5.filename).parent if isinstance(h5.filename, str) and \
        Path(h5.filename).is_file() else policy.folder
    parts = [p for p in key.split("/") if p]
    current = "/"
    hops = 0
    seen: set[tuple[str, str]] = set()
    while parts:
        name = parts.pop(0)
        here = posixpath.join(current, name)
        group = handle[current]
        if not isinstance(group, h5py.Group):
            return None
        try:
            link = group.get(name, getlink=True)
        except (KeyError, OSError, RuntimeError):
            link = None
        if link is None:
            return None
        if isinstance(link, h5py.SoftLink):
            hops += 1
            marker = (str(handle.filename), here)
            target = link.path if link.path.startswith("/") else \
                posixpath.normpath(posixpath.join(current, link.path))
            if marker in seen or hops > MAX_HOPS:
                _refuse(policy, here, target, "loops back on itself")
            seen.add(marker)
            rest = [p for p in target.split("/") if p]
            if not _exists(handle, rest):
                _refuse(policy, here, target, "does not exist in the file")
            parts = rest + parts
            current = "/"
            continue
        if isinstance(link, h5py.ExternalLink):
            hops += 1
            if hops > MAX_HOPS:
                _refuse(policy, here, link.filename, "loops back on itself")
            target_file = _external_file(policy, here, link.filename, base)
            other = h5py.File(target_file, "r")
            policy._open.append(other)  # noqa: SLF001 - the policy owns the handles
            if str(target_file) not in policy.files:
                policy.files.append(str(target_file))
            rest = [p for p in link.path.split("/") if p]
            if not _exists(other, rest):
                _refuse(policy, here, f"{link.path} in {target_file}", "does not exist there")
            handle, base, current = other, target_file.parent, "/"
            parts = rest + parts
            continue
        current = here
    return handle[current]


def _exists(handle: h5py.File, parts: list[str]) -> bool:
    """Whether the first component of ``parts`` exists as a link (hard, soft or external)."""
    path = "/"
    for i, name in enumerate(parts):
        group = handle[path] if path == "/" or _is_hard_group(handle, path) else None
        if group is None:
            return True  # a link on the way: checked when the walk reaches it
        try:
            link = group.get(name, getlink=True)
        except (KeyError, OSError, RuntimeError):
            return False
        if link is None:
            return False
        if not isinstance(link, h5py.HardLink):
            return True
        path = posixpath.join(path, name)
        if i < len(parts) - 1 and not isinstance(handle[path], h5py.Group):
            return False
    return True


def _is_hard_group(handle: h5py.File, path: str) -> bool:
    try:
        return isinstance(handle.get(path, getlink=False), h5py.Group)
    except (KeyError, OSError, RuntimeError):
        return False


def check_root_links(h5: h5py.File, source: str, allow_external: bool = False) -> list[str]:
    """Follow every link at the file's top level (the ptychodus layouts keep their datasets
    there) through :func:`resolve`, refusing bad ones; returns the external files reached."""
    folder = Path(source).parent
    policy = LinkPolicy(source, folder, allow_external)
    try:
        for name in list(h5.keys()):
            link = h5.get(name, getlink=True)
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                resolve(h5, name, policy)
        return list(policy.files)
    finally:
        policy.close()
