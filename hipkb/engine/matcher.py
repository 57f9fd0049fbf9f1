"""experta's Rete matcher, with the per-case and per-firing overheads taken out.

The network, the tokens and the matching are experta's own
(``experta.matchers.rete``); only three bookkeeping steps around them change,
each giving the same activations in the same order as before:

- **reset** walks the network recursively from the root, once per path, so a
  node shared by many rules is reset many times, with a log call each time.
  Here the nodes that hold memory are listed once, when the network is
  built, and each is reset once.
- **changes** (called before every firing) asks every rule's conflict-set
  node for its new activations, though a firing touches only a few rules.
  Here a conflict-set node notes when it receives a token, and only those
  nodes are asked, in the same order as experta asks them.
- **facts no pattern reads** (hipkb declares evidence, triage and running
  votes and the decision as facts, for the record) each sent a token down
  the network to be turned away by every type test at its root. Every root
  of experta's alpha network is a type test (``type(fact) == T``), so a fact
  of a type no root tests can match nothing; it now stays out of the network.

- **alpha tests copy no token that they turn away**: experta's one-input
  node copies each token before testing it, though most tests fail and a
  passing test that adds no binding changes nothing. Here the fact is tested
  first, and the token copied only when a binding is added to it (children
  that change a token copy it themselves, as before). The tests are the same
  check objects, called without their MATCH-level log lines (a watcher
  ``set_verbose`` never turns on).

- **token copies** (every node copies the token it receives) build the same
  token without re-asserting what a token is (``Token.__new__`` checks its
  tag, its facts and, through an ABC, its context, on every copy).

Nothing here is monkeypatched into experta: the engine opts in with
``__matcher__``, and the nodes of its own network get subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hipkb.engine.templates import experta

_rete: Any = experta.matchers.rete
_nodes: Any = _rete.nodes
_check: Any = _rete.check


_Token = _rete.token.Token
_new_tuple = tuple.__new__


def _copy(token: Any) -> Any:
    """``Token.copy()``: the same new token, without re-checking what a token already is."""
    return _new_tuple(_Token, (token.tag, token.data.copy(), token.context.copy()))


class _TrackedConflictSetNode(_nodes.ConflictSetNode):
    """A conflict-set node that tells its matcher when it has activations to report."""

    def activate(self, token: Any) -> None:
        self.dirty.add(self)
        self._activate(_copy(token))


class _JoinNode(_nodes.OrdinaryMatchNode):
    """experta's two-input node, copying tokens without checks or log lines."""

    def activate_left(self, token: Any) -> None:
        self._activate_left(_copy(token))

    def activate_right(self, token: Any) -> None:
        self._activate_right(_copy(token))


class _NotNode(_nodes.NotNode):
    """experta's not node, copying tokens without checks or log lines."""

    def activate_left(self, token: Any) -> None:
        self._activate_left(_copy(token))

    def activate_right(self, token: Any) -> None:
        self._activate_right(_copy(token))


class _AlphaNode(_nodes.FeatureTesterNode):
    """experta's FeatureTesterNode, testing before it copies."""

    test: Callable[[Any], Any]

    def activate(self, token: Any) -> None:
        data = token.data
        if len(data) != 1:
            raise ValueError("an alpha node takes one fact")
        for fact in data:
            match = self.test(fact)
            break
        if not match:
            return
        if isinstance(match, Mapping):
            token = _copy(token)
            context = token.context
            for key, value in match.items():
                if isinstance(key, tuple):  # Negated condition
                    if key[1] in context and context[key[1]] == value:
                        return
                else:
                    if context.get(key, value) != value:
                        return
                    if (False, key) in context and context[(False, key)] == value:
                        return
            context.update(match)
        for child in self.children:
            child.callback(token)


def _fast_test(check: Any) -> Callable[[Any], Any]:
    """The same test as *check*, without its log lines (experta's check.py, inlined)."""
    if isinstance(check, _check.TypeCheck):
        fact_type = check.fact_type
        return lambda fact: type(fact) is fact_type  # experta: ==; classes compare by identity
    if isinstance(check, _check.FactCapture):
        bind = check.bind
        return lambda fact: {bind: fact}
    if isinstance(check, _check.FeatureCheck) and isinstance(check.what, str) and "__" not in check.what:
        what, test, expected = check.what, check.check, check.expected

        def feature(fact: Any) -> Any:
            try:
                record = fact[what]
            except (IndexError, KeyError, TypeError):
                return False
            return test(record, expected)

        return feature
    return check


