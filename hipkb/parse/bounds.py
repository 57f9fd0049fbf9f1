"""The bounds of what hipkb parses from outside: how large, how deep, how far aliases expand."""

from __future__ import annotations

#: Bytes of one file (a case, a rule file, a line of JSON Lines, a request body).
MAX_BYTES = 1_000_000
#: Levels of nesting of parsed data.
MAX_DEPTH = 32
#: Where aliases are allowed (the project's own vocabulary, or a --facts
#: directory), the values they add are counted: a "billion laughs" file is a
#: few lines that expand to billions of values. What a file writes out in
#: full is bounded by its size, not by this.
MAX_EXPANDED = 100_000
#: Above this size an error libyaml finds is reported in libyaml's words, not
#: parsed again by PyYAML to word it (pure Python: about 8 s for a megabyte).
PYTHON_WORDING_BYTES = 64_000
#: libyaml composes recursively in C: text with more flow collections than
#: this ([ or {) is composed by the Python composer, which bounds the depth as it goes.
MAX_FLOW_OPENERS = 1000

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_EXPANDED", "MAX_FLOW_OPENERS", "PYTHON_WORDING_BYTES"]
