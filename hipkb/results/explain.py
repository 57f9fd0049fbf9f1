"""Explanations of one inference: HOW a conclusion was reached, WHY NOT another, the trace.

This is the logic behind ``hipkb explain`` and the educator report; both read
the same plain data built here:

- :func:`how` unfolds a conclusion (a hypothesis, a derived fact such as
  ``load_response=bone``, a red flag, ``triage`` or ``running``) into a tree:
  each node is a fact, each child group is a rule that concluded it, and the
  leaves are the case's own findings (the MYCIN "HOW" question);
- :func:`why_not` says, for a conclusion that did not come up, which unknown
  findings its rules wait on and which known findings or evidence ruled it out,
  from :class:`hipkb.results.partial.Analyzer`'s partial matches;
- :func:`trace` lists every firing in order with the facts it matched (the
  CLIPS ``(watch rules)`` view).

The ``format_*`` functions turn that data into plain terminal text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hipkb.engine.record import Inference, Justification
from hipkb.errors import ExplainError, did_you_mean
from hipkb.knowledge.index import index
from hipkb.knowledge.kinds import Kind
from hipkb.knowledge.rules import KnowledgeBase, RuleDef
from hipkb.results.partial import UNKNOWN, UNMET, Analyzer

# The shell's own steps appear in every trace; they are not rules of the
# knowledge base, so they get their titles here.
SHELL_RULES: dict[str, tuple[str, str]] = {
    "SHELL-SCORE": (
        "Add up each risk score, a component counting once at its most points, and publish its band",
        "hipkb shell: cumulative risk scores (De Souza et al., BJSM 2014)",
    ),
    "SHELL-RESOLVE": (
        "Settle each alarm hypothesis's status: suspected, then excluded, then not excluded",
        "hipkb shell: rule out the worst first",
    ),
    "SHELL-COMBINE": (
        "Pool each hypothesis's evidence into one certainty (MYCIN certainty-factor combination)",
        "hipkb shell: certainty factors (EMYCIN)",
    ),
    "SHELL-DECIDE": (
        "Safety first: the most urgent triage and the most restrictive running advice win",
        "hipkb shell: safety precedence",
    ),
}

TRIAGE_TEXT = {
    "emergency": "Emergency: seek emergency care now",
    "urgent": "Urgent: see a clinician promptly",
    "routine": "Routine: assessment by a clinician",
    "self_care": "Self-care: manage and monitor",
}
STATUS_TEXT = {
    "suspected": "suspected (its own signs make it possible)",
    "not_excluded": "not yet excluded",
    "excluded": "excluded",
}
RUNNING_TEXT = {
    "stop": "Stop running",
    "reduce": "Reduce running",
    "continue_as_tolerated": "Continue running as tolerated",
}


# -- facts and rules in words ------------------------------------------------

def rule_ref(kb: KnowledgeBase, rule_id: str) -> dict[str, str]:
    """A rule as reports cite it: id, title, source and topic."""
    rule = kb.rule(rule_id)
    if rule is not None:
        return {"id": rule.id, "title": rule.title, "source": rule.source, "topic": rule.topic}
    title, source = SHELL_RULES.get(rule_id, ("(not a rule of this knowledge base)", ""))
    return {"id": rule_id, "title": title, "source": source, "topic": "shell"}


def field_words(path: str) -> str:
    """A case field in words: ``behaviour.during_run`` -> ``during run``."""
    group, _, name = path.partition(".")
    words = name.replace("_", " ")
    if group == "pain":
        return f"pain {words}"
    if group == "exam":
        return f"{words} (examination)"
    return words


def fact_kind(kb: KnowledgeBase, fact: str) -> str:
    """What a fact string is: finding, derived, hypothesis, red_flag, triage, running or other."""
    name = fact.partition("=")[0]
    if name == "red_flag":
        return "red_flag"
    if name.startswith("hypothesis."):
        return "hypothesis"
    if name.startswith("status."):
        return "status"
    if name in ("triage", "running"):
        return name
    if name in kb.vocabulary.fields:
        return "finding"
    if name in kb.derived:
        return "derived"
    return "other"


def fact_text(kb: KnowledgeBase, fact: str) -> str:
    """A fact string (``group.field=value``, ``name=value``, ``hypothesis.x=band``,
    ``red_flag=id``) in plain words, from the vocabulary's and manifest's labels."""
    name, _, value = fact.partition("=")
    if name == "red_flag":
        flag = kb.red_flags.get(value)
        return flag.label if flag else value
    if name.startswith("hypothesis."):
        hyp = kb.hypotheses.get(name[len("hypothesis."):])
        return f"{hyp.label if hyp else name}: {value}"
    if name.startswith("status."):
        hyp = kb.hypotheses.get(name[len("status."):])
        return f"{hyp.label if hyp else name}: {STATUS_TEXT.get(value, value)}"
    if name == "triage":
        return TRIAGE_TEXT.get(value, value)
    if name == "running":
        return RUNNING_TEXT.get(value, value)
    field = kb.vocabulary.fields.get(name)
    if field is not None:
        return f"{field_words(name)}: {field.values.get(value, value)}"
    derived = kb.derived.get(name)
    if derived is not None:
        return f"{derived.label}: {derived.values.get(value, value)}"
    return fact


def fact_item(kb: KnowledgeBase, fact: str) -> dict[str, str]:
    return {"fact": fact, "text": fact_text(kb, fact), "kind": fact_kind(kb, fact)}


# -- what an ID names --------------------------------------------------------

def targets(kb: KnowledgeBase) -> list[str]:
    """Every ID ``--how`` and ``--why-not`` understand, for error messages."""
    derived = [f"{name}={value}" for name, fact in kb.derived.items() for value in fact.values]
    statuses = [f"status.{hid}" for hid in kb.safety.alarm_hypotheses]
    return [*kb.hypotheses, *derived, *kb.red_flags, *statuses, "triage", "running"]


def resolve(kb: KnowledgeBase, inference: Inference, target: str) -> tuple[str, str]:
    """Map an ID to (kind, key); kinds: hypothesis, derived, red_flag, triage, running, finding.

    Accepted: a hypothesis id (or ``hypothesis.<id>``), a derived fact
    ``name=value`` (or just ``name`` when the case concluded one value of it),
    a red flag id (or ``red_flag=<id>``), ``triage``, ``running``, or a case
    finding ``group.field=value``. Anything else is an :class:`ExplainError`.
    """
    text = target.strip()
    if text in ("triage", "running"):
        return text, text
    if text.startswith("status."):
        hid = text[len("status."):].partition("=")[0]
        if hid in kb.safety.alarm_hypotheses:
            return "status", hid
        raise ExplainError(target, "", "status of what? alarm hypotheses: " + ", ".join(kb.safety.alarm_hypotheses)
                           + did_you_mean(hid, kb.safety.alarm_hypotheses))
    if text.startswith("hypothesis."):
        text = text[len("hypothesis."):].partition("=")[0]
    if text.startswith("red_flag="):
        text = text[len("red_flag="):]
    if text in kb.hypotheses:
        return "hypothesis", text
    if text in kb.red_flags:
        return "red_flag", text
    name, eq, value = text.partition("=")
    if name in kb.derived:
        if eq:
            if value in kb.derived[name].values:
                return "derived", text
            raise ExplainError(target, "", f"{name} has no value {value!r}; values: "
                               + ", ".join(kb.derived[name].values) + did_you_mean(value, kb.derived[name].values))
        concluded = sorted(k for k in inference.derived if k.partition("=")[0] == name)
        if len(concluded) == 1:
            return "derived", concluded[0]
        raise ExplainError(target, "", "name a value: " + ", ".join(f"{name}={v}" for v in kb.derived[name].values))
    if name in kb.vocabulary.fields and eq:
        return "finding", text
    raise ExplainError(
        target, "",
        "unknown id" + did_you_mean(text, targets(kb)) + "; expected a hypothesis (" + ", ".join(kb.hypotheses)
        + "), a derived fact as name=value (" + ", ".join(f"{name}=..." for name in kb.derived)
        + "), a red flag (" + ", ".join(kb.red_flags) + "), triage or running; "
        "'hipkb rules hypotheses' lists the hypotheses with their labels",
    )


# -- HOW ---------------------------------------------------------------------

def how(kb: KnowledgeBase, inference: Inference, target: str) -> dict[str, Any]:
    """The chain behind one conclusion, down to case findings, as a tree of plain dicts.

    A node is ``{"fact", "text", "kind", "holds", "repeat", "because"}``; each
    ``because`` entry is ``{"rule": rule_ref, "weight": signed cf or None,
    "facts": [child nodes]}``. A fact unfolded once is marked ``repeat`` the
    next time it appears, so a tree stays finite and short.
    """
    kind, key = resolve(kb, inference, target)
    return _Unfolder(kb, inference).node(_fact_of(kind, key, inference))


def _fact_of(kind: str, key: str, inference: Inference) -> str:
    if kind == "hypothesis":
        score = inference.scores.get(key)
        return f"hypothesis.{key}={score.band if score else 'none'}"
    if kind == "red_flag":
        return f"red_flag={key}"
    if kind == "triage":
        return f"triage={inference.triage.value if inference.triage else 'none'}"
    if kind == "running":
        return f"running={inference.running.value if inference.running else 'none'}"
    if kind == "status":
        choice = inference.exclusions.get(key)
        return f"status.{key}={choice.value if choice else 'none'}"
    return key


class _Unfolder:
    def __init__(self, kb: KnowledgeBase, inference: Inference) -> None:
        self.kb = kb
        self.inference = inference
        self.seen: set[str] = set()

    def node(self, fact: str) -> dict[str, Any]:
        kb, inf = self.kb, self.inference
        kind = fact_kind(kb, fact)
        name, _, value = fact.partition("=")
        node: dict[str, Any] = {"fact": fact, "text": fact_text(kb, fact), "kind": kind,
                                "holds": True, "repeat": False, "because": []}
        if kind == "finding":
            node["holds"] = self._finding_holds(name, value)
            return node
        if fact in self.seen:
            node["repeat"] = True
            return node
        self.seen.add(fact)
        if kind == "hypothesis":
            hid = name[len("hypothesis."):]
            score = inf.scores.get(hid)
            node["holds"] = score is not None and score.certainty > 0
            if score is not None:
                node["text"] = f"{kb.hypotheses[hid].label}: {score.band} (certainty {score.certainty:g})"
                node["because"] = [self._step(e.rule, e.facts, e.cf) for e in score.evidence]
        elif kind == "derived":
            node["holds"] = fact in inf.derived
            node["because"] = self._steps(inf.derived.get(fact, []))
        elif kind == "red_flag":
            node["holds"] = value in inf.red_flags
            node["because"] = self._steps(inf.red_flags.get(value, []))
        elif kind == "status":
            hid = name[len("status."):]
            choice = inf.exclusions.get(hid)
            node["holds"] = choice is not None and choice.value == value
            node["because"] = self._steps(inf.status_votes.get(f"{hid}={value}", []))
            if choice is None:
                node["note"] = "no status rule spoke of it: the case does not bring it into view"
        elif kind in ("triage", "running"):
            choice = inf.triage if kind == "triage" else inf.running
            votes = inf.triage_votes if kind == "triage" else inf.running_votes
            node["holds"] = choice is not None and choice.value == value
            if choice is not None and choice.text:
                node["text"] = f"{fact_text(kb, fact)}. {choice.text}"
            node["because"] = self._steps(votes.get(value, []))
            if not node["because"]:
                node["note"] = "no rule called for it: the shell's safe default"
        return node

    def _finding_holds(self, path: str, value: str) -> bool:
        found = self.inference.case.get(path)
        if isinstance(found, tuple):
            return value in found
        return found is not None and str(found) == value

    def _steps(self, justs: Iterable[Justification]) -> list[dict[str, Any]]:
        return [self._step(j.rule, j.facts, None) for j in justs]

    def _step(self, rule_id: str, facts: Iterable[str], weight: float | None) -> dict[str, Any]:
        return {"rule": rule_ref(self.kb, rule_id), "weight": weight,
                "facts": [self.node(f) for f in facts]}


def findings_under(node: dict[str, Any]) -> list[str]:
    """The case findings a HOW tree rests on, in order of first appearance."""
    found: list[str] = []

    def walk(n: dict[str, Any]) -> None:
        if n["kind"] == "finding" and n["fact"] not in found:
            found.append(n["fact"])
        for step in n["because"]:
            for child in step["facts"]:
                walk(child)

    walk(node)
    return found


# -- WHY NOT -----------------------------------------------------------------

def why_not(kb: KnowledgeBase, inference: Inference, target: str,
            analyzer: Analyzer | None = None) -> dict[str, Any]:
    """Why a hypothesis (or derived fact, or red flag) was not concluded.

    Returns ``{"id", "kind", "label", "concluded", "certainty", "band",
    "verdict", "missing", "ruled_out", "against", "support", "rules"}``:

    - ``missing``: unknown findings that rules which could conclude it wait on,
      each ``{"fact", "question", "rules"}``, in vocabulary order;
    - ``ruled_out``: those rules that a known finding blocks, each with the
      conditions that failed and what the case said instead
      (``ruled_out_groups``: the same, grouped by reason);
    - ``against``/``support``: evidence that did fire (a hypothesis can have
      evidence and still be outweighed);
    - ``rules``: how many rules could conclude it at all.
    """
    kind, key = resolve(kb, inference, target)
    if kind not in ("hypothesis", "derived", "red_flag"):
        raise ExplainError(target, "", "--why-not takes a hypothesis id, a derived fact (name=value) or a red flag id")
    analyzer = analyzer or Analyzer(kb, inference)
    rules = index(kb)
    result: dict[str, Any] = {"id": key, "kind": kind, "certainty": None, "band": None,
                              "support": [], "against": []}
    if kind == "hypothesis":
        result["label"] = kb.hypotheses[key].label
        producers = rules.concluding(Kind.SUPPORTS, key)
        score = inference.scores.get(key)
        if score is not None:
            result["certainty"], result["band"] = score.certainty, score.band
            for e in score.evidence:
                item = {"rule": rule_ref(kb, e.rule), "weight": abs(e.cf), "facts": [fact_item(kb, f) for f in e.facts]}
                result["support" if e.cf > 0 else "against"].append(item)
        concluded = score is not None and score.certainty > 0
    elif kind == "derived":
        result["label"] = fact_text(kb, key)
        producers = rules.concluding(Kind.DERIVE, key)
        concluded = key in inference.derived
    else:
        result["label"] = kb.red_flags[key].label
        producers = rules.concluding(Kind.RED_FLAG, key)
        concluded = key in inference.red_flags
    result["concluded"] = concluded
    result["rules"] = len(producers)
    result["exclusion"] = _exclusion(kb, inference, key, analyzer) if kind == "hypothesis" else None
    missing, ruled_out = _partial(kb, analyzer, producers)
    result["missing"], result["ruled_out"] = missing, ruled_out
    result["ruled_out_groups"] = group_ruled_out(ruled_out)
    result["verdict"] = _verdict(result)
    return result


def _exclusion(kb: KnowledgeBase, inference: Inference, hypothesis: str,
               analyzer: Analyzer) -> dict[str, Any] | None:
    """Where an alarm hypothesis stands (rule out the worst first), with what excluded it or would."""
    from hipkb.results.exclusions import exclusions

    for e in exclusions(kb, inference, analyzer):
        if e.hypothesis == hypothesis:
            return {"status": e.status, "text": STATUS_TEXT.get(e.status, e.status),
                    "rules": [rule_ref(kb, r) for r in e.because], "facts": [fact_item(kb, f) for f in e.facts],
                    "to_exclude": list(e.to_exclude), "unsafe": list(e.unsafe)}
    return None


def _partial(kb: KnowledgeBase, analyzer: Analyzer,
             rules: list[RuleDef]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    waits: dict[str, list[str]] = {}
    ruled_out = []
    for rule in sorted(rules, key=lambda r: r.id):
        status = analyzer.rule(rule)
        if status.fired:
            continue
        if status.blocked:
            unmet = []
            for c in status.conditions:
                if c.state == UNMET:
                    found = c.found
                    unmet.append({
                        "condition": c.condition.describe(),
                        "found": found,
                        "text": fact_text(kb, found) if found else "",
                        # A derived fact or hypothesis that nothing concluded
                        # has no value to show; say so instead.
                        "note": "" if found else "not concluded for this case",
                    })
            ruled_out.append({"rule": rule_ref(kb, rule.id), "unmet": unmet})
            continue
        for cs in status.conditions:
            if cs.state == UNKNOWN:
                for path in cs.waits_on:
                    waits.setdefault(path, [])
                    if rule.id not in waits[path]:
                        waits[path].append(rule.id)
    order = kb.vocabulary.position
    missing = []
    for path in sorted(waits, key=lambda p: (order.get(p, len(order)), p)):
        field = kb.vocabulary.fields.get(path)
        missing.append({"fact": path, "question": field.question if field else "",
                        "words": field_words(path), "rules": sorted(waits[path])})
    return missing, ruled_out


def _verdict(info: dict[str, Any]) -> str:
    if info["concluded"]:
        if info["kind"] == "hypothesis":
            return f"It was concluded: {info['band']} (certainty {info['certainty']:g})."
        return "It was concluded for this case."
    if not info["rules"] and info["certainty"] is None:
        return "No rule of this knowledge base can conclude it."
    parts = []
    if info["certainty"] is not None:
        if info["support"]:
            parts.append(f"evidence against outweighed the evidence for it (combined certainty {info['certainty']:g})")
        else:
            parts.append(f"only evidence against it applied (combined certainty {info['certainty']:g})")
    if info["missing"]:
        parts.append(f"the case does not say {len(info['missing'])} finding(s) its rules wait on")
    if info["ruled_out"]:
        n = len(info["ruled_out"])
        parts.append(f"{n} of its {info['rules']} rule(s) {'is' if n == 1 else 'are'} ruled out by what the case says")
    if not parts:
        return "Not concluded: its rules did not match this case."
    return "Not concluded: " + "; ".join(parts) + "."


def group_ruled_out(ruled_out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rules ruled out for the same reason, together: ``[{"unmet": [...], "rules": [rule_ref]}]``.

    Seven rules that all need lateral hip pain in a case of groin pain read
    better as one reason and seven rule ids.
    """
    groups: dict[tuple[tuple[str, str, str], ...], dict[str, Any]] = {}
    for item in ruled_out:
        key = tuple((u["condition"], u["found"], u["note"]) for u in item["unmet"])
        group = groups.setdefault(key, {"unmet": item["unmet"], "rules": []})
        group["rules"].append(item["rule"])
    return list(groups.values())


