"""Parse YAML or JSON text into plain data without ever running code.

Case files and rule files come from outside the project, so parsing is
stricter than ``yaml.safe_load``: duplicate keys, tags, and aliases (which let a
small file expand into a huge structure) are refused, and so are files that are
too large or nested too deeply. Every refusal is a :class:`HipkbError` naming
the file and the line.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from hipkb.errors import HipkbError

MAX_BYTES = 1_000_000
MAX_DEPTH = 32
# Where aliases are allowed (the project's own vocabulary, or a --facts
# directory), the values they add are counted: a "billion laughs" file is a
# few lines that expand to billions of values. What a file writes out in
# full is bounded by its size, not by this.
MAX_EXPANDED = 100_000
# Where an unquoted date (2026-12-01, a !!timestamp to YAML) is read as the
# text it is written as: the case format's one date field. Anywhere else it
# is refused, as every tag is, with a hint to quote it.
TEXT_DATES = frozenset({"encounter.date"})
_TIMESTAMP, _STR = "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:str"


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
    written = 0  # nodes composed from the text itself, not through an alias
    path_stack: list[str]
    node_paths: dict[int, str]

    def compose_node(self, parent, index):
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
        if self.check_event(yaml.AliasEvent):
            if not self.allow_aliases:
                mark = self.peek_event().start_mark
                raise _Refused("YAML aliases (*name) are not allowed; write the value out", mark, here)
        else:
            self.written += 1
        self.path_stack.append(here)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.path_stack.pop()
        if node is not None and node.tag == _TIMESTAMP and here in TEXT_DATES and isinstance(node, yaml.ScalarNode):
            node.tag = _STR
        if node is not None and node.tag and not _is_plain_tag(node.tag):
            raise _Refused(
                f"YAML tag {_short_tag(node.tag)} is not allowed; only plain text, numbers, "
                "booleans, lists and mappings are (quote a value to make it text)",
                node.start_mark, here,
            )
        mistagged = _mistagged(node)
        if mistagged:
            raise _Refused(f"found {node.value!r} tagged {_short_tag(node.tag)}; expected {mistagged}",
                           node.start_mark, here)
        if _odd_number(node):
            raise _Refused(
                f"found {node.value!r}; expected a finite number written in plain decimal (YAML 1.1 "
                "forms such as 1:30, 0x22, 0o17, 1_000 and .inf are refused); quote it to make it text",
                node.start_mark, here)
        if node is not None:
            self.node_paths.setdefault(id(node), here)
            if self.allow_aliases and self._expanded(node) - self.written > MAX_EXPANDED:
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

    def construct_mapping(self, node, deep=False):
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
        return super().construct_mapping(node, deep=deep)


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


_CParser: Any
try:
    from yaml import _yaml

    _CParser = _yaml.CParser
except ImportError:  # PyYAML built without libyaml: the Python loader alone
    _CParser = None

if _CParser is not None:

    class _FastStrictLoader(_Strict, yaml.composer.Composer, _CParser,
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
            event: Any = self.peek_event()
            if self.flow and not event.style and "?" in event.value:  # plain: libyaml says ""
                raise _Diverges(None, None, "for PyYAML to judge", event.start_mark)
            return super().compose_scalar_node(anchor)

        def compose_sequence_node(self, anchor: Any) -> Any:
            return self._in_flow(super().compose_sequence_node, anchor)

        def compose_mapping_node(self, anchor: Any) -> Any:
            return self._in_flow(super().compose_mapping_node, anchor)

        def _in_flow(self, compose: Any, anchor: Any) -> Any:
            event: Any = self.peek_event()
            flow = bool(event.flow_style)
            self.flow += flow
            try:
                return compose(anchor)
            finally:
                self.flow -= flow

    class _FastTrustedLoader(_FastStrictLoader):
        allow_aliases = True


    class _CComposedLoader(_Strict, _CParser,
                           yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """libyaml composes too: for text that cannot hold an alias, checked after composing."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self.path_stack = []
            self.node_paths = {}

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            # PyYAML tries its implicit resolvers' patterns on every scalar
            # (libyaml calls back for each); a scalar's tag depends only on its
            # text and style while no path resolver is set, and case files say
            # the same few words again and again: remember the short ones.
            if kind is not yaml.ScalarNode or len(value) > _RESOLVED_LENGTH or self.yaml_path_resolvers:
                return super().resolve(kind, value, implicit)
            key = (value, implicit)
            tag = _RESOLVED.get(key)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_RESOLVED) < _RESOLVED_MAX:
                    _RESOLVED[key] = tag
            return tag


# Tags of short plain scalars, as PyYAML's resolver gives them (see
# _CComposedLoader.resolve); bounded, so a stream of cases cannot grow it.
_RESOLVED: dict[tuple[str, Any], str] = {}
_RESOLVED_LENGTH, _RESOLVED_MAX = 40, 10_000


