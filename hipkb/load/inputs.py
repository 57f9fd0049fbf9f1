"""Turning command-line arguments into a stream of case sources.

An argument is a case file, a directory (searched recursively for
``*.yaml``, ``*.yml`` and ``*.json``, in sorted order), or ``-`` for standard
input, which holds either one case (YAML or JSON) or JSON Lines, one case per
line. Sources are produced lazily, so a batch of any size streams through in
constant memory: JSON Lines on standard input are read line by line, never
whole, and the size limit of a case applies to each line, not to the stream.
"""

from __future__ import annotations

import itertools
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipkb.errors import CaseError, HipkbError
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.load.case import Case, validate
from hipkb.parse.bounds import MAX_BYTES
from hipkb.parse.reading import decode, read_text
from hipkb.parse.text import parse_text

CASE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class CaseSource:
    """One case to load: a file, or text already read (a line of stdin)."""

    name: str
    path: Path | None = None
    text: str | None = None
    kind: str = "auto"
    default_id: str = "case"
    error: str | None = None  # why it could not even be read (a line of stdin that is not UTF-8)

    def load(self, kb: KnowledgeBase) -> Case:
        """Read, parse and validate; every failure is a HipkbError naming the source."""
        if self.error is not None:
            raise CaseError(self.name, "", self.error)
        try:
            if self.path is not None:
                kind = "json" if self.path.suffix.lower() == ".json" else "yaml"
                data: Any = parse_text(read_text(self.path, self.name), self.name, kind=kind)
            else:
                data = parse_text(self.text or "", self.name, kind=self.kind)
        except CaseError:
            raise
        except HipkbError as exc:
            raise CaseError(exc.source, exc.where, exc.message) from None
        return validate(data, kb.vocabulary, self.name, default_id=self.default_id,
                        hypotheses=kb.hypotheses)


def expand(arguments: Iterable[str], stdin: Any = None) -> Iterator[CaseSource]:
    """Every case source the arguments name, in order."""
    for argument in arguments:
        if argument == "-":
            yield from _stdin_sources(stdin if stdin is not None else sys.stdin.buffer)
            continue
        if not argument.strip():
            # Path("") is ".": an empty argument (an unset shell variable)
            # would otherwise run every case under the working directory.
            raise HipkbError(repr(argument), "", "an empty argument names no case file or directory")
        path = Path(argument)
        try:
            is_dir = path.is_dir()
        except OSError:  # a name too long to look up: loading it says so
            is_dir = False
        if is_dir:
            found = False
            for source in _walk(path):
                found = True
                yield source
            if not found:
                yield CaseSource(argument, path)  # fails on load: "is a directory"
        else:
            yield CaseSource(argument, path, default_id=path.stem)


