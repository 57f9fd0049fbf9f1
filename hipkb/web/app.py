"""The FastAPI app of ``hipkb serve``: the case page, teaching mode and a JSON API.

Stateless: the app holds the knowledge base, its compiled engine, the page's
assets and the example cases, all read once when it is built; a request
carries the whole case and nothing of it is kept. No endpoint reads or writes
a file. Every case goes through the same strict loader and validation as the
CLI, with the CLI's size limit on the body, and a bad case gets HTTP 422 with
the CLI's one-line error.

Every POST endpoint takes the case as its body: JSON (``application/json``) or
YAML (``application/yaml``, ``text/yaml``; ``text/plain`` is read by its first
character, as the CLI reads standard input). ``?name=`` names the file the
case came from, for error messages and the default case id.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import urlsplit

import yaml
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from hipkb import __version__
from hipkb.engine.reasoner import Reasoner
from hipkb.errors import CaseError, HipkbError, one_line
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.knowledge.schema import case_schema
from hipkb.load.case import Case, validate
from hipkb.load.safeload import MAX_BYTES, decode, parse_text, read_text
from hipkb.report.model import AUDIENCES, CERTAINTY_NOTE, decisions, reasoning_graph
from hipkb.report.render import FORMATS as REPORT_FORMATS
from hipkb.report.render import render
from hipkb.results import explain as ex
from hipkb.results.pair import compare_cases
from hipkb.results.result import build_result, to_json
from hipkb.results.whatif import what_if
from hipkb.web.forms import knowledge_form, vocabulary_form

STATIC = Path(__file__).resolve().parent / "static"
# Nothing from outside, nothing inline: scripts, styles and pictures come from
# this server's own files; the page talks only to this server.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
REPORT_TYPES = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8",
                "txt": "text/plain; charset=utf-8"}
CASE_BODY = {
    "required": True,
    "description": f"A hipkb-case/1 case, as JSON or YAML (at most {MAX_BYTES} bytes).",
    "content": {
        "application/json": {"schema": {"$ref": "/api/v1/schema"}},
        "application/yaml": {"schema": {"type": "string"}},
    },
}
NAME = Query(None, max_length=300, description="The case file's name, for error messages and the default case id.")


class RequestError(HipkbError):
    """A request the API cannot take (too large, wrong shape), other than a bad case."""


class ApiError(Exception):
    """An error that becomes one JSON answer with *status*: the CLI's one line, and its parts."""

    def __init__(self, status: int, error: HipkbError) -> None:
        super().__init__(str(error))
        self.status = status
        self.error = error


@contextmanager
def answered_as(status: int) -> Iterator[None]:
    """A :class:`HipkbError` raised inside becomes the answer: *status*, with the CLI's one line."""
    try:
        yield
    except HipkbError as exc:
        raise ApiError(status, exc) from None


def _error_response(status: int, error: HipkbError) -> JSONResponse:
    return JSONResponse({**error.as_dict(), "error": str(error), "message": error.message}, status_code=status)


