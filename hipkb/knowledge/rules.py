"""The knowledge base: rule files and their manifest, loaded as data.

``rules/kb.yaml`` (the manifest) names the knowledge base and declares what
its rules may conclude: hypotheses, derived facts (intermediate patterns) and
red flags. Every other ``rules/*.yaml`` file holds the rules of one clinical
topic. Loading parses and checks everything, and never runs code from a file:
a bad file is refused with an error naming the file and the rule id.

This module holds the CLIPS ``defrule`` text in parsed form; compiling it to
experta objects is :mod:`hipkb.engine.compiler`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from hipkb.errors import HipkbError, RuleError, allowed_list, describe, did_you_mean
from hipkb.knowledge import conditions as cond
from hipkb.knowledge import files
from hipkb.knowledge.codes import CODES_FILE, Codes, load_codes
from hipkb.knowledge.conditions import Condition, ConditionSyntaxError
from hipkb.knowledge.index import RuleIndex
from hipkb.knowledge.kinds import KINDS, Kind, KindSpec, Subject, Target
from hipkb.knowledge.references import FILE as REFERENCES_FILE
from hipkb.knowledge.references import References, load_references
from hipkb.knowledge.scales import RED_FLAGS, RUNNING_ADVICE, STATUSES, TRIAGE_LEVELS
from hipkb.knowledge.teaching import FILE as TEACHING_FILE
from hipkb.knowledge.teaching import Concept, LearningPoints, load_concepts, load_teaching
from hipkb.knowledge.vocabulary import Field, Vocabulary
from hipkb.knowledge.vocabulary import word as as_word
from hipkb.parse.text import load_file

# Where the targets of each kind are declared (manifest sections) or listed (scales).
DECLARED = {Target.HYPOTHESIS: "hypotheses", Target.RED_FLAG: "red_flags", Target.REFERRAL: "referrals"}
SCALES = {Target.TRIAGE_LEVEL: TRIAGE_LEVELS, Target.RUNNING_ADVICE: RUNNING_ADVICE}

RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$")
MANIFEST = "kb.yaml"
# YAML files of a rules directory that hold data beside the rules, not rules:
# the rule loader skips them, and the module that owns each one loads it.
DATA_FILES: tuple[str, ...] = (MANIFEST, CODES_FILE, TEACHING_FILE, REFERENCES_FILE)

@dataclass(frozen=True)
class Conclusion:
    """What a rule asserts when it fires (the RHS of a CLIPS rule)."""

    kind: Kind
    target: str
    value: str = ""
    weight: float = 0.0
    text: str = ""
    facts: tuple[str, ...] = ()
    default: bool = False

    # Read on every firing of the rule: worked out once (the dataclass is
    # frozen, so a cached value never goes stale).
    @cached_property
    def spec(self) -> KindSpec:
        return KINDS[self.kind]

    @property
    def layer(self) -> int:
        return KINDS[self.kind].layer

    @cached_property
    def key(self) -> str:
        """What the conclusion is recorded under: ``name=value`` for a derived fact, else its target."""
        if KINDS[self.kind].target in (Target.DERIVED_FACT, Target.STATUS):
            return f"{self.target}={self.value}"
        return self.target

    @cached_property
    def cf(self) -> float:
        """Signed certainty factor of evidence: negative counts against."""
        return KINDS[self.kind].sign * self.weight

    def asserted(self) -> str:
        """The conclusion as a fact string, as results write it."""
        return self._asserted

    @cached_property
    def _asserted(self) -> str:
        target = KINDS[self.kind].target
        if target is Target.DERIVED_FACT:
            return f"{self.target}={self.value}"
        if target is Target.HYPOTHESIS:
            return f"{self.target} {'+' if self.cf > 0 else '-'}{self.weight:g}"
        if target is Target.FIELDS:
            return f"{self.kind}=" + ",".join(self.facts)
        if target is Target.SCORE:
            return f"{self.target}.{self.value}+{self.weight:g}"
        if target is Target.STATUS:
            return f"status.{self.target}={self.value}"
        return f"{self.kind}={self.target}"


@dataclass(frozen=True)
class RuleDef:
    """One rule as written in a rule file."""

    id: str
    title: str
    source: str
    conditions: tuple[Condition, ...]
    conclusion: Conclusion
    topic: str = ""
    file: str = ""
    note: str = ""

    @property
    def layer(self) -> int:
        return self.conclusion.layer


@dataclass(frozen=True)
class Hypothesis:
    id: str
    label: str
    description: str = ""
    source: str = ""


@dataclass(frozen=True)
class DerivedFact:
    name: str
    label: str
    values: Mapping[str, str]
    source: str = ""


@dataclass(frozen=True)
class ScoreSpec:
    """A risk score the knowledge base adds up from points (the Triad's cumulative risk, say).

    Each component counts once, at the most points any of its rules gives;
    the total's band is the last one whose threshold it reaches, and it is
    published as the derived fact ``<score>=<band>`` for later rules.
    """

    id: str
    label: str
    components: Mapping[str, str]
    #: Band name -> the least total in it, in rising order.
    bands: Mapping[str, int]
    source: str = ""

    def band(self, total: float) -> str:
        found = next(iter(self.bands))
        for name, least in self.bands.items():
            if total >= least:
                found = name
        return found


@dataclass(frozen=True)
class RedFlag:
    id: str
    label: str
    emergency: bool = False


@dataclass(frozen=True)
class Referral:
    """A referral a case can call for whatever the hip diagnosis (RED-S to a physician, say)."""

    id: str
    label: str
    source: str = ""


@dataclass(frozen=True)
class Safety:
    """What this knowledge base holds to be dangerous, for its safety invariants.

    ``alarm_hypotheses`` at ``possible`` or above demand urgent triage, stop
    running and no ``unsafe_tests`` (bone stress injuries, fractures, the
    adolescent hip): loading tests such as hopping can complete a fracture.
    """

    alarm_hypotheses: tuple[str, ...] = ()
    unsafe_tests: tuple[str, ...] = ()
    #: The alarm hypotheses that are bone stress injuries, which strong bone signs point to.
    bone_stress_injuries: tuple[str, ...] = ()
    #: The derived fact every value of which is a strong bone sign: adding a
    #: finding that concludes it never lowers an alarm hypothesis's certainty,
    #: the triage or the running restriction.
    bone_sign: str = ""
    #: Recordings that must not hide an alarm hypothesis that bone signs put in
    #: the top three (``{"history.onset": "sudden"}``: a BSI can declare itself suddenly).
    neutral_recodings: tuple[Mapping[str, Any], ...] = ()
    #: Benign presentations that must never be triaged above a level.
    benign: tuple[BenignPattern, ...] = ()
    #: Rule out the worst first: the derived fact of bone stress risk and the
    #: levels that restrict running while a bone stress injury is not excluded.
    risk_fact: str = ""
    restricting_risk: tuple[str, ...] = ()
    #: The recorded negatives that alone may exclude a bone stress injury:
    #: every group of ``clinical`` (one finding of each), or one of ``imaging``.
    bsi_exclusion_clinical: tuple[Mapping[str, Any], ...] = ()
    bsi_exclusion_imaging: tuple[Mapping[str, Any], ...] = ()
    #: Findings that record positional night pain (never a bone sign nor the
    #: red flag ``night_pain_flag``), and a warm-up during the run.
    positional_night_pain: Mapping[str, Any] = field(default_factory=dict)
    night_pain_flag: str = ""
    warm_up: Mapping[str, Any] = field(default_factory=dict)
    #: Derived facts of imaging (``mri_bsi``): a bone stress injury with
    #: evidence against it from a rule that reads one (a negative MRI, or one
    #: that places the injury in another bone) is not a suspected one.
    bone_ruled_out: tuple[str, ...] = ()


@dataclass(frozen=True)
class BenignPattern:
    """Findings of a benign presentation; with any of the optional ones added, triage stays at most *ceiling*."""

    name: str
    findings: Mapping[str, Any]
    optional: Mapping[str, Any]
    ceiling: str


@dataclass(frozen=True, eq=False)
class KnowledgeBase:
    """A vocabulary, a manifest and the rules, checked against each other."""

    name: str
    version: str
    vocabulary: Vocabulary
    hypotheses: Mapping[str, Hypothesis]
    derived: Mapping[str, DerivedFact]
    red_flags: Mapping[str, RedFlag]
    rules: tuple[RuleDef, ...]
    rules_dir: Path | None = None
    facts_dir: Path | None = None
    seed_sections: tuple[str, ...] = field(default=())
    referrals: Mapping[str, Referral] = field(default_factory=dict)
    safety: Safety = field(default_factory=Safety)
    codes: Codes = field(default_factory=Codes)
    teaching: Mapping[str, LearningPoints] = field(default_factory=dict)
    scores: Mapping[str, ScoreSpec] = field(default_factory=dict)
    #: Teaching concepts (``concepts`` in teaching.yaml): ways of reasoning taught across hypotheses.
    concepts: Mapping[str, Concept] = field(default_factory=dict)
    #: The publications its sources cite (``references.yaml``), or None without that file.
    references: References | None = None

    @cached_property
    def by_id(self) -> dict[str, RuleDef]:
        return {rule.id: rule for rule in self.rules}

    def rule(self, rule_id: str) -> RuleDef | None:
        return self.by_id.get(rule_id)

    @classmethod
    def load(cls, rules_dir: Path, facts_dir: Path) -> KnowledgeBase:
        vocabulary = Vocabulary.load(facts_dir)
        return load_rules(rules_dir, vocabulary, facts_dir)


def rule_errors(rules_dir: Path, vocabulary: Vocabulary) -> list[RuleError]:
    """Every load error of a rule directory, not only the first (for ``hipkb check``).

    The manifest must load for anything more to be said: when it does not, its
    error is the only one. Otherwise every rule file and every rule is parsed,
    and each one that fails adds its error.
    """
    errors: list[RuleError] = []
    try:
        _load(rules_dir, vocabulary, None, errors)
    except RuleError as error:  # the manifest: nothing more can be checked without it
        return [error]
    return errors


def load_rules(rules_dir: Path, vocabulary: Vocabulary, facts_dir: Path | None = None) -> KnowledgeBase:
    """Load ``kb.yaml`` and every rule file of *rules_dir*, checking all of it; the first error is raised."""
    kb = _load(rules_dir, vocabulary, facts_dir, None)
    assert kb is not None  # without an errors list, every error is raised
    return kb


def _load(rules_dir: Path, vocabulary: Vocabulary, facts_dir: Path | None,
          errors: list[RuleError] | None) -> KnowledgeBase | None:
    """Load a rule directory; with an *errors* list, errors in rule files are noted there and loading goes on."""
    def refuse(error: RuleError) -> None:
        if errors is None:
            raise error
        errors.append(error)

    if not rules_dir.is_dir():
        raise RuleError(str(rules_dir), "", "no such rules directory")
    listed = files.rule_files(rules_dir)  # refuses what is not a regular file, before anything is read
    manifest_path = rules_dir / MANIFEST
    if not manifest_path.is_file():
        raise RuleError(str(manifest_path), "", "missing: a rules directory needs its kb.yaml manifest")
    manifest = load_file(manifest_path)
    src = str(manifest_path)
    if not isinstance(manifest, dict) or manifest.get("format") != "hipkb-kb/1":
        raise RuleError(src, "format", "expected format: hipkb-kb/1")
    hypotheses = {
        hid: Hypothesis(hid, _text(spec, "label", src, f"hypotheses.{hid}"),
                        str(spec.get("description", "")), str(spec.get("source", "")))
        for hid, spec in _mapping(manifest, "hypotheses", src).items()
    }
    derived = {}
    for name, spec in _mapping(manifest, "derived", src).items():
        values = spec.get("values") if isinstance(spec, dict) else None
        if not isinstance(values, dict) or not values:
            raise RuleError(src, f"derived.{name}", "a derived fact needs a values mapping")
        derived[name] = DerivedFact(
            name, _text(spec, "label", src, f"derived.{name}"),
            # _word: a bare yes/no key is a boolean to YAML, and rules mean the word.
            {as_word(k): str(v) for k, v in values.items()}, str(spec.get("source", "")),
        )
    red_flags = {
        rid: RedFlag(rid, _text(spec, "label", src, f"red_flags.{rid}"), bool(spec.get("emergency", False)))
        for rid, spec in _mapping(manifest, "red_flags", src).items()
    }
    referrals = {
        rid: Referral(rid, _text(spec, "label", src, f"referrals.{rid}"), str(spec.get("source", "")))
        for rid, spec in _mapping(manifest, "referrals", src).items()
    }
    scores = _scores(manifest, src, derived)
    for sid, score in scores.items():
        # A score's band is read as a derived fact: ``triad_risk: {in: [moderate, high]}``.
        derived[sid] = DerivedFact(sid, score.label, {band: f"{band} ({score.label})" for band in score.bands},
                                   score.source)
    for rid in red_flags:
        if rid not in RED_FLAGS and not re.match(r"^[a-z][a-z0-9_]*$", rid):
            raise RuleError(src, f"red_flags.{rid}", "a red flag id is lower_snake_case")
    sections = manifest.get("seed_sections") or []
    if not isinstance(sections, list) or not all(isinstance(s, str) for s in sections):
        raise RuleError(src, "seed_sections", "expected a list of the seed article's section titles")
    seed_sections = tuple(sections)
    safety = _safety(manifest, src, hypotheses, vocabulary, derived, red_flags)
    parser = _RuleParser(vocabulary, hypotheses, derived, red_flags, seed_sections, referrals, scores,
                         safety.alarm_hypotheses)

    rules: list[RuleDef] = []
    seen: dict[str, str] = {}
    rule_paths = [p for p in listed if p.name not in DATA_FILES]
    if not rule_paths:
        raise RuleError(str(rules_dir), "", "holds no rule files (*.yaml besides kb.yaml)")
    for path in rule_paths:
        for rule in parser.parse_file(path, refuse):
            if rule.id in seen:
                refuse(RuleError(str(path), f"rule {rule.id}", f"duplicate id (also in {seen[rule.id]})"))
                continue
            seen[rule.id] = str(path)
            rules.append(rule)
    if errors:
        return None  # broken rules cannot be checked for what they read
    for error in _unproduced(rules, scores):
        refuse(error)
    if errors:
        return None
    return KnowledgeBase(
        name=_text(manifest, "name", src, "name"),
        version=str(manifest.get("version", "0")),
        vocabulary=vocabulary,
        hypotheses=hypotheses,
        derived=derived,
        red_flags=red_flags,
        rules=tuple(rules),
        rules_dir=rules_dir,
        facts_dir=facts_dir,
        seed_sections=seed_sections,
        referrals=referrals,
        safety=safety,
        codes=load_codes(rules_dir / CODES_FILE, hypotheses, red_flags),
        teaching=load_teaching(rules_dir),
        concepts=load_concepts(rules_dir),
        scores=scores,
        references=load_references(rules_dir),
    )


def _scores(manifest: dict, src: str, derived: Mapping[str, DerivedFact]) -> dict[str, ScoreSpec]:
    """The ``scores`` section: each score's label, components and bands (rising thresholds)."""
    scores: dict[str, ScoreSpec] = {}
    for sid, spec in _mapping(manifest, "scores", src).items():
        where = f"scores.{sid}"
        if sid in derived:
            raise RuleError(src, where, "a score is read as a derived fact of its name: the name is taken")
        if set(spec) - {"label", "components", "bands", "source"}:
            raise RuleError(src, where, "expected label, components, bands and source")
        components = spec.get("components")
        if not isinstance(components, dict) or not components:
            raise RuleError(src, f"{where}.components", "expected a mapping of component: label")
        bands = spec.get("bands")
        if (not isinstance(bands, dict) or len(bands) < 2
                or any(isinstance(v, bool) or not isinstance(v, int) for v in bands.values())
                or list(bands.values()) != sorted(set(bands.values()))):
            raise RuleError(src, f"{where}.bands", "expected two or more bands, each with the least total "
                            "in it, in rising order (low: 0, moderate: 2, high: 6)")
        scores[sid] = ScoreSpec(sid, _text(spec, "label", src, where),
                                {as_word(k): str(v) for k, v in components.items()},
                                {as_word(k): int(v) for k, v in bands.items()}, str(spec.get("source", "")))
    return scores


SAFETY_KEYS = ("alarm_hypotheses", "unsafe_tests", "bone_stress_injuries", "bone_sign", "bone_ruled_out",
               "neutral_recodings", "benign", "risk_fact", "restricting_risk", "bsi_exclusion",
               "positional_night_pain", "night_pain_flag", "warm_up")


def _safety(manifest: dict, src: str, hypotheses: Mapping[str, Hypothesis], vocabulary: Vocabulary,
            derived: Mapping[str, DerivedFact], red_flags: Mapping[str, RedFlag] | None = None) -> Safety:
    spec = manifest.get("safety") or {}
    if not isinstance(spec, dict) or set(spec) - set(SAFETY_KEYS):
        raise RuleError(src, "safety", f"expected a mapping with any of {', '.join(SAFETY_KEYS)}")
    lists = {}
    for key, known in (("alarm_hypotheses", hypotheses), ("unsafe_tests", vocabulary.fields),
                       ("bone_stress_injuries", hypotheses)):
        items = spec.get(key) or []
        if not isinstance(items, list):
            raise RuleError(src, f"safety.{key}", "expected a list")
        for index, item in enumerate(items):
            if item not in known:
                raise RuleError(src, f"safety.{key}[{index}]", f"found {describe(item)}; allowed: "
                                + allowed_list(sorted(known)) + did_you_mean(str(item), known))
        lists[key] = tuple(items)
    bone_sign = spec.get("bone_sign") or ""
    if bone_sign and bone_sign not in derived:
        raise RuleError(src, "safety.bone_sign", f"found {describe(bone_sign)}; expected a derived fact of kb.yaml"
                        + did_you_mean(str(bone_sign), derived))
    ruled_out = spec.get("bone_ruled_out") or []
    if not isinstance(ruled_out, list):
        raise RuleError(src, "safety.bone_ruled_out", "expected a list of derived facts")
    for n, item in enumerate(ruled_out):
        if item not in derived:
            raise RuleError(src, f"safety.bone_ruled_out[{n}]", f"found {describe(item)}; expected a derived "
                            "fact of kb.yaml" + did_you_mean(str(item), derived))
    recodings = spec.get("neutral_recodings") or []
    if not isinstance(recodings, list):
        raise RuleError(src, "safety.neutral_recodings", "expected a list of findings (group.field: value)")
    neutral = tuple(_findings(item, vocabulary, src, f"safety.neutral_recodings[{n}]")
                    for n, item in enumerate(recodings))
    benign = []
    for n, item in enumerate(spec.get("benign") or []):
        where = f"safety.benign[{n}]"
        if not isinstance(item, dict) or set(item) - {"name", "findings", "optional", "triage_at_most"}:
            raise RuleError(src, where, "expected name, findings, optional and triage_at_most")
        ceiling = item.get("triage_at_most")
        if ceiling not in TRIAGE_LEVELS:
            raise RuleError(src, f"{where}.triage_at_most", f"found {describe(ceiling)}; allowed: "
                            + allowed_list(TRIAGE_LEVELS))
        benign.append(BenignPattern(str(item.get("name") or f"benign {n}"),
                                    _findings(item.get("findings"), vocabulary, src, f"{where}.findings"),
                                    _findings(item.get("optional") or {}, vocabulary, src, f"{where}.optional"),
                                    ceiling))
    risk_fact = spec.get("risk_fact") or ""
    if risk_fact and risk_fact not in derived:
        raise RuleError(src, "safety.risk_fact", f"found {describe(risk_fact)}; expected a derived fact of kb.yaml"
                        + did_you_mean(str(risk_fact), derived))
    restricting = spec.get("restricting_risk") or []
    if not isinstance(restricting, list) or (risk_fact and any(
            as_word(v) not in derived[risk_fact].values for v in restricting)):
        raise RuleError(src, "safety.restricting_risk", "expected a list of values of the risk fact")
    exclusion = spec.get("bsi_exclusion") or {}
    if not isinstance(exclusion, dict) or set(exclusion) - {"clinical", "imaging"}:
        raise RuleError(src, "safety.bsi_exclusion", "expected clinical and imaging: lists of findings")
    groups = {}
    for part in ("clinical", "imaging"):
        items = exclusion.get(part) or []
        if not isinstance(items, list):
            raise RuleError(src, f"safety.bsi_exclusion.{part}", "expected a list of findings (group.field: value)")
        groups[part] = tuple(_findings(item, vocabulary, src, f"safety.bsi_exclusion.{part}[{n}]")
                             for n, item in enumerate(items))
    flag = spec.get("night_pain_flag") or ""
    if flag and flag not in (red_flags or {}):
        raise RuleError(src, "safety.night_pain_flag", f"found {describe(flag)}; expected a red flag of kb.yaml")
    single = {key: _findings(spec[key], vocabulary, src, f"safety.{key}") if spec.get(key) else {}
              for key in ("positional_night_pain", "warm_up")}
    return Safety(**lists, bone_sign=bone_sign, neutral_recodings=neutral, benign=tuple(benign),
                  bone_ruled_out=tuple(str(item) for item in ruled_out), risk_fact=str(risk_fact),
                  restricting_risk=tuple(as_word(v) for v in restricting),
                  bsi_exclusion_clinical=groups["clinical"], bsi_exclusion_imaging=groups["imaging"],
                  positional_night_pain=single["positional_night_pain"], night_pain_flag=str(flag),
                  warm_up=single["warm_up"])


def _findings(raw: Any, vocabulary: Vocabulary, src: str, where: str) -> dict[str, Any]:
    """``{group.field: value}`` as a case would hold it, each checked against the vocabulary."""
    if not isinstance(raw, dict) or not raw:
        raise RuleError(src, where, "expected a mapping of group.field: value")
    found: dict[str, Any] = {}
    for path, value in raw.items():
        spec = vocabulary.fields.get(path)
        if spec is None:
            raise RuleError(src, f"{where}.{path}", "unknown field" + did_you_mean(str(path), vocabulary.fields))
        values = value if isinstance(value, list) else [value]
        words = [as_word(v) for v in values]
        if spec.type in ("choice", "set") and not all(w in spec.values for w in words):
            raise RuleError(src, f"{where}.{path}", f"found {describe(value)}; allowed: {allowed_list(spec.values)}")
        found[path] = words if spec.type == "set" else (value if spec.is_numeric else words[0])
    return found


def _unproduced(rules: Iterable[RuleDef], scores: Mapping[str, ScoreSpec] | None = None) -> Iterator[RuleError]:
    """A condition on a derived fact, red flag, hypothesis or status that no rule concludes."""
    ruleset = tuple(rules)
    idx = RuleIndex(ruleset)
    for rule in ruleset:
        for c in rule.conditions:
            missing: list[str] = []
            if c.kind is Subject.DERIVED and scores and c.subject in scores:
                if not idx.concluding(Kind.POINTS, c.subject):
                    missing = [f"points of {c.subject}"]
            elif c.kind is Subject.STATUS:
                if not idx.producers(c):
                    missing = [f"status.{c.subject}={v}" for v in c.values]
            elif c.kind is Subject.DERIVED:
                missing = [f"{c.subject}={v}" for v in c.values if not idx.concluding(Kind.DERIVE, f"{c.subject}={v}")]
                if c.op == "in" and len(missing) < len(c.values):
                    missing = []
            elif c.kind is Subject.RED_FLAG and not idx.producers(c):
                missing = list(c.values) or ["any red flag"]
            elif c.kind is Subject.HYPOTHESIS and not idx.support(c.subject):
                missing = [f"evidence for {c.subject}"]
            if missing:
                yield RuleError(rule.file, f"rule {rule.id}", f"when.{c.key}: no rule concludes {', '.join(missing)}")


def _mapping(data: dict, key: str, src: str) -> dict:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise RuleError(src, key, "expected a mapping")
    for k, v in value.items():
        if not isinstance(v, dict):
            raise RuleError(src, f"{key}.{k}", "expected a mapping")
    return value


def _text(data: Any, key: str, src: str, where: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise RuleError(src, f"{where}.{key}" if where != key else key, "needs a non-empty text")
    return value.strip()


class _RuleParser:
    """Turns one rule file's entries into RuleDefs, or refuses them."""

    def __init__(self, vocabulary, hypotheses, derived, red_flags, seed_sections, referrals=None,
                 scores=None, alarms: tuple[str, ...] = ()) -> None:
        self.referrals = referrals or {}
        self.scores: Mapping[str, ScoreSpec] = scores or {}
        self.alarms = alarms
        self.vocabulary: Vocabulary = vocabulary
        self.hypotheses = hypotheses
        self.derived = derived
        self.red_flags = red_flags
        self.seed_sections = seed_sections

    def parse_file(self, path: Path, refuse: Callable[[RuleError], None]) -> list[RuleDef]:
        """The rules of one file; each error goes to *refuse*, which raises it or notes it and goes on."""
        src = str(path)
        try:
            data = load_file(path)
        except RuleError as error:
            refuse(error)
            return []
        except HipkbError as error:
            refuse(RuleError(error.source, error.where, error.message))
            return []
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            refuse(RuleError(src, "", "a rule file is a mapping with a 'rules' list"))
            return []
        unknown = set(data) - {"topic", "description", "rules"}
        if unknown:
            refuse(RuleError(src, sorted(unknown)[0], "unknown key; allowed: topic, description, rules"))
        topic = str(data.get("topic", path.stem))
        rules = []
        for index, entry in enumerate(data["rules"]):
            try:
                rules.append(self.parse_rule(entry, src, topic, index))
            except RuleError as error:
                refuse(error)
        return rules

    def parse_rule(self, entry: Any, src: str, topic: str, index: int) -> RuleDef:
        if not isinstance(entry, dict):
            raise RuleError(src, f"rules[{index}]", "a rule is a mapping")
        rid = entry.get("id")
        if not isinstance(rid, str) or not RULE_ID.match(rid):
            raise RuleError(src, f"rules[{index}]", f"id {rid!r} must look like FNBSI-LOAD (capitals, digits, dashes)")
        where = f"rule {rid}"
        allowed = {"id", "title", "source", "when", "then", "note"}
        for key in entry:
            if key not in allowed:
                raise RuleError(src, where, f"unknown key {key!r}; allowed: {allowed_list(sorted(allowed))}"
                                + did_you_mean(key, allowed))
        for key in ("title", "source", "then"):
            if key not in entry:
                raise RuleError(src, where, f"missing {key!r}")
        title = _text(entry, "title", src, where)
        source = _text(entry, "source", src, where)
        self._check_source(source, src, where)
        try:
            conclusion = self.parse_conclusion(entry["then"])
            conditions = self.parse_when(entry.get("when") or {}, conclusion)
        except ConditionSyntaxError as exc:
            raise RuleError(src, where, str(exc)) from None
        return RuleDef(rid, title, source, conditions, conclusion, topic, src, str(entry.get("note", "")))

    def _check_source(self, source: str, src: str, where: str) -> None:
        if source.startswith("seed:") and self.seed_sections:
            section = source[5:].strip()
            if section not in self.seed_sections:
                raise RuleError(src, where, f"source: no seed section {section!r}; sections: "
                                + allowed_list(self.seed_sections) + did_you_mean(section, self.seed_sections))

    def parse_conclusion(self, then: Any) -> Conclusion:
        if not isinstance(then, dict):
            raise ConditionSyntaxError("then: expected a mapping")
        kinds = [k for k in Kind if k.value in then]
        if len(kinds) != 1:
            raise ConditionSyntaxError(f"then: needs exactly one of {', '.join(k.value for k in Kind)}")
        kind = kinds[0]
        spec = KINDS[kind]
        extra = set(then) - {kind.value, "weight", "summary", "reason", "default"}
        if extra:
            raise ConditionSyntaxError(f"then: unknown key {sorted(extra)[0]!r}")
        target = then[kind.value]
        if spec.target not in (Target.DERIVED_FACT, Target.FIELDS, Target.SCORE, Target.STATUS) \
                and not isinstance(target, str):
            # A list or mapping here is a slip of the writer; it must be refused
            # by name, not fail as an unhashable dictionary key.
            raise ConditionSyntaxError(f"then.{kind}: found {describe(target)}; expected one id")
        text = str(then.get("summary") or then.get("reason") or "")
        if spec.text_required and not text:
            raise ConditionSyntaxError(f"then.{spec.text}: {spec.label} need a {spec.text} for the result")
        default = then.get("default", False)
        if default not in (True, False) or (default and not spec.defaultable):
            raise ConditionSyntaxError("then.default: true marks a triage or running rule that applies "
                                       "only when no other rule concludes one")
        weight = 0.0
        if spec.weighted:
            raw = then.get("weight")
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 < raw <= 1:
                raise ConditionSyntaxError(f"then.weight: found {raw!r}; a {kind} rule needs a weight in (0, 1]")
            weight = float(raw)
        if spec.target is Target.DERIVED_FACT:
            return self._derived_fact(kind, target, text)
        if spec.target is Target.SCORE:
            return self._points(kind, target)
        if spec.target is Target.STATUS:
            return self._status(kind, target, text)
        if spec.target is Target.FIELDS:
            return self._fields(kind, target, text, weight)
        scale = SCALES.get(spec.target)
        if scale is not None:
            if target not in scale:
                raise ConditionSyntaxError(f"then.{kind}: found {target!r}; allowed: {allowed_list(scale)}")
            return Conclusion(kind, target, text=text, default=default)
        declared: Mapping[str, Any] = getattr(self, DECLARED[spec.target])
        if target not in declared:
            raise ConditionSyntaxError(
                f"then.{kind}: unknown {spec.target.value} {target!r}; declare it under "
                f"{DECLARED[spec.target]} in kb.yaml; allowed: {allowed_list(declared)}"
                + did_you_mean(target, declared))
        return Conclusion(kind, target, weight=weight, text=text)

    def _derived_fact(self, kind: Kind, target: Any, text: str) -> Conclusion:
        if not isinstance(target, dict) or len(target) != 1:
            raise ConditionSyntaxError(f"then.{kind}: expected one 'name: value'")
        (name, value), = target.items()
        fact = self.derived.get(name)
        if fact is None:
            raise ConditionSyntaxError(f"then.{kind}: unknown derived fact {name!r}; declare it in kb.yaml"
                                       + did_you_mean(name, self.derived))
        value = as_word(value)
        if value not in fact.values:
            raise ConditionSyntaxError(f"then.{kind}.{name}: value {value!r} not in {allowed_list(fact.values)}")
        return Conclusion(kind, name, value, text=text)

    def _points(self, kind: Kind, target: Any) -> Conclusion:
        if not isinstance(target, dict) or len(target) != 1:
            raise ConditionSyntaxError(f"then.{kind}: expected one 'score.component: points'")
        (key, points), = target.items()
        score_id, _, component = str(key).partition(".")
        score = self.scores.get(score_id)
        if score is None:
            raise ConditionSyntaxError(f"then.{kind}: unknown score {score_id!r}; declare it under scores in kb.yaml"
                                       + did_you_mean(score_id, self.scores))
        if component not in score.components:
            raise ConditionSyntaxError(f"then.{kind}.{score_id}: unknown component {component!r}; allowed: "
                                       + allowed_list(score.components) + did_you_mean(component, score.components))
        if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= 10:
            raise ConditionSyntaxError(f"then.{kind}.{key}: found {points!r}; points are a whole number from 1 to 10")
        return Conclusion(kind, score_id, component, weight=float(points))

    def _status(self, kind: Kind, target: Any, text: str) -> Conclusion:
        if not isinstance(target, dict) or len(target) != 1:
            raise ConditionSyntaxError(f"then.{kind}: expected one 'hypothesis: status'")
        (hid, status), = target.items()
        if hid not in self.alarms:
            raise ConditionSyntaxError(f"then.{kind}: {hid!r} is not an alarm hypothesis of kb.yaml's safety "
                                       "section; allowed: " + allowed_list(self.alarms)
                                       + did_you_mean(str(hid), self.alarms))
        if status not in STATUSES:
            raise ConditionSyntaxError(f"then.{kind}.{hid}: found {status!r}; allowed: {allowed_list(STATUSES)}")
        return Conclusion(kind, str(hid), str(status), text=text)

    def _fields(self, kind: Kind, target: Any, text: str, weight: float) -> Conclusion:
        # Findings worth asking for next, or unsafe to test.
        paths = target if isinstance(target, list) else [target]
        for path in paths:
            if not isinstance(path, str) or path not in self.vocabulary.fields:
                raise ConditionSyntaxError(f"then.{kind}: unknown fact {path!r}"
                                           + did_you_mean(path, self.vocabulary.fields))
        return Conclusion(kind, "questions", weight=weight, facts=tuple(paths), text=text)

    def parse_when(self, when: Any, conclusion: Conclusion) -> tuple[Condition, ...]:
        if not isinstance(when, dict):
            raise ConditionSyntaxError("when: expected a mapping of fact: test")
        reads = conclusion.spec.reads
        result = []
        for key, raw in when.items():
            try:
                c = self.parse_condition(str(key), raw)
            except ConditionSyntaxError as exc:
                # Helpers (bands, red flags, operators) do not know the key.
                if str(exc).startswith("when."):
                    raise
                raise ConditionSyntaxError(f"when.{key}: {exc}") from None
            if c.kind not in reads:
                raise ConditionSyntaxError(
                    f"when.{key}: a {conclusion.kind} rule cannot read {c.kind.replace('_', ' ')} facts "
                    f"(layer {conclusion.layer} reads: {', '.join(sorted(reads))})"
                )
            result.append(c)
        return tuple(result)

    def parse_condition(self, key: str, raw: Any) -> Condition:
        op, operand = cond.parse_operand(raw)
        if key == "red_flag":
            if op not in (None, "in"):
                raise ConditionSyntaxError("when.red_flag: use 'any', an id, or {in: [...]}")
            return Condition(cond.RED_FLAG, "red_flag", "present",
                             cond.red_flag_values(operand, tuple(self.red_flags)))
        if key.startswith("status."):
            hid = key.split(".", 1)[1]
            if hid not in self.alarms:
                raise ConditionSyntaxError(f"when.{key}: {hid!r} is not an alarm hypothesis of kb.yaml's safety "
                                           "section" + did_you_mean(hid, self.alarms))
            values = self._words(key, operand, {s: s for s in STATUSES}, op)
            if op in ("any", "all", "none", "unless"):
                raise ConditionSyntaxError(f"when.{key}: use a status, {{in: [...]}} or {{not: ...}}")
            return Condition(cond.STATUS, hid, "not_in" if op in ("not", "not_in") else "in", values)
        if key.startswith("hypothesis."):
            hid = key.split(".", 1)[1]
            if hid not in self.hypotheses:
                raise ConditionSyntaxError(f"when.{key}: unknown hypothesis {hid!r}"
                                           + did_you_mean(hid, self.hypotheses))
            if op not in (None, "at_least"):
                raise ConditionSyntaxError(f"when.{key}: use {{at_least: possible}} or a band")
            values = cond.band_values(operand)
            return Condition(cond.HYPOTHESIS, hid, "at_least" if op else "in", values)
        if key in self.derived:
            if op == "unless":
                raise ConditionSyntaxError(f"when.{key}: unless reads case findings only (a conclusion "
                                           "may still be reached later; use not for a known value)")
            fact = self.derived[key]
            values = self._words(key, operand, fact.values, op)
            return Condition(cond.DERIVED, key, "not_in" if op in ("not", "not_in") else "in", values)
        spec = self.vocabulary.fields.get(key)
        if spec is None:
            known = [*self.vocabulary.fields, *self.derived, "red_flag"]
            raise ConditionSyntaxError(f"when.{key}: unknown fact" + did_you_mean(key, known))
        return _field_condition(spec, op, operand, self._words)

    @staticmethod
    def _words(key: str, operand: Any, allowed: Mapping[str, str], op: str | None) -> tuple[str, ...]:
        if op not in (None, "in", "not", "not_in", "any", "all", "none", "unless"):
            raise ConditionSyntaxError(f"when.{key}: unknown operator {op!r}; allowed: "
                                       + allowed_list(["in", "not", "any", "all", "none", "unless", "min", "max"]))
        items = operand if isinstance(operand, list) else [operand]
        words = [as_word(item) for item in items]
        for word in words:
            if word not in allowed:
                raise ConditionSyntaxError(f"when.{key}: unknown value {word!r}; allowed: "
                                           + allowed_list(allowed) + did_you_mean(word, allowed))
        if not words:
            raise ConditionSyntaxError(f"when.{key}: an empty list of values")
        return tuple(sorted(set(words)))


def _field_condition(spec: Field, op: str | None, operand: Any, words) -> Condition:
    key = spec.path
    if spec.is_numeric:
        if op == "range":
            low, high = operand
        elif op is None:
            low = high = operand
        else:
            raise ConditionSyntaxError(f"when.{key}: a number takes a value or {{min: .., max: ..}}")
        for bound in (low, high):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))):
                raise ConditionSyntaxError(f"when.{key}: bounds must be numbers")
        return Condition(cond.CASE, key, "range", (low, high))
    if spec.type == "set":
        values = words(key, operand, spec.values, op)
        mapped = {None: "any", "in": "any", "any": "any", "all": "all", "none": "none", "not": "none", "not_in": "none",
                  "unless": "unless"}
        return Condition(cond.CASE, key, mapped[op], values)
    if spec.type == "choice":
        if op in ("any", "all", "none"):
            raise ConditionSyntaxError(f"when.{key}: {op} is for lists; use in or not")
        values = words(key, operand, spec.values, op)
        if op == "unless":
            return Condition(cond.CASE, key, "unless", values)
        return Condition(cond.CASE, key, "not_in" if op in ("not", "not_in") else "in", values)
    raise ConditionSyntaxError(f"when.{key}: rules cannot test a {spec.type} field")
