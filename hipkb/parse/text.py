"""Text from outside to plain data: YAML or JSON, strictly, with the checks every format shares.

The entry of :mod:`hipkb.parse`: :func:`parse_text` picks the parser
(:mod:`.yamltext` or :mod:`.jsontext`) and then checks what neither format
bounds by itself: the size of the text, the depth of the data, and text that
is not valid Unicode (a lone surrogate, from a ``\\ud800`` escape).
:func:`load_file` reads a file within bounds (:mod:`.reading`) and parses it
by its suffix. Every refusal is a one-line :class:`~hipkb.errors.HipkbError`
naming the file and, where it can, the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hipkb.errors import HipkbError
from hipkb.parse import jsontext, yamltext
from hipkb.parse.bounds import MAX_BYTES, MAX_DEPTH
from hipkb.parse.reading import read_text


def parse_text(text: str, source: str, *, kind: str = "auto", trusted: bool = False) -> Any:
    """Parse *text* (YAML or JSON by *kind*: ``yaml``, ``json`` or ``auto``).

    *source* names the file in error messages. ``trusted`` allows YAML aliases,
    for the project's own data files only.
    """
    if len(text) > MAX_BYTES:
        raise HipkbError(source, "", f"file is larger than the {MAX_BYTES} bytes allowed")
    if kind == "auto":
        kind = "json" if text.lstrip().startswith(("{", "[")) else "yaml"
    if kind == "json":
        data = jsontext.load(text, source)
        bounded = False  # the data's depth is not yet known to be within MAX_DEPTH
    else:
        data, bounded = yamltext.load(text, source, trusted)
    if not bounded:
        depth, where = _depth(data, MAX_DEPTH)
        if depth > MAX_DEPTH:
            raise HipkbError(source, where, f"nested more than {MAX_DEPTH} levels deep")
    # A lone surrogate in the data comes from the text itself or from an
    # escape (``\ud800`` in JSON or double-quoted YAML): without either,
    # there is none to look for.
    bad = _invalid_text(data) if "\\" in text or _SURROGATE.search(text) else None
    if bad is not None:
        raise HipkbError(source, bad[0], f"holds {bad[1]}, which is not a Unicode character "
                         "(a lone surrogate, written as a \\u escape); text must be valid Unicode")
    return data


def load_file(path: Path, *, trusted: bool = False) -> Any:
    """Read and parse one YAML or JSON file, by its suffix."""
    kind = "json" if path.suffix.lower() == ".json" else "yaml"
    return parse_text(read_text(path), str(path), kind=kind, trusted=trusted)


def _depth(value: Any, limit: int) -> tuple[int, str]:
    """Nesting depth of plain data, stopping once past *limit*, and the top key it is under."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    deepest, where = 0, ""
    while stack:
        item, depth, top = stack.pop()
        if depth > deepest:
            deepest, where = depth, top
        if deepest > limit:
            break
        if isinstance(item, dict):
            stack.extend((v, depth + 1, top or str(k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, depth + 1, top or f"[{i}]") for i, v in enumerate(item))
    return deepest, where


# A \ud800 escape in JSON or in double-quoted YAML gives a lone surrogate:
# no encoder can write it (UTF-8 output fails, or carries a raw invalid byte).
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    """Whether *text* holds a lone surrogate (a ``\\ud800`` escape, or bytes that were not UTF-8)."""
    return _SURROGATE.search(text) is not None


def _invalid_text(data: Any) -> tuple[str, str] | None:
    """The field path of the first text (key or value) holding a lone surrogate, and that code point."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            found = _SURROGATE.search(item)
            if found:
                return path or "(top)", f"U+{ord(found.group()):04X}"
        elif isinstance(item, dict):
            for key, value in reversed(list(item.items())):
                here = f"{path}.{key}" if path else str(key)
                found = _SURROGATE.search(key) if isinstance(key, str) else None
                if found:  # the key itself: name where it sits
                    return path or "(top)", f"U+{ord(found.group()):04X}"
                stack.append((value, here))
        elif isinstance(item, list):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(item))))
    return None


__all__ = ["has_surrogates", "load_file", "parse_text"]