_NOT_FAST = object()
MAX_FLOW_OPENERS = 1000
# Above this size an error libyaml finds is reported in libyaml's words, not
# parsed again by PyYAML (pure Python: about 8 s for a megabyte).
PYTHON_WORDING_BYTES = 64_000  # libyaml composes recursively in C: no deep flow nesting there


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
        if node is None:
            return _NOT_FAST
        return _plain_data(node)
    except yaml.MarkedYAMLError:
        if len(text) > PYTHON_WORDING_BYTES:
            raise  # in libyaml's words (see _load_yaml)
        return _NOT_FAST
    except (yaml.YAMLError, RecursionError):
        return _NOT_FAST
    finally:
        loader.dispose()


class _NotPlain(Exception):
    """Composed nodes hold something the strict composer would refuse or judge differently."""


_BOOLS = yaml.constructor.SafeConstructor.bool_values
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
# Each plain scalar tag built as PyYAML's safe constructor builds it, for the
# values that reach here: numbers in plain decimal (_odd_number), booleans
# and numbers that read as their tag (_mistagged).
_SCALARS: dict[str, Any] = {
    "tag:yaml.org,2002:str": str,
    "tag:yaml.org,2002:int": int,
    "tag:yaml.org,2002:float": float,
    "tag:yaml.org,2002:bool": lambda value: _BOOLS[value.lower()],
    "tag:yaml.org,2002:null": lambda value: None,
}


def _plain_data(root: Any) -> Any:
    """The data of composed nodes, or ``_NOT_FAST`` where the strict composer must judge them.

    One walk both checks the nodes (tags, depth, numbers; '?' in a flow
    scalar, where libyaml and PyYAML differ; a key that is not a plain value,
    or comes twice) and builds the plain data PyYAML's safe constructor
    would build from them, without its per-node bookkeeping. Anything else
    sends the text to the loaders that say what is wrong.
    """
    try:
        return _build(root, 0, False)
    except (_NotPlain, TypeError):  # TypeError: a key that cannot be hashed
        return _NOT_FAST


def _build(node: Any, depth: int, in_flow: bool) -> Any:
    if depth >= MAX_DEPTH or node.tag not in _PLAIN_TAGS:
        raise _NotPlain
    if isinstance(node, yaml.ScalarNode):
        scalar = _SCALARS.get(node.tag)
        if scalar is None or (in_flow and not node.style and "?" in node.value) or _odd_number(node) \
                or _mistagged(node):
            raise _NotPlain
        return scalar(node.value)
    flow = in_flow or bool(node.flow_style)
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ:
            raise _NotPlain
        return [_build(item, depth + 1, flow) for item in node.value]
    if node.tag != _MAP:
        raise _NotPlain
    data: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = _build(key_node, depth + 1, flow)
        if isinstance(key, (list, dict)) or key in data:
            raise _NotPlain
        data[key] = _build(value_node, depth + 1, flow)
    return data


def _load_yaml(text: str, trusted: bool) -> tuple[Any, bool]:
    """Parse YAML with libyaml where it gives the same answer, else with PyYAML.

    When libyaml refuses the text, PyYAML words the error, reading only up to
    the line after the one libyaml stopped at when it finds the error there
    too: a megabyte file with an error in its last line costs what libyaml
    costs, not seconds of pure-Python scanning. Tabs go to libyaml like any
    other text (YAML allows a tab where it separates tokens; PyYAML does not).

    Also says whether the data's depth is known to be within ``MAX_DEPTH``:
    libyaml's composed nodes are built by :func:`_build`, which bounds it.
    """
    # PyYAML refuses control characters that libyaml lets through (it checks
    # the whole text before reading any of it, so this is quick).
    if _CParser is None or "\ufeff" in text or yaml.reader.Reader.NON_PRINTABLE.search(text):
        return _python_load(text, trusted), False
    if not trusted and "*" not in text and text.count("[") + text.count("{") < MAX_FLOW_OPENERS:
        data = _c_composed(text)
        if data is not _NOT_FAST:
            return data, True
    loader: Any = (_FastTrustedLoader if trusted else _FastStrictLoader)(text)
    try:
        return loader.get_single_data(), False
    except (yaml.YAMLError, RecursionError) as error:
        if len(text) > PYTHON_WORDING_BYTES and isinstance(error, yaml.MarkedYAMLError) and not isinstance(
                error, _Diverges):
            raise  # libyaml's words: PyYAML would take seconds to find the same error
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    finally:
        loader.dispose()
    # libyaml refused it: the Python loader below says what is wrong, in its words.
    if mark is not None:
        cut = _through_line(text, mark.line + 1)
        if len(cut) < len(text):
            try:
                _python_load(cut, trusted)
            except yaml.MarkedYAMLError as error:
                found = error.problem_mark or error.context_mark
                if found is not None and found.line <= mark.line:
                    raise
            except (yaml.YAMLError, RecursionError):
                pass
    return _python_load(text, trusted), False


