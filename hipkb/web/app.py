"""The FastAPI app of ``hipkb serve``: the case page, teaching mode and a JSON API.

Stateless: the app holds the knowledge base, its compiled engine, the page's
assets and the example cases, all read once when it is built; a request
carries the whole case and nothing of it is kept. No endpoint reads or writes
a file. Every case goes through the same strict loader and validation as the
CLI, with the CLI's size limit on the body, and a bad case gets HTTP 422 with
the CLI's one-line error.

Every POST endpoint takes the case as its body: JSON (``application/json``,
or any ``+json`` type such as ``application/fhir+json``) or YAML
(``application/yaml``, ``text/yaml``, ``application/x-yaml``). ``?name=``
names the file the case came from, for error messages and the default case
id.

What keeps it answering, whoever calls it:

- reasoning, parsing and rendering run in a bounded pool of threads
  (:data:`WORKERS`), each with an engine of its own (an engine holds one
  case at a time), never on the event loop: a GET is answered while heavy
  requests run;
- at most :data:`MAX_IN_FLIGHT` POSTs are in flight; the next one gets HTTP
  503 at once, before its body is read, so memory stays bounded;
- a body must arrive within :data:`BODY_SECONDS` (HTTP 408);
- a POST from a web page of another origin, or with any body type but JSON
  or YAML, is refused (403, 415): a page the user visits cannot drive this
  server with a form or a ``text/plain`` request, which browsers send
  without asking.

The server itself (:mod:`hipkb.web.server`) adds deadlines for headers and
idle connections and a bound on connections.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import yaml
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from hipkb import __version__
from hipkb.engine.reasoner import Reasoner
from hipkb.errors import ApiError, CaseError, HipkbError, RequestError, one_line
from hipkb.knowledge.resources import shipped
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.knowledge.schema import case_schema
from hipkb.load.case import Case, validate
from hipkb.parse.bounds import MAX_BYTES
from hipkb.parse.reading import decode, read_text
from hipkb.parse.text import parse_text
from hipkb.report.assessment import assessment
from hipkb.report.model import AUDIENCES, CERTAINTY_NOTE, decisions, reasoning_graph
from hipkb.report.pdf import check_available, html_to_pdf
from hipkb.report.render import FORMATS as REPORT_FORMATS
from hipkb.report.render import render
from hipkb.results import explain as ex
from hipkb.results.pair import compare_cases
from hipkb.results.result import build_result, to_json
from hipkb.results.whatif import what_if
from hipkb.web.forms import knowledge_form, vocabulary_form
from hipkb.web.teaching import add_teaching_routes

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
#: Threads that reason, parse and render (each with its own engine); the event loop only moves bytes.
WORKERS = 2
#: POSTs being read or worked on at once; one more is answered 503 before its body is read.
MAX_IN_FLIGHT = 32
#: Seconds for a request's body to arrive whole (a case is at most a megabyte; on loopback it takes milliseconds).
BODY_SECONDS = 15.0
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
LOG = logging.getLogger("hipkb.web")
T = TypeVar("T")
REPORT_TYPES = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8",
                "txt": "text/plain; charset=utf-8", "pdf": "application/pdf"}
CASE_BODY = {
    "required": True,
    "description": f"A hipkb-case/1 case, as JSON or YAML (at most {MAX_BYTES} bytes).",
    "content": {
        "application/json": {"schema": {"$ref": "/api/v1/schema"}},
        "application/yaml": {"schema": {"type": "string"}},
    },
}
NAME = Query(None, max_length=300, description="The case file's name, for error messages and the default case id.")


@contextmanager
def answered_as(status: int) -> Iterator[None]:
    """A :class:`HipkbError` raised inside becomes the answer: *status*, with the CLI's one line."""
    try:
        yield
    except HipkbError as exc:
        raise ApiError(status, exc) from None


def _error_response(status: int, error: HipkbError) -> JSONResponse:
    return JSONResponse({**error.as_dict(), "error": str(error), "message": error.message}, status_code=status)


async def read_body(request: Request, limit: int = MAX_BYTES, seconds: float = BODY_SECONDS) -> bytes:
    """The request body, refused (413) past *limit* bytes without reading the rest, and (408) after *seconds*."""
    too_large = ApiError(413, RequestError("request", "", f"body is larger than the {limit} bytes allowed"))
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    chunks, size = [], 0
    try:
        with anyio.fail_after(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, RequestError("request", "", f"the body did not arrive within {seconds:g} s")) from None
    return b"".join(chunks)


