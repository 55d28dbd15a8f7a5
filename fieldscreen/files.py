"""Durable file writes: a temporary name, fsync, then an atomic rename, then the folder synced.

A crash or a full disk never leaves half a file under the name a person (or the coordinator)
expects: either the old file or the whole new one is there.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import stat
import uuid
from pathlib import Path


class NotARegularFile(OSError):
    """A path that names a pipe, a device or a socket: reading it could block for ever."""


def read_regular_file(path: Path, limit: int | None = None) -> bytes:
    """The bytes of the regular file at `path` (at most `limit`), never waiting on a pipe.

    A FIFO with no writer blocks an ordinary open() for ever, and a device can stream
    without end. The file is opened without blocking and checked before anything is read;
    a folder raises IsADirectoryError, anything else that is not a file NotARegularFile.
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            from fieldscreen.i18n import _

            raise NotARegularFile(errno.EINVAL, _("not a file but a pipe or a device"),
                                  str(path))
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            return handle.read() if limit is None else handle.read(limit)
    finally:
        os.close(descriptor)


def fsync_directory(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX); a no-op where folders cannot be synced."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _temporary_names(path: Path) -> str:
    return f".{glob.escape(path.name)}.*.part"


def write_atomically(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one.

    Temporaries that an earlier write of the same path left behind when it was killed
    are removed first, so a crash never litters a USB stick or an export folder for good.

    Raises:
        OSError: the write failed; nothing was left behind under either name.
    """
    for stale in path.parent.glob(_temporary_names(path)):
        with contextlib.suppress(OSError):
            stale.unlink()
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
