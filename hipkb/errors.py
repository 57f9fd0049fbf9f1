"""Errors the shell reports to people: one line, naming the file and the field.

Every error a user can cause (a bad case file, a bad rule file, a bad option)
is a :class:`HipkbError`. The CLI prints ``str(error)`` and exits with
``error.exit_code``; nothing else reaches the terminal, so no traceback.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

# Characters that would break the one-line promise (newlines, other C0/C1
# controls, Unicode line and paragraph separators): a file name, a YAML key or
# a parser message can hold any of them.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """*text* with every line break or control character written as an escape."""
    return _BREAKS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _clip(text: str, limit: int = 240) -> str:
    """A file name or field path cut to a readable length (a key can be a megabyte)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class HipkbError(Exception):
    """An error in something a user gave hipkb; ``str()`` is the whole message."""

    exit_code = 2

    def __init__(self, source: str, where: str, message: str) -> None:
        self.source = source
        self.where = where
        self.message = message
        super().__init__(self.format())

    def format(self) -> str:
        """``source: where: message``, always on one line."""
        parts = [_clip(one_line(str(p))) for p in (self.source, self.where) if p]
        prefix = ": ".join(parts)
        message = one_line(str(self.message))
        return f"{prefix}: {message}" if prefix else message

    def as_dict(self) -> dict[str, str]:
        return {"file": self.source, "field": self.where, "error": self.message}

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        # Pickled as its three parts: a worker process raises these, and the
        # default (the formatted message alone) would not rebuild one.
        return type(self), (self.source, self.where, self.message)


class CaseError(HipkbError):
    """A case file that does not follow hipkb-case/1."""


class RuleError(HipkbError):
    """A knowledge base (rule files, vocabulary) that cannot be compiled."""


class InferenceError(HipkbError):
    """A run that could not finish, such as a runaway rule set."""

    exit_code = 1


class WorkerError(HipkbError):
    """Worker processes that could not start or kept dying: the command cannot go on."""

    exit_code = 1


class ClusterError(HipkbError):
    """A Dask cluster that cannot be used: not installed, or no scheduler answers at the address."""


def did_you_mean(found: object, allowed: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` when one allowed word is close to *found*."""
    if not isinstance(found, str):
        return ""
    close = difflib.get_close_matches(found, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def allowed_list(allowed: Iterable[str], limit: int = 12) -> str:
    """Format allowed values for a one-line message, trimmed when long."""
    values = list(allowed)
    shown = ", ".join(values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def describe(value: object) -> str:
    """A short, safe rendering of a found value for an error message."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
