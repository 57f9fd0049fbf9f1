"""What a student reads: the knowledge base's own words for its ids and field paths.

A student reads "walking: painful" and "femoral neck bone stress injury",
never ``behaviour.walking=painful`` or ``femoral_neck_bsi``. Every word comes
from the vocabulary's and the manifest's labels, so another knowledge base
gets its own.
"""

from __future__ import annotations

import re

from hipkb.knowledge.conditions import Condition
from hipkb.knowledge.kinds import Subject
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.results import explain as ex

_PAREN = re.compile(r"\s*\([^()]*\)")
LEVEL_WORDS = {"emergency": "emergency", "urgent": "urgent", "routine": "routine", "self_care": "self-care"}
ADVICE_WORDS = {"stop": "stop running", "reduce": "reduce running",
                "continue_as_tolerated": "continue running as tolerated"}
STATUS_WORDS = {"suspected": "suspected", "not_excluded": "not yet excluded", "excluded": "excluded"}


def short_label(label: str) -> str:
    """A label without its bracketed detail, lower case unless it starts with an acronym."""
    text = " ".join(_PAREN.sub("", label).split()) or label
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        text = text[0].lower() + text[1:]
    return text


def hypothesis(kb: KnowledgeBase, hid: str) -> str:
    found = kb.hypotheses.get(hid)
    return short_label(found.label) if found else hid.replace("_", " ")


def red_flag(kb: KnowledgeBase, fid: str) -> str:
    found = kb.red_flags.get(fid)
    return found.label if found else fid.replace("_", " ")


def level(value: str) -> str:
    return LEVEL_WORDS.get(value, value.replace("_", " "))


def advice(value: str) -> str:
    return ADVICE_WORDS.get(value, value.replace("_", " "))


def status(value: str) -> str:
    return STATUS_WORDS.get(value, value.replace("_", " "))


def question(kb: KnowledgeBase, path: str) -> str:
    """The question that asks for finding *path*, as the vocabulary words it."""
    spec = kb.vocabulary.fields.get(path)
    return (spec.question or ex.field_words(path)) if spec else ex.field_words(path)


def finding(kb: KnowledgeBase, fact: str) -> str:
    """A finding or pattern as a clinician would note it: ``walking: painful``; a region alone: ``groin``."""
    name, _, value = fact.partition("=")
    spec = kb.vocabulary.fields.get(name)
    if spec is not None:
        meaning = spec.values.get(value, value.replace("_", " "))
        if spec.type == "set" and name.endswith("regions"):
            return f"pain in the {meaning}" if name == "pain.regions" else meaning
        return f"{ex.field_words(name)}: {meaning}"
    derived = kb.derived.get(name)
    if derived is not None:
        meaning = derived.values.get(value, value)
        if meaning.replace("_", " ") in (value.replace("_", " "), "present", "yes"):
            return short_label(derived.label)
        return f"{short_label(derived.label)}: {meaning}"
    if name.startswith("hypothesis."):
        return f"{hypothesis(kb, name.partition('.')[2])} {value}"
    if name.startswith("status."):
        return f"{hypothesis(kb, name.partition('.')[2])} {status(value)}"
    if name == "red_flag":
        return red_flag(kb, value)
    return ex.fact_text(kb, fact)


def condition(kb: KnowledgeBase, cond: Condition) -> str:
    """What a rule's condition needs, in words: ``pain regions: outer (lateral) hip``."""
    key = cond.key
    values = [str(v) for v in cond.values]
    if cond.kind is Subject.RED_FLAG:
        return " or ".join(red_flag(kb, v) for v in values) if values else "any red flag"
    if cond.kind is Subject.HYPOTHESIS:
        return f"{hypothesis(kb, cond.subject)} at least {values[0] if values else 'possible'}"
    if cond.kind is Subject.STATUS:
        return f"{hypothesis(kb, cond.subject)} {' or '.join(status(v) for v in values)}"
    spec = kb.vocabulary.fields.get(key)
    derived = kb.derived.get(key)
    if spec is not None:
        name, meanings = ex.field_words(key), [spec.values.get(v, v.replace("_", " ")) for v in values]
    elif derived is not None:
        name, meanings = short_label(derived.label), [derived.values.get(v, v) for v in values]
    else:
        name, meanings = key.replace("_", " "), values
    if cond.op == "range":
        low, high = cond.values
        if low is not None and high is not None:
            return f"{name} from {low:g} to {high:g}"
        return f"{name} at least {low:g}" if low is not None else f"{name} at most {high:g}"
    joined = " or ".join(meanings)
    if cond.op == "not_in":
        return f"{name}: known, and not {joined}"
    if cond.op == "none":
        return f"{name}: known, and none of {', '.join(meanings)}"
    if cond.op == "unless":
        return f"{name}: not known to be {joined}"
    if cond.op == "all":
        return f"{name}: {' and '.join(meanings)}"
    return f"{name}: {joined}"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


__all__ = ["advice", "condition", "finding", "hypothesis", "level", "ordinal", "question", "red_flag",
           "short_label", "status"]
