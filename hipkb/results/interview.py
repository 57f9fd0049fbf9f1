"""Build a case by asking questions, most useful first (the logic behind ``hipkb interview``).

An :class:`Interview` keeps the answers so far. After each answer it runs the
engine on the partial case and picks the next question the way a clinician
would: first what the case format requires (``pain.regions``), then the
unknown finding the knowledge base ranks highest (:func:`hipkb.results.questions.next_questions`:
red-flag screens and triage first, then what separates the hypotheses in
contention), then the rest of the vocabulary in its own order. A finding the
rules say not to ask for now (``avoid_asking``, such as hopping once a bone
stress injury is possible) is never asked.

Answers are words of the vocabulary (``worsens``), a number from the listed
options (``2``), or for yes/no fields ``y``/``n``; an empty answer, ``?`` or
``unknown`` leaves the finding unknown (omitted means unknown in a case file).
Every answer is validated against the vocabulary: a bad one raises
:class:`AnswerError`, which the caller either re-asks (a person at a terminal)
or reports (answers from a script).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hipkb.engine.reasoner import Reasoner
from hipkb.engine.record import Inference
from hipkb.errors import AnswerError, InterviewError, allowed_list, describe, did_you_mean
from hipkb.knowledge.case import CASE_FORMAT
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.knowledge.vocabulary import Field
from hipkb.load.case import Case, Value, validate
from hipkb.parse.yamlrules import DECIMAL
from hipkb.results.questions import next_questions

FORMAT = CASE_FORMAT
UNKNOWN_WORDS = frozenset({"", "?", "unknown", "u", "skip", "dont_know", "not_known"})
EMPTY_LIST_WORDS = frozenset({"[]", "nothing"})
ASKABLE = ("choice", "set", "integer", "number")
TOP_SHOWN = 3
_INDEX = re.compile(r"[0-9]{1,6}")  # an option's number: ASCII digits ("²".isdigit() is true, int("²") fails)


def _word(text: str) -> str:
    return re.sub(r"[\s-]+", "_", text.strip().lower())


def options(field: Field) -> list[tuple[str, str]]:
    """The allowed values of a choice or set field with their labels, in vocabulary order."""
    return list(field.values.items())


def prompt_text(field: Field) -> str:
    """The question for *field*, with its numbered options and how to say "unknown"."""
    lines = [f"{field.question or field.path}  [{field.path}]"]
    if field.type in ("choice", "set"):
        for index, (value, label) in enumerate(options(field), start=1):
            shown = value if label == value else f"{value}: {label}"
            lines.append(f"  {index}) {shown}")
        if field.type == "set":
            lines.append("  (several: separate with commas" + (", or [] for none)" if not field.min_items else ")"))
    elif field.is_numeric:
        low = "" if field.minimum is None else f"{field.minimum:g}"
        high = "" if field.maximum is None else f"{field.maximum:g}"
        kind = "a whole number" if field.type == "integer" else "a number"
        lines.append(f"  ({kind}" + (f" from {low} to {high}" if high else f" >= {low}" if low else "") + ")")
    unknown = "press Enter" if field.required else "press Enter or type ? if unknown"
    if not field.required:
        lines.append(f"  ({unknown})")
    return "\n".join(lines)


def parse_answer(field: Field, text: str, source: str = "<answer>") -> Value | None:
    """Map one typed answer to the value a case file holds; ``None`` means unknown.

    Raises :class:`AnswerError` naming the field, what was typed and what is allowed.
    """
    raw = text.strip()
    word = _word(raw)
    if word in UNKNOWN_WORDS or word in field.unknown:
        return None
    if field.type == "choice":
        return _choice(field, raw, word, source)
    if field.type == "set":
        return _set(field, raw, source)
    if field.is_numeric:
        return _number(field, raw, source)
    raise AnswerError(source, field.path, f"a {field.type} field is not asked in an interview")


def _choice(field: Field, raw: str, word: str, source: str) -> str:
    values = list(field.values)
    if word in field.values:
        return word
    if word in ("y", "true") and True in field.boolean_values:
        return "yes"
    if word in ("n", "false") and False in field.boolean_values:
        return "no"
    if _INDEX.fullmatch(word) and 1 <= int(word) <= len(values):
        return values[int(word) - 1]
    for value, label in field.values.items():
        if _word(label) == word:
            return value
    allowed = [*values, "unknown"]
    raise AnswerError(source, field.path, f"found {describe(raw)}; allowed: {allowed_list(allowed)} "
                      f"or a number from 1 to {len(values)}" + did_you_mean(word, values))


def _set_item(field: Field, item: str) -> str | None:
    word = _word(item)
    values = list(field.values)
    if word in field.values:
        return word
    if _INDEX.fullmatch(word) and 1 <= int(word) <= len(values):
        return values[int(word) - 1]
    for value, label in field.values.items():
        if _word(label) == word:
            return value
    return None


def _set(field: Field, raw: str, source: str) -> tuple[str, ...]:
    """Items separated by commas or semicolons; within one, spaces may also separate
    (``groin lower_back``), while ``lower back`` still reads as one region."""
    values = list(field.values)
    chosen: set[str] = set()
    text = raw.strip()
    chunks = [c.strip() for c in re.split(r"[,;]+", text.strip("[] ")) if c.strip()]
    empty = _word(text) in EMPTY_LIST_WORDS or (not chunks and text.startswith("[")) or (
        [_word(c) for c in chunks] == ["none"] and "none" not in field.values)
    if not empty:
        for chunk in chunks:
            value = _set_item(field, chunk)
            if value is not None:
                chosen.add(value)
                continue
            for item in chunk.split():
                value = _set_item(field, item)
                if value is None:
                    raise AnswerError(source, field.path, f"found {describe(item)}; allowed: {allowed_list(values)} "
                                      f"or numbers from 1 to {len(values)}" + did_you_mean(_word(item), values))
                chosen.add(value)
    if len(chosen) < field.min_items:
        raise AnswerError(source, field.path, f"give at least {field.min_items} of: {allowed_list(values)}")
    return tuple(v for v in values if v in chosen)


def _number(field: Field, raw: str, source: str) -> int | float:
    if DECIMAL.fullmatch(raw) is None:  # float() would take "1_000", "١٢" and "nan"
        raise AnswerError(source, field.path,
                          f"found {describe(raw)}; expected a {field.type} (finite, written in plain decimal)")
    number = float(raw)
    if not math.isfinite(number):
        raise AnswerError(source, field.path, f"found {describe(raw)}; expected a finite number")
    if field.type == "integer" and not number.is_integer():
        raise AnswerError(source, field.path, f"found {describe(raw)}; expected a whole number")
    if (field.minimum is not None and number < field.minimum) or (
            field.maximum is not None and number > field.maximum):
        low = "" if field.minimum is None else f"{field.minimum:g}"
        high = "no limit" if field.maximum is None else f"{field.maximum:g}"
        raise AnswerError(source, field.path, f"found {describe(raw)}; allowed: {low} to {high}")
    return int(number) if number.is_integer() else number


@dataclass(frozen=True)
class Snapshot:
    """What the engine concluded from the answers so far, as the interview shows it."""

    top: tuple[tuple[str, str, float], ...]
    triage: str
    running: str
    red_flags: tuple[str, ...]


class Interview:
    """The answers of one interview and the choice of the next question."""

    def __init__(self, kb: KnowledgeBase, reasoner: Reasoner, *, case_id: str = "interview",
                 max_questions: int | None = None) -> None:
        self.kb = kb
        self.reasoner = reasoner
        self.case_id = case_id
        self.max_questions = max_questions
        self.answers: dict[str, Value | None] = {}
        self.inference: Inference | None = None
        limit = kb.vocabulary.top.get("case_id")
        if not case_id.strip() or (limit and limit.max_length and len(case_id) > limit.max_length):
            raise InterviewError("--case-id", "", "a case id is non-empty text of at most "
                                 f"{limit.max_length if limit else 200} characters")

    # -- the case so far -------------------------------------------------
    @property
    def asked(self) -> list[str]:
        return list(self.answers)

    def data(self) -> dict[str, Any]:
        """The answers as a ``hipkb-case/1`` mapping: known findings only, in vocabulary order."""
        data: dict[str, Any] = {"format": FORMAT, "case_id": self.case_id}
        for gname, group in self.kb.vocabulary.groups.items():
            values = {}
            for fname, field in group.fields.items():
                value = self.answers.get(field.path)
                if value is not None:
                    values[fname] = list(value) if isinstance(value, tuple) else value
            if values:
                data[gname] = values
        return data

    def case(self) -> Case | None:
        """The answers as a validated case, or ``None`` while a required finding is missing."""
        if any(f.required and self.answers.get(f.path) is None for f in self.kb.vocabulary.fields.values()):
            return None
        return validate(self.data(), self.kb.vocabulary, "<interview>", hypotheses=self.kb.hypotheses)

    def update(self) -> Snapshot | None:
        """Run the engine on the case so far; ``None`` while it cannot run yet."""
        case = self.case()
        if case is None:
            self.inference = None
            return None
        inference = self.inference = self.reasoner.infer(case)
        assert inference.triage is not None and inference.running is not None
        return Snapshot(
            tuple((s.hypothesis, s.band, s.certainty) for s in inference.ranked()[:TOP_SHOWN]),
            inference.triage.value, inference.running.value, tuple(sorted(inference.red_flags)),
        )

    def record(self, path: str, value: Value | None) -> Snapshot | None:
        """Keep one answer (``None`` for unknown) and reason again."""
        self.answers[path] = value
        return self.update()

    # -- the next question -------------------------------------------------
    def next_field(self) -> Field | None:
        """The most useful question not yet asked, or ``None`` when the interview is done."""
        fields = self.kb.vocabulary.fields
        askable = [f for f in fields.values() if f.type in ASKABLE]
        for field in askable:
            if field.required and field.path not in self.answers:
                return field
        if self.max_questions is not None and len(self.answers) >= self.max_questions:
            return None
        inference = self.inference
        avoid = set(inference.avoid) if inference is not None else set()
        if inference is not None:
            for q in next_questions(self.kb, inference, limit=len(fields)):
                asked = fields.get(q.fact)
                if asked is not None and asked.type in ASKABLE and q.fact not in self.answers \
                        and q.fact not in avoid:
                    return asked
        for field in askable:
            if field.path not in self.answers and field.path not in avoid:
                return field
        return None

    def describe(self, snapshot: Snapshot | None) -> str:
        """One line for the person answering: the top of the differential, triage and advice."""
        if snapshot is None:
            return "differential: (waiting for the required findings)"
        top = "; ".join(f"{self.kb.hypotheses[h].label} ({band} {c:.2f})" for h, band, c in snapshot.top)
        line = f"differential: {top or 'no hypothesis yet'} | triage {snapshot.triage}, running {snapshot.running}"
        if snapshot.red_flags:
            flags = ", ".join(self.kb.red_flags[f].label for f in snapshot.red_flags)
            line = f"RED FLAG: {flags}\n{line}"
        return line

    def to_text(self, fmt: str = "yaml") -> str:
        """The case file: YAML (with a header comment) or JSON, checked to validate."""
        data = self.data()
        validate(data, self.kb.vocabulary, "<interview>", hypotheses=self.kb.hypotheses)
        if fmt == "json":
            return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        import yaml

        header = ("# A hipkb-case/1 case written by `hipkb interview`.\n"
                  "# Findings left out are unknown: unknown is never read as no.\n")
        return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


Ask = Callable[[Field], "str | None"]
Show = Callable[[str], None]


def run(interview: Interview, ask: Ask, show: Show, *, interactive: bool, source: str = "<stdin>") -> Interview:
    """Ask until the interview is done or the answers run out (``ask`` returns ``None``).

    A bad answer is re-asked when *interactive*, and raised as :class:`AnswerError`
    otherwise; so is a missing answer to a required question.
    """
    shown = None
    while (field := interview.next_field()) is not None:
        value: Value | None
        while True:
            text = ask(field)
            if text is None:
                if field.required and interview.answers.get(field.path) is None:
                    raise InterviewError(source, field.path, "the answers ended before this required finding")
                return interview
            try:
                value = parse_answer(field, text, source)
                if value is None and field.required:
                    raise AnswerError(source, field.path, "is required: it cannot be unknown")
                break
            except AnswerError as error:
                if not interactive:
                    raise
                show(f"  {error.message}; try again")
        snapshot = interview.record(field.path, value)
        if snapshot is not None and snapshot != shown:
            show("  " + interview.describe(snapshot).replace("\n", "\n  "))
            shown = snapshot
    return interview
