"""What a case or rule file may hold as YAML: plain tags, numbers in plain decimal, tags that keep their promise.

Both YAML paths (:mod:`.yamltext`, the reference, and :mod:`.yamlfast`, libyaml's
composed nodes walked once) judge scalars by these same rules, so that what
one accepts the other accepts the same way.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

# Only plain decimal numbers are numbers. YAML 1.1 also reads 1:30 as 90
# (base 60), 0x22 as 34, 017 and 0o17 as 15, 1_000 as 1000 and .inf as
# infinity: a case that says "age: 1:30" means something, but not 90.
DECIMAL = re.compile(r"[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})


def odd_number(node: Any) -> bool:
    """Whether a scalar node reads as a number in a form other than plain decimal."""
    return (isinstance(node, yaml.ScalarNode) and node.tag in _NUMBER_TAGS
            and DECIMAL.fullmatch(node.value) is None)


# What an explicit tag on a scalar promises, and the implicit readings that keep it.
_TYPED = {
    "tag:yaml.org,2002:bool": ("true or false", {"tag:yaml.org,2002:bool"}),
    "tag:yaml.org,2002:int": ("a whole number in plain decimal", {"tag:yaml.org,2002:int"}),
    "tag:yaml.org,2002:float": ("a number in plain decimal", {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}),
}
_RESOLVER = yaml.resolver.Resolver()


def mistagged(node: Any) -> str:
    """For ``!!bool maybe`` or ``!!int 1.5``: what the tag expected; else "".

    PyYAML builds a tagged scalar by its tag whatever it says, and fails
    outside its own error types (a KeyError for ``!!bool maybe``).
    """
    typed = _TYPED.get(node.tag) if isinstance(node, yaml.ScalarNode) else None
    if typed is None or _RESOLVER.resolve(yaml.ScalarNode, node.value, (True, False)) in typed[1]:
        return ""
    return typed[0]


PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


def short_tag(tag: str) -> str:
    """``tag:yaml.org,2002:python/object`` as it is written: ``!!python/object``."""
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix):] if tag.startswith(prefix) else tag


def top(path: str) -> str:
    """The top-level key of a field path: ``x`` of ``x[0][0].y``."""
    return path.split(".", 1)[0].split("[", 1)[0] or path


__all__ = ["DECIMAL", "PLAIN_TAGS", "mistagged", "odd_number", "short_tag", "top"]