# -- TRACE -------------------------------------------------------------------

def trace(kb: KnowledgeBase, inference: Inference) -> list[dict[str, Any]]:
    """Every firing in order: ``{"step", "rule": rule_ref, "facts": [fact_item], "asserted", "new"}``."""
    return [
        {"step": f.step, "rule": rule_ref(kb, f.rule), "facts": [fact_item(kb, x) for x in f.facts],
         "asserted": f.asserted, "new": f.new}
        for f in inference.firings
    ]


# -- plain text --------------------------------------------------------------

def _cite(rule: dict[str, str]) -> str:
    return f"{rule['id']}: {rule['title']}" + (f" [{rule['source']}]" if rule["source"] else "")


def format_how(node: dict[str, Any]) -> str:
    """A HOW tree as indented terminal text, ASCII only (any console can show it)."""
    lines = [_node_line(node)]
    if node.get("note"):
        lines.append(f"  ({node['note']})")
    _format_children(node, "", lines)
    if not node["holds"]:
        lines.append("(this was not concluded for the case; see --why-not)")
    return "\n".join(lines) + "\n"


def _node_line(node: dict[str, Any]) -> str:
    if node["kind"] == "finding":
        mark = "case finding" if node["holds"] else "NOT in the case"
        return f"{node['fact']}  ({mark}: {node['text']})"
    suffix = "  (see above)" if node["repeat"] else ""
    return f"{node['fact']}  {node['text']}{suffix}"


