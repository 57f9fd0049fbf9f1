"""Standard streams a command was started without (``hipkb run - <&-``, ``hipkb run CASE >&-``).

Python leaves ``sys.stdin``/``sys.stdout``/``sys.stderr`` as None when the
file descriptor is closed, and the first use of one is an AttributeError: an
"internal error". Here, at the start of every command:

- the closed descriptor is taken by ``/dev/null``, so no file, socket or pipe
  opened later gets number 0, 1 or 2 and receives what was meant for a
  standard stream (a worker process's output landing in a report);
- a closed stdin or stdout becomes a :class:`ClosedStream`: a command that
  never uses it runs as usual (``serve``, ``run -o DIR``), and one that reads
  or writes it stops with one line, exit status 2;
- a closed stderr swallows what is written to it: there is no one to tell,
  and the exit status still says how the command ended.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import Any, NoReturn

from hipkb.errors import StreamClosedError


class ClosedStream:
    """Stands for a closed standard stream: every read or write is a :class:`StreamClosedError`.

    ``closed`` is True, so a caller can ask before doing any work (the batch
    runner does, to refuse at once rather than fail every case).
    """

    closed = True
    encoding = "utf-8"
    errors = "strict"

    def __init__(self, name: str, label: str) -> None:
        self.name = name  # "<stdin>", "<stdout>"
        self.label = label  # "standard input", ...

    @property
    def buffer(self) -> ClosedStream:  # the binary layer, as closed as this one
        return self

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        action = "read from" if self.name == "<stdin>" else "written to"
        raise StreamClosedError(self.name, "", f"{self.label} is closed; nothing can be {action} it")

    read = readline = readlines = write = writelines = _refuse

    def __iter__(self) -> ClosedStream:
        return self

    def __next__(self) -> NoReturn:
        self._refuse()

    def flush(self) -> None:
        """Nothing was written, so nothing waits."""

    def isatty(self) -> bool:
        return False

    def fileno(self) -> NoReturn:
        raise io.UnsupportedOperation(f"{self.label} is closed")

    def readable(self) -> bool:
        return self.name == "<stdin>"

    def writable(self) -> bool:
        return self.name != "<stdin>"


def _take(fd: int) -> None:
    """Put ``/dev/null`` on descriptor *fd* if it is closed."""
    try:
        os.fstat(fd)
        return
    except OSError:
        pass
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    if null != fd:
        with contextlib.suppress(OSError):
            os.dup2(null, fd)
        os.close(null)


def guard() -> None:
    """Make closed standard streams safe and clear (see the module's docstring); open ones are left alone."""
    if sys.stdin is None:
        _take(0)
        sys.stdin = ClosedStream("<stdin>", "standard input")
    if sys.stdout is None:
        _take(1)
        sys.stdout = ClosedStream("<stdout>", "standard output")
    if sys.stderr is None:
        _take(2)
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process


__all__ = ["ClosedStream", "guard"]
