"""What one run of the engine concluded, and why: the record results are built from.

Every conclusion keeps its justifications (the rule and the facts it matched),
so that any of them can be unfolded into its chain (HOW) and any hypothesis
that did not come up can say what it lacked (WHY NOT).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from hipkb.knowledge.case import Case
from hipkb.knowledge.conditions import Condition
from hipkb.knowledge.kinds import Subject

T = TypeVar("T")


def unchecked(cls: type[T], **fields: Any) -> T:
    """An instance of a frozen dataclass with these *fields*, made without its ``__init__``.

    A frozen dataclass's ``__init__`` writes each field through
    ``object.__setattr__``; the engine and the analyses make such records by
    the hundred per case, from values they have just checked. The object is
    the same.
    """
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


@dataclass(frozen=True)
class Firing:
    """One rule firing, in order: the CLIPS ``(watch rules)`` line, kept."""

    step: int
    rule: str
    facts: tuple[str, ...]
    asserted: str
    new: bool = True

    @classmethod
    def of(cls, step: int, rule: str, facts: tuple[str, ...], asserted: str, new: bool) -> Firing:
        """The same firing, made without the frozen ``__init__``'s checked writes (one per rule fired)."""
        return unchecked(cls, step=step, rule=rule, facts=facts, asserted=asserted, new=new)


@dataclass(frozen=True)
class Justification:
    rule: str
    facts: tuple[str, ...]

    @classmethod
    def of(cls, rule: str, facts: tuple[str, ...]) -> Justification:
        """As :meth:`Firing.of`: the same justification, made on every firing without checked writes."""
        return unchecked(cls, rule=rule, facts=facts)


@dataclass(frozen=True)
class EvidenceItem:
    """One rule's weight on a hypothesis; ``cf`` is negative against it."""

    rule: str
    cf: float
    facts: tuple[str, ...]

    @classmethod
    def of(cls, rule: str, cf: float, facts: tuple[str, ...]) -> EvidenceItem:
        """As :meth:`Firing.of`: made for every piece of evidence a case gathers."""
        return unchecked(cls, rule=rule, cf=cf, facts=facts)


@dataclass(frozen=True)
class Score:
    hypothesis: str
    certainty: float
    band: str
    evidence: tuple[EvidenceItem, ...]


@dataclass(frozen=True)
class PointsItem:
    """One rule's points towards one component of a risk score."""

    rule: str
    component: str
    points: int
    facts: tuple[str, ...]

    @classmethod
    def of(cls, rule: str, component: str, points: int, facts: tuple[str, ...]) -> PointsItem:
        return unchecked(cls, rule=rule, component=component, points=points, facts=facts)


@dataclass(frozen=True)
class RiskScore:
    """A risk score added up by the shell: its total, band and the points counted (one per component)."""

    score: str
    total: int
    band: str
    counted: tuple[PointsItem, ...]


@dataclass(frozen=True)
class Choice:
    """The winning triage level or running advice, with every rule behind it."""

    value: str
    because: tuple[str, ...]
    text: str = ""


@dataclass
class Inference:
    """The outcome of one case through one knowledge base."""

    case: Case
    firings: list[Firing] = field(default_factory=list)
    derived: dict[str, list[Justification]] = field(default_factory=dict)
    red_flags: dict[str, list[Justification]] = field(default_factory=dict)
    scores: dict[str, Score] = field(default_factory=dict)
    triage_votes: dict[str, list[Justification]] = field(default_factory=dict)
    running_votes: dict[str, list[Justification]] = field(default_factory=dict)
    avoid: dict[str, list[Justification]] = field(default_factory=dict)
    asks: dict[str, list[Justification]] = field(default_factory=dict)
    referrals: dict[str, list[Justification]] = field(default_factory=dict)
    #: Points by score (layer 1), and the scores the shell added up from them.
    points: dict[str, list[PointsItem]] = field(default_factory=dict)
    risk: dict[str, RiskScore] = field(default_factory=dict)
    #: Exclusion status votes by ``hypothesis=status`` (layer 4), and the status each alarm hypothesis settled on.
    status_votes: dict[str, list[Justification]] = field(default_factory=dict)
    exclusions: dict[str, Choice] = field(default_factory=dict)
    triage: Choice | None = None
    running: Choice | None = None

    def facts_known(self) -> set[str]:
        """Every fact string that holds: case findings and derived facts."""
        known: set[str] = set()
        for path, value in self.case.facts():
            items = value if isinstance(value, tuple) else (value,)
            known.update(f"{path}={item}" for item in items)
        known.update(self.derived)
        return known

    def ranked(self) -> list[Score]:
        """Hypotheses with certainty above zero, highest first, ties by id."""
        scores = [s for s in self.scores.values() if s.certainty > 0]
        return sorted(scores, key=lambda s: (-s.certainty, s.hypothesis))

    def holds(self, c: Condition) -> bool:
        """Whether condition *c* holds in this run: on the case's findings and what was concluded.

        The one evaluation of a condition outside the Rete network: the
        partial-match analysis, the explanations and the property checks ask
        here; an unknown finding never holds (unknown is not no).
        """
        if c.kind is Subject.CASE:
            return c.test(self.case.get(c.subject))  # None (unknown) holds only for an unless
        if c.kind is Subject.DERIVED:
            # A loop, not any() over a generator: the analyses ask this for
            # every condition on a conclusion, and the generator costs 3%.
            for value in self.derived_by_name().get(c.subject, ()):  # noqa: SIM110
                if c.test(value):
                    return True
            return False
        if c.kind is Subject.RED_FLAG:
            return bool(set(self.red_flags) & set(c.values)) if c.values else bool(self.red_flags)
        if c.kind is Subject.STATUS:
            status = self.exclusions.get(c.subject)
            return status is not None and c.test(status.value)
        score = self.scores.get(c.subject)
        return score is not None and c.test(score.band)

    def derived_values(self, name: str) -> list[str]:
        """The values concluded for derived fact *name*, in the order concluded."""
        return list(self.derived_by_name().get(name, ()))

    def derived_by_name(self) -> dict[str, list[str]]:
        """The values concluded for each derived fact, in the order concluded (not to be changed).

        Read for every condition on a derived fact by the analyses after a
        run: indexed by name once, and again only if more was concluded.
        """
        index = self.__dict__.get("_derived_index")
        if index is None or index[0] != len(self.derived):
            by_name: dict[str, list[str]] = {}
            for key in self.derived:
                fact, value = key.split("=", 1)
                by_name.setdefault(fact, []).append(value)
            index = self.__dict__["_derived_index"] = (len(self.derived), by_name)
        return index[1]
