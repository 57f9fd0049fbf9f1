"""Strongly connected components of a graph, dependencies first (Tarjan's algorithm, iteratively).

The derivation graph of a rule base (a rule reads facts that other rules
conclude) may be deep: thousands of rules in a chain must not meet Python's
recursion limit, so the walk keeps its own stack. The verifier's cycle check,
its expander and the strategies that lean towards a hypothesis all need it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeVar

N = TypeVar("N", bound=Hashable)


def components(roots: Iterable[N], successors: Callable[[N], Iterable[N]],
               done: Callable[[N], bool] | None = None) -> Iterator[list[N]]:
    """Each component reachable from *roots*, after every component it reaches.

    Members are listed in the order the walk met them. A node for which
    *done* is true is not entered (it was settled by an earlier walk); the
    generator is lazy, so the caller may settle each component as it comes.
    """
    number: dict[N, int] = {}
    low: dict[N, int] = {}
    stack: list[N] = []
    on_stack: set[N] = set()
    work: list[tuple[N, Iterator[N]]] = []

    def enter(node: N) -> None:
        number[node] = low[node] = len(number)
        stack.append(node)
        on_stack.add(node)
        work.append((node, iter(successors(node))))

    for root in roots:
        if root in number or (done is not None and done(root)):
            continue
        enter(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in number:
                    if done is not None and done(child):
                        continue
                    enter(child)
                    break
                if child in on_stack:
                    low[node] = min(low[node], number[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == number[node]:
                    component: list[N] = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    yield component[::-1]


__all__ = ["components"]
