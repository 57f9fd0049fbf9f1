"""Writing results to files: atomically, under safe names, never over an input.

A report is written to a temporary file in the target directory and moved
into place with :func:`os.replace`, so an interrupted run never leaves half a
report. Names made from a ``case_id`` are reduced to a safe file name, so a
case cannot write outside the output directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

from hipkb.errors import HipkbError

SUFFIXES = {"json": ".json", "md": ".md", "html": ".html", "txt": ".txt", "fhir": ".fhir.json"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(case_id: str, max_length: int = 100) -> str:
    """A file name stem from a case id: ASCII letters, digits, ``._-`` only."""
    text = unicodedata.normalize("NFKD", case_id).encode("ascii", "ignore").decode()
    text = _UNSAFE.sub("_", text).strip("._-")[:max_length]
    return text or "case"


def write_atomic(path: Path, text: str, *, protect: Iterable[Path] = (),
                 guard: Callable[[Path], bool] | None = None) -> None:
    """Write *text* to *path* in one step; refuse to replace a protected file.

    *protect* lists input files; *guard* answers "is this an input?" without a
    list (:class:`hipkb.load.inputs.InputGuard`), which a batch of any size needs:
    checking each write against every input would cost the square of the
    batch.
    """
    path = Path(path)
    try:
        target = path.resolve()
    except RuntimeError:  # a symlink loop, before Python 3.13
        raise HipkbError(str(path), "", "cannot be written (a symlink loop)") from None
    if guard is not None and guard(target):
        raise HipkbError(str(path), "", "refusing to overwrite an input case file")
    for other in protect:
        try:
            if Path(other).resolve() == target:
                raise HipkbError(str(path), "", "refusing to overwrite an input case file")
        except OSError:
            continue
    if path.exists() and not path.is_file() and not path.is_dir():
        # A device or a pipe (/dev/stdout, a FIFO): write into it. Replacing
        # it would put a regular file in its place (as root, even in /dev).
        try:
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        except OSError as exc:
            raise HipkbError(str(path), "", f"cannot be written ({exc.strerror})") from None
        return
    directory = target.parent
    if not directory.is_dir():
        raise HipkbError(str(path), "", "its directory does not exist")
    import tempfile  # here, not at the top: it costs a cold start several imports

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class OutputDir:
    """Names report files in one directory: unique, safe, never an input."""

    def __init__(self, directory: Path, suffix: str, inputs: Iterable[Path] = (),
                 guard: Callable[[Path], bool] | None = None) -> None:
        self.directory = Path(directory)
        self.suffix = suffix
        self.inputs = {Path(p).resolve() for p in inputs}
        self.guard = guard
        self.used: set[str] = set()

    def is_input(self, path: Path) -> bool:
        """Whether *path* names an input file, which must never be replaced."""
        target = path.resolve()
        return target in self.inputs or (self.guard is not None and self.guard(target))

    def path_for(self, case_id: str) -> Path:
        stem = safe_name(case_id)
        name, n = stem, 1
        while True:
            candidate = self.directory / f"{name}{self.suffix}"
            if name not in self.used and not self.is_input(candidate):
                self.used.add(name)
                return candidate
            n += 1
            name = f"{stem}-{n}"
