"""The stages a case unfolds in, and the library's words for its tags.

``facts/teaching/library.yaml`` names the stages in order (history, symptom
behaviour, examination, imaging), each as a list of the vocabulary's
*groups*: a finding is revealed at the stage of its group, so a field the
knowledge engineer adds to a group lands in that group's stage without code.
Every group of the vocabulary is in exactly one stage, and the group of a
required field (``pain.regions``) in the first, so that every stage is a
valid case. The same file holds the words of the library's tags (topics and
difficulties), so that a case can only be tagged with one of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipkb.errors import HipkbError, TeachingError, allowed_list, describe, did_you_mean
from hipkb.knowledge.case import Case
from hipkb.knowledge.vocabulary import Vocabulary
from hipkb.parse.text import load_file

DIRECTORY = "teaching"
MANIFEST = "library.yaml"
FORMAT = "hipkb-teaching-library/1"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_KEYS = ("format", "stages", "topics", "difficulties")
_STAGE_KEYS = ("id", "label", "prompt", "groups")


@dataclass(frozen=True)
class Stage:
    """One step of the reveal: its id, its heading, what the student is asked, and the groups it reveals."""

    id: str
    label: str
    prompt: str
    groups: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "prompt": self.prompt, "groups": list(self.groups)}


@dataclass(frozen=True)
class Manifest:
    """The stages, in order, and the words of the library's tags."""

    stages: tuple[Stage, ...]
    topics: Mapping[str, str]
    difficulties: Mapping[str, str]
    source: str = ""

    def stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise KeyError(stage_id)

    def stage_of(self, path: str) -> Stage:
        """The stage that reveals finding *path* (``group.field``)."""
        group = path.partition(".")[0]
        for stage in self.stages:
            if group in stage.groups:
                return stage
        raise KeyError(path)


def manifest_path(facts_dir: Path) -> Path:
    return facts_dir / DIRECTORY / MANIFEST


def load_manifest(facts_dir: Path, vocabulary: Vocabulary) -> Manifest:
    """The library manifest of *facts_dir*; a missing or bad one is one :class:`TeachingError` line."""
    path = manifest_path(facts_dir)
    if not path.is_file():
        raise TeachingError(str(path), "", "no teaching library here (its library.yaml is missing)")
    return parse_manifest(read_data(path), str(path), vocabulary)


def read_data(path: Path) -> Any:
    """A library file's data, read by the strict safe loader; its errors are this library's, in one line."""
    try:
        return load_file(path)
    except HipkbError as error:
        raise TeachingError(error.source, error.where, error.message) from None


def _text(value: Any, source: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TeachingError(source, where, f"found {describe(value)}; expected a text")
    return " ".join(value.split())


def _words(data: Mapping[str, Any], key: str, source: str) -> dict[str, str]:
    entries = data.get(key)
    if not isinstance(entries, Mapping) or not entries:
        raise TeachingError(source, key, f"found {describe(entries)}; expected a mapping of id to words")
    words = {}
    for tid, text in entries.items():
        if not isinstance(tid, str) or not _ID.match(tid):
            raise TeachingError(source, f"{key}.{tid}", "an id is lower_snake_case")
        words[tid] = _text(text, source, f"{key}.{tid}")
    return words


def parse_manifest(data: Any, source: str, vocabulary: Vocabulary) -> Manifest:
    """Check a library manifest against the vocabulary; every problem names the file and the field."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise TeachingError(source, "format", f"expected format: {FORMAT}")
    extra = sorted(str(k) for k in data if k not in _KEYS)
    if extra:
        raise TeachingError(source, extra[0], f"unknown key; allowed: {', '.join(_KEYS)}")
    raw = data.get("stages")
    if not isinstance(raw, list) or not raw:
        raise TeachingError(source, "stages", f"found {describe(raw)}; expected a list of stages")
    stages: list[Stage] = []
    placed: dict[str, str] = {}
    for n, entry in enumerate(raw):
        where = f"stages[{n}]"
        if not isinstance(entry, Mapping):
            raise TeachingError(source, where, f"found {describe(entry)}; expected a mapping of "
                                f"{', '.join(_STAGE_KEYS)}")
        unknown = sorted(str(k) for k in entry if k not in _STAGE_KEYS)
        if unknown:
            raise TeachingError(source, f"{where}.{unknown[0]}", f"unknown key; allowed: {', '.join(_STAGE_KEYS)}")
        sid = entry.get("id")
        if not isinstance(sid, str) or not _ID.match(sid):
            raise TeachingError(source, f"{where}.id", f"found {describe(sid)}; expected a lower_snake_case id")
        if any(s.id == sid for s in stages):
            raise TeachingError(source, f"{where}.id", f"stage {sid!r} is named twice")
        groups = entry.get("groups")
        if not isinstance(groups, list) or not groups:
            raise TeachingError(source, f"{where}.groups", f"found {describe(groups)}; expected a list of "
                                "the vocabulary's groups")
        for group in groups:
            if group not in vocabulary.groups:
                raise TeachingError(source, f"{where}.groups", f"found {describe(group)}; allowed: "
                                    f"{allowed_list(vocabulary.groups)}" + did_you_mean(group, vocabulary.groups))
            if group in placed:
                raise TeachingError(source, f"{where}.groups", f"the group {group!r} is already in the stage "
                                    f"{placed[group]!r}; a group is revealed once")
            placed[group] = sid
        stages.append(Stage(sid, _text(entry.get("label"), source, f"{where}.label"),
                            _text(entry.get("prompt"), source, f"{where}.prompt"), tuple(groups)))
    missing = [g for g in vocabulary.groups if g not in placed]
    if missing:
        raise TeachingError(source, "stages", f"the vocabulary's group {missing[0]!r} is in no stage; "
                            "add it to the stage that should reveal it")
    first = stages[0]
    for spec in vocabulary.fields.values():
        if spec.required and spec.group not in first.groups:
            raise TeachingError(source, "stages", f"{spec.path} is required in every case, so its group "
                                f"{spec.group!r} belongs in the first stage ({first.id!r})")
    return Manifest(tuple(stages), _words(data, "topics", source), _words(data, "difficulties", source), source)


def case_at(case: Case, stages: tuple[Stage, ...], upto: int) -> Case:
    """*case* as known after its first *upto* stages: the findings of their groups, the others unknown."""
    shown = {group for stage in stages[:upto] for group in stage.groups}
    findings = {group: (dict(values) if group in shown else {}) for group, values in case.findings.items()}
    return Case(case.case_id, findings, None, case.source)


def stages_with_findings(case: Case, manifest: Manifest, also: tuple[str, ...] = ()) -> tuple[Stage, ...]:
    """The manifest's stages that reveal something in *case*, or that are named in *also* (a vignette's)."""
    kept = []
    for stage in manifest.stages:
        if stage.id in also or any(case.findings.get(group) for group in stage.groups):
            kept.append(stage)
    return tuple(kept)


def new_findings(case: Case, stage: Stage) -> list[str]:
    """The findings *stage* reveals, as fact strings (``group.field=value``), in the vocabulary's order."""
    found: list[str] = []
    for group in stage.groups:
        for name, value in case.findings.get(group, {}).items():
            items = value if isinstance(value, tuple) else (value,)
            found.extend(f"{group}.{name}={item}" for item in items)
    return found


__all__ = ["Manifest", "Stage", "case_at", "load_manifest", "manifest_path", "new_findings", "parse_manifest",
           "stages_with_findings"]
