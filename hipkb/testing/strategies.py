"""Hypothesis strategies that draw hipkb case files, for property-based tests.

Researchers compose these in their own pytest files to test a knowledge base
(the shipped one, or their own ``rules/`` and ``facts/`` directories)::

    from hypothesis import given
    from hipkb import api
    from hipkb.testing import strategies as hs

    kb = api.load_kb("my-rules")

    @given(hs.cases(kb, lean_towards="femoral_neck_bsi"))
    def test_bsi_never_keeps_running(case):
        result = api.run_data(case, kb)
        ...

Everything is derived from the vocabulary and the rules as data, never
hard-coded, so the strategies follow a knowledge base as it changes:

- :func:`field_values` draws any valid raw value of one field, "unknown"
  spellings (``unknown``, ``not_tested``) and YAML booleans included;
- :func:`findings` draws the groups of a case: every field is sometimes
  omitted, sometimes unknown, sometimes known; required fields always known;
- :func:`cases` draws whole ``hipkb-case/1`` dictionaries, optionally with
  some fields pinned (``fixed``) or biased towards the findings a
  hypothesis's supporting rules test (``lean_towards``);
- :func:`corrupted_cases` draws a valid case with exactly one field or value
  made invalid, and says which field path the error must name.

hypothesis is imported here and only here: ``hipkb`` itself never needs it
(it comes with the ``[test]`` extra: ``pip install 'hipkb[test]'``).
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hipkb.knowledge.case import CASE_FORMAT

try:
    from hypothesis import strategies as st
    from hypothesis.strategies import SearchStrategy
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "hipkb.testing.strategies needs hypothesis: pip install 'hipkb[test]'"
    ) from exc

from hipkb.knowledge.components import components
from hipkb.knowledge.conditions import CASE, DERIVED, RED_FLAG, Condition
from hipkb.knowledge.index import index
from hipkb.knowledge.scales import RUNNING_ADVICE, TRIAGE_LEVELS
from hipkb.knowledge.vocabulary import Field, Vocabulary

if TYPE_CHECKING:
    from hipkb.knowledge.rules import KnowledgeBase, RuleDef

__all__ = [
    "CORRUPTIONS",
    "OMIT",
    "cases",
    "corrupted_cases",
    "expects",
    "field_values",
    "findings",
    "lean_paths",
    "satisfying_values",
]

FORMAT = CASE_FORMAT

#: How often a field is left unknown (omitted, or an "unknown" spelling).
DEFAULT_UNKNOWN_WEIGHT = 0.4

#: At most this many ways to satisfy one supporting rule are kept.
MAX_ALTERNATIVES = 64

#: How often :func:`cases` with ``lean_towards`` follows one supporting rule.
DEFAULT_LEAN_WEIGHT = 0.85


class _Omit:
    """The marker for "leave this field out" (in ``fixed``: force it unknown)."""

    _instance: _Omit | None = None

    def __new__(cls) -> _Omit:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "OMIT"


#: Pass as a value in ``fixed`` to force a field to be left out of the case.
OMIT = _Omit()

# Names of invalid keys are drawn from a plain alphabet, so that the field
# path an error message names is exactly the path the test expects.
_KEY_ALPHABET = string.ascii_lowercase + "_"


# --------------------------------------------------------------------------
# resolving the knowledge base


def _resolve(vocabulary: Any = None, kb: Any = None) -> tuple[Vocabulary, KnowledgeBase | None]:
    """Accept a Vocabulary, a KnowledgeBase, or nothing (the shipped KB)."""
    if vocabulary is not None and hasattr(vocabulary, "vocabulary"):
        kb, vocabulary = vocabulary, vocabulary.vocabulary
    if vocabulary is None:
        if kb is None:
            from hipkb.knowledge.store import load_kb

            kb = load_kb()
        vocabulary = kb.vocabulary
    return vocabulary, kb


def _need_kb(kb: KnowledgeBase | None) -> KnowledgeBase:
    if kb is None:
        from hipkb.knowledge.store import load_kb

        kb = load_kb()
    return kb


def _field_of(field: Field | str, vocabulary: Vocabulary | None) -> Field:
    if isinstance(field, Field):
        return field
    vocabulary = vocabulary or _resolve()[0]
    spec = vocabulary.fields.get(field) or vocabulary.top.get(field)
    if spec is None:
        raise ValueError(f"unknown field {field!r}; fields: {', '.join(vocabulary.fields)}")
    return spec


# --------------------------------------------------------------------------
# valid values


def field_values(
    field: Field | str,
    vocabulary: Vocabulary | None = None,
    *,
    unknown: bool = True,
    booleans: bool = True,
) -> SearchStrategy[Any]:
    """Any valid raw value of *field* (a :class:`~hipkb.knowledge.vocabulary.Field` or a path).

    ``unknown=False`` leaves out the spellings of "unknown"; ``booleans=False``
    leaves out ``True``/``False`` for yes/no fields. Integers are sometimes
    drawn as whole floats (``29.0``), which case files may hold. Omission is
    not a value: :func:`findings` decides that.
    """
    spec = _field_of(field, vocabulary)
    if spec.type == "choice":
        words: list[Any] = list(spec.values)
        if unknown:
            words += list(spec.unknown)
        strategy: SearchStrategy[Any] = st.sampled_from(words)
        if booleans and spec.boolean_values:
            strategy = strategy | st.sampled_from(spec.boolean_values)
        return strategy
    if spec.type == "integer":
        low = -(10**6) if spec.minimum is None else math.ceil(spec.minimum)
        high = 10**6 if spec.maximum is None else math.floor(spec.maximum)
        ints = st.integers(low, high)
        return ints | ints.map(float)
    if spec.type == "number":
        floats = st.floats(
            min_value=spec.minimum, max_value=spec.maximum, allow_nan=False, allow_infinity=False
        )
        return st.integers(None if spec.minimum is None else math.ceil(spec.minimum),
                           None if spec.maximum is None else math.floor(spec.maximum)) | floats
    if spec.type == "set":
        return st.lists(
            st.sampled_from(list(spec.values)),
            unique=True,
            min_size=spec.min_items,
            max_size=len(spec.values),
        )
    if spec.type == "text":
        limit = spec.max_length or 200
        return st.text(min_size=1, max_size=min(limit, 40)).filter(lambda s: bool(s.strip()))
    raise ValueError(f"{spec.path}: a {spec.type} field has no drawable values")


def satisfying_values(spec: Field, conditions: Sequence[Condition]) -> SearchStrategy[Any] | None:
    """Values of *spec* that satisfy every one of *conditions*, or None if none can.

    This is how ``lean_towards`` turns a rule's ``when`` block into findings:
    a value drawn here makes each condition's :meth:`Condition.test` true.
    """
    conditions = list(conditions)
    if spec.type == "choice":
        words = [v for v in spec.values if all(c.test(v) for c in conditions)]
        return st.sampled_from(words) if words else None
    if spec.is_numeric:
        low, high = spec.minimum, spec.maximum
        for c in conditions:
            if c.op != "range":
                return None
            c_low, c_high = c.values
            if c_low is not None:
                low = c_low if low is None else max(low, c_low)
            if c_high is not None:
                high = c_high if high is None else min(high, c_high)
        if low is not None and high is not None and low > high:
            return None
        if spec.type == "integer":
            i_low = None if low is None else math.ceil(low)
            i_high = None if high is None else math.floor(high)
            if i_low is not None and i_high is not None and i_low > i_high:
                return None
            return st.integers(i_low, i_high)
        return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)
    if spec.type == "set":
        return _satisfying_set(spec, conditions)
    return None


def _satisfying_set(spec: Field, conditions: Sequence[Condition]) -> SearchStrategy[Any] | None:
    values = list(spec.values)
    forbidden = {v for c in conditions if c.op == "none" for v in c.values}
    required = {v for c in conditions if c.op == "all" for v in c.values}
    if required & forbidden:
        return None
    anys = [[v for v in c.values if v not in forbidden and v in spec.values]
            for c in conditions if c.op == "any"]
    if any(not options for options in anys):
        return None
    if any(c.op not in ("any", "all", "none") for c in conditions):
        return None
    free = [v for v in values if v not in forbidden]
    return _draw_set(tuple(values), tuple(sorted(required)), tuple(map(tuple, anys)), tuple(free), spec.min_items)


# Defined once, not per call: decorating a composite strategy reads its
# source, which costs more than a thousand draws when a large rule base
# leans towards a hypothesis through thousands of conditions.
@st.composite
def _draw_set(draw: Any, values: tuple[str, ...], required: tuple[str, ...], anys: tuple[tuple[str, ...], ...],
              free: tuple[str, ...], min_items: int) -> list[str]:
    chosen = set(required)
    for options in anys:
        if not chosen.intersection(options):
            chosen.add(draw(st.sampled_from(options)))
    rest = [v for v in free if v not in chosen]
    missing = max(0, min_items - len(chosen))
    if rest:
        chosen.update(draw(st.lists(st.sampled_from(rest), unique=True, min_size=min(missing, len(rest)))))
    items = [v for v in values if v in chosen]
    return draw(st.permutations(items))


def expects(kb: KnowledgeBase | None = None) -> SearchStrategy[dict[str, Any]]:
    """A valid ``expect`` block: any subset of its keys, ids from the KB's hypotheses."""
    kb = _need_kb(kb)
    ids = sorted(kb.hypotheses)
    id_lists = st.lists(st.sampled_from(ids), unique=True, max_size=3)
    return st.fixed_dictionaries(
        {},
        optional={
            "top": id_lists,
            "includes": id_lists,
            "excludes": id_lists,
            "triage_at_least": st.sampled_from(TRIAGE_LEVELS),
            "running": st.sampled_from(RUNNING_ADVICE),
        },
    )