def _walk(directory: Path) -> Iterator[CaseSource]:
    """The case files under *directory*, in sorted order, hidden files and directories left out.

    Every entry named as a case file (by suffix) is a source, whatever it
    is: a symbolic link to nothing or a FIFO fails when it is loaded, as a
    listed failure, instead of being skipped without a word. A directory
    that cannot be listed (no permission, a path longer than the system
    allows) is a failure of its own; the rest of the batch goes on.
    """
    try:
        with os.scandir(directory) as listing:
            entries = sorted((entry.name, entry.path, _is_dir(entry)) for entry in listing
                             if not entry.name.startswith("."))
    except OSError as error:
        yield CaseSource(str(directory), directory,
                         error=f"cannot be listed ({error.strerror or error}); its case files were not run")
        return
    for name, path, is_dir in entries:
        if is_dir:
            yield from _walk(Path(path))
        elif os.path.splitext(name)[1].lower() in CASE_SUFFIXES:
            yield CaseSource(path, Path(path), default_id=os.path.splitext(name)[0])


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """A directory to search (symbolic links to directories too, as before); not one that cannot be looked at."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _stdin_sources(stream: Any) -> Iterator[CaseSource]:
    """One source for a single case on stdin, or one per line of JSON Lines.

    It is JSON Lines when the first two non-blank lines both start with ``{``
    (a pretty-printed JSON object continues on a line that does not); then
    the stream is read one line at a time, so memory stays flat however many
    cases flow through, and a bad line is a bad case of its own.
    """
    lines = _binary_lines(stream)
    head: list[bytes] = []
    starts = held = 0
    for raw in lines:
        head.append(raw)
        if raw.strip():
            starts += 1
            if not raw.lstrip().lstrip(b"\xef\xbb\xbf").startswith(b"{") or starts == 2:
                break
        else:
            held += len(raw)
            if held > MAX_BYTES:
                break  # blank lines without end: too large for one case, and not JSON Lines
    jsonl = starts == 2 and all(line.lstrip().lstrip(b"\xef\xbb\xbf").startswith(b"{")
                                for line in head if line.strip())
    if not jsonl:
        rest = b"".join(head)
        for raw in lines:
            rest += raw
            if len(rest) > MAX_BYTES:
                break  # decode() refuses it, naming the limit
        text = decode(rest, "<stdin>")
        yield CaseSource("<stdin>", text=text, default_id="stdin")
        return
    for number, raw in enumerate(itertools.chain(head, lines), start=1):
        if not raw.strip():
            continue
        name = f"<stdin>:{number}"
        try:
            line = decode(raw, name)
        except HipkbError as error:
            yield CaseSource(name, error=error.message)
            continue
        yield CaseSource(name, text=line, kind="json", default_id=f"stdin-{number}")


def _binary_lines(stream: Any, limit: int = MAX_BYTES + 1) -> Iterator[bytes]:
    """Lines of a binary or text stream, as bytes, each cut to *limit* bytes.

    A line longer than *limit* (400 MB without a newline) is yielded cut, for
    the size check to refuse, and the rest of it is read and dropped in
    pieces: memory stays near *limit*, never the size of the line.
    """
    readline = getattr(stream, "readline", None)
    if readline is None:  # any iterable of lines
        for line in stream:
            yield (line if isinstance(line, bytes) else line.encode("utf-8"))[:limit]
        return
    while True:
        line = readline(limit)
        if not line:
            return
        raw = line if isinstance(line, bytes) else line.encode("utf-8")
        if len(line) >= limit and not line.endswith(b"\n" if isinstance(line, bytes) else "\n"):
            while (rest := readline(1 << 20)) and not rest.endswith(b"\n" if isinstance(rest, bytes) else "\n"):
                pass
        yield raw[:limit]


def _identity(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


class InputGuard:
    """Tells whether a path is one of the inputs that the arguments name.

    It answers without listing the inputs (a batch streams, and may be far
    larger than memory should hold): a path is an input when it is a file
    argument, or a case file (by suffix) found inside a directory argument by
    the same rule :func:`expand` uses. Files are also known by device and
    inode, so another path to one (a hard link, a symbolic link, ``..``)
    is the same input, and so is the file behind standard input
    (``hipkb run - -o case.yaml < case.yaml``).
    """

    def __init__(self, arguments: Iterable[str], *, exact: Iterable[Path] | None = None,
                 stdin: Any = None) -> None:
        self.files: set[Path] = set()
        self.dirs: list[Path] = []
        self.inodes: set[tuple[int, int]] = set()
        arguments = list(arguments)
        if "-" in arguments:
            self._add_stdin(stdin)
        if exact is not None:  # the inputs, listed: only these
            for p in exact:
                self._add_file(Path(p))
            return
        for argument in arguments:
            if argument == "-":
                continue
            path = Path(argument)
            try:
                if path.is_dir():
                    self.dirs.append(path.resolve())
                else:
                    self._add_file(path)
            except (OSError, RuntimeError):
                # RuntimeError: pathlib's word for a symlink loop before
                # Python 3.13; loading the case says what is wrong with it.
                continue

    def _add_file(self, path: Path) -> None:
        try:
            self.files.add(path.resolve())
            self.inodes.add(_identity(path.stat()))
        except (OSError, RuntimeError):
            pass

    def _add_stdin(self, stdin: Any) -> None:
        stream = stdin if stdin is not None else sys.stdin
        try:
            st = os.fstat(stream.fileno())
        except (AttributeError, OSError, ValueError):
            return  # not a file descriptor (a test's BytesIO), or closed
        if stat.S_ISREG(st.st_mode):
            self.inodes.add(_identity(st))

    def within_inputs(self, directory: Path) -> bool:
        """Whether files written into *directory* could be found as inputs."""
        target = Path(directory).resolve()
        return any(target == d or d in target.parents for d in self.dirs)

    def __call__(self, path: Path) -> bool:
        """Whether writing to *path* would replace an input."""
        target = Path(path).resolve()
        if target in self.files:
            return True
        if self.inodes:
            try:
                if _identity(target.stat()) in self.inodes:
                    return True
            except (OSError, RuntimeError):
                pass
        # A case file inside an input directory is an input; a name that is
        # not there yet is not (else no free name could ever be found).
        if target.suffix.lower() not in CASE_SUFFIXES or not target.exists():
            return False
        for directory in self.dirs:
            try:
                parts = target.relative_to(directory).parts
            except ValueError:
                continue
            if not any(part.startswith(".") for part in parts):
                return True
        return False