async def read_body(request: Request, limit: int = MAX_BYTES) -> bytes:
    """The request body, refused (413) past *limit* bytes without reading the rest."""
    too_large = ApiError(413, RequestError("request", "", f"body is larger than the {limit} bytes allowed"))
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _kind(content_type: str, name: str | None) -> str:
    ctype = content_type.split(";")[0].strip().lower()
    if ctype.endswith("json"):
        return "json"
    if ctype.endswith("yaml"):
        return "yaml"
    suffix = PurePath(name).suffix.lower() if name else ""
    return {".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(suffix, "auto")


def parse_case(kb: KnowledgeBase, raw: bytes, content_type: str, name: str | None) -> Case:
    """Decode, parse and validate a case from a request body, as the CLI loads a file."""
    source = name or "request"
    with answered_as(422):
        try:
            data = parse_text(decode(raw, source), source, kind=_kind(content_type, name))
        except CaseError:
            raise
        except HipkbError as exc:
            raise CaseError(exc.source, exc.where, exc.message) from None
        stem = PurePath(name).stem if name else "case"
        return validate(data, kb.vocabulary, source, default_id=stem or "case", hypotheses=kb.hypotheses)


def case_yaml(case: Case) -> str:
    """The case file the page saves: YAML with a header, the same bytes for the same case."""
    header = ("# A hipkb-case/1 case written by `hipkb serve`.\n"
              "# Findings left out are unknown: unknown is never read as no.\n")
    return header + yaml.safe_dump(case.to_data(), sort_keys=False, allow_unicode=True, default_flow_style=False)


def _static_files() -> dict[str, tuple[bytes, str]]:
    files = {}
    for path in sorted(STATIC.iterdir()):
        if path.is_file():
            media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if media.startswith("text/") or media in ("application/javascript", "image/svg+xml"):
                media += "; charset=utf-8"
            files[path.name] = (path.read_bytes(), media)
    return files


def _examples(kb: KnowledgeBase) -> dict[str, dict[str, Any]]:
    """The knowledge base's example cases (facts/cases), read once; bad ones are left out."""
    examples: dict[str, dict[str, Any]] = {}
    directory = (kb.facts_dir / "cases") if kb.facts_dir else None
    if directory is None or not directory.is_dir():
        return examples
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = parse_text(read_text(path), str(path), kind="yaml")
            case = validate(data, kb.vocabulary, path.name, default_id=path.stem, hypotheses=kb.hypotheses)
        except HipkbError:
            continue
        examples[path.stem] = case.to_data()
    return examples


def create_app(kb: KnowledgeBase, *, templates: Path | None = None,
               allowed_hosts: tuple[str, ...] | None = None) -> FastAPI:
    """The app for one knowledge base; *allowed_hosts* (the Host header) guards a loopback server."""
    reasoner = Reasoner(kb)
    static = _static_files()
    examples = _examples(kb)
    vocabulary = vocabulary_form(kb.vocabulary)
    knowledge = knowledge_form(kb)
    schema = case_schema(kb.vocabulary, tuple(kb.hypotheses))

    app = FastAPI(
        title="hipkb", version=__version__,
        description="Reason about hip pain in runners: decision support, not a diagnosis. "
                    "Every POST endpoint takes one hipkb-case/1 case as its body (JSON or YAML).",
        docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json",
    )
    allowed = {h.strip("[]").lower() for h in allowed_hosts} if allowed_hosts else None

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        if allowed is not None:
            # A loopback server answers only to loopback names: a web page
            # elsewhere cannot reach it through DNS rebinding. (Starlette's
            # TrustedHostMiddleware cuts "[::1]:8000" at the first colon.)
            try:
                name = urlsplit("//" + request.headers.get("host", "")).hostname or ""
            except ValueError:
                name = ""
            if name.lower() not in allowed:
                response = JSONResponse({"error": "request: Host: not a name this server answers to"},
                                        status_code=400)
                for key, value in SECURITY_HEADERS.items():
                    response.headers[key] = value
                return response
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc.status, exc.error)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return _error_response(422, RequestError("request", where, one_line(str(first.get("msg", "invalid")))))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Unknown paths and methods answer in the same shape as every other error.
        error = RequestError(request.url.path, "", one_line(str(exc.detail)).lower())
        return _error_response(exc.status_code, error)

    def _page(name: str) -> Response:
        body, media = static[name]
        return Response(body, media_type=media)

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return _page("index.html")

    @app.get("/api", include_in_schema=False)
    async def api_page() -> Response:
        return _page("api.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in static:
            return JSONResponse({"error": f"{name}: no such asset"}, status_code=404)
        return _page(name)

    @app.get("/api/v1/vocabulary",
             summary="The case vocabulary as a form: groups, fields, values, questions; the body map")
    async def get_vocabulary() -> dict[str, Any]:
        return vocabulary

    @app.get("/api/v1/schema", summary="The JSON Schema (draft 2020-12) of hipkb-case/1 files")
    async def get_schema() -> dict[str, Any]:
        return schema

    @app.get("/api/v1/knowledge",
             summary="The knowledge base: hypotheses with learning points, triage and running scales")
    async def get_knowledge() -> dict[str, Any]:
        return knowledge

    @app.get("/api/v1/examples", summary="The example cases shipped with the knowledge base, by name")
    async def get_examples() -> dict[str, Any]:
        return {"examples": sorted(examples)}

    @app.get("/api/v1/examples/{name}", summary="One example case as hipkb-case/1 data")
    async def get_example(name: str) -> dict[str, Any]:
        if name not in examples:
            raise ApiError(404, RequestError(name, "", "no such example; see /api/v1/examples"))
        return examples[name]

    async def _case(request: Request, name: str | None) -> Case:
        raw = await read_body(request)
        return parse_case(kb, raw, request.headers.get("content-type", ""), name)

    @app.post("/api/v1/run", summary="Reason about a case: hipkb-result/1 JSON, or a report",
              openapi_extra={"requestBody": CASE_BODY})
    async def run(request: Request, name: str | None = NAME,
                  format: str = Query("json", pattern="^(json|md|html|txt)$",
                                      description="json (hipkb-result/1) or a report: md, html, txt"),
                  audience: str = Query("clinician", pattern="^(clinician|educator)$")) -> Response:
        case = await _case(request, name)
        inference = reasoner.infer(case)
        result = build_result(kb, inference)
        if format == "json":
            return Response(to_json(result), media_type="application/json")
        assert format in REPORT_FORMATS and audience in AUDIENCES
        with answered_as(500):  # a report template that fails is the server's fault, not the case's
            text = render(kb, inference, result, fmt=format, audience=audience, templates=templates)
        return Response(text, media_type=REPORT_TYPES[format])

    @app.post("/api/v1/view", summary="Everything the case page shows: the result, the reasoning graph, "
              "what triage and running rest on", openapi_extra={"requestBody": CASE_BODY})
    async def view(request: Request, name: str | None = NAME) -> dict[str, Any]:
        case = await _case(request, name)
        inference = reasoner.infer(case)
        graph = reasoning_graph(kb, inference)
        return {"result": build_result(kb, inference), "graph": graph["layout"], "chains": graph["chains"],
                "decisions": decisions(kb, inference), "certainty_note": CERTAINTY_NOTE}

    @app.post("/api/v1/explain", summary="HOW a conclusion was reached, WHY NOT another, or the trace",
              openapi_extra={"requestBody": CASE_BODY})
    async def explain(request: Request, name: str | None = NAME,
                      how: str | None = Query(None, max_length=200, description="a conclusion: hypothesis id, "
                                              "derived fact name=value, red flag id, triage or running"),
                      why_not: str | None = Query(None, max_length=200,
                                                  description="a hypothesis id, derived fact or red flag id"),
                      trace: bool = Query(False, description="every rule firing in order")) -> dict[str, Any]:
        if not (how or why_not or trace):
            raise ApiError(422, RequestError("request", "", "ask for how=ID, why_not=ID or trace=true"))
        case = await _case(request, name)
        inference = reasoner.infer(case)
        answer: dict[str, Any] = {"case_id": case.case_id}
        with answered_as(422):
            if how:
                tree = ex.how(kb, inference, how)
                answer["how"] = {**tree, "findings": ex.findings_under(tree), "plain_text": ex.format_how(tree)}
            if why_not:
                info = ex.why_not(kb, inference, why_not)
                answer["why_not"] = {**info, "plain_text": ex.format_why_not(info)}
        if trace:
            answer["trace"] = ex.trace(kb, inference)
        return answer

    @app.post("/api/v1/what-if",
              summary="The single-finding changes that would change triage, running or the top hypothesis",
              openapi_extra={"requestBody": CASE_BODY})
    async def whatif(request: Request, name: str | None = NAME) -> dict[str, Any]:
        case = await _case(request, name)
        return what_if(reasoner, case)

    @app.post("/api/v1/case", summary="Check a case file and return it normalised, as data and as YAML",
              openapi_extra={"requestBody": CASE_BODY})
    async def normalise(request: Request, name: str | None = NAME) -> dict[str, Any]:
        case = await _case(request, name)
        return {"case": case.to_data(), "yaml": case_yaml(case)}

    @app.post("/api/v1/compare", summary="Two cases side by side: findings that differ, conclusions that changed",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                  "type": "object", "required": ["a", "b"],
                  "properties": {"a": {"$ref": "/api/v1/schema"}, "b": {"$ref": "/api/v1/schema"}}}}}}})
    async def compare(request: Request) -> dict[str, Any]:
        raw = await read_body(request)
        with answered_as(422):
            body = parse_text(decode(raw, "request"), "request", kind="json")
            if not isinstance(body, dict) or set(body) != {"a", "b"}:
                raise RequestError("request", "", "expected a JSON object with two cases, a and b")
            cases = [validate(body[key], kb.vocabulary, key, default_id=key, hypotheses=kb.hypotheses)
                     for key in ("a", "b")]
        return compare_cases(reasoner, cases[0], cases[1])

    app.state.kb = kb
    app.state.reasoner = reasoner
    return app

