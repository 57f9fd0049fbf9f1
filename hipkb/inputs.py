"""Turning command-line arguments into a stream of case sources.

An argument is a case file, a directory (searched recursively for
``*.yaml``, ``*.yml`` and ``*.json``, in sorted order), or ``-`` for standard
input, which holds either one case (YAML or JSON) or JSON Lines, one case per
line. Sources are produced lazily, so a batch of any size streams through in
constant memory.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .case import Case, validate
from .errors import CaseError, HipkbError
from .kb import KnowledgeBase
from .safeload import decode, parse_text, read_text

CASE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class CaseSource:
    """One case to load: a file, or text already read (a line of stdin)."""

    name: str
    path: Path | None = None
    text: str | None = None
    kind: str = "auto"
    default_id: str = "case"

    def load(self, kb: KnowledgeBase) -> Case:
        """Read, parse and validate; every failure is a HipkbError naming the source."""
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
        path = Path(argument)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.suffix.lower() in CASE_SUFFIXES and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                yield CaseSource(argument, path)  # fails on load: "is a directory"
            for p in found:
                yield CaseSource(str(p), p, default_id=p.stem)
        else:
            yield CaseSource(argument, path, default_id=path.stem)


def _stdin_sources(stream: Any) -> Iterator[CaseSource]:
    raw = stream.read()
    text = decode(raw if isinstance(raw, bytes) else raw.encode("utf-8"), "<stdin>")
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines):
        number = 0
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield CaseSource(f"<stdin>:{number}", text=line, kind="json",
                                 default_id=f"stdin-{number}")
        return
    yield CaseSource("<stdin>", text=text, default_id="stdin")
