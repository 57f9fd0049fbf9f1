"""The kinds of conclusion a rule can draw, as one table.

A rule's ``then`` block names exactly one kind (``derive``, ``red_flag``,
``supports`` ...). Everything hipkb does differently per kind is read from the
kind's :class:`KindSpec` here: the layer it runs in (its salience band, as
CLIPS modules would separate them), which subjects its conditions may read,
what its target names, where the engine records it, what later rules can read
of it, and how the rule graph and the CLI name it. Adding a kind is one entry
in :data:`KINDS` (and, where it needs new behaviour, one handler in the
engine's table of recorders).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class _Word(str, Enum):
    """An enum whose members are the words written in rule files, and print as them."""

    def __str__(self) -> str:
        return self.value


class Kind(_Word):
    """What a rule concludes. The values are the keys written in rule files."""

    DERIVE = "derive"
    RED_FLAG = "red_flag"
    SUPPORTS = "supports"
    AGAINST = "against"
    TRIAGE = "triage"
    RUNNING = "running"
    ASK = "ask"
    AVOID_ASKING = "avoid_asking"
    REFER = "refer"
    POINTS = "points"
    STATUS = "status"


class Subject(_Word):
    """What a condition can read: a case field, or something a rule concluded."""

    CASE = "case"
    DERIVED = "derived"
    RED_FLAG = "red_flag"
    HYPOTHESIS = "hypothesis"
    STATUS = "status"


class Target(str, Enum):
    """What the value of ``then.<kind>`` names."""

    DERIVED_FACT = "derived fact"     # {name: value}, declared under `derived` in kb.yaml
    RED_FLAG = "red flag"             # an id declared under `red_flags`
    HYPOTHESIS = "hypothesis"         # an id declared under `hypotheses`
    TRIAGE_LEVEL = "triage level"     # a level of the triage scale
    RUNNING_ADVICE = "running advice"  # a value of the running scale
    FIELDS = "fields"                 # vocabulary paths (group.field), one or a list
    REFERRAL = "referral"             # an id declared under `referrals`
    SCORE = "score component"         # {score.component: points}, a score declared under `scores`
    STATUS = "exclusion status"       # {hypothesis: status}, an alarm hypothesis of `safety`


_FINDINGS = frozenset({Subject.CASE})
_EARLY = _FINDINGS | {Subject.DERIVED}
_EVIDENCE = _EARLY | {Subject.RED_FLAG}
_STATUS = _EVIDENCE | {Subject.HYPOTHESIS}
_DECISION = _STATUS | {Subject.STATUS}


@dataclass(frozen=True)
class KindSpec:
    """Everything that differs between kinds of conclusion."""

    kind: Kind
    layer: int
    reads: frozenset[Subject]
    target: Target
    #: The Inference table the engine records it in (``None``: evidence,
    #: pooled by the shell's COMBINE step instead).
    record: str | None
    #: What later rules can read of it (``None``: nothing reads it).
    produces: Subject | None
    #: What the rule graph and ``hipkb rules list`` call rules of this kind.
    label: str
    #: Concluding it twice adds nothing new (two rules with the same
    #: conclusion and conditions are redundant).
    idempotent: bool = True
    #: Carries a weight in (0, 1].
    weighted: bool = False
    #: The text key the result shows (``summary`` or ``reason``), and whether it is required.
    text: str = ""
    text_required: bool = False
    #: ``default: true`` is allowed (applies only when no other rule concludes one).
    defaultable: bool = False
    #: -1 for evidence against, +1 otherwise.
    sign: int = 1


KINDS: dict[Kind, KindSpec] = {
    spec.kind: spec for spec in (
        KindSpec(Kind.DERIVE, 1, _EARLY, Target.DERIVED_FACT, "derived", Subject.DERIVED,
                 "derived facts (patterns)"),
        # Points read findings only: the shell's SCORE step adds them up once
        # layer 1 is done, and what it concludes (a band) is a derived fact.
        KindSpec(Kind.POINTS, 1, _FINDINGS, Target.SCORE, "points", Subject.DERIVED, "points of a risk score",
                 idempotent=False),
        KindSpec(Kind.RED_FLAG, 2, _EARLY, Target.RED_FLAG, "red_flags", Subject.RED_FLAG, "red flags"),
        KindSpec(Kind.SUPPORTS, 3, _EVIDENCE, Target.HYPOTHESIS, None, Subject.HYPOTHESIS,
                 "evidence for a hypothesis", idempotent=False, weighted=True, text="reason"),
        KindSpec(Kind.AGAINST, 3, _EVIDENCE, Target.HYPOTHESIS, None, Subject.HYPOTHESIS,
                 "evidence against a hypothesis", idempotent=False, weighted=True, text="reason", sign=-1),
        # Layer 4 follows COMBINE; the shell's RESOLVE step settles each
        # hypothesis's status (suspected, then excluded, then not excluded) for layer 5.
        KindSpec(Kind.STATUS, 4, _STATUS, Target.STATUS, "status_votes", Subject.STATUS, "exclusion status"),
        KindSpec(Kind.TRIAGE, 5, _DECISION, Target.TRIAGE_LEVEL, "triage_votes", None, "triage",
                 text="summary", text_required=True, defaultable=True),
        KindSpec(Kind.RUNNING, 5, _DECISION, Target.RUNNING_ADVICE, "running_votes", None, "running advice",
                 text="reason", defaultable=True),
        KindSpec(Kind.ASK, 5, _DECISION, Target.FIELDS, "asks", None, "questions to ask",
                 idempotent=False, weighted=True, text="reason", text_required=True),
        KindSpec(Kind.AVOID_ASKING, 5, _DECISION, Target.FIELDS, "avoid", None, "questions to avoid",
                 text="reason"),
        KindSpec(Kind.REFER, 5, _DECISION, Target.REFERRAL, "referrals", None, "referrals",
                 text="reason", text_required=True),
    )
}

#: The layers rules run in, in order, and the shell's own steps between them.
RULE_LAYERS: tuple[int, ...] = tuple(sorted({spec.layer for spec in KINDS.values()}))


def spec(kind: Kind | str) -> KindSpec:
    """The spec of *kind* (a :class:`Kind` or its rule-file key)."""
    return KINDS[Kind(kind)]


def reads_by_layer() -> dict[int, frozenset[Subject]]:
    """For each layer, the subjects its rules may read."""
    return {spec.layer: spec.reads for spec in KINDS.values()}


__all__ = ["KINDS", "RULE_LAYERS", "Kind", "KindSpec", "Subject", "Target", "reads_by_layer", "spec"]
