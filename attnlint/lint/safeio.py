"""Reading files that a hostile file system may have swapped for something else.

A FIFO named ``train.py`` (or a cache file replaced by one) blocks the first ``read`` for
ever; a socket or a device is no better. Every file attnlint reads goes through
``read_regular``: the path is checked with ``stat`` before it is opened, opened without
blocking, and checked again on the open descriptor (it may have been swapped in between).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class NotRegularFile(OSError):
    """The path exists but is not a regular file; it was not opened for reading."""

    def __init__(self, kind: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file ({kind})")


def kind_of(mode: int) -> str | None:
    """None for a regular file, else what the path is ("a FIFO", ...)."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_regular(path: Path | str) -> None:
    """OSError (``NotRegularFile`` among them) unless ``path`` is a readable regular file
    by its ``stat`` (symlinks followed)."""
    kind = kind_of(os.stat(path).st_mode)
    if kind is not None:
        raise NotRegularFile(kind)


def read_regular(path: Path | str) -> bytes:
    """The bytes of a regular file, never blocking on a FIFO, socket or device."""
    check_regular(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        kind = kind_of(os.fstat(fd).st_mode)
        if kind is not None:
            raise NotRegularFile(kind)
        chunks: list[bytes] = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def describe(exc: OSError) -> str:
    """``strerror`` when there is one (``Permission denied``), else the exception text."""
    return exc.strerror or str(exc) or type(exc).__name__
