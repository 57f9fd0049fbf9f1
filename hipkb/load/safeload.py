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

from hipkb.errors import HipkbError

MAX_BYTES = 1_000_000
MAX_DEPTH = 32
# Where aliases are allowed (the project's own vocabulary, or a --facts
# directory), the values they expand to are counted: a "billion laughs" file
# is a few lines that expand to billions of values.
MAX_EXPANDED = 100_000


class _Refused(yaml.MarkedYAMLError):
    """Something valid YAML that a case or rule file may not hold, at a field path."""

    def __init__(self, problem: str, mark: Any, path: str) -> None:
        super().__init__(None, None, problem, mark)
        self.path = path


class _Strict:
    """What makes a loader refuse what a case or rule file never needs.

    It tracks the field path of the node being composed (``pain.regions[0]``)
    so that a refusal names the field, not only the line. Mixed into two
    loaders that differ only in who turns text into events: PyYAML's own
    Python scanner, or libyaml's (see :func:`_load_yaml`).
    """

    allow_aliases = False
    path_stack: list[str]
    node_paths: dict[int, str]

    def compose_node(self, parent, index):  # type: ignore[override]
        here = self.path_stack[-1] if self.path_stack else ""
        if isinstance(index, int):
            here = f"{here}[{index}]"
        elif isinstance(index, yaml.ScalarNode):
            here = f"{here}.{index.value}" if here else str(index.value)
        # Refuse depth while composing: PyYAML composes recursively, so a
        # deeply nested file must stop here, before Python's stack does.
        if len(self.path_stack) > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep", mark, _top(here))
        if self.check_event(yaml.AliasEvent) and not self.allow_aliases:
            mark = self.peek_event().start_mark
            raise _Refused("YAML aliases (*name) are not allowed; write the value out", mark, here)
        self.path_stack.append(here)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.path_stack.pop()
        if node is not None and node.tag and not _is_plain_tag(node.tag):
            raise _Refused(
                f"YAML tag {_short_tag(node.tag)} is not allowed; only plain text, numbers, "
                "booleans, lists and mappings are (quote a value to make it text)",
                node.start_mark, here,
            )
        if node is not None:
            self.node_paths.setdefault(id(node), here)
            if self.allow_aliases and self._expanded(node) > MAX_EXPANDED:
                raise _Refused(f"expands through aliases to more than {MAX_EXPANDED} values",
                               node.start_mark, _top(here))
        return node

    def _expanded(self, node: Any) -> int:
        """How many values *node* stands for once every alias is written out.

        Children are composed before their parent, and an alias returns the
        node it names, so each node's count is computed once, from its
        children's memoised counts: linear in the file, not in the expansion.
        """
        sizes: dict[int, int] = self.__dict__.setdefault("expanded_sizes", {})
        found = sizes.get(id(node))
        if found is None:
            if isinstance(node, yaml.MappingNode):
                found = 1 + sum(sizes.get(id(k), 1) + sizes.get(id(v), 1) for k, v in node.value)
            elif isinstance(node, yaml.SequenceNode):
                found = 1 + sum(sizes.get(id(item), 1) for item in node.value)
            else:
                found = 1
            sizes[id(node)] = found
        return found

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        if isinstance(node, yaml.MappingNode):
            base = self.node_paths.get(id(node), "")
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                path = f"{base}.{key}" if base else str(key)
                if isinstance(key, (list, dict)):
                    raise _Refused("a key must be a plain value", key_node.start_mark, base)
                if key in seen:
                    raise _Refused(f"duplicate key {key!r}; each key may appear once", key_node.start_mark, path)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class _StrictLoader(_Strict, yaml.SafeLoader):
    """SafeLoader that refuses what a case or rule file never needs (pure Python)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.path_stack = []
        self.node_paths = {}


class _TrustedLoader(_StrictLoader):
    """For the project's own vocabulary, which shares value lists by alias."""

    allow_aliases = True


class _Diverges(yaml.MarkedYAMLError):
    """Text on which libyaml and PyYAML could disagree: PyYAML decides."""


try:
    from yaml._yaml import CParser as _CParser
except ImportError:  # PyYAML built without libyaml: the Python loader alone
    _CParser = None

