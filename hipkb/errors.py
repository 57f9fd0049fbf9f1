"""Errors the shell reports to people: one line, naming the file and the field.

Every error a user can cause (a bad case file, a bad rule file, a bad option)
is a :class:`HipkbError`. The CLI prints ``str(error)`` and exits with
``error.exit_code``; nothing else reaches the terminal, so no traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

# difflib and hipkb.textsafe (its patterns compile on import) are imported
# where an error is worded: a run without errors never needs them.


def one_line(text: str) -> str:
    """*text* with every line break, control, bidi control or lone surrogate written as an escape.

    A file name, a YAML key, a case_id or a parser message can hold any of
    them; an error is printed on a terminal, on one line.
    """
    from hipkb.textsafe import terminal

    return terminal(text)


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


class OutputError(HipkbError):
    """An output file that could not be written (no permission, a full disk, a planted link).

    Exit status 1: what failed is the run's output, not what the user gave it.
    """

    exit_code = 1


class InferenceError(HipkbError):
    """A run that could not finish, such as a runaway rule set."""

    exit_code = 1


class ReportError(HipkbError):
    """A report could not be rendered: a missing, broken or refused template."""


class ExplainError(HipkbError):
    """An explanation asked for something the knowledge base does not know."""


class AnswerError(HipkbError):
    """An answer the vocabulary does not allow for the field asked."""


class InterviewError(HipkbError):
    """An interview that cannot go on (a required answer missing, a bad option)."""


class TeachingError(HipkbError):
    """A teaching library (``facts/teaching``) that does not follow its format, or a case or stage it lacks."""


class ConditionSyntaxError(ValueError):
    """A ``when`` or ``then`` entry that cannot be parsed; the rule loader turns it into a RuleError."""


class PropertyFailure(AssertionError):
    """A property of a knowledge base that does not hold, with the case that shows it.

    An AssertionError, so that pytest reports it as a failed check. *still_fails*
    re-checks a smaller case for the same problem; the checks use it to cut a
    counterexample down to the findings that matter.
    """

    def __init__(self, title: str, case: dict[str, Any], details: Iterable[Any] = (),
                 still_fails: Callable[[dict[str, Any]], bool] | None = None,
                 recheck: Callable[[dict[str, Any]], None] | None = None) -> None:
        import yaml

        self.title = title
        self.recheck = recheck
        self.case = case
        self.details = [str(d) for d in details]
        self.still_fails = still_fails
        text = yaml.safe_dump(case, sort_keys=False, default_flow_style=None, allow_unicode=True)
        lines = [title, *[f"  - {d}" for d in self.details], "case:", text.rstrip()]
        super().__init__("\n".join(lines))


class WorkerError(HipkbError):
    """Worker processes that could not start or kept dying: the command cannot go on."""

    exit_code = 1


class ClusterError(HipkbError):
    """A Dask cluster that cannot be used: not installed, no scheduler answers, a worker runs another hipkb."""


class StreamClosedError(HipkbError):
    """A command needed a standard stream (stdin, stdout) that was closed when it started."""


class StreamGivenUp(OSError):
    """A write to a stream of results not even tried: an earlier one failed (see ``batch.outputs.StreamOutput``)."""


class RequestError(HipkbError):
    """A request the web API cannot take (too large, wrong shape), other than a bad case."""


class ApiError(Exception):
    """An error that becomes one JSON answer of the web API with *status*: the CLI's one line, and its parts."""

    def __init__(self, status: int, error: HipkbError) -> None:
        super().__init__(str(error))
        self.status = status
        self.error = error


class LimitError(Exception):
    """A report template went past one of the limits of :mod:`hipkb.report.limits`; the message says which."""


def did_you_mean(found: object, allowed: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` when one allowed word is close to *found*."""
    if not isinstance(found, str):
        return ""
    import difflib

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
