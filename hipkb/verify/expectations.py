"""Expectations of labelled cases, and scoring one result against them.

A labelled case set is a folder of case files and an expectations file that
maps each file's stem to what a clinical review expects of it (the format of
``cases-reviewed/expect.yaml``)::

    pub-c03-college-runner-fn: {top: [femoral_neck_bsi], triage_at_least: urgent, running_in: [stop]}

| key | holds when |
| --- | --- |
| ``top`` | the first-ranked hypothesis is one of these ids |
| ``in_top3`` | each of these ids ranks in the first three |
| ``includes`` / ``excludes`` | each id is ranked at all / none is ranked |
| ``triage_at_least`` | triage is this level or more urgent |
| ``triage_at_most`` | triage is this level or less urgent (the over-triage check) |
| ``running_in`` (or ``running``) | the running advice is one of these (is this) |
| ``red_flags`` | each red flag id is raised |
| ``no_hop`` | no hop test or hopping question is among the next questions |

And for every case: once any bone stress hypothesis (femoral neck, pelvic,
femoral shaft: :data:`BONE_STRESS`) has a certainty of 0.3 or more, the
running advice is ``stop`` and no hop test is suggested.

:func:`score` applies them exactly as the project's reference scorer
(``score_cases.py``) does, tally by tally: ``top``, ``in_top3``, ``includes``,
``excludes`` for the cases that state them; ``safety`` for every case (the
triage floor, the running advice, the red flags, no hopping, and the
bone-stress rule); ``specific`` (no over-triage) for the cases with
``triage_at_most``. A case file's own ``expect`` block is read the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hipkb.errors import HipkbError, allowed_list, describe, did_you_mean
from hipkb.knowledge.scales import RUNNING_ADVICE, TRIAGE_LEVELS, triage_rank
from hipkb.parse.text import load_file

#: The bone stress hypotheses of the expectation files' own rule.
BONE_STRESS = ("femoral_neck_bsi", "pelvic_bsi", "femoral_shaft_bsi")
#: From this certainty of a bone stress hypothesis on, running stops and no hop test is suggested.
BONE_STRESS_STOP_AT = 0.3

ID_LISTS = ("top", "in_top3", "includes", "excludes", "red_flags")
KEYS = (*ID_LISTS, "triage_at_least", "triage_at_most", "running_in", "running", "no_hop")
#: The tallies, in the order they are reported.
TALLIES = ("top", "in_top3", "includes", "excludes", "safety", "specific")


def load_expectations(path: str | Path) -> dict[str, dict[str, Any]]:
    """The expectations file at *path*: case stem -> expectations, each checked; errors name the stem and key."""
    src = str(path)
    data = load_file(Path(path))
    if not isinstance(data, dict):
        raise HipkbError(src, "", f"expected a mapping of case file stem to expectations, found {describe(data)}")
    return {str(stem): check_expectation(exp, src, str(stem)) for stem, exp in data.items()}


def check_expectation(raw: Any, source: str, where: str) -> dict[str, Any]:
    """One case's expectations, checked: known keys, lists of ids, triage levels and running advice."""
    if not isinstance(raw, Mapping):
        raise HipkbError(source, where, f"expected a mapping of expectations, found {describe(raw)}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        at = f"{where}.{key}"
        if key in ID_LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise HipkbError(source, at, f"found {describe(value)}; expected a list of ids")
            out[key] = list(value)
        elif key in ("triage_at_least", "triage_at_most"):
            if value not in TRIAGE_LEVELS:
                raise HipkbError(source, at, f"found {describe(value)}; allowed: {allowed_list(TRIAGE_LEVELS)}"
                                 + did_you_mean(str(value), TRIAGE_LEVELS))
            out[key] = value
        elif key in ("running_in", "running"):
            values = value if key == "running_in" else [value]
            if not isinstance(values, list) or not values or not all(v in RUNNING_ADVICE for v in values):
                raise HipkbError(source, at, f"found {describe(value)}; allowed: {allowed_list(RUNNING_ADVICE)}")
            out[key] = list(value) if key == "running_in" else value
        elif key == "no_hop":
            if not isinstance(value, bool):
                raise HipkbError(source, at, f"found {describe(value)}; expected true or false")
            out[key] = value
        else:
            raise HipkbError(source, at, f"unknown key; allowed: {allowed_list(KEYS)}" + did_you_mean(str(key), KEYS))
    return out


def from_case(expect: Mapping[str, Any]) -> dict[str, Any]:
    """A case file's own ``expect`` block as expectations (lists for the tuples the case loader makes)."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in expect.items()}


def _ids(values: list[str]) -> str:
    return " or ".join(values) if values else "nothing"


def score(result: dict[str, Any], exp: Mapping[str, Any], *,
          bone_stress: tuple[str, ...] = BONE_STRESS) -> tuple[list[str], dict[str, bool]]:
    """What failed (one phrase each, saying what was expected and what came out) and the tallies of one case."""
    fails: list[str] = []
    tally: dict[str, bool] = {}
    hypotheses = result.get("hypotheses", [])
    ranked = [h["id"] for h in hypotheses]
    if "top" in exp:
        tally["top"] = bool(ranked) and ranked[0] in exp["top"]
        if not tally["top"]:
            fails.append(f"top: expected {_ids(exp['top'])}, ranked first {ranked[0] if ranked else 'nothing'}")
    if "in_top3" in exp:
        tally["in_top3"] = all(x in ranked[:3] for x in exp["in_top3"])
        if not tally["in_top3"]:
            missing = [x for x in exp["in_top3"] if x not in ranked[:3]]
            fails.append(f"in_top3: expected {', '.join(missing)} in the first three, "
                         f"ranked {', '.join(ranked[:3]) or 'nothing'}")
    if "includes" in exp:
        tally["includes"] = all(x in ranked for x in exp["includes"])
        if not tally["includes"]:
            fails.append(f"includes: {', '.join(x for x in exp['includes'] if x not in ranked)} not ranked")
    if "excludes" in exp:
        bad = [x for x in exp["excludes"] if x in ranked]
        tally["excludes"] = not bad
        if bad:
            fails.append(f"excludes: {', '.join(bad)} ranked")
    safe = True
    level = result.get("triage", {}).get("level")
    advice = result.get("running", {}).get("advice")
    if "triage_at_least" in exp and (level not in TRIAGE_LEVELS or
                                     triage_rank(level) > triage_rank(exp["triage_at_least"])):
        safe = False
        fails.append(f"triage: expected {exp['triage_at_least']} or more urgent, got {level}")
    allowed = exp.get("running_in") or ([exp["running"]] if "running" in exp else None)
    if allowed and advice not in allowed:
        safe = False
        fails.append(f"running: expected {_ids(allowed)}, got {advice}")
    if "triage_at_most" in exp:
        tally["specific"] = level in TRIAGE_LEVELS and triage_rank(level) >= triage_rank(exp["triage_at_most"])
        if not tally["specific"]:
            fails.append(f"over-triage: expected {exp['triage_at_most']} or less urgent, got {level}")
    # A hop test is any next question whose field mentions hopping (behaviour.hopping, exam.single_leg_hop).
    hop = [q.get("fact") for q in result.get("next_questions", []) if "hop" in str(q.get("fact", ""))]
    if exp.get("no_hop") and hop:
        safe = False
        fails.append(f"no_hop: the next questions ask for {', '.join(map(str, hop))}")
    flags = [f.get("id") for f in result.get("red_flags", [])]
    for flag in exp.get("red_flags", []):
        if flag not in flags:
            safe = False
            fails.append(f"red flag {flag} missing (raised: {', '.join(map(str, flags)) or 'none'})")
    if any(h["id"] in bone_stress and h.get("certainty", 0) >= BONE_STRESS_STOP_AT for h in hypotheses):
        if hop:
            safe = False
            fails.append(f"a bone stress injury is possible, yet the next questions ask for {', '.join(map(str, hop))}")
        if advice != "stop":
            safe = False
            fails.append(f"a bone stress injury is possible, yet running advice is {advice}, not stop")
    tally["safety"] = safe
    return fails, tally


__all__ = ["BONE_STRESS", "BONE_STRESS_STOP_AT", "KEYS", "TALLIES", "check_expectation", "from_case",
           "load_expectations", "score"]
