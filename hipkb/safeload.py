"""Parse YAML or JSON text into plain data without ever running code.

Case files and rule files come from outside the project, so parsing is
stricter than ``yaml.safe_load``: duplicate keys, tags, and aliases (which let a
small file expand into a huge structure) are refused, and so are files that are
too large or nested too deeply. Every refusal is a :class:`HipkbError` naming
the file and the line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .errors import HipkbError

MAX_BYTES = 1_000_000
MAX_DEPTH = 32


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses what a case or rule file never needs."""

    allow_aliases = False

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent) and not self.allow_aliases:
            mark = self.peek_event().start_mark
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not allowed", mark
            )
        node = super().compose_node(parent, index)
        if node is not None and node.tag and not _is_plain_tag(node.tag):
            raise yaml.constructor.ConstructorError(
                None, None, f"YAML tag {node.tag} is not allowed", node.start_mark
            )
        return node

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (list, dict)):
                    raise yaml.constructor.ConstructorError(
                        None, None, "a key must be a plain value", key_node.start_mark
                    )
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _TrustedLoader(_StrictLoader):
    """For the project's own vocabulary, which shares value lists by alias."""

    allow_aliases = True


_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


def _is_plain_tag(tag: str) -> bool:
    return tag in _PLAIN_TAGS


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of plain data, stopping once past *limit*."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _reject_json_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_text(
    text: str, source: str, *, kind: str = "auto", trusted: bool = False
) -> Any:
    """Parse *text* (YAML or JSON by *kind*: ``yaml``, ``json`` or ``auto``).

    *source* names the file in error messages. ``trusted`` allows YAML aliases,
    for the project's own data files only.
    """
    if len(text) > MAX_BYTES:
        raise HipkbError(source, "", f"file is larger than {MAX_BYTES} bytes")
    if kind == "auto":
        kind = "json" if text.lstrip().startswith(("{", "[")) else "yaml"
    try:
        if kind == "json":
            data = json.loads(
                text,
                object_pairs_hook=_reject_json_duplicates,
                parse_constant=_reject_constant,
            )
        else:
            loader = (_TrustedLoader if trusted else _StrictLoader)(text)
            try:
                data = loader.get_single_data()
            finally:
                loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise HipkbError(source, where, f"not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise HipkbError(source, "", f"not valid YAML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise HipkbError(source, f"line {exc.lineno}", f"not valid JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise HipkbError(source, "", f"not valid {kind.upper()}: {exc}") from None
    if _depth(data, MAX_DEPTH) > MAX_DEPTH:
        raise HipkbError(source, "", f"nested more than {MAX_DEPTH} levels deep")
    return data


def decode(raw: bytes, source: str) -> str:
    """Decode UTF-8 bytes (a BOM is allowed), or fail naming the file."""
    if len(raw) > MAX_BYTES:
        raise HipkbError(source, "", f"file is larger than {MAX_BYTES} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HipkbError(
            source, "", f"not UTF-8 text (byte {exc.start} cannot be decoded)"
        ) from None


def read_text(path: Path, source: str | None = None) -> str:
    """Read a UTF-8 file, turning every OS error into a one-line HipkbError."""
    name = source or str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise HipkbError(name, "", "is a directory, not a file") from None
    except FileNotFoundError:
        raise HipkbError(name, "", "no such file") from None
    except PermissionError:
        raise HipkbError(name, "", "permission denied") from None
    except OSError as exc:
        raise HipkbError(name, "", f"cannot be read ({exc.strerror})") from None
    return decode(raw, name)


def load_file(path: Path, *, trusted: bool = False) -> Any:
    """Read and parse one YAML or JSON file, by its suffix."""
    kind = "json" if path.suffix.lower() == ".json" else "yaml"
    return parse_text(read_text(path), str(path), kind=kind, trusted=trusted)
