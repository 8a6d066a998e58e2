"""Writing files without ever leaving a partial one: every command that rewrites a user's file
(`fmt`, `check --fix`, `pull`, `schema pull`) writes through here.

A write goes to a temporary file in the same folder (so the final rename cannot cross file
systems), is flushed and fsync'd, takes the mode of the file it replaces, and is renamed over
it with `os.replace`, which POSIX makes atomic: a reader, or a crash or SIGKILL at any moment,
sees the old content or the new content, never a mix. What a kill can leave behind is at most
one temporary file per write in flight, named `.<name>.calcformula-tmp-<random>`; `fmt` and
`check` never collect such files, and `is_temp_name` recognises them.

Files whose mode grants no write permission, and folders that cannot be written, are refused
with `PermissionError` even when running as root (which the kernel would let through): a
read-only file is a user's statement that it must not change.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

TEMP_MARK = ".calcformula-tmp-"
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def is_temp_name(name: str) -> bool:
    """True for the name of a temporary file a killed write may have left."""
    return name.startswith(".") and TEMP_MARK in name


def temp_prefix(path: Path) -> str:
    return f".{path.name}{TEMP_MARK}"


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def check_writable(path: Path) -> None:
    """Raise PermissionError when `path` (an existing file, or the folder a new file goes
    into) must not be written."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    if info is not None and not info.st_mode & _WRITE_BITS:
        raise PermissionError(13, "the file is read-only", str(path))
    folder = path.parent
    folder_info = os.stat(folder)
    if not folder_info.st_mode & _WRITE_BITS or not os.access(folder, os.W_OK):
        raise PermissionError(13, "the folder is read-only", str(folder))


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Replace the content of `path` with `data` (text is written as UTF-8, newlines as
    given), atomically; a symbolic link is followed and its target replaced."""
    target = Path(os.path.realpath(path))
    payload = data.encode("utf-8") if isinstance(data, str) else data
    check_writable(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    descriptor, temporary = tempfile.mkstemp(prefix=temp_prefix(target), dir=target.parent)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    # Makes the rename itself durable; some file systems refuse to open a folder for this.
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
