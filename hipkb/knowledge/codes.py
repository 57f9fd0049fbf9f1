"""Standard codes (ICD-10-CM, SNOMED CT) for what a knowledge base concludes.

``rules/codes.yaml`` maps hypothesis and red flag ids to codes. It is data
beside the rules, not a rule file; this module loads and checks it against the
manifest: an id the manifest does not declare is refused, naming the file and
the key. ``upcoming_hypotheses`` holds codes for hypotheses not declared yet
(checked for form only, used once declared), so that codes can be written
before the rules that conclude them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hipkb.errors import RuleError, allowed_list, describe, did_you_mean
from hipkb.parse.text import load_file

CODES_FILE = "codes.yaml"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
SYSTEMS = (ICD10CM, SNOMED)
SECTIONS = ("hypotheses", "upcoming_hypotheses", "red_flags")


@dataclass(frozen=True)
class Code:
    """One code of a standard code system; ``approximate``: the nearest broader concept."""

    system: str
    code: str
    display: str
    approximate: bool = False

    def as_dict(self) -> dict[str, Any]:
        """As the result format writes it: ``approximate`` only when true."""
        data: dict[str, Any] = {"system": self.system, "code": self.code, "display": self.display}
        if self.approximate:
            data["approximate"] = True
        return data


@dataclass(frozen=True)
class Codes:
    """Codes by hypothesis id and by red flag id; an id without codes has none."""

    hypotheses: Mapping[str, tuple[Code, ...]] = field(default_factory=dict)
    red_flags: Mapping[str, tuple[Code, ...]] = field(default_factory=dict)

    def hypothesis(self, hid: str) -> tuple[Code, ...]:
        return self.hypotheses.get(hid, ())

    def red_flag(self, rid: str) -> tuple[Code, ...]:
        return self.red_flags.get(rid, ())


def load_codes(path: Path, hypotheses: Collection[str], red_flags: Collection[str]) -> Codes:
    """Load *path* (``codes.yaml``), or no codes at all when it does not exist."""
    if not path.is_file():
        return Codes()
    data = load_file(path)
    src = str(path)
    if not isinstance(data, dict) or data.get("format") != "hipkb-codes/1":
        raise RuleError(src, "format", "expected format: hipkb-codes/1")
    for key in data:
        if key not in ("format", *SECTIONS):
            raise RuleError(src, str(key), f"unknown key; allowed: format, {', '.join(SECTIONS)}"
                            + did_you_mean(str(key), SECTIONS))
    declared = _section(data, "hypotheses", src, hypotheses)
    upcoming = _section(data, "upcoming_hypotheses", src, None)
    for hid in upcoming:
        if hid in declared:
            raise RuleError(src, f"upcoming_hypotheses.{hid}", "also listed under hypotheses; keep one")
    # An upcoming hypothesis counts once the manifest declares it.
    by_hypothesis = {**declared, **{hid: codes for hid, codes in upcoming.items() if hid in hypotheses}}
    return Codes(by_hypothesis, _section(data, "red_flags", src, red_flags))


def _section(data: dict, key: str, src: str, known: Collection[str] | None) -> dict[str, tuple[Code, ...]]:
    raw = data.get(key) or {}
    if not isinstance(raw, dict):
        raise RuleError(src, key, "expected a mapping of id: list of codes")
    result: dict[str, tuple[Code, ...]] = {}
    for ident, entries in raw.items():
        where = f"{key}.{ident}"
        if known is not None and ident not in known:
            raise RuleError(src, where, "not declared in kb.yaml; allowed: "
                            + allowed_list(sorted(known)) + did_you_mean(str(ident), known))
        if not isinstance(entries, list):
            raise RuleError(src, where, f"found {describe(entries)}; expected a list of codes")
        codes = tuple(_code(entry, src, f"{where}[{index}]") for index, entry in enumerate(entries))
        seen = set()
        for index, code in enumerate(codes):
            if (code.system, code.code) in seen:
                raise RuleError(src, f"{where}[{index}]", f"{code.code} is listed twice")
            seen.add((code.system, code.code))
        result[str(ident)] = codes
    return result


def _code(entry: Any, src: str, where: str) -> Code:
    if not isinstance(entry, dict):
        raise RuleError(src, where, f"found {describe(entry)}; expected a mapping of system, code, display")
    extra = set(entry) - {"system", "code", "display", "approximate"}
    if extra:
        raise RuleError(src, f"{where}.{sorted(map(str, extra))[0]}",
                        "unknown key; allowed: system, code, display, approximate")
    system = entry.get("system")
    if system not in SYSTEMS:
        raise RuleError(src, f"{where}.system", f"found {describe(system)}; allowed: {allowed_list(SYSTEMS)}")
    for key in ("code", "display"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip() or value != value.strip():
            raise RuleError(src, f"{where}.{key}", f"found {describe(value)}; expected a non-empty text "
                            "(quote a SNOMED CT id: YAML reads bare digits as a number)")
    approximate = entry.get("approximate", False)
    if not isinstance(approximate, bool):
        raise RuleError(src, f"{where}.approximate", f"found {describe(approximate)}; expected true or false")
    return Code(system, entry["code"], entry["display"], approximate)
