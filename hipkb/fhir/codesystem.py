"""hipkb's own names in FHIR: canonical URLs, its code system and its codings.

The form's names, shared with the response reader, are in
:mod:`hipkb.knowledge.form` (the code system, the questionnaire's identity);
here are those only what hipkb writes uses: its extensions, the case id's
system and a coding of the code system.
"""

from __future__ import annotations

from typing import Any

from hipkb.knowledge.form import (
    BASE,
    CODE_SYSTEM,
    CODE_SYSTEM_VERSION,
    questionnaire_canonical,
    questionnaire_id,
    questionnaire_url,
)

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


__all__ = ["APPROXIMATE_EXTENSION", "BASE", "CASE_ID_SYSTEM", "CERTAINTY_EXTENSION", "CODE_SYSTEM",
           "CODE_SYSTEM_VERSION", "MAX_VALUE", "MIN_VALUE", "coding", "questionnaire_canonical", "questionnaire_id",
           "questionnaire_url"]
