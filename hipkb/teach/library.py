"""The teaching case library: ``facts/teaching/cases/*.yaml``, one case per file.

A teaching case (``hipkb-teaching-case/1``) is what an educator reads out to
a class and what hipkb reasons on, stage by stage::

    format: hipkb-teaching-case/1
    id: case-07                      # the file's name; never the answer
    title: "Case 7: a 21-year-old college runner"   # neutral: never the answer
    tags: {topics: [worst_first], difficulty: introductory}
    vignette:                        # prose per stage of library.yaml
      history: ...
      behaviour: ...
      examination: ...
    discussion: {history: [a question for the class]}   # optional
    teaching_point: ...
    answer:
      hypothesis: femoral_neck_bsi   # what the case teaches; hipkb ranks it first at the last stage
      red_flags: [possible_fracture] # optional: raised at the last stage
      summary: ...                   # optional: how it turned out
    concepts: [rule_out_the_worst_first]   # optional, of rules/teaching.yaml
    source: where it comes from (a published case, a case file of facts/cases)
    case: {...}                      # the case file behind it (hipkb-case/1, expect allowed)

Files are read by the strict safe loader (no code runs from data) and
checked against the knowledge base: every problem is one line naming the
file and the field. The region tags are the case's own ``pain.regions``. A
title or id may not hold a word of a hypothesis's or red flag's label
(``stress``, ``bursitis``), so the list never gives an answer away; a stage
that reveals findings must have its prose (a stage with prose and no
findings is allowed: "no imaging was done").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hipkb.errors import CaseError, TeachingError, allowed_list, describe, did_you_mean
from hipkb.knowledge.case import Case
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.load.case import validate
from hipkb.teach.stages import DIRECTORY, Manifest, Stage, load_manifest, read_data, stages_with_findings

CASES = "cases"
FORMAT = "hipkb-teaching-case/1"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
_KEYS = ("format", "id", "title", "tags", "vignette", "discussion", "teaching_point", "answer", "concepts",
         "source", "case")
_REQUIRED = ("format", "id", "title", "tags", "vignette", "teaching_point", "answer", "source", "case")
_ANSWER_KEYS = ("hypothesis", "red_flags", "summary")
_TAG_KEYS = ("topics", "difficulty")
TITLE_LIMIT = 100
# Words of a label that name no answer: what every case of hip pain in a runner says.
_COMMON = frozenset({"hip", "pain", "the", "and", "from", "with", "after", "runner", "runners", "possible",
                     "related", "other", "region", "muscle", "joint", "that", "than", "this", "into", "over",
                     "under", "not", "acute", "reaction", "change", "rest", "leg", "pelvis"})
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class TeachingCase:
    """One case of the library: what is read out, what it teaches, and the case hipkb reasons on."""

    id: str
    title: str
    topics: tuple[str, ...]
    difficulty: str
    vignette: Mapping[str, str]
    teaching_point: str
    answer: str
    source: str
    case: Case
    red_flags: tuple[str, ...] = ()
    summary: str = ""
    concepts: tuple[str, ...] = ()
    discussion: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    file: str = ""

    @property
    def regions(self) -> tuple[str, ...]:
        raw = self.case.get("pain.regions")
        return raw if isinstance(raw, tuple) else ()

    def stages(self, manifest: Manifest) -> tuple[Stage, ...]:
        """The stages this case unfolds in: those that reveal a finding or have prose, in order."""
        return stages_with_findings(self.case, manifest, tuple(self.vignette))


@dataclass(frozen=True)
class Library:
    """The manifest and the cases of one facts directory, in the order of their numbers."""

    manifest: Manifest
    cases: Mapping[str, TeachingCase]
    directory: Path

    def get(self, case_id: str) -> TeachingCase:
        """The case *case_id*; an unknown one is one line that lists what there is."""
        found = self.cases.get(case_id)
        if found is None:
            raise TeachingError(str(self.directory), case_id, "no such teaching case; allowed: "
                                f"{allowed_list(self.cases)}" + did_you_mean(case_id, self.cases))
        return found

    def select(self, *, region: str | None = None, topic: str | None = None,
               difficulty: str | None = None, text: str | None = None) -> list[TeachingCase]:
        """The cases that have every tag asked for (and *text* in the title, if given)."""
        words = text.lower().split() if text else []
        return [c for c in self.cases.values()
                if (region is None or region in c.regions) and (topic is None or topic in c.topics)
                and (difficulty is None or difficulty == c.difficulty)
                and all(w in c.title.lower() for w in words)]


def giveaway_words(kb: KnowledgeBase) -> dict[str, str]:
    """Each word that names an answer, with what it names: the words of hypothesis and red flag labels and ids.

    What a label says in brackets (``(adolescent)``, ``(stress reaction or
    fracture)``) is detail, not its name, and is left out.
    """
    words: dict[str, str] = {}
    named = [(h.id, h.label) for h in kb.hypotheses.values()] + [(f.id, f.label) for f in kb.red_flags.values()]
    for ident, label in named:
        bare = re.sub(r"\([^()]*\)", " ", label).lower()
        for word in _WORD.findall(bare) + _WORD.findall(ident.replace("_", " ")):
            if len(word) >= 3 and word not in _COMMON:
                words.setdefault(word, ident)
    return words


def _text(value: Any, source: str, where: str, limit: int = 4000) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TeachingError(source, where, f"found {describe(value)}; expected a text")
    text = " ".join(value.split())
    if len(text) > limit:
        raise TeachingError(source, where, f"longer than {limit} characters")
    return text


def _ids(value: Any, allowed: Mapping[str, Any], source: str, where: str, *, empty: bool = True) -> tuple[str, ...]:
    if value is None and empty:
        return ()
    if not isinstance(value, list) or (not value and not empty):
        raise TeachingError(source, where, f"found {describe(value)}; expected a list of: {allowed_list(allowed)}")
    for item in value:
        if not isinstance(item, str) or item not in allowed:
            raise TeachingError(source, where, f"found {describe(item)}; allowed: {allowed_list(allowed)}"
                                + did_you_mean(item, allowed))
    if len(set(value)) != len(value):
        raise TeachingError(source, where, "an item is listed twice")
    return tuple(value)


def _no_giveaway(text: str, words: Mapping[str, str], source: str, where: str) -> None:
    for word in _WORD.findall(text.lower().replace("-", " ")):
        if word in words:
            raise TeachingError(source, where, f"{word!r} names {words[word]}: a {where} must not give the "
                                "answer away; say who the runner is instead")


def parse_case(data: Any, source: str, kb: KnowledgeBase, manifest: Manifest, *, stem: str | None = None,
               words: Mapping[str, str] | None = None) -> TeachingCase:
    """Check one teaching case against the knowledge base and the manifest; one line per problem."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise TeachingError(source, "format", f"expected format: {FORMAT}")
    unknown = sorted(str(k) for k in data if k not in _KEYS)
    if unknown:
        raise TeachingError(source, unknown[0], f"unknown key; allowed: {', '.join(_KEYS)}"
                            + did_you_mean(unknown[0], _KEYS))
    for key in _REQUIRED:
        if key not in data:
            raise TeachingError(source, key, "is required")
    words = giveaway_words(kb) if words is None else words
    cid = data["id"]
    if not isinstance(cid, str) or not _ID.match(cid):
        raise TeachingError(source, "id", f"found {describe(cid)}; expected lower-case letters, digits and "
                            "hyphens (case-07)")
    if stem is not None and cid != stem:
        raise TeachingError(source, "id", f"found {cid!r}; the id is the file's name without .yaml ({stem!r})")
    _no_giveaway(cid, words, source, "id")
    title = _text(data["title"], source, "title", TITLE_LIMIT)
    _no_giveaway(title, words, source, "title")

    tags = data["tags"]
    if not isinstance(tags, Mapping):
        raise TeachingError(source, "tags", f"found {describe(tags)}; expected a mapping of {', '.join(_TAG_KEYS)}")
    extra = sorted(str(k) for k in tags if k not in _TAG_KEYS)
    if extra:
        raise TeachingError(source, f"tags.{extra[0]}", f"unknown key; allowed: {', '.join(_TAG_KEYS)} (the "
                            "region tags are the case's pain.regions)")
    topics = _ids(tags.get("topics"), manifest.topics, source, "tags.topics", empty=False)
    difficulty = tags.get("difficulty")
    if not isinstance(difficulty, str) or difficulty not in manifest.difficulties:
        raise TeachingError(source, "tags.difficulty", f"found {describe(difficulty)}; allowed: "
                            f"{allowed_list(manifest.difficulties)}" + did_you_mean(difficulty, manifest.difficulties))

    raw_case = data["case"]
    try:
        case = validate(raw_case, kb.vocabulary, source, default_id=cid, hypotheses=kb.hypotheses)
    except CaseError as error:
        raise TeachingError(error.source, f"case.{error.where}" if error.where else "case", error.message) from None
    if isinstance(raw_case, Mapping) and "case_id" in raw_case and case.case_id != cid:
        raise TeachingError(source, "case.case_id", f"found {case.case_id!r}; leave it out, or write the case's "
                            f"id ({cid!r})")

    stage_ids = [s.id for s in manifest.stages]
    vignette = data["vignette"]
    if not isinstance(vignette, Mapping) or not vignette:
        raise TeachingError(source, "vignette", f"found {describe(vignette)}; expected prose for each stage: "
                            f"{', '.join(stage_ids)}")
    prose: dict[str, str] = {}
    for key, text in vignette.items():
        if key not in stage_ids:
            raise TeachingError(source, f"vignette.{key}", f"not a stage; allowed: {', '.join(stage_ids)}"
                                + did_you_mean(key, stage_ids))
        prose[key] = _text(text, source, f"vignette.{key}")
    for stage in manifest.stages:
        if stage.id not in prose and any(case.findings.get(group) for group in stage.groups):
            groups = [g for g in stage.groups if case.findings.get(g)]
            raise TeachingError(source, f"vignette.{stage.id}", f"missing: the case reveals {', '.join(groups)} "
                                "findings at this stage; write what the class hears")
    prose = {s.id: prose[s.id] for s in manifest.stages if s.id in prose}  # the stages' order

    discussion: dict[str, tuple[str, ...]] = {}
    raw = data.get("discussion") or {}
    if not isinstance(raw, Mapping):
        raise TeachingError(source, "discussion", f"found {describe(raw)}; expected a mapping of stage to questions")
    for key, items in raw.items():
        if key not in prose:
            raise TeachingError(source, f"discussion.{key}", "a stage this case has prose for; allowed: "
                                f"{', '.join(prose)}")
        if not isinstance(items, list) or not items:
            raise TeachingError(source, f"discussion.{key}", f"found {describe(items)}; expected a list of questions")
        discussion[key] = tuple(_text(item, source, f"discussion.{key}[{n}]", 400) for n, item in enumerate(items))

    answer = data["answer"]
    if not isinstance(answer, Mapping):
        raise TeachingError(source, "answer", f"found {describe(answer)}; expected a mapping of "
                            f"{', '.join(_ANSWER_KEYS)}")
    extra = sorted(str(k) for k in answer if k not in _ANSWER_KEYS)
    if extra:
        raise TeachingError(source, f"answer.{extra[0]}", f"unknown key; allowed: {', '.join(_ANSWER_KEYS)}")
    hypothesis = answer.get("hypothesis")
    if not isinstance(hypothesis, str) or hypothesis not in kb.hypotheses:
        raise TeachingError(source, "answer.hypothesis", f"found {describe(hypothesis)}; allowed: "
                            f"{allowed_list(kb.hypotheses)}" + did_you_mean(hypothesis, kb.hypotheses))
    flags = _ids(answer.get("red_flags"), kb.red_flags, source, "answer.red_flags")
    summary = _text(answer["summary"], source, "answer.summary") if "summary" in answer else ""
    concepts = _ids(data.get("concepts"), kb.concepts, source, "concepts")
    return TeachingCase(
        id=cid, title=title, topics=topics, difficulty=difficulty, vignette=prose,
        teaching_point=_text(data["teaching_point"], source, "teaching_point"), answer=hypothesis,
        source=_text(data["source"], source, "source", 600), case=case, red_flags=flags, summary=summary,
        concepts=concepts, discussion=discussion, file=source,
    )


