"""Handouts: the student sheet and the answer key of a teaching case.

- The **student sheet** is the vignette stage by stage, each stage followed
  by the questions the student commits to (leading hypothesis, triage level,
  next question or test) and the case's discussion questions, with room to
  write. It holds no answer: nothing hipkb concludes, no teaching point, no
  learning point, and the words of the answer's label appear only where the
  vignette itself says them.
- The **answer key** is the reasoning stage by stage: the findings each stage
  reveals, what hipkb concludes from them (its top three, triage, running,
  red flags, the alarm hypotheses and how to exclude them, the next
  questions, the tests that are unsafe now and why), how each hypothesis's
  certainty and status moved (the small chart, as a table), then the answer,
  the teaching point, the learning points and concepts of
  ``rules/teaching.yaml``, and the references.

:func:`handout_model` builds the data; :func:`render_handout` lays it out
with ``handout-student.<fmt>.j2`` or ``handout-educator.<fmt>.j2`` in the
reports' sandbox. Each is printed on as few pages as its content needs (a
print stylesheet, A4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hipkb import __version__
from hipkb.engine.reasoner import Reasoner
from hipkb.errors import TeachingError
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.knowledge.scales import TRIAGE_LEVELS
from hipkb.results import explain as ex
from hipkb.teach import words
from hipkb.teach.feedback import unsafe_test
from hipkb.teach.library import Library, TeachingCase
from hipkb.teach.reveal import StageRun, movement, run_stages, stage_summary

AUDIENCES = ("student", "educator")
FORMATS = ("html", "md")
DISCLAIMER = ("For teaching clinical reasoning. hipkb is decision support, not a diagnosis: it reasons only from "
              "what the case says, with rules a clinician can read.")
COMMIT = ("Your leading hypothesis", "Triage level (circle one)", "The next question you would ask, or test you "
          "would do")


def _unsafe_now(kb: KnowledgeBase, run: StageRun) -> list[dict[str, Any]]:
    """The loading tests a rule forbids at this stage, with the reason of the first rule."""
    found = []
    for path in kb.safety.unsafe_tests:
        warning = unsafe_test(kb, run.inference, run.result, path)
        if warning is not None and run.case.get(path) is None:
            found.append({"fact": path, "test": warning["test"], "name": ex.field_words(path),
                          "reason": warning["rules"][0]["reason"],
                          "rule": warning["rules"][0]["title"], "source": warning["rules"][0]["source"]})
    return found


def _moved(row: dict[str, Any], n: int) -> dict[str, Any] | None:
    """What moved one followed hypothesis at stage *n* (0-based), or None when nothing did."""
    cell = row["cells"][n]
    before: dict[str, Any] = row["cells"][n - 1] if n else {"certainty": 0.0, "status": None}
    because = row["moves"][n]
    if abs(cell["certainty"] - before["certainty"]) < 0.05 and cell["status"] == before["status"]:
        return None  # what hardly moved is left out: the chart shows it
    findings: dict[str, list[str]] = {"for": [], "against": []}
    for item in because:
        if item["change"] not in findings:
            continue  # a status vote, or evidence that no longer counts
        for text in item["facts"]:
            if text not in findings[item["change"]]:
                findings[item["change"]].append(text)
    return {"label": row["label"], "from": before["certainty"], "to": cell["certainty"],
            "status_from": words.status(before["status"]) if before["status"] else "",
            "status_to": words.status(cell["status"]) if cell["status"] else "",
            "for": findings["for"][:4], "against": findings["against"][:3]}


def handout_model(kb: KnowledgeBase, reasoner: Reasoner, library: Library, case: TeachingCase, *,
                  audience: str = "student", upto: int | None = None) -> dict[str, Any]:
    """Everything a handout shows, for *audience* (``student`` or ``educator``), up to stage *upto*."""
    if audience not in AUDIENCES:
        raise TeachingError(audience, "", f"unknown audience; allowed: {', '.join(AUDIENCES)}")
    stages = case.stages(library.manifest)
    if upto is not None and not 1 <= upto <= len(stages):
        raise TeachingError(case.id, "stage", f"found {upto}; this case has stages 1 to {len(stages)}")
    shown = stages[:upto] if upto else stages
    model: dict[str, Any] = {
        "audience": audience,
        "educator": audience == "educator",
        "id": case.id,
        "title": case.title,
        "difficulty": library.manifest.difficulties[case.difficulty],
        "topics": [library.manifest.topics[t] for t in case.topics],
        "regions": [kb.vocabulary.fields["pain.regions"].values.get(r, r) for r in case.regions]
        if "pain.regions" in kb.vocabulary.fields else list(case.regions),
        "disclaimer": DISCLAIMER,
        "hipkb_version": __version__,
        "kb": {"name": kb.name, "version": kb.version},
        "triage_levels": [words.level(level) for level in TRIAGE_LEVELS],
        "commit": list(COMMIT),
        "partial": len(shown) < len(stages),
        "stages": [{"number": n, "id": s.id, "label": s.label, "prompt": s.prompt,
                    "prose": case.vignette.get(s.id, ""), "discussion": list(case.discussion.get(s.id, ()))}
                   for n, s in enumerate(shown, start=1)],
    }
    if audience == "student":
        return model
    runs = run_stages(reasoner, case.case, shown)
    chart = movement(kb, runs)
    for n, (stage, run) in enumerate(zip(model["stages"], runs, strict=True)):
        stage["hipkb"] = stage_summary(kb, run)
        stage["unsafe"] = _unsafe_now(kb, run)
        stage["moved"] = [m for row in chart["rows"] if (m := _moved(row, n)) is not None]
    last = runs[-1].result
    answer_hyp: dict[str, Any] = next((h for h in last["hypotheses"] if h["id"] == case.answer), {"support": []})
    answer_rules: list[dict[str, Any]] = answer_hyp["support"]
    teaching = kb.teaching.get(case.answer)
    concepts = [kb.concepts[c].to_dict() for c in case.concepts if c in kb.concepts]
    references: list[str] = [case.source]
    for source in ([teaching.source] if teaching else []) + [c["source"] for c in concepts] + \
            [item["source"] for item in answer_rules] + [kb.hypotheses[case.answer].source]:
        if source and source not in references:
            references.append(source)
    model.update({
        "chart": chart,
        "answer": {"id": case.answer, "label": words.hypothesis(kb, case.answer),
                   "description": kb.hypotheses[case.answer].description,
                   "red_flags": [words.red_flag(kb, f) for f in case.red_flags], "summary": case.summary},
        "teaching_point": case.teaching_point,
        "learning": teaching.to_dict() if teaching else None,
        "concepts": concepts,
        "references": references,
    })
    return model


def render_handout(kb: KnowledgeBase, reasoner: Reasoner, library: Library, case: TeachingCase, *,
                   audience: str = "student", fmt: str = "html", upto: int | None = None,
                   templates: Path | None = None) -> str:
    """The handout of *case* for *audience* as HTML or Markdown."""
    if fmt not in FORMATS:
        raise TeachingError(fmt, "", f"unknown handout format; allowed: {', '.join(FORMATS)}")
    from hipkb.report.render import render_template

    model = handout_model(kb, reasoner, library, case, audience=audience, upto=upto)
    return render_template([f"handout-{audience}.{fmt}.j2"], model, fmt=fmt, templates=templates)


__all__ = ["AUDIENCES", "FORMATS", "handout_model", "render_handout"]
