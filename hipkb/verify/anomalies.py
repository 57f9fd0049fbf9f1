"""Static checks of a rule base: what can be known about it without any case.

These are the checks of rule-engine verifiers (Drools Verifier, IBM ODM,
Corticon) on hipkb's rules as data:

- rules that can never fire, because their conditions exclude each other
  directly or through the derivation chain (a derived fact whose every
  producer needs findings that the rule's other conditions rule out);
- derived facts nothing produces, or nothing reads; red flags never raised,
  or raised but never read;
- redundant rules (subsumed by a more general rule with the same conclusion);
- conflicting pairs (conditions that can hold together, conclusions that
  disagree);
- cycles in the derivation graph; hypotheses no rule can reach; vocabulary
  nobody reads;
- sources that name no publication (:mod:`.sources`).

Load errors (unknown facts or values, duplicate ids) are found by
:func:`load_findings`, which keeps going after the first one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from itertools import combinations
from pathlib import Path

from hipkb.knowledge import conditions as cond
from hipkb.knowledge.components import components
from hipkb.knowledge.conditions import Condition
from hipkb.knowledge.index import index
from hipkb.knowledge.kinds import Kind
from hipkb.knowledge.rules import KnowledgeBase, RuleDef, rule_errors
from hipkb.knowledge.scales import running_rank, triage_rank
from hipkb.knowledge.vocabulary import Vocabulary
from hipkb.verify.findings import Finding
from hipkb.verify.logic import Expander, conflict_in, implies
from hipkb.verify.sources import source_findings

#: Told how far a long check has got: ``progress(stage, done, total)``.
Progress = Callable[[str, int, int], None]

# Conclusions that contradict each other when both fire for one case. Evidence
# for and against one hypothesis is the point of certainty factors, so such a
# pair is only a conflict when the two rules test the same thing (see
# _evidence_overlap); decisions are a conflict when they are far apart.
RUNNING_APART = 2  # stop vs continue_as_tolerated
TRIAGE_APART = 2   # self_care vs urgent or emergency


# --------------------------------------------------------------------------
# loading


def load_findings(rules_dir: Path, vocabulary: Vocabulary) -> list[Finding]:
    """Every load error of a rule directory, not only the first (the loader's collect-every-error mode)."""
    return [Finding("load-error", error.message, _rule_ids(error.where), file=error.source, subject=error.where)
            for error in rule_errors(rules_dir, vocabulary)]


def _rule_ids(where: str) -> tuple[str, ...]:
    return (where[5:],) if where.startswith("rule ") else ()


# --------------------------------------------------------------------------
# the static checks


def static_findings(kb: KnowledgeBase, progress: Progress | None = None,
                    expander: Expander | None = None) -> list[Finding]:
    """Every static anomaly of a loaded knowledge base."""
    expander = expander or Expander(kb)
    findings: list[Finding] = []
    findings += never_fires(kb, expander, progress)
    findings += cycles(kb)
    findings += derived_use(kb, expander)
    findings += red_flag_use(kb)
    findings += unreachable_hypotheses(kb, expander)
    findings += redundant(kb, expander, progress)
    findings += conflicts(kb, expander, progress)
    findings += unread_fields(kb)
    findings += expansion_bounds(kb, expander)
    findings += source_findings(kb)
    return findings


def never_fires(kb: KnowledgeBase, expander: Expander, progress: Progress | None = None) -> list[Finding]:
    """Rules whose conditions can never hold together, with the reason why."""
    found = []
    total = len(kb.rules)
    for done, rule in enumerate(kb.rules):
        if progress is not None:
            progress("checking rules", done, total)
        if expander.can_fire(rule):
            continue
        found.append(Finding("never-fires", f"can never fire: {_why_never(rule, expander)}", (rule.id,),
                             file=rule.file))
    return found


def _why_never(rule: RuleDef, expander: Expander) -> str:
    for c in rule.conditions:
        if expander.condition(c) == []:
            return _why_condition(c, expander)
    conditions = rule.conditions
    for i, a in enumerate(conditions):
        for b in conditions[i + 1:]:
            joint = expander.joiner.product(expander.condition(a), expander.condition(b))
            if joint == []:
                return f"'{a.describe()}' and '{b.describe()}' exclude each other{_via(a, b, expander)}"
    return "its conditions cannot hold together through the derivation chain"


def _why_condition(c: Condition, expander: Expander) -> str:
    if c.kind == cond.CASE:
        return f"no value of {c.subject} satisfies '{c.describe()}'"
    producers = expander.producers(c)
    if not producers:
        return f"no rule concludes what '{c.describe()}' needs"
    ids = ", ".join(r.id for r in producers)
    return f"'{c.describe()}' needs one of {ids} to fire, and none can"


def _via(a: Condition, b: Condition, expander: Expander) -> str:
    """Which field the two conditions disagree on, through which producers."""
    vocabulary = expander.kb.vocabulary
    left, right = expander.condition(a) or [], expander.condition(b) or []
    for x in left:
        for y in right:
            subject = conflict_in(x | y, vocabulary)
            if subject is None:
                continue
            needs = sorted({c.describe() for c in x | y if c.subject == subject})
            chain = [c for c in (a, b) if c.kind != cond.CASE]
            through = ""
            if chain:
                producers = sorted({r.id for c in chain for r in expander.producers(c)})
                through = f" (through {', '.join(producers)})"
            return f": on {subject} they need {' and '.join(needs)}{through}"
    return ""


def cycles(kb: KnowledgeBase) -> list[Finding]:
    """Derived facts that (through rules) depend on themselves."""
    edges: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    rule_edges: dict[tuple[tuple[str, str], tuple[str, str]], set[str]] = defaultdict(set)
    for rule in kb.rules:
        c = rule.conclusion
        if c.kind is not Kind.DERIVE:
            continue
        target = (c.target, c.value)
        for condition in rule.conditions:
            if condition.kind != cond.DERIVED:
                continue
            for value in kb.derived[condition.subject].values:
                if condition.test(value):
                    source = (condition.subject, value)
                    edges[source].add(target)
                    rule_edges[(source, target)].add(rule.id)
    found = []
    for component in _strongly_connected(edges):
        members = set(component)
        if len(component) == 1 and component[0] not in edges.get(component[0], set()):
            continue
        rules = sorted({rid for (s, t), ids in rule_edges.items() if s in members and t in members for rid in ids})
        facts = " -> ".join(f"{n}={v}" for n, v in sorted(component)) + (
            f" -> {component[0][0]}={component[0][1]}" if len(component) > 1 else "")
        found.append(Finding("cycle", f"derived facts depend on themselves: {facts}", tuple(rules),
                             subject=sorted(component)[0][0]))
    return found


def _strongly_connected(edges: dict) -> list[list]:
    """The components of the derivation graph, over the nodes and their successors in sorted order."""
    nodes = sorted(set(edges) | {t for ts in edges.values() for t in ts})
    return [sorted(component) for component in components(nodes, lambda node: sorted(edges.get(node, ())))]


def derived_use(kb: KnowledgeBase, expander: Expander) -> list[Finding]:
    """Derived facts declared but never concluded, or concluded but never read."""
    producers: dict[str, dict[str, list[RuleDef]]] = defaultdict(lambda: defaultdict(list))
    for rule in kb.rules:
        if rule.conclusion.kind is Kind.DERIVE:
            producers[rule.conclusion.target][rule.conclusion.value].append(rule)
        elif rule.conclusion.kind is Kind.POINTS:  # the shell adds them up into any band of the score
            for band in kb.scores[rule.conclusion.target].bands:
                producers[rule.conclusion.target][band].append(rule)
    readers: dict[str, list[Condition]] = defaultdict(list)
    reader_rules: dict[str, list[str]] = defaultdict(list)
    for rule in kb.rules:
        for c in rule.conditions:
            if c.kind == cond.DERIVED:
                readers[c.subject].append(c)
                reader_rules[c.subject].append(rule.id)
    found = []
    for name, fact in kb.derived.items():
        made = producers.get(name, {})
        if not made:
            found.append(Finding("unproduced-derived", f"derived fact {name} is declared in kb.yaml but no rule "
                                 "concludes it", subject=name))
            continue
        live = {v: rules for v, rules in made.items() if any(expander.can_fire(r) for r in rules)}
        if not live:
            ids = tuple(sorted(r.id for rules in made.values() for r in rules))
            found.append(Finding("unproduced-derived", f"derived fact {name}: every rule that concludes it can "
                                 "never fire", ids, subject=name))
        if name not in readers:
            ids = tuple(sorted(r.id for rules in made.values() for r in rules))
            found.append(Finding("unused-derived", f"derived fact {name} is concluded but no rule reads it",
                                 ids, subject=name))
            continue
        for value in fact.values:
            if name in kb.scores:
                break  # a score's bands are its own: a low band nobody acts on is the point of it
            if value in made and not any(c.test(value) for c in readers[name]):
                ids = tuple(sorted(r.id for r in made[value]))
                found.append(Finding("unused-derived", f"{name}={value} is concluded but no condition accepts "
                                     f"that value (read by {', '.join(sorted(set(reader_rules[name])))})",
                                     ids, subject=f"{name}={value}"))
    return found


def red_flag_use(kb: KnowledgeBase) -> list[Finding]:
    """Red flags no rule raises, and red flags raised that no rule reads."""
    raised = {r.conclusion.target for r in kb.rules if r.conclusion.kind is Kind.RED_FLAG}
    found = [Finding("unraised-red-flag", f"red flag {flag} is declared in kb.yaml but no rule raises it",
                     subject=flag) for flag in kb.red_flags if flag not in raised]
    read: set[str] = set()
    for rule in kb.rules:
        for c in rule.conditions:
            if c.kind == cond.RED_FLAG:
                read |= set(c.values) if c.values else set(kb.red_flags)
    for flag in sorted(raised - read):
        ids = tuple(sorted(r.id for r in kb.rules
                           if r.conclusion.kind is Kind.RED_FLAG and r.conclusion.target == flag))
        found.append(Finding("red-flags-ignored", f"red flag {flag} is raised but no rule reads it, so it cannot "
                             "change triage or advice", ids, subject=flag))
    return found


def unreachable_hypotheses(kb: KnowledgeBase, expander: Expander) -> list[Finding]:
    found = []
    for hid in kb.hypotheses:
        support = index(kb).support(hid)
        if not support:
            found.append(Finding("unreachable-hypothesis", f"no rule supports hypothesis {hid}", subject=hid))
        elif not any(expander.can_fire(r) for r in support):
            found.append(Finding("unreachable-hypothesis", f"every rule supporting {hid} can never fire",
                                 tuple(sorted(r.id for r in support)), subject=hid))
    return found


def _same_conclusion(a: RuleDef, b: RuleDef) -> bool:
    return a.conclusion.kind == b.conclusion.kind and a.conclusion.target == b.conclusion.target and (
        a.conclusion.value == b.conclusion.value and a.conclusion.weight == b.conclusion.weight
        and a.conclusion.facts == b.conclusion.facts)


def _covers(general: RuleDef, specific: RuleDef, kb: KnowledgeBase) -> bool:
    """Every condition of *general* is implied by some condition of *specific*."""
    return all(any(implies(s, g, kb) for s in specific.conditions) for g in general.conditions)


# Conclusions that count once however many rules reach them; evidence does not:
# a second rule with the same weight adds weight, which is how a knowledge base
# says that one more finding strengthens the case.
IDEMPOTENT = ("derive", "red_flag", "triage", "running", "avoid_asking", "refer")


def redundant(kb: KnowledgeBase, expander: Expander, progress: Progress | None = None) -> list[Finding]:
    """Rules that add nothing: another rule with the same conclusion fires whenever they do.

    For evidence (supports, against), only equivalent conditions are redundant
    (the same evidence counted twice). A rule without conditions (a default,
    such as routine triage) makes no other rule redundant: the specific rule
    is what gives the result its reason. Nor does a rule marked ``default``
    make a rule that is not redundant, or the other way round: a default
    votes only when no other rule has, so the two do different work.
    """
    found = []
    groups: dict[tuple, list[RuleDef]] = defaultdict(list)
    for rule in kb.rules:
        c = rule.conclusion
        groups[(c.kind, c.target, c.value, c.weight, c.facts, c.default)].append(rule)
    total = len(groups)
    for done, rules in enumerate(groups.values()):
        if progress is not None:
            progress("checking redundancy", done, total)
        for a, b in _covering_pairs(rules):
            a_covers_b, b_covers_a = _covers(a, b, kb), _covers(b, a, kb)
            if a_covers_b and b_covers_a:
                found.append(Finding("redundant", f"{a.id} and {b.id} have equivalent conditions and the "
                                     f"same conclusion ({a.conclusion.asserted()})", (a.id, b.id)))
            elif a_covers_b or b_covers_a:
                general, specific = (a, b) if a_covers_b else (b, a)
                if a.conclusion.kind not in IDEMPOTENT or not general.conditions:
                    continue
                found.append(Finding("redundant", f"{specific.id} is subsumed by {general.id}: same conclusion "
                                     f"({a.conclusion.asserted()}), and {general.id} fires whenever "
                                     f"{specific.id} does", (specific.id, general.id)))
    return found


def _subjects(rule: RuleDef) -> frozenset[tuple[str, str]]:
    return frozenset((c.kind, c.subject) for c in rule.conditions)


def _subset_pairs(generals: list[RuleDef], specifics: list[RuleDef]) -> Iterator[tuple[RuleDef, RuleDef]]:
    """Each (general, specific) whose general tests only subjects the specific tests too.

    One rule covers another only then (a condition implies another only on
    the same subject), so rules are indexed by the set of subjects they test
    and each specific rule looks up the subsets of its own: the work grows
    with the rules and their pairs that can cover, not with all pairs.
    """
    by_subjects: dict[frozenset, list[RuleDef]] = defaultdict(list)
    for rule in generals:
        by_subjects[_subjects(rule)].append(rule)
    keys = list(by_subjects)
    for specific in specifics:
        mine = _subjects(specific)
        if 2 ** len(mine) <= len(keys):
            ordered = sorted(mine)
            candidates = (frozenset(sub) for size in range(len(ordered) + 1)
                          for sub in combinations(ordered, size))
            wanted = [key for key in candidates if key in by_subjects]
        else:
            wanted = [key for key in keys if key <= mine]
        for key in wanted:
            for general in by_subjects[key]:
                if general is not specific:
                    yield general, specific


def _covering_pairs(rules: list[RuleDef]) -> list[tuple[RuleDef, RuleDef]]:
    """The pairs of *rules* (in their order) of which one may cover the other: the pairs worth comparing.

    A rule without conditions covers every other, but only matters beside
    another without conditions (it makes no rule redundant).
    """
    position = {id(rule): n for n, rule in enumerate(rules)}
    pairs = {tuple(sorted((position[id(g)], position[id(s)])))
             for g, s in _subset_pairs(rules, rules) if g.conditions or not s.conditions}
    return [(rules[i], rules[j]) for i, j in sorted(pairs)]


def _evidence_overlap(a: RuleDef, b: RuleDef, kb: KnowledgeBase) -> bool:
    """Evidence for and against one hypothesis on the same grounds, not merely compatible ones."""
    subjects_a = {(c.kind, c.subject) for c in a.conditions}
    subjects_b = {(c.kind, c.subject) for c in b.conditions}
    return subjects_a == subjects_b or _covers(a, b, kb) or _covers(b, a, kb)


def _conflicting(a: RuleDef, b: RuleDef, kb: KnowledgeBase) -> str | None:
    ca, cb = a.conclusion, b.conclusion
    if {ca.kind, cb.kind} == {Kind.SUPPORTS, Kind.AGAINST} and ca.target == cb.target:
        if _evidence_overlap(a, b, kb):
            return f"one supports {ca.target}, the other counts against it, on the same findings"
        return None
    if ca.kind == cb.kind is Kind.RUNNING and abs(running_rank(ca.target) - running_rank(cb.target)) >= RUNNING_APART:
        return f"running advice {ca.target} vs {cb.target}"
    if ca.kind == cb.kind is Kind.TRIAGE and abs(triage_rank(ca.target) - triage_rank(cb.target)) >= TRIAGE_APART:
        levels = sorted((ca.target, cb.target), key=triage_rank)
        if "self_care" in levels:
            return f"triage {levels[0]} vs {levels[1]}"
    return None


def conflicts(kb: KnowledgeBase, expander: Expander, progress: Progress | None = None) -> list[Finding]:
    """Pairs that can fire on one case and disagree.

    The shell resolves them (the most urgent triage and the most restrictive
    advice win), so a knowledge base may intend them: mark those in
    ``verify.allow`` of kb.yaml.
    """
    found = []
    pairs = _disagreeing_pairs(kb)
    for done, (a, b) in enumerate(pairs):
        if progress is not None:
            progress("checking conflicts", done, len(pairs))
        why = _conflicting(a, b, kb)
        if why is None:
            continue
        joint = expander.together(a, b)
        if joint == []:
            continue  # they never fire together: no conflict in practice
        ids = tuple(sorted((a.id, b.id)))
        found.append(Finding("conflict", f"{ids[0]} and {ids[1]} can fire on the same case: {why}", ids))
    return found


def _disagreeing_pairs(kb: KnowledgeBase) -> list[tuple[RuleDef, RuleDef]]:
    """The pairs whose conclusions can disagree (see :func:`_conflicting`), in rule order.

    Found by conclusion, not by trying every pair: evidence for and against
    one hypothesis (only where one rule's subjects include the other's, as
    :func:`_evidence_overlap` needs), and decisions of levels far apart.
    """
    # A default (a rule without conditions) is there to be overridden: the
    # shell's safety precedence decides, so it conflicts with nothing.
    relevant = [r for r in kb.rules if r.conclusion.kind in (Kind.SUPPORTS, Kind.AGAINST, Kind.RUNNING, Kind.TRIAGE)
                and r.conditions]
    position = {id(rule): n for n, rule in enumerate(relevant)}
    by_conclusion: dict[tuple[str, str], list[RuleDef]] = defaultdict(list)
    for rule in relevant:
        by_conclusion[(rule.conclusion.kind, rule.conclusion.target)].append(rule)
    pairs: set[tuple[int, int]] = set()

    def add(a: RuleDef, b: RuleDef) -> None:
        pairs.add((min(position[id(a)], position[id(b)]), max(position[id(a)], position[id(b)])))

    for (kind, target), support in by_conclusion.items():
        if kind != "supports":
            continue
        against = by_conclusion.get(("against", target), [])
        for general, specific in _subset_pairs(support, against):
            add(general, specific)
        for general, specific in _subset_pairs(against, support):
            add(general, specific)
    for kind, rank, apart in (("running", running_rank, RUNNING_APART), ("triage", triage_rank, TRIAGE_APART)):
        levels = sorted({target for k, target in by_conclusion if k == kind})
        for low, high in combinations(levels, 2):
            if abs(rank(low) - rank(high)) >= apart:
                for a in by_conclusion[(kind, low)]:
                    for b in by_conclusion[(kind, high)]:
                        add(a, b)
    return [(relevant[i], relevant[j]) for i, j in sorted(pairs)]


def unread_fields(kb: KnowledgeBase) -> list[Finding]:
    """Vocabulary no rule condition reads: the case can say it, the rules ignore it."""
    read = {c.subject for r in kb.rules for c in r.conditions if c.kind == cond.CASE}
    return [Finding("unread-field", f"no rule reads {path}", subject=path)
            for path in kb.vocabulary.fields if path not in read]


def expansion_bounds(kb: KnowledgeBase, expander: Expander) -> list[Finding]:
    """Where the expander gave up (too many alternatives, or a cycle that did not settle).

    Every check reads an unknown expansion as "may hold", so nothing is
    reported falsely through it, but a rule that can never fire, or a
    hypothesis no rule can reach, may go unseen: this says so instead of
    passing in silence.
    """
    found = []
    for (kind, key), (condition, why) in expander.gave_up.items():
        if kind == "rule":
            rule = expander.rule_by_id(key)
            found.append(Finding("expansion-bound", f"not expanded: {why}; the checks count it as able to fire",
                                 (rule.id,), file=rule.file))
        else:
            what = f"'{condition.describe()}'" if condition is not None else "a condition"
            found.append(Finding("expansion-bound", f"{what} not expanded: {why} (through {len(key)} rules); "
                                 "the checks count every rule that needs it as able to fire",
                                 subject=condition.key if condition is not None else ""))
    return found


def expansion_stats(kb: KnowledgeBase, expander: Expander) -> dict[str, int] | None:
    """How many rules the checks could not expand (None when every rule was)."""
    if not expander.gave_up:
        return None
    unknown = sum(1 for rule in kb.rules if expander.rule(rule) is None)
    return {"limit": expander.limit, "unknown_rules": unknown, "rules": len(kb.rules)}


def rule_ids(findings: Iterable[Finding]) -> set[str]:
    return {rid for f in findings for rid in f.rules}