class FastReteMatcher(_rete.ReteMatcher):
    """experta's ReteMatcher with a flat reset, dirty-node tracking and a type filter at the root."""

    def build_network(self) -> None:
        super().build_network()
        self._dirty: set[Any] = set()
        self._adopt()

    def _adopt(self) -> None:
        """Take over the nodes of the network as it is now: subclasses, memories to reset, the root filter.

        Run after the network is built, and again whenever the root gains a
        child (a pattern on a new fact type), so that a node joining the
        network later sees facts as it would in experta's own matcher.
        """
        dirty = self._dirty
        seen: dict[int, Any] = {}
        stack = [self.root_node]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen[id(node)] = node
            stack.extend(child.node for child in node.children)
        nodes = list(seen.values())
        for node in nodes:
            if type(node) is _nodes.ConflictSetNode:
                node.__class__ = _TrackedConflictSetNode
                node.dirty = dirty
            elif type(node) is _nodes.FeatureTesterNode:
                node.__class__ = _AlphaNode
                node.test = _fast_test(node.matcher)
            elif type(node) is _nodes.OrdinaryMatchNode:
                node.__class__ = _JoinNode
            elif type(node) is _nodes.NotNode:
                node.__class__ = _NotNode
        # Parents hold their children's entry points as bound methods, bound
        # before the classes changed: bind them again.
        for node in nodes:
            node.children[:] = [
                _rete.mixins.ChildNode(child.node, getattr(child.node, child.callback.__name__))
                if getattr(child.callback, "__self__", None) is child.node else child
                for child in node.children
            ]
        # Only nodes with memory need a reset: the rest reset nothing.
        self._stateful = tuple(n for n in nodes if type(n)._reset is not _rete.mixins.NoMemory._reset)
        self._csns = tuple(n for n in self._stateful if type(n) is _TrackedConflictSetNode)
        self._joins = tuple(n for n in self._stateful if type(n) in (_JoinNode, _NotNode))
        self._others = tuple(n for n in self._stateful if n not in self._csns and n not in self._joins)
        # experta's own order of conflict-set nodes, so activations are reported as before.
        # Its method memoises the list (lru_cache) past any change of the
        # network: walk it afresh.
        walk = self._get_conflict_set_nodes.__wrapped__
        self._csn_order = {id(csn): i for i, csn in enumerate(walk(self))}
        roots = [child.node.matcher for child in self.root_node.children]
        self._root_count = len(self.root_node.children)
        self._root_types: frozenset[type] | None = (
            frozenset(check.fact_type for check in roots)
            if roots and all(isinstance(check, _check.TypeCheck) for check in roots) else None
        )

    def reset(self) -> None:
        # A node whose memory is empty is already reset; most are, since a
        # case activates a small part of the network.
        for node in self._csns:
            if node.memory or node.added or node.removed:
                node._reset()
                # Activations left over from a run that stopped part way
                # (an error in a rule) must not leak into the next case.
                node.added = set()
                node.removed = set()
        for node in self._joins:
            if node.left_memory or node.right_memory:
                node._reset()
        for node in self._others:
            node._reset()
        self._dirty.clear()

    def changes(self, adding: Any = None, deleting: Any = None) -> tuple[list[Any], list[Any]]:
        root = self.root_node
        if len(root.children) != self._root_count:
            self._adopt()
        types = self._root_types
        if deleting:
            for fact in deleting:
                if types is None or type(fact) in types:
                    root.remove(fact)
        if adding:
            for fact in adding:
                if types is None or type(fact) in types:
                    root.add(fact)
        added: list[Any] = []
        removed: list[Any] = []
        dirty = self._dirty
        if dirty:
            order = self._csn_order
            for csn in sorted(dirty, key=lambda n: order[id(n)]):
                c_added, c_removed = csn.get_activations()
                added.extend(c_added)
                removed.extend(c_removed)
            dirty.clear()
        return added, removed