# --------------------------------------------------------------------------
# leaning towards a hypothesis


def lean_paths(kb: KnowledgeBase, hypothesis: str) -> list[dict[str, tuple[Condition, ...]]]:
    """Each way the KB can support *hypothesis*, as case conditions by field path.

    One entry per supporting rule and per choice of producing rule for each
    derived fact (or red flag) the rule reads, followed recursively; entries
    whose conditions contradict each other on a field are kept (drawing skips
    the field). Read from ``kb.rules``, so it follows the KB as it changes.
    """
    if hypothesis not in kb.hypotheses:
        raise ValueError(
            f"unknown hypothesis {hypothesis!r}; known: {', '.join(sorted(kb.hypotheses))}"
        )
    supporting = index(kb).support(hypothesis)
    expand = _LeanExpansion(kb)
    paths: list[dict[str, tuple[Condition, ...]]] = []
    for rule in supporting:
        for alternative in expand(rule, frozenset()):
            merged: dict[str, list[Condition]] = {}
            for c in alternative:
                merged.setdefault(c.subject, []).append(c)
            paths.append({k: tuple(v) for k, v in merged.items()})
    return paths


#: Inside a cycle of derived facts, a path is followed this many rules deep at most.
MAX_CYCLE_DEPTH = 8
#: Expansions one :func:`lean_paths` may compute inside cycles; past it, a
#: derived fact is not leaned on (the draw leaves its findings free).
MAX_CYCLE_EXPANSIONS = 5_000


