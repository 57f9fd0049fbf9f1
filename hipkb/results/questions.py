"""What to ask next: the unknown findings that could change the picture most.

For every rule that has not fired and is not blocked by a known finding, the
unknown findings it waits on share its stake: a rule that could raise the
triage or add a red flag weighs most, then evidence on hypotheses, weighted by
how far the answer could move the differential. The questions read the case:
evidence counts only for a hypothesis in view (ranked, or an alarm hypothesis
not excluded); the knowledge base's own ``ask`` rules bring up the rest. A
follow-up waits for what it follows (``asked_when``), and age and sex come
first while unknown. Findings a rule forbids asking (``avoid_asking``, such as
hopping once a bone stress injury is possible) are never suggested. Ties go
to the vocabulary's order, so the list is stable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from hipkb.engine.record import Inference
from hipkb.knowledge import conditions as cond
from hipkb.knowledge.index import index
from hipkb.knowledge.kinds import Kind
from hipkb.knowledge.rules import KnowledgeBase, RuleDef
from hipkb.knowledge.scales import RUNNING_ADVICE, TRIAGE_LEVELS, running_rank, triage_rank
from hipkb.results.partial import UNKNOWN, Analyzer, RuleStatus

MAX_QUESTIONS = 5
# Red-flag screens matter in every case, so left unchecked they would fill the
# list with the same questions whatever the case says; keep room for the
# questions that tell this case's hypotheses apart.
MAX_SCREENS = 2
SCREEN_STAKE = 0.3
EMERGENCY_SCREEN_STAKE = 0.4
SCREEN_REASON = "screens for a red flag"
FIRST_REASON = "who the runner is decides which conditions must be ruled out"


@dataclass(frozen=True)
class Question:
    fact: str
    question: str
    why: str
    score: float


# The kinds _stake tells apart, bound once: an Enum member read through its
# class costs a descriptor call (about 0.2 us on Python 3.11), and _stake runs
# for every candidate rule of every case.
_SUPPORTS, _AGAINST, _RED_FLAG = Kind.SUPPORTS, Kind.AGAINST, Kind.RED_FLAG
_TRIAGE, _RUNNING = Kind.TRIAGE, Kind.RUNNING


def _stake(kb: KnowledgeBase, inference: Inference, rule: RuleDef,
           status: Callable[[], RuleStatus]) -> tuple[float, str]:
    """How much firing *rule* would change the result, and in what way (*status* gives where it stands)."""
    c = rule.conclusion
    if c.kind is _SUPPORTS or c.kind is _AGAINST:  # most rules with a stake
        score = inference.scores.get(c.target)
        current = score.certainty if score else 0.0
        # Evidence matters most on hypotheses in contention; against-evidence
        # on one nobody suspects changes nothing.
        if c.kind is _AGAINST and current <= 0:
            return 0.0, ""
        # The questions read the case: evidence for a hypothesis nothing has brought into view
        # (not ranked, and no alarm hypothesis left to exclude) is no reason to ask.
        exclusion = inference.exclusions.get(c.target)
        if current <= 0 and (exclusion is None or exclusion.value == "excluded"):
            return 0.0, ""
        return c.weight * (1.0 + max(current, 0.0)), c.target
    if c.kind is _RED_FLAG:
        flag = kb.red_flags[c.target]
        stake = EMERGENCY_SCREEN_STAKE if flag.emergency else SCREEN_STAKE
        return stake, f"{SCREEN_REASON} ({c.target})"
    if c.kind is _TRIAGE or c.kind is _RUNNING:
        waiting = [s.condition for s in status().conditions if s.state == UNKNOWN]
        if any(w.kind is cond.RED_FLAG for w in waiting):
            # The red-flag rule itself carries the screen's stake; counting
            # the triage it would raise again would rank screens first always.
            return 0.0, ""
        # A hypothesis with some evidence already is likelier to cross a band.
        odds = 1.0
        for w in waiting:
            if w.kind is cond.HYPOTHESIS:
                score = inference.scores.get(w.subject)
                odds = min(odds, 0.25 + max(score.certainty, 0.0) if score else 0.25)
        triage = inference.triage.value if inference.triage else TRIAGE_LEVELS[-1]
        running = inference.running.value if inference.running else RUNNING_ADVICE[-1]
        if c.kind is _TRIAGE and triage_rank(c.target) < triage_rank(triage):
            return odds * (1.0 + (3 - triage_rank(c.target)) * 0.25), f"could raise triage to {c.target}"
        if c.kind is _RUNNING and running_rank(c.target) < running_rank(running):
            return odds * 0.5, f"could change running advice to {c.target}"
        return 0.0, ""
    return 0.0, ""


def candidates(kb: KnowledgeBase, inference: Inference, analyzer: Analyzer) -> list[RuleDef]:
    """The rules the analysis looks at for *inference*, in the knowledge base's order.

    Those that have not fired, that no known finding blocks, and whose
    conclusion could change the result (:func:`_stake`), judged from their
    conclusions alone by the index: red-flag screens, a triage or running
    advice more urgent than the case's, evidence on a hypothesis in view. A
    rule whose conclusion could change nothing, whatever its conditions, is
    never analysed: statuses do not depend on the order or the set of rules
    analysed, so the questions are the same.
    """
    rules = index(kb)
    triage = inference.triage.value if inference.triage else TRIAGE_LEVELS[-1]
    running = inference.running.value if inference.running else RUNNING_ADVICE[-1]
    found = rules.concluding_bits(Kind.RED_FLAG) | rules.raising(Kind.TRIAGE, triage) \
        | rules.raising(Kind.RUNNING, running)
    for hypothesis, score in inference.scores.items():
        if score.certainty > 0:  # evidence against counts once a hypothesis has some for it
            found |= rules.concluding_bits(Kind.AGAINST, hypothesis) | rules.concluding_bits(Kind.SUPPORTS, hypothesis)
    for hypothesis, status in inference.exclusions.items():
        if status.value != "excluded":
            found |= rules.concluding_bits(Kind.SUPPORTS, hypothesis)
    return rules.of(found & ~analyzer.blocked_bits & ~analyzer.fired_bits)


def next_questions(kb: KnowledgeBase, inference: Inference, limit: int = MAX_QUESTIONS,
                   analyzer: Analyzer | None = None) -> list[Question]:
    analyzer = analyzer or Analyzer(kb, inference)
    vocabulary = kb.vocabulary
    # A finding unsafe to test in one form is unsafe in every form, and one
    # the case records in one form is not asked for again in another.
    avoid = set(inference.avoid)
    avoid.update(other for path in inference.avoid for other in vocabulary.same_finding(path))
    avoid.update(other for path in analyzer.findings for other in vocabulary.same_finding(path))
    # A follow-up to a finding it does not follow (what kind of night pain, after "no night pain").
    avoid.update(path for path in vocabulary.fields if not vocabulary.may_ask(path, analyzer.findings))
    scores: dict[str, float] = defaultdict(float)
    reasons: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    waits_on = analyzer.waits_on
    for rule in candidates(kb, inference, analyzer):
        waiting = waits_on(rule)
        if not waiting:  # most rules: a conclusion they need was not reached
            continue
        waits = waiting - avoid
        if not waits:
            continue
        stake, reason = _stake(kb, inference, rule, partial(analyzer.rule, rule))
        if stake <= 0:
            continue
        share = stake / len(waiting)
        for path in waits:
            scores[path] += share
            reasons[path][reason] += share
    # Knowledge about what is worth asking in this context (``ask`` rules).
    for path, justs in inference.asks.items():
        if path in avoid or analyzer.findings.get(path) is not None:
            continue
        for j in justs:
            asking = kb.rule(j.rule)
            if asking is not None:
                scores[path] += asking.conclusion.weight
                reasons[path][asking.conclusion.text] += asking.conclusion.weight
    order = vocabulary.position
    ranked = sorted(scores, key=lambda p: (-round(scores[p], 6), order.get(p, len(order))))
    # Who the runner is comes first while unknown: age and sex decide which conditions are in view.
    first = [path for path in vocabulary.fields if vocabulary.fields[path].ask_first
             and path not in avoid and analyzer.findings.get(path) is None]
    for path in first:
        reasons[path][FIRST_REASON] += 1.0
        scores[path] = max(scores[path], 1.0)
    ranked = first + [path for path in ranked if path not in first]
    in_view = frozenset({h for h, score in inference.scores.items() if score.certainty > 0}
                        | {h for h, choice in inference.exclusions.items() if choice.value != "excluded"})
    questions: list[Question] = []
    screens = 0
    for path in ranked:
        if len(questions) >= limit:
            break
        is_screen = max(reasons[path], key=lambda r: (reasons[path][r], r)).startswith(SCREEN_REASON)
        if is_screen:
            if screens >= MAX_SCREENS:
                continue
            screens += 1
        field = kb.vocabulary.fields[path]
        questions.append(Question(path, field.question, _why(reasons[path], kb, in_view), round(scores[path], 3)))
    return questions


def _why(reasons: dict[str, float], kb: KnowledgeBase, in_view: frozenset[str] = frozenset()) -> str:
    """Why a question is asked: its strongest reason, and the hypotheses it bears on.

    Only hypotheses in view are named (ranked, or an alarm hypothesis not excluded): "separates
    femoral_neck_bsi from pelvic_bsi" means nothing to a clinician when neither is in the differential.
    """
    actions = sorted((r for r in reasons if r not in kb.hypotheses), key=lambda r: (-reasons[r], r))
    hypotheses = sorted((r for r in reasons if r in kb.hypotheses and r in in_view), key=lambda r: (-reasons[r], r))
    parts = actions[:1]
    if not parts and not hypotheses:
        return "bears on the differential"
    if len(hypotheses) >= 2:
        parts.append(f"separates {hypotheses[0]} from {hypotheses[1]}")
    elif hypotheses:
        parts.append(f"bears on {hypotheses[0]}")
    return "; ".join(parts)
