"""The case form as FHIR names it: hipkb's code system, the questionnaire's identity, the type of each item.

The FHIR ``Questionnaire`` hipkb writes (:mod:`hipkb.fhir.questionnaire`)
and the ``QuestionnaireResponse`` it reads back (:mod:`hipkb.load.response`)
are two sides of one form, generated from the vocabulary: they agree on
these names and shapes because both read them here.

One code system holds every code hipkb writes or reads: the answer values
of the case vocabulary (``painful``, ``gradual``, ...) and the ids of what it
concludes (hypotheses, bands, red flags, triage levels, running advice,
referrals, and the codes of the observations that carry them). Its codes are
the ids that ``hipkb-case/1`` and ``hipkb-result/1`` promise never to rename,
so its version follows those formats: new codes may be added, none changes
meaning. An answer code is read with the question it answers (``none`` in
``history.mechanism`` means no injury event, in ``history.training_change``
no change), exactly as in a case file.

The canonical base is a name, not an address that must resolve: change
:data:`BASE` once the project has a home of its own.
"""

from __future__ import annotations

from hipkb.knowledge.vocabulary import Field, Vocabulary

BASE = "https://hipkb.example/fhir"
CODE_SYSTEM = f"{BASE}/CodeSystem/hipkb"
CODE_SYSTEM_VERSION = "1"

#: The FHIR item type of each type of vocabulary field (a set is a repeating choice).
ITEM_TYPES = {"choice": "choice", "set": "choice", "integer": "integer", "number": "decimal", "text": "string"}
#: The encounter's fields as items: a date, one-line texts, and notes over several lines.
ENCOUNTER_TYPES = {"date": "date", "text": "string", "notes": "text"}
#: The answer that stands for an empty list where a set field's values have no "none" of their own.
NONE_OF_THESE = "none"


def has_none_option(spec: Field) -> bool:
    """Whether the form offers ``none`` for an empty list of this set field."""
    return spec.type == "set" and spec.min_items == 0 and NONE_OF_THESE not in spec.values


def questionnaire_id(vocabulary: Vocabulary) -> tuple[str, str]:
    """The Questionnaire's id and version, from the vocabulary's format name.

    ``hipkb-case/1`` gives ``hipkb-case`` version ``1``: a response answers
    one version of the case format, as a case file does.
    """
    name, _, version = (vocabulary.name or "hipkb-case/1").partition("/")
    ident = "".join(c if c.isalnum() or c in "-." else "-" for c in name).strip("-.")[:64] or "hipkb-case"
    return ident, version or "1"


def questionnaire_url(vocabulary: Vocabulary) -> str:
    return f"{BASE}/Questionnaire/{questionnaire_id(vocabulary)[0]}"


def questionnaire_canonical(vocabulary: Vocabulary) -> str:
    """``url|version``: what a response's ``questionnaire`` must say."""
    return f"{questionnaire_url(vocabulary)}|{questionnaire_id(vocabulary)[1]}"


__all__ = ["BASE", "CODE_SYSTEM", "CODE_SYSTEM_VERSION", "ITEM_TYPES", "NONE_OF_THESE", "has_none_option",
           "questionnaire_canonical", "questionnaire_id", "questionnaire_url"]
