"""Plain clinical words for what the engine says in ids: the language of a report outside its appendix.

A clinician reads "groin", "continue running as tolerated" and "femoral neck
bone stress injury", not ``pain.regions=groin``, ``continue_as_tolerated``
and ``femoral_neck_bsi``. Every word comes from the knowledge base's own
labels (``facts/vocabulary.yaml``, ``rules/kb.yaml``); nothing here knows a
hypothesis or a finding by name, so another knowledge base gets its own
words. The JSON result keeps its ids; only reports translate them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from hipkb.knowledge.rules import KnowledgeBase
from hipkb.results import explain as ex

LEVEL_WORDS = {"emergency": "Emergency", "urgent": "Urgent", "routine": "Routine", "self_care": "Self-care"}
ADVICE_WORDS = {"stop": "Stop running", "reduce": "Reduce running",
                "continue_as_tolerated": "Continue running as tolerated"}
_PAREN = re.compile(r"\s*\([^()]*\)")
# An id or a field path in free text: femoral_neck_bsi, exam.single_leg_hop, pain.regions=groin.
_TOKEN = re.compile(r"(?<![\w.])([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?)(?:=([a-z0-9_]+))?(?![\w])")


def short_label(label: str) -> str:
    """A label without its bracketed detail, lower case unless it starts with an acronym.

    ``Femoral neck bone stress injury (stress reaction or fracture)`` ->
    ``femoral neck bone stress injury``.
    """
    text = " ".join(_PAREN.sub("", label).split()) or label
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        text = text[0].lower() + text[1:]
    return text


def brief(text: str) -> str:
    """*text* without its bracketed detail: ``Has an MRI graded a bone stress injury (0 none, ...)?`` ->
    ``Has an MRI graded a bone stress injury?``; a label keeps its capital."""
    return " ".join(_PAREN.sub("", text).split()) or text


def sentence(text: str) -> str:
    """*text* with a capital first letter."""
    return text[:1].upper() + text[1:]


def level_words(level: str) -> str:
    return LEVEL_WORDS.get(level, level.replace("_", " ").capitalize())


def advice_words(advice: str) -> str:
    return ADVICE_WORDS.get(advice, advice.replace("_", " ").capitalize())


@lru_cache(maxsize=8192)  # facts repeat from case to case; the words of one never change
def finding_words(kb: KnowledgeBase, fact: str) -> str:
    """A finding or pattern, as short as a clinician would note it.

    A case finding is its field in words and its value's meaning
    (``hopping: painful``; a region alone: ``groin``); a derived fact is its
    value's meaning when that says something (``pain on single-leg
    hopping``), else its label (``Raised risk of bone stress injury``).
    """
    name, _, value = fact.partition("=")
    field = kb.vocabulary.fields.get(name)
    if field is not None:
        meaning = field.values.get(value, value.replace("_", " "))
        if field.type == "set" and name.endswith("regions"):
            return meaning
        return f"{ex.field_words(name)}: {meaning}"
    derived = kb.derived.get(name)
    if derived is not None:
        meaning = derived.values.get(value, value)
        if meaning.replace("_", " ") in (value.replace("_", " "), "present", "raised", "yes"):
            return short_label(derived.label)
        return meaning
    return ex.fact_text(kb, fact)


@lru_cache(maxsize=8)
def _vocabulary_words(kb: KnowledgeBase) -> dict[str, str]:
    words: dict[str, str] = {}
    for hid, hyp in kb.hypotheses.items():
        words[hid] = short_label(hyp.label)
    for fid, flag in kb.red_flags.items():
        words[fid] = short_label(flag.label)
    for rid, referral in kb.referrals.items():
        words[rid] = short_label(referral.label)
    for path in kb.vocabulary.fields:
        words[path] = ex.field_words(path)
    for name, derived in kb.derived.items():
        words[name] = short_label(derived.label)
    words.update({k: v.lower() for k, v in (*LEVEL_WORDS.items(), *ADVICE_WORDS.items())})
    return words


@lru_cache(maxsize=8192)
def plain(kb: KnowledgeBase, text: str) -> str:
    """Free text with every id or field path of the knowledge base in its words.

    ``separates femoral_neck_bsi from pelvic_bsi`` -> ``separates femoral
    neck bone stress injury from pelvic bone stress injury``;
    ``pain.regions=groin`` -> ``groin``. Other words are left alone.
    """
    words = _vocabulary_words(kb)

    def swap(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        if value is not None and (name in kb.vocabulary.fields or name in kb.derived):
            return finding_words(kb, f"{name}={value}")
        if "_" not in name and "." not in name:
            return match.group(0)  # a plain word, whatever it also names
        found = words.get(name)
        return match.group(0) if found is None else found + (f"={value}" if value is not None else "")

    return _TOKEN.sub(swap, text)


def why_line(kb: KnowledgeBase, hypothesis: dict[str, Any], limit: int = 4) -> dict[str, str]:
    """One line of why for a ranked hypothesis: the findings for it, strongest first, and against it.

    Returns ``{"for", "against"}``: findings in words, joined by ``; ``,
    each said once, at most *limit* for and two against.
    """
    def collect(items: list[dict[str, Any]], most: int) -> str:
        said: list[str] = []
        for item in sorted(items, key=lambda e: -e["weight"]):
            for fact in item["facts"]:
                words = finding_words(kb, fact)
                if words not in said:
                    said.append(words)
        extra = len(said) - most
        return "; ".join(said[:most]) + (f"; and {extra} more" if extra > 0 else "")

    return {"for": collect(hypothesis["support"], limit), "against": collect(hypothesis["against"], 2)}
