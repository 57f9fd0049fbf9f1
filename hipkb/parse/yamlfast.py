"""YAML the fast way: libyaml composes the nodes, and one walk checks them and builds the data.

For text that holds no alias (no ``*``) and few flow collections, libyaml
(PyYAML's C binding, ``yaml.CParser``) composes the whole document in C, and
:func:`compose` walks the nodes once: it checks what the strict reference
path (:mod:`.yamltext`) refuses as it composes (tags, depth, numbers in
forms other than plain decimal; ``?`` in a flow scalar, where libyaml and
PyYAML differ; a key that is not a plain value, or comes twice) and builds
the plain data PyYAML's safe constructor would build, without its per-node
bookkeeping. Anything else, and any error, is for the reference path to
judge and word: :func:`compose` says so by returning :data:`NOT_FAST`.
``tests/parse/test_yaml_fast.py`` holds the two paths to the same data.
"""

from __future__ import annotations

from typing import Any

import yaml

from hipkb.parse.bounds import MAX_DEPTH, PYTHON_WORDING_BYTES
from hipkb.parse.yamlrules import PLAIN_TAGS, mistagged, odd_number

#: What :func:`compose` returns for text the reference path must judge.
NOT_FAST: Any = object()
#: Whether PyYAML was built with libyaml; without it, only the reference path parses.
AVAILABLE: bool = bool(getattr(yaml, "__with_libyaml__", False))
#: libyaml's parser (``yaml.cyaml.CParser``), or None.
CParser: Any = None

if AVAILABLE:
    from yaml.cyaml import CParser  # type: ignore[attr-defined]  # the stubs omit what cyaml exports

    class _Composer(CParser, yaml.resolver.Resolver):
        """libyaml's parser and composer, with PyYAML's resolver for the implicit tags of scalars."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.resolver.Resolver.__init__(self)

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
# _Composer.resolve); bounded, so a stream of cases cannot grow it.
_RESOLVED: dict[tuple[str, Any], str] = {}
_RESOLVED_LENGTH, _RESOLVED_MAX = 40, 10_000


def compose(text: str) -> Any:
    """The data of *text*, composed by libyaml, or :data:`NOT_FAST` for the reference path to decide.

    Only for text without ``*`` (so without aliases). What the reference
    path refuses as it goes (tags, depth; '?' in a flow scalar, where libyaml
    and PyYAML differ) is looked for in the composed nodes, and any of it, or
    any error, sends the text to the reference path, which says what is
    wrong; but an error libyaml finds in text longer than
    :data:`~hipkb.parse.bounds.PYTHON_WORDING_BYTES` is raised in libyaml's words.
    """
    loader = _Composer(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return NOT_FAST
        return _plain_data(node)
    except yaml.MarkedYAMLError:
        if len(text) > PYTHON_WORDING_BYTES:
            raise  # in libyaml's words (see yamltext.load)
        return NOT_FAST
    except (yaml.YAMLError, RecursionError):
        return NOT_FAST
    finally:
        loader.dispose()


class _NotPlain(Exception):
    """Composed nodes hold something the strict composer would refuse or judge differently."""


_BOOLS = yaml.constructor.SafeConstructor.bool_values
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
# Each plain scalar tag built as PyYAML's safe constructor builds it, for the
# values that reach here: numbers in plain decimal (odd_number), booleans
# and numbers that read as their tag (mistagged).
_SCALARS: dict[str, Any] = {
    "tag:yaml.org,2002:str": str,
    "tag:yaml.org,2002:int": int,
    "tag:yaml.org,2002:float": float,
    "tag:yaml.org,2002:bool": lambda value: _BOOLS[value.lower()],
    "tag:yaml.org,2002:null": lambda value: None,
}


def _plain_data(root: Any) -> Any:
    """The data of composed nodes, or :data:`NOT_FAST` where the reference path must judge them.

    One walk both checks the nodes (tags, depth, numbers; '?' in a flow
    scalar, where libyaml and PyYAML differ; a key that is not a plain value,
    or comes twice) and builds the plain data PyYAML's safe constructor
    would build from them, without its per-node bookkeeping. Anything else
    sends the text to the reference path, which says what is wrong.
    """
    try:
        return _build(root, 0, False)
    except (_NotPlain, TypeError):  # TypeError: a key that cannot be hashed
        return NOT_FAST


def _build(node: Any, depth: int, in_flow: bool) -> Any:
    if depth >= MAX_DEPTH or node.tag not in PLAIN_TAGS:
        raise _NotPlain
    if isinstance(node, yaml.ScalarNode):
        scalar = _SCALARS.get(node.tag)
        if scalar is None or (in_flow and not node.style and "?" in node.value) or odd_number(node) \
                or mistagged(node):
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


__all__ = ["AVAILABLE", "NOT_FAST", "compose"]