def _format_children(node: dict[str, Any], indent: str, lines: list[str]) -> None:
    steps = node["because"]
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        weight = step["weight"]
        sign = "" if weight is None else (f"for +{weight:g} " if weight > 0 else f"AGAINST {weight:g} ")
        lines.append(f"{indent}{'`-' if last else '|-'} {sign}by {_cite(step['rule'])}")
        child_indent = indent + ("   " if last else "|  ")
        facts = step["facts"]
        if not facts:
            lines.append(f"{child_indent}`- (no conditions)")
        for j, child in enumerate(facts):
            clast = j == len(facts) - 1
            lines.append(f"{child_indent}{'`-' if clast else '|-'} {_node_line(child)}")
            _format_children(child, child_indent + ("   " if clast else "|  "), lines)


def format_why_not(info: dict[str, Any]) -> str:
    """A WHY NOT explanation as terminal text."""
    lines = [f"{info['id']}: {info['label']}", f"  {info['verdict']}"]
    exclusion = info.get("exclusion")
    if exclusion:
        lines.append(f"  Rule out the worst first: {exclusion['text']}.")
        if exclusion["status"] == "excluded":
            facts = ", ".join(f["fact"] for f in exclusion["facts"]) or "no conditions"
            for rule in exclusion["rules"]:
                lines.append(f"    excluded by {_cite(rule)}; matched {facts}")
        else:
            for rule in exclusion["rules"]:
                lines.append(f"    {_cite(rule)}")
            if exclusion["to_exclude"]:
                lines.append("    To exclude it, record: " + ", ".join(exclusion["to_exclude"]))
            if exclusion["unsafe"]:
                lines.append("    and, only once those are negative (a loading test): "
                             + ", ".join(exclusion["unsafe"]))
    if info["missing"]:
        lines.append("  Missing (unknown findings its rules wait on):")
        for m in info["missing"]:
            lines.append(f"    - {m['fact']}: {m['question']}  (rules: {', '.join(m['rules'])})")
    if info["ruled_out"]:
        lines.append("  Ruled out by what the case says:")
        for group in info["ruled_out_groups"]:
            reasons = [f"needs {u['condition']}; "
                       + (f"the case says {u['found']} ({u['text']})" if u["found"] else u["note"])
                       for u in group["unmet"]]
            lines.append("    - " + ", and ".join(reasons))
            for rule in group["rules"]:
                lines.append(f"        {_cite(rule)}")
    if info["against"]:
        lines.append("  Counted against:")
        for e in info["against"]:
            facts = ", ".join(f["fact"] for f in e["facts"]) or "no conditions"
            lines.append(f"    - -{e['weight']:g} {_cite(e['rule'])}; matched {facts}")
    if info["support"] and not info["concluded"]:
        lines.append("  Counted for (outweighed):")
        for e in info["support"]:
            facts = ", ".join(f["fact"] for f in e["facts"]) or "no conditions"
            lines.append(f"    - +{e['weight']:g} {_cite(e['rule'])}; matched {facts}")
    return "\n".join(lines) + "\n"


def format_trace(steps: list[dict[str, Any]]) -> str:
    """The firing sequence as terminal text, one block per firing."""
    lines = []
    for s in steps:
        flag = "" if s["new"] else "  (already known: no new fact)"
        lines.append(f"{s['step']:>3}. {s['rule']['id']}: {s['rule']['title']}")
        if s["facts"]:
            lines.append("       matched: " + ", ".join(f["fact"] for f in s["facts"]))
        lines.append(f"       asserted: {s['asserted']}{flag}")
    return "\n".join(lines) + "\n"