class _LeanExpansion:
    """Alternative lists of case conditions that make a rule fire (bounded), each computed once.

    What a rule expands to depends on the rules already on the path only
    through those in its own cycle of derived facts (any other rule on the
    path that it reaches would be in that cycle), so a rule outside every
    cycle is expanded once, whatever the path, and one inside a cycle once per
    set of its cycle's rules on the path, within a depth and a budget.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self.index = index(kb)
        self.producers: dict[Condition, tuple[RuleDef, ...]] = {}
        self.cycle_of: dict[str, frozenset[str]] = {}
        by_id = {rule.id: rule for rule in kb.rules}
        for component in components(list(by_id), lambda rid: (r.id for r in self._reads(by_id[rid]))):
            if len(component) > 1 or any(r.id == component[0] for r in self._reads(by_id[component[0]])):
                for rid in component:
                    self.cycle_of[rid] = frozenset(component)
        self.memo: dict[tuple[str, frozenset[str]], list[list[Condition]]] = {}
        self.budget = MAX_CYCLE_EXPANSIONS

    def _producers(self, c: Condition) -> tuple[RuleDef, ...]:
        found = self.producers.get(c)
        if found is None:
            found = self.producers[c] = self.index.producers(c)
        return found

    def _reads(self, rule: RuleDef) -> list[RuleDef]:
        return [p for c in rule.conditions if c.kind in (DERIVED, RED_FLAG) for p in self._producers(c)]

    def __call__(self, rule: RuleDef, seen: frozenset[str]) -> list[list[Condition]]:
        if rule.id in seen:
            return []  # a cycle in the derivation graph; `hipkb check` reports it
        cycle = self.cycle_of.get(rule.id)
        on_path = seen & cycle if cycle else frozenset()
        key = (rule.id, on_path)
        found = self.memo.get(key)
        if found is not None:
            return found
        if cycle:
            if len(on_path) >= MAX_CYCLE_DEPTH or self.budget <= 0:
                return []
            self.budget -= 1
        seen = seen | {rule.id}
        alternatives: list[list[Condition]] = [[]]
        for c in rule.conditions:
            if c.kind == CASE:
                alternatives = [[*alt, c] for alt in alternatives]
                continue
            if c.kind not in (DERIVED, RED_FLAG):
                continue
            options: list[list[Condition]] = []
            for producer in self._producers(c):
                options.extend(self(producer, seen))
            if not options:
                continue
            # Bound the product of alternatives: a KB with many producers per
            # derived fact must not make building the strategy explode.
            alternatives = [alt + option for alt in alternatives for option in options][:MAX_ALTERNATIVES]
        self.memo[key] = alternatives
        return alternatives


# --------------------------------------------------------------------------
# groups and whole cases


def _check_fixed(fixed: Mapping[str, Any] | None, vocabulary: Vocabulary) -> dict[str, Any]:
    fixed = dict(fixed or {})
    for path in fixed:
        if path not in vocabulary.fields and path not in vocabulary.top:
            raise ValueError(
                f"fixed: unknown field {path!r}; fields: {', '.join(vocabulary.fields)}"
            )
    return fixed


def _unknown_cut(unknown_weight: float) -> int:
    if not 0.0 <= unknown_weight <= 1.0:
        raise ValueError(f"unknown_weight must be in [0, 1], found {unknown_weight!r}")
    return round(unknown_weight * 100)


# Chances are drawn as a percentage: hypothesis draws small integer ranges
# about uniformly, but skews wide ones towards small values (0..999 made a
# 40% chance come out near 80%).
_PERCENT = st.integers(0, 99)
_TENTHS = st.integers(0, 9)


@dataclass(frozen=True)
class _DrawSetup:
    """Everything :func:`_findings` draws from, built once per strategy, not per example.

    Building hypothesis strategies costs more than drawing from them, and a
    property test draws hundreds of cases.
    """

    groups: tuple[tuple[str, tuple[tuple[str, Field], ...]], ...]
    fixed: dict[str, Any]
    values: dict[str, SearchStrategy[Any]]
    unknown: dict[str, SearchStrategy[Any]]
    lean: SearchStrategy[dict[str, SearchStrategy[Any]]] | None
    unknown_cut: int
    lean_cut: int


def _draw_setup(vocabulary: Vocabulary, fixed: dict[str, Any], lean: list[dict[str, tuple[Condition, ...]]],
                unknown_cut: int, lean_cut: int) -> _DrawSetup:
    fields = vocabulary.fields
    ways = []
    for way in lean:
        pinned = {}
        for subject, conditions in way.items():
            spec = fields.get(subject)
            strategy = satisfying_values(spec, conditions) if spec else None
            if strategy is not None:
                pinned[subject] = strategy
        if pinned:
            ways.append(pinned)
    return _DrawSetup(
        groups=tuple((g, tuple(group.fields.items())) for g, group in vocabulary.groups.items()),
        fixed=fixed,
        values={path: field_values(spec) for path, spec in fields.items() if path not in fixed},
        unknown={path: st.sampled_from([OMIT, *spec.unknown]) for path, spec in fields.items()},
        lean=st.sampled_from(ways) if ways else None,
        unknown_cut=unknown_cut,
        lean_cut=lean_cut,
    )


@st.composite
def _findings(draw: Any, setup: _DrawSetup) -> dict[str, dict[str, Any]]:
    pinned: dict[str, SearchStrategy[Any]] = {}
    # Draw the lean first: index 0 of each integer is what hypothesis shrinks
    # towards, so a failing leaned case shrinks to following the first rule.
    if setup.lean is not None and draw(_PERCENT) < setup.lean_cut:
        pinned = draw(setup.lean)
    fixed = setup.fixed
    groups: dict[str, dict[str, Any]] = {}
    for gname, group_fields in setup.groups:
        values: dict[str, Any] = {}
        for fname, spec in group_fields:
            path = spec.path
            if path in fixed:
                if fixed[path] is not OMIT:
                    values[fname] = fixed[path]
                continue
            if path in pinned:
                values[fname] = draw(pinned[path])
                continue
            # Shrinking drives the integer to 0: unknown, i.e. the smallest case.
            if not spec.required and draw(_PERCENT) < setup.unknown_cut:
                spelling = draw(setup.unknown[path])
                if spelling is not OMIT:
                    values[fname] = spelling
                continue
            values[fname] = draw(setup.values[path])
        if values:
            groups[gname] = values
        elif draw(_TENTHS) == 9:
            groups[gname] = {}  # an empty group is valid and means "all unknown"
    return groups


def findings(
    vocabulary: Vocabulary | KnowledgeBase | None = None,
    *,
    fixed: Mapping[str, Any] | None = None,
    lean_towards: str | None = None,
    unknown_weight: float = DEFAULT_UNKNOWN_WEIGHT,
    lean_weight: float = DEFAULT_LEAN_WEIGHT,
    kb: KnowledgeBase | None = None,
) -> SearchStrategy[dict[str, dict[str, Any]]]:
    """The groups of a case (``{"pain": {"regions": [...]}, ...}``), nothing else.

    See :func:`cases` for the options.
    """
    vocabulary, kb = _resolve(vocabulary, kb)
    fixed_map = _check_fixed(fixed, vocabulary)
    lean: list[dict[str, tuple[Condition, ...]]] = []
    if lean_towards is not None:
        lean = lean_paths(_need_kb(kb), lean_towards)
    setup = _draw_setup(vocabulary, fixed_map, lean, _unknown_cut(unknown_weight), _unknown_cut(lean_weight))
    return _findings(setup)


@st.composite
def _cases(draw: Any, groups: SearchStrategy[dict[str, dict[str, Any]]],
           fixed: dict[str, Any], expect: SearchStrategy[dict[str, Any]] | None) -> dict[str, Any]:
    case: dict[str, Any] = {}
    if fixed.get("format") is not OMIT and ("format" in fixed or draw(st.booleans())):
        case["format"] = fixed.get("format", FORMAT)
    if "case_id" in fixed:
        if fixed["case_id"] is not OMIT:
            case["case_id"] = fixed["case_id"]
    elif draw(st.booleans()):
        case["case_id"] = draw(st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True))
    case.update(draw(groups))
    if "expect" in fixed:
        if fixed["expect"] is not OMIT:
            case["expect"] = fixed["expect"]
    elif expect is not None and draw(st.booleans()):
        case["expect"] = draw(expect)
    return case


def cases(
    vocabulary: Vocabulary | KnowledgeBase | None = None,
    *,
    fixed: Mapping[str, Any] | None = None,
    lean_towards: str | None = None,
    unknown_weight: float = DEFAULT_UNKNOWN_WEIGHT,
    lean_weight: float = DEFAULT_LEAN_WEIGHT,
    with_expect: bool = False,
    kb: KnowledgeBase | None = None,
) -> SearchStrategy[dict[str, Any]]:
    """Valid ``hipkb-case/1`` dictionaries, drawing every field and value of the vocabulary.

    - *vocabulary*: a :class:`~hipkb.knowledge.vocabulary.Vocabulary` or a
      :class:`~hipkb.knowledge.rules.KnowledgeBase`; the shipped knowledge base when None.
    - *fixed*: ``{"pain.regions": ["groin"], "history.onset": "gradual"}``
      pins fields (also ``format``, ``case_id``, ``expect``); the value
      :data:`OMIT` forces a field to be left out. Values are used as given.
    - *lean_towards*: a hypothesis id; most drawn cases then satisfy every
      condition of one rule supporting it (derived facts followed back to the
      findings that produce them), with the rest of the case drawn freely.
      The rules are read from the knowledge base passed as *vocabulary* (or
      *kb*), the shipped one otherwise; a hypothesis that no rule supports
      is accepted and leaves the drawing unbiased.
    - *unknown_weight*: the chance in [0, 1] that a field is unknown (left out,
      or written ``unknown``/``not_tested``); required fields are always known.
      It is a nominal chance: hypothesis favours simple examples, and a
      simple case is one that says little, so somewhat more fields come out
      unknown (about 60% at the default 0.4; use 0.0 for fully known cases).
    - *lean_weight*: the chance that a case follows a supporting rule.
    - *with_expect*: sometimes add a valid ``expect`` block.

    ``format`` and ``case_id`` are each present about half the time. A drawn
    dictionary validates with :func:`hipkb.load.case.validate`.
    """
    vocabulary, kb = _resolve(vocabulary, kb)
    fixed_map = _check_fixed(fixed, vocabulary)
    group_fixed = {k: v for k, v in fixed_map.items() if k in vocabulary.fields}
    groups = findings(vocabulary, fixed=group_fixed, lean_towards=lean_towards,
                      unknown_weight=unknown_weight, lean_weight=lean_weight, kb=kb)
    expect = expects(kb) if with_expect else None
    return _cases(groups, fixed_map, expect)


# --------------------------------------------------------------------------
# corrupted cases


#: The kinds of corruption :func:`corrupted_cases` applies, one per case.
CORRUPTIONS = (
    "unknown_group",
    "unknown_field",
    "unknown_value",
    "wrong_type",
    "out_of_range",
    "bad_item",
    "duplicate_item",
    "empty_required_list",
    "group_not_mapping",
    "bad_format",
    "bad_case_id",
    "bad_expect",
)


def _bad_word(allowed: Sequence[str]) -> SearchStrategy[str]:
    """A word that looks plausible but is not allowed (often a near miss)."""
    allowed_set = set(allowed)
    near = st.sampled_from(sorted(allowed)).flatmap(
        lambda w: st.sampled_from([w + "x", w[:-1] or "x", w.upper(), w.replace("_", "-") + "-"])
    ) if allowed else st.nothing()
    plain = st.text(_KEY_ALPHABET, min_size=1, max_size=12)
    return (near | plain).filter(lambda w: w not in allowed_set)


@st.composite
def _corrupt(draw: Any, base: SearchStrategy[dict[str, Any]], vocabulary: Vocabulary,
             kb: KnowledgeBase | None) -> tuple[dict[str, Any], str]:
    case = draw(base)
    fields = list(vocabulary.fields.values())
    choice_fields = [f for f in fields if f.type == "choice"]
    numeric = [f for f in fields if f.is_numeric and (f.minimum is not None or f.maximum is not None)]
    sets = [f for f in fields if f.type == "set"]
    required_sets = [f for f in sets if f.min_items > 0]
    kinds = [k for k in CORRUPTIONS
             if (k != "out_of_range" or numeric) and (k != "empty_required_list" or required_sets)
             and (k not in ("bad_item", "duplicate_item") or sets)
             and (k != "bad_format" or "format" in vocabulary.top)
             and (k != "bad_case_id" or "case_id" in vocabulary.top)
             and (k != "bad_expect" or "expect" in vocabulary.top)
             and (k != "unknown_value" or choice_fields)]
    kind = draw(st.sampled_from(kinds))

    def put(spec: Field, value: Any) -> None:
        case.setdefault(spec.group, {})
        if not isinstance(case[spec.group], dict):
            case[spec.group] = {}
        case[spec.group][spec.name] = value

    if kind == "unknown_group":
        known = [*vocabulary.top, *vocabulary.groups]
        name = draw(_bad_word(known))
        case[name] = draw(st.sampled_from([{}, "yes", 1, []]))
        return case, name
    if kind == "unknown_field":
        gname = draw(st.sampled_from(list(vocabulary.groups)))
        name = draw(_bad_word(list(vocabulary.groups[gname].fields)))
        case.setdefault(gname, {})[name] = "yes"
        return case, f"{gname}.{name}"
    if kind == "unknown_value":
        spec = draw(st.sampled_from(choice_fields))
        put(spec, draw(_bad_word([*spec.values, *spec.unknown])))
        return case, spec.path
    if kind == "wrong_type":
        spec = draw(st.sampled_from(fields))
        # null is left out on purpose: whether it may mean "unknown" is the
        # format's decision, not a corruption this strategy should assume.
        if spec.type == "choice":
            wrong: list[Any] = [3, 2.5, ["x"], {"a": 1}]
            bad = draw(st.sampled_from([*wrong, *(flag for flag in (True, False) if flag not in spec.boolean_values)]))
        elif spec.is_numeric:
            bad = draw(st.sampled_from(["ten", True, [1], {"a": 1}]))
        elif spec.type == "set":
            bad = draw(st.sampled_from([next(iter(spec.values)), 1, {"a": 1}, True]))
        else:
            bad = draw(st.sampled_from([1, ["x"], True]))
        put(spec, bad)
        return case, spec.path
    if kind == "out_of_range":
        spec = draw(st.sampled_from(numeric))
        sides = [s for s, bound in (("low", spec.minimum), ("high", spec.maximum)) if bound is not None]
        side = draw(st.sampled_from(sides))
        step = draw(st.integers(1, 10**6))
        put(spec, spec.minimum - step if side == "low" else spec.maximum + step)
        return case, spec.path
    if kind == "bad_item":
        spec = draw(st.sampled_from(sets))
        good = list(spec.values)[: max(spec.min_items, 1)]
        bad = draw(_bad_word(list(spec.values)) | st.sampled_from([1, True, ["x"]]))
        index = draw(st.integers(0, len(good)))
        items: list[Any] = list(good)
        items.insert(index, bad)
        put(spec, items)
        return case, f"{spec.path}[{index}]"
    if kind == "duplicate_item":
        spec = draw(st.sampled_from(sets))
        item = draw(st.sampled_from(list(spec.values)))
        put(spec, [item, item])
        return case, f"{spec.path}[1]"
    if kind == "empty_required_list":
        spec = draw(st.sampled_from(required_sets))
        put(spec, [])
        return case, spec.path
    if kind == "group_not_mapping":
        gname = draw(st.sampled_from(list(vocabulary.groups)))
        case[gname] = draw(st.sampled_from(["yes", 1, ["a"], True]))
        return case, gname
    if kind == "bad_format":
        case["format"] = draw(st.sampled_from(["hipkb-case/2", "hipkb-case/0", "hipkb", 1]))
        return case, "format"
    if kind == "bad_case_id":
        case["case_id"] = draw(st.sampled_from(["", "   ", 42, ["a"], None, "x" * 500]))
        return case, "case_id"
    # bad_expect
    kb = _need_kb(kb)
    variant = draw(st.sampled_from(["key", "hypothesis", "triage", "running", "type"]))
    if variant == "key":
        name = draw(_bad_word(["top", "includes", "excludes", "triage_at_least", "running"]))
        case["expect"] = {name: []}
        return case, f"expect.{name}"
    if variant == "hypothesis":
        key = draw(st.sampled_from(["top", "includes", "excludes"]))
        case["expect"] = {key: [draw(_bad_word(sorted(kb.hypotheses)))]}
        return case, f"expect.{key}[0]"
    if variant == "triage":
        case["expect"] = {"triage_at_least": draw(_bad_word(TRIAGE_LEVELS))}
        return case, "expect.triage_at_least"
    if variant == "running":
        case["expect"] = {"running": draw(_bad_word(RUNNING_ADVICE))}
        return case, "expect.running"
    case["expect"] = draw(st.sampled_from(["yes", [1], 3]))
    return case, "expect"


def corrupted_cases(
    vocabulary: Vocabulary | KnowledgeBase | None = None,
    *,
    kb: KnowledgeBase | None = None,
) -> SearchStrategy[tuple[dict[str, Any], str]]:
    """``(case, path)``: a valid case with exactly one field or value made invalid.

    *path* is the field path the error must name (``history.onset``,
    ``pain.regions[1]``, ``expect.top[0]``, an unknown group's name), so a test
    can assert ``path in str(error)``. The kinds of corruption are listed in
    :data:`CORRUPTIONS`; invalid names use plain letters, so that the path in
    the message is exactly *path*.
    """
    vocabulary, kb = _resolve(vocabulary, kb)
    base = cases(vocabulary, kb=kb)
    return _corrupt(base, vocabulary, kb)