if _CParser is not None:

    class _FastStrictLoader(_Strict, yaml.composer.Composer, _CParser,  # type: ignore[misc,valid-type]
                            yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """The same strict loader, on libyaml's events (several times faster).

        Only scanning and parsing move to C: PyYAML's Python composer (with
        the strict checks above), resolver and constructor still build the
        data, so what is accepted comes out the same. libyaml and PyYAML word
        their syntax errors differently, so on any error :func:`_load_yaml`
        parses again with the Python loader, whose message is the one users
        see.
        """

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self.path_stack = []
            self.node_paths = {}
            self.flow = 0

        # In a flow collection ({...} or [...]) PyYAML ends a plain scalar at
        # "?", libyaml does not: such a scalar is a case for PyYAML.
        def compose_scalar_node(self, anchor: Any) -> Any:
            event = self.peek_event()
            if self.flow and not event.style and "?" in event.value:  # plain: libyaml says ""
                raise _Diverges(None, None, "for PyYAML to judge", event.start_mark)
            return super().compose_scalar_node(anchor)

        def compose_sequence_node(self, anchor: Any) -> Any:
            return self._in_flow(super().compose_sequence_node, anchor)

        def compose_mapping_node(self, anchor: Any) -> Any:
            return self._in_flow(super().compose_mapping_node, anchor)

        def _in_flow(self, compose: Any, anchor: Any) -> Any:
            flow = bool(self.peek_event().flow_style)
            self.flow += flow
            try:
                return compose(anchor)
            finally:
                self.flow -= flow

    class _FastTrustedLoader(_FastStrictLoader):
        allow_aliases = True


    class _CComposedLoader(_Strict, _CParser,  # type: ignore[misc,valid-type]
                           yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """libyaml composes too: for text that cannot hold an alias, checked after composing."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self.path_stack = []
            self.node_paths = {}


_NOT_FAST = object()
MAX_FLOW_OPENERS = 1000  # libyaml composes recursively in C: no deep flow nesting there


def _c_composed(text: str) -> Any:
    """The data of *text*, composed by libyaml, or ``_NOT_FAST`` for the other loaders to decide.

    Only for text without ``*`` (so without aliases). What the Python composer
    refuses as it goes (tags, depth; '?' in a flow scalar, where libyaml and
    PyYAML differ) is looked for in the composed nodes, and any of it, or
    any error, sends the text to the loaders that say what is wrong.
    """
    loader = _CComposedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None or not _plain_tree(node):
            return _NOT_FAST
        return loader.construct_document(node)
    except (yaml.YAMLError, RecursionError):
        return _NOT_FAST
    finally:
        loader.dispose()


def _plain_tree(root: Any) -> bool:
    """Whether composed nodes hold nothing the strict composer would refuse or judge differently."""
    stack = [(root, 0, False)]
    seen: set[int] = set()
    while stack:
        node, depth, in_flow = stack.pop()
        if id(node) in seen or depth >= MAX_DEPTH or not _is_plain_tag(node.tag):
            return False
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if in_flow and not node.style and "?" in node.value:
                return False
        elif isinstance(node, yaml.MappingNode):
            flow = in_flow or bool(node.flow_style)
            for key, value in node.value:
                stack.append((key, depth + 1, flow))
                stack.append((value, depth + 1, flow))
        else:
            flow = in_flow or bool(node.flow_style)
            stack.extend((item, depth + 1, flow) for item in node.value)
    return True


def _load_yaml(text: str, trusted: bool) -> Any:
    """Parse YAML with libyaml where it gives the same answer, else with PyYAML."""
    # PyYAML refuses control characters, and tabs in places, that libyaml
    # lets through: such text goes to PyYAML alone.
    if (_CParser is not None and "\t" not in text and "\ufeff" not in text
            and not yaml.reader.Reader.NON_PRINTABLE.search(text)):
        if not trusted and "*" not in text and text.count("[") + text.count("{") < MAX_FLOW_OPENERS:
            data = _c_composed(text)
            if data is not _NOT_FAST:
                return data
        loader: Any = (_FastTrustedLoader if trusted else _FastStrictLoader)(text)
        try:
            return loader.get_single_data()
        except (yaml.YAMLError, RecursionError):
            pass  # the Python loader below says what is wrong, in its words
        finally:
            loader.dispose()
    loader = (_TrustedLoader if trusted else _StrictLoader)(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


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


def _short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:python/object`` as it is written: ``!!python/object``."""
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix):] if tag.startswith(prefix) else tag


def _top(path: str) -> str:
    """The top-level key of a field path: ``x`` of ``x[0][0].y``."""
    return path.split(".", 1)[0].split("[", 1)[0] or path


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


def parse_text(
    text: str, source: str, *, kind: str = "auto", trusted: bool = False
) -> Any:
    """Parse *text* (YAML or JSON by *kind*: ``yaml``, ``json`` or ``auto``).

    *source* names the file in error messages. ``trusted`` allows YAML aliases,
    for the project's own data files only.
    """
    if len(text) > MAX_BYTES:
        raise HipkbError(source, "", f"file is larger than the {MAX_BYTES} bytes allowed")
    if kind == "auto":
        kind = "json" if text.lstrip().startswith(("{", "[")) else "yaml"
    try:
        if kind == "json":
            data = json.loads(
                text,
                object_pairs_hook=_reject_json_duplicates,
                parse_constant=_reject_constant,
            )
            duplicate = _json_duplicate_path(data)
            if duplicate is not None:
                raise HipkbError(source, duplicate[0], f"duplicate key {duplicate[1]!r}; each key may appear once")
        else:
            data = _load_yaml(text, trusted)
    except _Refused as exc:
        line = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        raise HipkbError(source, exc.path, f"{exc.problem}{line}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise HipkbError(source, where, f"not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise HipkbError(source, "", f"not valid YAML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise HipkbError(source, f"line {exc.lineno}", f"not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise HipkbError(source, "", f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise HipkbError(source, "", f"not valid {kind.upper()}: {exc}") from None
    depth, where = _depth(data, MAX_DEPTH)
    if depth > MAX_DEPTH:
        raise HipkbError(source, where, f"nested more than {MAX_DEPTH} levels deep")
    return data


def decode(raw: bytes, source: str) -> str:
    """Decode UTF-8 bytes (a BOM is allowed), or fail naming the file."""
    if len(raw) > MAX_BYTES:
        raise HipkbError(source, "", f"file is larger than the {MAX_BYTES} bytes allowed")
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
