"""Strict JSON: what :func:`json.loads` accepts, less duplicate keys and the constants JSON has not (NaN, Infinity).

Python's parser keeps the last of two equal keys without a word, and reads
``NaN`` and ``Infinity``, which JSON does not allow. A case file means one
value per key and numbers that are numbers: both are refused, a duplicate key
by its field path. Every refusal is a one-line :class:`~hipkb.errors.HipkbError`.
"""

from __future__ import annotations

import json
from typing import Any

from hipkb.errors import HipkbError
from hipkb.parse.bounds import MAX_DEPTH


def load(text: str, source: str) -> Any:
    """The data of JSON *text*; *source* names the file in errors."""
    try:
        data = json.loads(text, object_pairs_hook=_reject_json_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise HipkbError(source, f"line {exc.lineno}", f"not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise HipkbError(source, "", f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise HipkbError(source, "", f"not valid JSON: {exc}") from None
    duplicate = _json_duplicate_path(data)
    if duplicate is not None:
        raise HipkbError(source, duplicate[0], f"duplicate key {duplicate[1]!r}; each key may appear once")
    return data


class _Duplicate(dict):
    """A JSON object that repeated a key; found after parsing, to name its path."""

    duplicate: str = ""


def _json_duplicate_path(data: Any) -> tuple[str, str] | None:
    """The path and key of the first object (in file order) that repeated a key."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, _Duplicate):
            key = item.duplicate
            return (f"{path}.{key}" if path else key), key
        if isinstance(item, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k)) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(item))))
    return None


def _reject_json_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json calls this innermost object first, without the path to it: mark the
    # object, and name its path once the whole document is parsed.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            marked = _Duplicate(pairs)
            marked.duplicate = key
            return marked
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


__all__ = ["load"]
