"""The teaching endpoints of ``hipkb serve``: the case library, the staged reveal, WHY NOT, handouts.

- ``GET /api/v1/teach/cases``: the library's cases (id, title, tags, stages)
  and the words of its filters;
- ``GET /api/v1/teach/cases/{id}?stage=N``: a case as known after N stages:
  the prose read out so far, the findings (for the case form), what hipkb
  concludes at each stage, how each hypothesis moved, and the key that
  scores a commitment at stage N; the answer and the teaching point only
  once the last stage is revealed;
- ``POST /api/v1/teach/reveal?stage=N``: the same reasoning for any case
  sent as the body (the workbench's own), its stages from the vocabulary's
  groups;
- ``POST /api/v1/teach/why-not?id=H``: WHY NOT for any hypothesis, ranked or not;
- ``GET /api/v1/teach/cases/{id}/handout?audience=student|educator``: the
  student sheet or answer key as a page to print.

The server keeps nothing: a stage is in the request, the case is the
library's or the request's. Scoring happens in the browser, from the key,
so what a student chooses never leaves it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from hipkb.engine.reasoner import Reasoner
from hipkb.errors import HipkbError, TeachingError
from hipkb.knowledge.case import Case
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.teach import words
from hipkb.teach.feedback import why_not_pick
from hipkb.teach.handout import render_handout
from hipkb.teach.library import Library, TeachingCase, load_library
from hipkb.teach.reveal import movement, run_stages, stage_summary
from hipkb.teach.scoring import answer_key
from hipkb.teach.stages import Manifest, Stage, stages_with_findings

T = TypeVar("T")
STAGE = Query(None, ge=1, le=20, description="How many stages are revealed (1 is the history); default: all")


def page_csp(page: str, csp: str) -> str:
    """The app's policy for a handout page: nothing from outside, and its own stylesheet by its digest only.

    A handout is one self-contained file (it is also saved and printed on
    its own), so its style is inline; the policy allows exactly that style
    and no other inline style or any script.
    """
    import base64
    import hashlib
    import re

    digests = [base64.b64encode(hashlib.sha256(m.encode()).digest()).decode()
               for m in re.findall(r"<style>(.*?)</style>", page, flags=re.S)]
    allowed = " ".join(f"'sha256-{d}'" for d in digests)
    return csp.replace("style-src 'self'", f"style-src 'self' {allowed}" if allowed else "style-src 'self'")


def library_of(kb: KnowledgeBase) -> Library | None:
    """The knowledge base's teaching library, or None when its facts directory has none."""
    try:
        return load_library(kb)
    except TeachingError:
        return None


def case_entry(kb: KnowledgeBase, manifest: Manifest, case: TeachingCase) -> dict[str, Any]:
    regions = kb.vocabulary.fields.get("pain.regions")
    return {
        "id": case.id, "title": case.title, "difficulty": case.difficulty,
        "difficulty_text": manifest.difficulties[case.difficulty],
        "topics": list(case.topics), "topics_text": [manifest.topics[t] for t in case.topics],
        "regions": list(case.regions),
        "regions_text": [regions.values.get(r, r) if regions else r for r in case.regions],
        "stages": [{"id": s.id, "label": s.label} for s in case.stages(manifest)],
    }


def reasoning(kb: KnowledgeBase, reasoner: Reasoner, case: Case, stages: tuple[Stage, ...],
              upto: int | None) -> dict[str, Any]:
    """What hipkb concludes at each revealed stage, how it moved, and the key of the last one revealed."""
    if upto is not None and upto > len(stages):
        raise TeachingError(case.case_id, "stage", f"found {upto}; this case has stages 1 to {len(stages)}")
    runs = run_stages(reasoner, case, stages, upto)
    last = runs[-1]
    return {
        "stage": last.number,
        "stages": [{"number": n, "id": s.id, "label": s.label, "prompt": s.prompt}
                   for n, s in enumerate(stages, start=1)],
        "known": last.case.to_data(),
        "summaries": [stage_summary(kb, run) for run in runs],
        "chart": movement(kb, runs),
        "key": answer_key(kb, last.inference, last.result),
        "result": last.result,
    }


