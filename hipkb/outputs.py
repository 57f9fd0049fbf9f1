"""Writing results to files: atomically, under safe names, never over an input.

A report is written to a temporary file in the target directory and moved
into place with :func:`os.replace`, so an interrupted run never leaves half a
report. Names made from a ``case_id`` are reduced to a safe file name, so a
case cannot write outside the output directory.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from .errors import HipkbError

SUFFIXES = {"json": ".json", "md": ".md", "html": ".html", "txt": ".txt"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(case_id: str, max_length: int = 100) -> str:
    """A file name stem from a case id: ASCII letters, digits, ``._-`` only."""
    text = unicodedata.normalize("NFKD", case_id).encode("ascii", "ignore").decode()
    text = _UNSAFE.sub("_", text).strip("._-")[:max_length]
    return text or "case"


def write_atomic(path: Path, text: str, *, protect: Iterable[Path] = ()) -> None:
    """Write *text* to *path* in one step; refuse to replace a protected file."""
    path = Path(path)
    target = path.resolve()
    for other in protect:
        try:
            if Path(other).resolve() == target:
                raise HipkbError(str(path), "", "refusing to overwrite an input case file")
        except OSError:
            continue
    directory = target.parent
    if not directory.is_dir():
        raise HipkbError(str(path), "", "its directory does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class OutputDir:
    """Names report files in one directory: unique, safe, never an input."""

    def __init__(self, directory: Path, suffix: str, inputs: Iterable[Path] = ()) -> None:
        self.directory = Path(directory)
        self.suffix = suffix
        self.inputs = {Path(p).resolve() for p in inputs}
        self.used: set[str] = set()

    def path_for(self, case_id: str) -> Path:
        stem = safe_name(case_id)
        name, n = stem, 1
        while True:
            candidate = self.directory / f"{name}{self.suffix}"
            if name not in self.used and candidate.resolve() not in self.inputs:
                self.used.add(name)
                return candidate
            n += 1
            name = f"{stem}-{n}"
