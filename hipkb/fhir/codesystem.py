"""hipkb's own names in FHIR: canonical URLs, its code system and its codings.

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

from typing import Any

from hipkb.knowledge.vocabulary import Vocabulary

BASE = "https://hipkb.example/fhir"
CODE_SYSTEM = f"{BASE}/CodeSystem/hipkb"
CODE_SYSTEM_VERSION = "1"
CERTAINTY_EXTENSION = f"{BASE}/StructureDefinition/certainty-factor"
APPROXIMATE_EXTENSION = f"{BASE}/StructureDefinition/approximate-code"
CASE_ID_SYSTEM = f"{BASE}/case-id"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"


def coding(code: str, display: str | None = None) -> dict[str, Any]:
    """A coding of hipkb's code system."""
    data: dict[str, Any] = {"system": CODE_SYSTEM, "version": CODE_SYSTEM_VERSION, "code": code}
    if display:
        data["display"] = display
    return data


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