def add_teaching_routes(app: FastAPI, kb: KnowledgeBase, *, borrowed: Callable[[], AbstractContextManager[Reasoner]],
                        off_loop: Callable[[Callable[[], Any]], Any],
                        with_case: Callable[[Request, str | None, Callable[[Case], Any]], Any],
                        api_error: Callable[[int, HipkbError], Exception], csp: str) -> None:
    """Add the teaching endpoints to *app* (see the module's docstring), with the app's pool and engines."""
    library = library_of(kb)

    def the_library() -> Library:
        if library is None:
            raise api_error(404, TeachingError("teaching", "", "this knowledge base has no teaching library"))
        return library

    def the_case(case_id: str) -> TeachingCase:
        try:
            return the_library().get(case_id)
        except TeachingError as error:
            raise api_error(404, TeachingError(case_id, "", "no such teaching case; see /api/v1/teach/cases")) \
                from error

    def answered(work: Callable[[], T]) -> T:
        try:
            return work()
        except TeachingError as error:
            raise api_error(422, error) from None

    @app.get("/api/v1/teach/cases", summary="The teaching case library: titles, tags and stages; the filters' words")
    async def teach_cases() -> dict[str, Any]:
        lib = the_library()
        regions = kb.vocabulary.fields.get("pain.regions")
        return {
            "cases": [case_entry(kb, lib.manifest, c) for c in lib.cases.values()],
            "topics": [{"id": k, "text": v} for k, v in lib.manifest.topics.items()],
            "difficulties": [{"id": k, "text": v} for k, v in lib.manifest.difficulties.items()],
            "regions": [{"id": k, "text": v} for k, v in (regions.values.items() if regions else ())],
            "stages": [s.to_dict() for s in lib.manifest.stages],
        }

    @app.get("/api/v1/teach/cases/{case_id}", summary="A teaching case as known after N stages, with hipkb's "
             "reasoning at each and the key that scores a commitment")
    async def teach_case(case_id: str, stage: int | None = STAGE) -> dict[str, Any]:
        lib = the_library()
        case = the_case(case_id)
        stages = case.stages(lib.manifest)

        def work() -> dict[str, Any]:
            with borrowed() as engine:
                reply = {**case_entry(kb, lib.manifest, case), **reasoning(kb, engine, case.case, stages, stage)}
            shown = reply["stage"]
            reply["vignette"] = [{"number": n, "id": s.id, "label": s.label, "prose": case.vignette.get(s.id, ""),
                                  "discussion": list(case.discussion.get(s.id, ()))}
                                 for n, s in enumerate(stages[:shown], start=1)]
            reply["last"] = shown == len(stages)
            if reply["last"]:
                teaching = kb.teaching.get(case.answer)
                reply["answer"] = {"id": case.answer, "label": words.hypothesis(kb, case.answer),
                                   "summary": case.summary, "teaching_point": case.teaching_point,
                                   "red_flags": [words.red_flag(kb, f) for f in case.red_flags],
                                   "learning": teaching.to_dict() if teaching else None,
                                   "concepts": [kb.concepts[c].to_dict() for c in case.concepts if c in kb.concepts],
                                   "source": case.source}
            return reply

        return await off_loop(lambda: answered(work))

    @app.get("/api/v1/teach/cases/{case_id}/handout", summary="A teaching case's student sheet or answer key (HTML)")
    async def teach_handout(case_id: str, audience: str = Query("student", pattern="^(student|educator)$"),
                            stage: int | None = STAGE) -> Response:
        lib = the_library()
        case = the_case(case_id)

        def work() -> str:
            with borrowed() as engine:
                return render_handout(kb, engine, lib, case, audience=audience, fmt="html", upto=stage)

        text = await off_loop(lambda: answered(work))
        return Response(text, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": page_csp(text, csp)})

    @app.post("/api/v1/teach/reveal", summary="Any case, stage by stage: hipkb's reasoning at each stage and the key "
              "that scores a commitment at the last one revealed")
    async def teach_reveal(request: Request, name: str | None = Query(None, max_length=300),
                           stage: int | None = STAGE) -> dict[str, Any]:
        manifest = the_library().manifest

        def work(case: Case) -> dict[str, Any]:
            with borrowed() as engine:
                return answered(lambda: reasoning(kb, engine, case, stages_with_findings(case, manifest), stage))

        return await with_case(request, name, work)

    @app.post("/api/v1/teach/why-not", summary="WHY NOT for any hypothesis a student picks, ranked or not, in words")
    async def teach_why_not(request: Request, id: str = Query(..., max_length=200),
                            name: str | None = Query(None, max_length=300)) -> dict[str, Any]:
        def work(case: Case) -> dict[str, Any]:
            with borrowed() as engine:
                inference = engine.infer(case)
            from hipkb.results.result import build_result

            try:
                return why_not_pick(kb, inference, build_result(kb, inference), id)
            except HipkbError as error:
                raise api_error(422, error) from None

        return await with_case(request, name, work)


__all__ = ["add_teaching_routes", "case_entry", "library_of", "reasoning"]