def case_file(case: TeachingCase) -> str:
    """The case file behind a teaching case, as ``hipkb-case/1`` YAML that ``hipkb run`` takes."""
    import yaml

    header = (f"# The case behind {case.title} (teaching case {case.id}).\n"
              "# Findings left out are unknown: unknown is never read as no.\n")
    return header + yaml.safe_dump(case.case.to_data(), sort_keys=False, allow_unicode=True, default_flow_style=False)


def _number_key(case_id: str) -> tuple[Any, ...]:
    """case-2 before case-10: digits compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", case_id))


def library_dir(kb: KnowledgeBase, facts_dir: Path | None = None) -> Path:
    directory = facts_dir or kb.facts_dir
    if directory is None:
        raise TeachingError("facts", "", "the knowledge base has no facts directory, so no teaching library")
    return Path(directory) / DIRECTORY


def load_library(kb: KnowledgeBase, facts_dir: Path | None = None) -> Library:
    """The teaching library of *facts_dir* (the knowledge base's own by default), every case checked."""
    directory = library_dir(kb, facts_dir)
    manifest = load_manifest(directory.parent, kb.vocabulary)
    cases_dir = directory / CASES
    found: dict[str, TeachingCase] = {}
    words = giveaway_words(kb)
    if cases_dir.is_dir():
        # Hidden files (an editor's lock or backup) are no part of it, as everywhere in a knowledge base.
        paths = sorted((p for p in cases_dir.iterdir() if p.suffix in (".yaml", ".yml")
                        and not p.name.startswith(".")), key=lambda p: _number_key(p.stem))
        for path in paths:
            if not path.is_file():
                raise TeachingError(str(path), "", "not a regular file")
            found[path.stem] = parse_case(read_data(path), str(path), kb, manifest, stem=path.stem, words=words)
    return Library(manifest, found, directory)


def load_teaching_file(path: Path, kb: KnowledgeBase, facts_dir: Path | None = None) -> TeachingCase:
    """One teaching case file anywhere (an educator's own), checked against the library's manifest."""
    manifest = load_manifest(library_dir(kb, facts_dir).parent, kb.vocabulary)
    return parse_case(read_data(path), str(path), kb, manifest, stem=path.stem)


__all__ = ["FORMAT", "Library", "TeachingCase", "case_file", "giveaway_words", "library_dir", "load_library",
           "load_teaching_file", "parse_case"]
