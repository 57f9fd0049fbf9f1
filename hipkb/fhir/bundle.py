"""A result as a FHIR R4 ``Bundle`` (``hipkb run --format fhir``).

The Bundle (type ``collection``) holds:

- one ``RiskAssessment``: a ``prediction`` per ranked hypothesis, its
  ``outcome`` coded with hipkb's code and the hypothesis's ICD-10-CM and
  SNOMED CT codes (an approximate code carries the ``approximate-code``
  extension), its band as ``qualitativeRisk``, and its certainty in the
  ``certainty-factor`` extension. Not ``probabilityDecimal``: a certainty is a
  MYCIN belief score pooled from rule weights, not a calibrated probability,
  and not ``relativeRisk``, which compares with a population. ``basis`` points
  at the ``QuestionnaireResponse`` when the case came as one;
- an ``Observation`` for the triage level, one for the running advice, one
  per red flag and one per referral, each coded with hipkb's code system (red
  flags with their standard codes too), ``derivedFrom`` the response.

Every resource is ``preliminary``: decision support for a clinician to
confirm, never a diagnosis. There is no timestamp and no random id: ids are
derived from the case id and the result, so the same case gives the same
bytes.

The case's encounter (:mod:`hipkb.knowledge.encounter`) goes where FHIR
has a place for it, and only from the case: its date is the
RiskAssessment's ``occurrenceDateTime`` and each Observation's
``effectiveDateTime``; its patient or record id identifies the ``subject``
(unless a QuestionnaireResponse named one); its notes are a ``note`` of the
RiskAssessment written by its clinician. A case without one gives the same
bytes as before it existed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from hipkb.fhir.codesystem import (
    APPROXIMATE_EXTENSION,
    BASE,
    CASE_ID_SYSTEM,
    CERTAINTY_EXTENSION,
    CODE_SYSTEM,
    CODE_SYSTEM_VERSION,
    coding,
)
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.load.case import Case

DISCLAIMER = ("Decision support, not a diagnosis: hipkb reasons only from the findings given, "
              "with rules a clinician can read; a clinician makes the call.")
OBSERVATION_CODES = {
    "triage": "Triage level",
    "running-advice": "Running advice",
    "red-flag": "Red flag",
    "referral": "Referral",
}
BANDS = {"likely": "likely (certainty >= 0.6)", "possible": "possible (certainty >= 0.3)",
         "unlikely": "unlikely (certainty < 0.3)"}


def bundle(kb: KnowledgeBase, case: Case, result: dict[str, Any]) -> dict[str, Any]:
    """The Bundle of one result, as plain JSON data."""
    digest = hashlib.sha256(json.dumps([case.case_id, result], sort_keys=True, ensure_ascii=False)
                            .encode("utf-8")).hexdigest()
    fhir = dict(case.meta.get("fhir") or {})
    subject = _subject(case, fhir)
    basis = _basis(case, fhir)
    encounter = dict(case.encounter or {})
    resources = [_risk_assessment(kb, result, subject, basis, digest, encounter)]
    resources.append(_observation(digest, "triage", result["triage"]["level"], None, subject, basis,
                                  [result["triage"].get("summary", ""), _rules(result["triage"]["because"])]))
    running = result["running"]
    resources.append(_observation(digest, "running-advice", running["advice"], None, subject, basis,
                                  [*running.get("reasons", []), _rules(running["because"])]))
    for flag in result["red_flags"]:
        codes = [_standard(c) for c in _as_dicts(kb.codes.red_flag(flag["id"]))]
        resources.append(_observation(digest, "red-flag", flag["id"], flag["label"], subject, basis,
                                      [("Emergency. " if flag.get("emergency") else "")
                                       + "Findings: " + ", ".join(flag["facts"]), _rules(flag["because"])],
                                      extra_codings=codes))
    for referral in result.get("referrals", []):
        resources.append(_observation(digest, "referral", referral["id"], referral["label"], subject, basis,
                                      [referral["reason"], _rules(referral["because"])]))
    date = encounter.get("date")
    if date:
        for resource in resources[1:]:
            resource["effectiveDateTime"] = date
    return {
        "resourceType": "Bundle",
        "id": f"hipkb-{digest[:16]}",
        "identifier": {"system": f"{BASE}/result", "value": digest[:32]},
        "type": "collection",
        "entry": [{"fullUrl": _urn(digest, r["id"]), "resource": r} for r in resources],
    }


def bundle_json(kb: KnowledgeBase, case: Case, result: dict[str, Any]) -> str:
    """The Bundle on one line of JSON (NDJSON, as FHIR bulk data writes resources)."""
    return json.dumps(bundle(kb, case, result), ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


def _risk_assessment(kb: KnowledgeBase, result: dict[str, Any], subject: dict[str, Any],
                     basis: dict[str, Any] | None, digest: str, encounter: dict[str, str]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "id": _id(digest, "differential"),
        "status": "preliminary",
        "code": {"coding": [coding("differential", "Differential diagnosis of hip pain in a runner")]},
        "method": {
            "coding": [coding("rule-base", "hipkb rule base")],
            "text": f"hipkb {result['kb']['name']} {result['kb']['version']} "
                    f"({result['kb']['rules']} rules; MYCIN certainty factors)",
        },
        "subject": subject,
    }
    if encounter.get("date"):
        resource["occurrenceDateTime"] = encounter["date"]
    if basis is not None:
        resource["basis"] = [basis]
    predictions = [_prediction(h) for h in result["hypotheses"]]
    if predictions:
        resource["prediction"] = predictions
    notes = [*result.get("warnings", []), DISCLAIMER]
    resource["note"] = [{"text": text} for text in notes]
    if encounter.get("notes"):
        note = {"authorString": encounter["clinician"]} if encounter.get("clinician") else {}
        resource["note"].append({**note, "text": encounter["notes"]})
    return resource


def _prediction(h: dict[str, Any]) -> dict[str, Any]:
    support = ", ".join(f"{e['rule']} +{e['weight']:g}" for e in h["support"])
    against = ", ".join(f"{e['rule']} -{e['weight']:g}" for e in h["against"])
    rationale = f"Evidence for: {support or 'none'}; against: {against or 'none'}."
    return {
        "extension": [{"url": CERTAINTY_EXTENSION, "valueDecimal": h["certainty"]}],
        "outcome": {"coding": [coding(h["id"], h["label"]), *(_standard(c) for c in h.get("codes", []))],
                    "text": h["label"]},
        "qualitativeRisk": {"coding": [coding(h["band"], BANDS.get(h["band"], h["band"]))], "text": h["band"]},
        "rationale": rationale,
    }


def _observation(digest: str, kind: str, value: str, label: str | None, subject: dict[str, Any],
                 basis: dict[str, Any] | None, notes: list[str],
                 extra_codings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": _id(digest, f"{kind}-{value}"),
        "status": "preliminary",
        "code": {"coding": [coding(kind, OBSERVATION_CODES[kind])], "text": OBSERVATION_CODES[kind]},
        "subject": subject,
        "valueCodeableConcept": {
            "coding": [coding(value, label or value.replace("_", " ")), *(extra_codings or [])],
            "text": label or value.replace("_", " "),
        },
    }
    if basis is not None:
        resource["derivedFrom"] = [basis]
    texts = [text for text in notes if text]
    if texts:
        resource["note"] = [{"text": text} for text in texts]
    return resource


def _standard(code: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if code.get("approximate"):
        # Nearest broader concept: a record must not file it as an exact one.
        data["extension"] = [{"url": APPROXIMATE_EXTENSION, "valueBoolean": True}]
    data.update({"system": code["system"], "code": code["code"], "display": code["display"]})
    return data


def _as_dicts(codes: Any) -> list[dict[str, Any]]:
    return [c.as_dict() for c in codes]


def _rules(ids: list[str]) -> str:
    return f"Rules: {', '.join(ids)}." if ids else "No rule spoke: the default."


def _subject(case: Case, fhir: dict[str, Any]) -> dict[str, Any]:
    subject = fhir.get("subject")
    if isinstance(subject, dict) and subject:
        return subject
    record = (case.encounter or {}).get("record_id")
    if record:
        # The case's own patient or record id; its system is the clinic's, which the case does not name.
        return {"identifier": {"type": {"text": "Patient or record id"}, "value": record},
                "display": f"the runner of record {record}"}
    # A case file names no patient: identify the runner by the case id.
    return {"identifier": {"system": CASE_ID_SYSTEM, "value": case.case_id},
            "display": f"the runner of case {case.case_id}"}


def _basis(case: Case, fhir: dict[str, Any]) -> dict[str, Any] | None:
    if not fhir:
        return None
    reference = fhir.get("response")
    if reference:
        return {"reference": reference, "type": "QuestionnaireResponse"}
    return {"type": "QuestionnaireResponse", "display": f"QuestionnaireResponse read from {case.source}"}


def _id(digest: str, name: str) -> str:
    """A resource id from the result digest and the resource's role: [A-Za-z0-9-.]{1,64}."""
    safe = "".join(c if c.isalnum() or c in "-." else "-" for c in name)
    return f"{safe[:47]}-{digest[:16]}"


def _urn(digest: str, resource_id: str) -> str:
    name = f"{CODE_SYSTEM}|{CODE_SYSTEM_VERSION}|{digest}|{resource_id}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
