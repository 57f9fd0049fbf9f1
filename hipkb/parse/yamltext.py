"""Strict YAML, the reference path: PyYAML's composer with hipkb's checks, on PyYAML's or libyaml's events.

Case files and rule files come from outside the project, so parsing is
stricter than ``yaml.safe_load``: duplicate keys, tags, and aliases (which let
a small file expand into a huge structure) are refused, and so are files
nested too deeply and numbers in forms other than plain decimal
(:mod:`.yamlrules`). Every refusal names the field path and the line.

:func:`load` takes the fastest path that gives the same answer: libyaml's
composed nodes walked once (:mod:`.yamlfast`), else libyaml's events under
the strict composer (:class:`LibyamlLoader`), else PyYAML's own Python
scanner (:func:`reference`), which also words every syntax error users see.
"""

from __future__ import annotations

from typing import Any

import yaml

from hipkb.errors import HipkbError
from hipkb.parse import yamlfast
from hipkb.parse.bounds import MAX_DEPTH, MAX_EXPANDED, MAX_FLOW_OPENERS, PYTHON_WORDING_BYTES
from hipkb.parse.yamlrules import PLAIN_TAGS, mistagged, odd_number, short_tag, top

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
    Python scanner (:class:`StrictLoader`), or libyaml's (:class:`LibyamlLoader`).
    Aliases are allowed only in *trusted* text (the project's own vocabulary,
    which shares value lists by alias), and counted there.
    """

    allow_aliases = False
    written = 0  # nodes composed from the text itself, not through an alias
    path_stack: list[str]
    node_paths: dict[int, str]

    def _start(self, trusted: bool) -> None:
        self.allow_aliases = trusted
        self.path_stack = []
        self.node_paths = {}

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
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep", mark, top(here))
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
        if node is not None and node.tag and node.tag not in PLAIN_TAGS:
            raise _Refused(
                f"YAML tag {short_tag(node.tag)} is not allowed; only plain text, numbers, "
                "booleans, lists and mappings are (quote a value to make it text)",
                node.start_mark, here,
            )
        mistagged_as = mistagged(node)
        if mistagged_as:
            raise _Refused(f"found {node.value!r} tagged {short_tag(node.tag)}; expected {mistagged_as}",
                           node.start_mark, here)
        if odd_number(node):
            raise _Refused(
                f"found {node.value!r}; expected a finite number written in plain decimal (YAML 1.1 "
                "forms such as 1:30, 0x22, 0o17, 1_000 and .inf are refused); quote it to make it text",
                node.start_mark, here)
        if node is not None:
            self.node_paths.setdefault(id(node), here)
            if self.allow_aliases and self._expanded(node) - self.written > MAX_EXPANDED:
                raise _Refused(f"expands through aliases to more than {MAX_EXPANDED} values",
                               node.start_mark, top(here))
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


class StrictLoader(_Strict, yaml.SafeLoader):
    """SafeLoader that refuses what a case or rule file never needs (pure Python: PyYAML's own scanner)."""

    def __init__(self, stream: str, trusted: bool = False) -> None:
        super().__init__(stream)
        self._start(trusted)


class _Diverges(yaml.MarkedYAMLError):
    """Text on which libyaml and PyYAML could disagree: PyYAML decides."""


if yamlfast.AVAILABLE:

    class LibyamlLoader(_Strict, yaml.composer.Composer, yamlfast.CParser,
                        yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """The same strict loader, on libyaml's events (several times faster).

        Only scanning and parsing move to C: PyYAML's Python composer (with
        the strict checks above), resolver and constructor still build the
        data, so what is accepted comes out the same. libyaml and PyYAML word
        their syntax errors differently, so on any error :func:`load` parses
        again with the Python loader, whose message is the one users see.
        """

        def __init__(self, stream: str, trusted: bool = False) -> None:
            yamlfast.CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self._start(trusted)
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


def load(text: str, source: str, trusted: bool = False) -> tuple[Any, bool]:
    """The data of YAML *text*, and whether its depth is known to be within ``MAX_DEPTH``.

    *source* names the file in errors, each a one-line
    :class:`~hipkb.errors.HipkbError`. *trusted* allows aliases, for the
    project's own data files only.
    """
    try:
        return _load(text, trusted)
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
    except RecursionError:
        raise HipkbError(source, "", f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise HipkbError(source, "", f"not valid YAML: {exc}") from None


def _load(text: str, trusted: bool) -> tuple[Any, bool]:
    """Parse YAML with libyaml where it gives the same answer, else with PyYAML.

    When libyaml refuses the text, PyYAML words the error, reading only up to
    the line after the one libyaml stopped at when it finds the error there
    too: a megabyte file with an error in its last line costs what libyaml
    costs, not seconds of pure-Python scanning. Tabs go to libyaml like any
    other text (YAML allows a tab where it separates tokens; PyYAML does not).

    Also says whether the data's depth is known to be within ``MAX_DEPTH``:
    libyaml's composed nodes are built by :func:`.yamlfast.compose`, which bounds it.
    """
    # PyYAML refuses control characters that libyaml lets through (it checks
    # the whole text before reading any of it, so this is quick).
    if not yamlfast.AVAILABLE or "\ufeff" in text or yaml.reader.Reader.NON_PRINTABLE.search(text):
        return reference(text, trusted), False
    if not trusted and "*" not in text and text.count("[") + text.count("{") < MAX_FLOW_OPENERS:
        data = yamlfast.compose(text)
        if data is not yamlfast.NOT_FAST:
            return data, True
    loader = LibyamlLoader(text, trusted)
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
                reference(cut, trusted)
            except yaml.MarkedYAMLError as error:
                found = error.problem_mark or error.context_mark
                if found is not None and found.line <= mark.line:
                    raise
            except (yaml.YAMLError, RecursionError):
                pass
    return reference(text, trusted), False


def _through_line(text: str, line: int) -> str:
    """*text* up to the end of its line number *line* (counted from 0)."""
    end = -1
    for _ in range(line + 1):
        end = text.find("\n", end + 1)
        if end < 0:
            return text
    return text[: end + 1]


def reference(text: str, trusted: bool = False) -> Any:
    """The data of *text* by the reference path alone: PyYAML's Python scanner under the strict composer.

    Raises PyYAML's errors (a refusal is a ``MarkedYAMLError`` naming the
    field path); :func:`load` words them for users.
    """
    loader = StrictLoader(text, trusted)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


__all__ = ["StrictLoader", "load", "reference"]
