"""Text from a case made safe for where it goes: a terminal, a text report, HTML.

A case file is written by anyone: its ``case_id`` or an answer can hold
terminal escape sequences (colours, a window title, OSC 8 links), a newline
that forges a second line of output, or a right-to-left override that makes
text read backwards. Every place that shows such text passes it through one
of these functions, so the rules live here and nowhere else:

- :func:`terminal`: one line for a terminal; every control, line break and
  bidi control is written as a visible escape (``\\x1b``, ``\\n``, ``\\u202e``);
- :func:`report_text`: text for a Markdown or plain-text report, which may
  keep its line breaks and tabs; other controls and bidi controls are dropped;
- :func:`html_text`: the same for HTML, where escaping of markup is Jinja's
  job: no raw ESC, NUL or bidi control survives.
"""

from __future__ import annotations

import re

# Unicode's explicit directional formatting characters (UAX #9): embeddings,
# overrides, isolates and the marks. An override makes "evil\u202eslmy.exe"
# display as "evilexe.ymls".
BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# C0 and C1 controls, DEL, line and paragraph separators, bidi controls and
# lone surrogates (which no encoder can write).
_UNSAFE_LINE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029{BIDI}\\ud800-\\udfff]")
# The same, except the line breaks and tabs a multi-line report may hold.
_UNSAFE_REPORT = re.compile(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u2028\\u2029{BIDI}\\ud800-\\udfff]")
_UNSAFE_HTML = re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f{BIDI}\\ud800-\\udfff]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def terminal(text: object, limit: int | None = None) -> str:
    """*text* as one line safe to print on a terminal, cut to *limit* characters when given."""
    value = str(text)
    if limit is not None and len(value) > limit:
        value = value[: max(limit - 3, 0)] + "..."
    return _UNSAFE_LINE.sub(_escape, value)


def report_text(text: str) -> str:
    """*text* for a Markdown or plain-text report: line breaks and tabs kept, other controls dropped."""
    return _UNSAFE_REPORT.sub("", text)


def html_text(text: str) -> str:
    """*text* for an HTML report: no raw control or bidi character (markup escaping is Jinja's)."""
    return _UNSAFE_HTML.sub("", text)


def has_unsafe(text: str) -> bool:
    """Whether :func:`terminal` would change *text* (other than by cutting it)."""
    return _UNSAFE_LINE.search(text) is not None