def body_kind(content_type: str) -> str | None:
    """``json`` or ``yaml`` for a body of *content_type*; None for any other type (refused)."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype in JSON_TYPES or (ctype.startswith("application/") and ctype.endswith("+json")):
        return "json"
    if ctype in YAML_TYPES or (ctype.startswith("application/") and ctype.endswith("+yaml")):
        return "yaml"
    return None


def parse_case(kb: KnowledgeBase, raw: bytes, content_type: str, name: str | None) -> Case:
    """Decode, parse and validate a case from a request body, as the CLI loads a file."""
    source = name or "request"
    with answered_as(422):
        try:
            data = parse_text(decode(raw, source), source, kind=body_kind(content_type) or "auto")
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
               allowed_hosts: tuple[str, ...] | None = None, workers: int = WORKERS,
               max_in_flight: int = MAX_IN_FLIGHT, body_seconds: float = BODY_SECONDS) -> FastAPI:
    """The app for one knowledge base; *allowed_hosts* (the Host header) guards a loopback server.

    *workers*, *max_in_flight* and *body_seconds*: see the module's docstring.
    """
    reasoner = Reasoner(kb)
    spare = [reasoner]  # engines not in use; a worker thread borrows one (at most *workers* exist)
    limiter = anyio.CapacityLimiter(workers)
    static = _static_files()
    examples = _examples(kb)
    vocabulary = vocabulary_form(kb.vocabulary)
    knowledge = knowledge_form(kb)
    schema = case_schema(kb.vocabulary, tuple(kb.hypotheses))
    hidden = tuple(str(path) for path in (templates and Path(templates).resolve(), shipped("reports")) if path)

    app = FastAPI(
        title="hipkb", version=__version__,
        description="Reason about hip pain in runners: decision support, not a diagnosis. "
                    "Every POST endpoint takes one hipkb-case/1 case as its body (JSON or YAML).",
        docs_url=None, redoc_url=None, openapi_url="/api/v1/openapi.json",
    )
    allowed = {h.strip("[]").lower() for h in allowed_hosts} if allowed_hosts else None
    in_flight = [0]

    def refused(status: int, error: HipkbError, **headers: str) -> Response:
        response = _error_response(status, error)
        for key, value in {**SECURITY_HEADERS, **headers}.items():
            response.headers[key] = value
        return response

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        host = request.headers.get("host", "")
        if allowed is not None:
            # A loopback server answers only to loopback names: a web page
            # elsewhere cannot reach it through DNS rebinding. (Starlette's
            # TrustedHostMiddleware cuts "[::1]:8000" at the first colon.)
            try:
                name = urlsplit("//" + host).hostname or ""
            except ValueError:
                name = ""
            if name.lower() not in allowed:
                return refused(400, RequestError("request", "Host", "not a name this server answers to"))
        if request.method not in SAFE_METHODS:
            # A browser sends a form or a text/plain body to any origin without
            # asking first, with an Origin header: refuse both, so a page the
            # user visits cannot drive this server.
            origin = request.headers.get("origin")
            if origin is not None and origin.lower() != f"{request.url.scheme}://{host}".lower():
                return refused(403, RequestError("request", "Origin", f"found {origin!r}: a page of another "
                                                 "origin may not use this server"))
            ctype = request.headers.get("content-type", "")
            if body_kind(ctype) is None:
                found = ctype.split(";")[0].strip() or "none"
                return refused(415, RequestError("request", "Content-Type", f"found {found!r}; allowed: JSON "
                                                 f"({', '.join(JSON_TYPES)}, +json) or YAML ({', '.join(YAML_TYPES)})"))
            if in_flight[0] >= max_in_flight:
                return refused(503, RequestError("request", "", f"the server is busy ({max_in_flight} requests in "
                                                 "flight); try again shortly"), **{"Retry-After": "1",
                                                                                  "Connection": "close"})
            in_flight[0] += 1
            try:
                response = await call_next(request)
            finally:
                in_flight[0] -= 1
        else:
            response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        response = _error_response(exc.status, exc.error)
        if exc.status in (408, 413):
            response.headers["Connection"] = "close"  # the rest of the body is not read
        return response

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

    @contextmanager
    def borrowed() -> Iterator[Reasoner]:
        """An engine for this thread's case (an engine holds one case at a time); made when none is spare."""
        try:
            engine = spare.pop()
        except IndexError:
            engine = Reasoner(kb)
        try:
            yield engine
        finally:
            spare.append(engine)

    async def off_loop(work: Callable[[], T]) -> T:
        """*work* in the bounded pool of threads; the event loop goes on answering meanwhile."""
        return await anyio.to_thread.run_sync(work, limiter=limiter)

    async def with_case(request: Request, name: str | None, work: Callable[[Case], T]) -> T:
        """Read the body (on the loop, under its deadline), then parse it and do *work* off the loop."""
        raw = await read_body(request, seconds=body_seconds)
        content_type = request.headers.get("content-type", "")
        return await off_loop(lambda: work(parse_case(kb, raw, content_type, name)))

    @contextmanager
    def report_failures(fmt: str) -> Iterator[None]:
        """A report that cannot be rendered is the server's fault: HTTP 500, saying what failed, no server path."""
        try:
            yield
        except HipkbError as error:
            LOG.error("hipkb serve: %s", error)  # the whole of it, for whoever runs the server
            message = error.message
            for path in hidden:
                message = message.replace(path + "/", "").replace(path, "<templates>")
            template = PurePath(error.source).name if error.source else ""
            raise ApiError(500, RequestError("report", template, f"the {fmt} report could not be rendered: "
                                             + (f"{error.where}: " if error.where else "") + message)) from None

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

    @app.post("/api/v1/run", summary="Reason about a case: hipkb-result/1 JSON, or a report",
              openapi_extra={"requestBody": CASE_BODY})
    async def run(request: Request, name: str | None = NAME,
                  format: str = Query("json", pattern="^(json|md|html|txt|pdf)$",
                                      description="json (hipkb-result/1), a report (md, html, txt), or the HTML "
                                                  "report as a PDF (needs hipkb[pdf]; 501 without it)"),
                  audience: str = Query("clinician", pattern="^(clinician|educator)$")) -> Response:
        def answer(case: Case) -> Response:
            with borrowed() as engine:
                inference = engine.infer(case)
            result = build_result(kb, inference)
            if format == "json":
                return Response(to_json(result), media_type="application/json")
            assert (format in REPORT_FORMATS or format == "pdf") and audience in AUDIENCES
            if format == "pdf":
                with answered_as(501):  # this server cannot make PDFs: the one line says what to install
                    check_available()
            with report_failures(format):
                text = render(kb, inference, result, fmt="html" if format == "pdf" else format, audience=audience,
                              templates=templates)
                body: str | bytes = html_to_pdf(text) if format == "pdf" else text
            return Response(body, media_type=REPORT_TYPES[format])

        return await with_case(request, name, answer)

    @app.post("/api/v1/view", summary="Everything the case page shows: the result, the one page of assessment "
              "in plain words, the reasoning graph, what triage and running rest on",
              openapi_extra={"requestBody": CASE_BODY})
    async def view(request: Request, name: str | None = NAME) -> dict[str, Any]:
        def answer(case: Case) -> dict[str, Any]:
            with borrowed() as engine:
                inference = engine.infer(case)
            graph = reasoning_graph(kb, inference)
            result = build_result(kb, inference)
            decided = decisions(kb, inference)
            return {"result": result, "graph": graph["layout"], "chains": graph["chains"],
                    "decisions": decided, "certainty_note": CERTAINTY_NOTE,
                    "assessment": assessment(kb, result, decided)}

        return await with_case(request, name, answer)

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

        def answer(case: Case) -> dict[str, Any]:
            with borrowed() as engine:
                inference = engine.infer(case)
            reply: dict[str, Any] = {"case_id": case.case_id}
            with answered_as(422):
                if how:
                    tree = ex.how(kb, inference, how)
                    reply["how"] = {**tree, "findings": ex.findings_under(tree), "plain_text": ex.format_how(tree)}
                if why_not:
                    info = ex.why_not(kb, inference, why_not)
                    reply["why_not"] = {**info, "plain_text": ex.format_why_not(info)}
            if trace:
                reply["trace"] = ex.trace(kb, inference)
            return reply

        return await with_case(request, name, answer)

    @app.post("/api/v1/what-if",
              summary="The single-finding changes that would change triage, running or the top hypothesis",
              openapi_extra={"requestBody": CASE_BODY})
    async def whatif(request: Request, name: str | None = NAME) -> dict[str, Any]:
        def answer(case: Case) -> dict[str, Any]:
            with borrowed() as engine:
                return what_if(engine, case)

        return await with_case(request, name, answer)

    @app.post("/api/v1/case", summary="Check a case file and return it normalised, as data and as YAML",
              openapi_extra={"requestBody": CASE_BODY})
    async def normalise(request: Request, name: str | None = NAME) -> dict[str, Any]:
        return await with_case(request, name, lambda case: {"case": case.to_data(), "yaml": case_yaml(case)})

    @app.post("/api/v1/compare", summary="Two cases side by side: findings that differ, conclusions that changed",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                  "type": "object", "required": ["a", "b"],
                  "properties": {"a": {"$ref": "/api/v1/schema"}, "b": {"$ref": "/api/v1/schema"}}}}}}})
    async def compare(request: Request) -> dict[str, Any]:
        raw = await read_body(request, seconds=body_seconds)

        def answer() -> dict[str, Any]:
            with answered_as(422):
                body = parse_text(decode(raw, "request"), "request", kind="json")
                if not isinstance(body, dict) or set(body) != {"a", "b"}:
                    raise RequestError("request", "", "expected a JSON object with two cases, a and b")
                cases = [validate(body[key], kb.vocabulary, key, default_id=key, hypotheses=kb.hypotheses)
                         for key in ("a", "b")]
            with borrowed() as engine:
                return compare_cases(engine, cases[0], cases[1])

        return await off_loop(answer)

    add_teaching_routes(app, kb, borrowed=borrowed, off_loop=off_loop, with_case=with_case, api_error=ApiError,
                        csp=CSP)
    app.state.kb = kb
    app.state.reasoner = reasoner
    return app

