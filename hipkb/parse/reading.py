"""Bounded reading: the bytes of a regular file, at most one more than :data:`MAX_BYTES`, as UTF-8 text.

Case files, rule files and the vocabulary come from outside the project. A
file is read only when it is a regular file (a FIFO would block for ever on
open, a device could stream without end), and never past the bound, however
large it says it is or grows while read. Every failure is a one-line
:class:`~hipkb.errors.HipkbError` naming the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from hipkb.errors import HipkbError
from hipkb.parse.bounds import MAX_BYTES


def decode(raw: bytes, source: str) -> str:
    """Decode UTF-8 bytes (a BOM is allowed), or fail naming the file."""
    if len(raw) > MAX_BYTES:
        raise HipkbError(source, "", f"file is larger than the {MAX_BYTES} bytes allowed")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HipkbError(
            source, "", f"not UTF-8 text (byte {exc.start} cannot be decoded)"
        ) from None


def read_text(path: Path, source: str | None = None) -> str:
    """Read a UTF-8 file, turning every OS error into a one-line HipkbError (see :func:`read_bytes`)."""
    name = source or str(path)
    return decode(read_bytes(path, name), name)


def read_bytes(path: Path, source: str | None = None) -> bytes:
    """The bytes of a file (at most one more than :data:`MAX_BYTES`); every OS error is a one-line HipkbError.

    Only a regular file is read: a FIFO (``rules/zz.yaml`` made with mkfifo)
    would block for ever on open, a device could stream without end. The
    file is opened without blocking and checked with ``fstat`` before any
    read, so nothing can be swapped in between.
    """
    name = source or str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise HipkbError(name, "", "is a directory, not a file") from None
    except FileNotFoundError:
        raise HipkbError(name, "", "no such file") from None
    except PermissionError:
        raise HipkbError(name, "", "permission denied") from None
    except OSError as exc:
        raise HipkbError(name, "", f"cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            raise HipkbError(name, "", "is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise HipkbError(name, "", f"is not a regular file ({_file_kind(mode)}); only files are read")
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            raw = _read_bounded(handle, info.st_size)
    except OSError as exc:
        raise HipkbError(name, "", f"cannot be read ({exc.strerror})") from None
    finally:
        if fd >= 0:
            os.close(fd)
    return raw


def _read_bounded(handle: Any, size: int) -> bytes:
    """At most ``MAX_BYTES + 1`` bytes of a file that ``fstat`` says holds *size*.

    One read of the size the file has: asking for the whole bound at once
    would allocate a megabyte for every two-kilobyte case file of a batch.
    A file larger than its size said (growing, or in ``/proc``) is read on
    in pieces, up to the bound.
    """
    limit = MAX_BYTES + 1
    want = min(limit, size + 1)
    raw = handle.read(want)
    if len(raw) < want:  # the whole file: the usual case
        return raw
    parts, got = [raw], len(raw)
    while got < limit:
        part = handle.read(min(1 << 16, limit - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a special file"


__all__ = ["MAX_BYTES", "decode", "read_bytes", "read_text"]