def _through_line(text: str, line: int) -> str:
    """*text* up to the end of its line number *line* (counted from 0)."""
    end = -1
    for _ in range(line + 1):
        end = text.find("\n", end + 1)
        if end < 0:
            return text
    return text[: end + 1]


def _python_load(text: str, trusted: bool) -> Any:
    loader = (_TrustedLoader if trusted else _StrictLoader)(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


# Only plain decimal numbers are numbers. YAML 1.1 also reads 1:30 as 90
# (base 60), 0x22 as 34, 017 and 0o17 as 15, 1_000 as 1000 and .inf as
# infinity: a case that says "age: 1:30" means something, but not 90.
DECIMAL = _DECIMAL = re.compile(r"[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})


def _odd_number(node: Any) -> bool:
    """Whether a scalar node reads as a number in a form other than plain decimal."""
    return (isinstance(node, yaml.ScalarNode) and node.tag in _NUMBER_TAGS
            and _DECIMAL.fullmatch(node.value) is None)


# What an explicit tag on a scalar promises, and the implicit readings that keep it.
_TYPED = {
    "tag:yaml.org,2002:bool": ("true or false", {"tag:yaml.org,2002:bool"}),
    "tag:yaml.org,2002:int": ("a whole number in plain decimal", {"tag:yaml.org,2002:int"}),
    "tag:yaml.org,2002:float": ("a number in plain decimal", {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}),
}
_RESOLVER = yaml.resolver.Resolver()


def _mistagged(node: Any) -> str:
    """For ``!!bool maybe`` or ``!!int 1.5``: what the tag expected; else "".

    PyYAML builds a tagged scalar by its tag whatever it says, and fails
    outside its own error types (a KeyError for ``!!bool maybe``).
    """
    typed = _TYPED.get(node.tag) if isinstance(node, yaml.ScalarNode) else None
    if typed is None or _RESOLVER.resolve(yaml.ScalarNode, node.value, (True, False)) in typed[1]:
        return ""
    return typed[0]


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
    bounded = False  # the data's depth is not yet known to be within MAX_DEPTH
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
            data, bounded = _load_yaml(text, trusted)
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
    """Read a UTF-8 file, turning every OS error into a one-line HipkbError (see :func:`read_bytes`)."""
    name = source or str(path)
    return decode(read_bytes(path, name), name)


def read_bytes(path: Path, source: str | None = None) -> bytes:
    """The bytes of a file (at most one more than :data:`MAX_BYTES`); every OS error is a one-line HipkbError.

    Only a regular file is read: a FIFO (``rules/zz.yaml`` made with mkfifo)
    would block for ever on open, a device could stream without end. The
    file is opened without blocking and checked with ``fstat`` before any
    read, so nothing can be swapped in between.
    """
    name = source or str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise HipkbError(name, "", "is a directory, not a file") from None
    except FileNotFoundError:
        raise HipkbError(name, "", "no such file") from None
    except PermissionError:
        raise HipkbError(name, "", "permission denied") from None
    except OSError as exc:
        raise HipkbError(name, "", f"cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            raise HipkbError(name, "", "is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise HipkbError(name, "", f"is not a regular file ({_file_kind(mode)}); only files are read")
        with os.fdopen(fd, "rb") as handle:
            fd = -1
            raw = _read_bounded(handle, info.st_size)
    except OSError as exc:
        raise HipkbError(name, "", f"cannot be read ({exc.strerror})") from None
    finally:
        if fd >= 0:
            os.close(fd)
    return raw


def _read_bounded(handle: Any, size: int) -> bytes:
    """At most ``MAX_BYTES + 1`` bytes of a file that ``fstat`` says holds *size*.

    One read of the size the file has: asking for the whole bound at once
    would allocate a megabyte for every two-kilobyte case file of a batch.
    A file larger than its size said (growing, or in ``/proc``) is read on
    in pieces, up to the bound.
    """
    limit = MAX_BYTES + 1
    want = min(limit, size + 1)
    raw = handle.read(want)
    if len(raw) < want:  # the whole file: the usual case
        return raw
    parts, got = [raw], len(raw)
    while got < limit:
        part = handle.read(min(1 << 16, limit - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a special file"


def load_file(path: Path, *, trusted: bool = False) -> Any:
    """Read and parse one YAML or JSON file, by its suffix."""
    kind = "json" if path.suffix.lower() == ".json" else "yaml"
    return parse_text(read_text(path), str(path), kind=kind, trusted=trusted)
