"""The JSON API and the pages of ``hipkb serve``, through FastAPI's TestClient; ``hipkb serve`` itself."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from paths import ROOT

from hipkb.knowledge.schema import case_schema
from hipkb.knowledge.vocabulary import Vocabulary
from hipkb.parse.bounds import MAX_BYTES
from hipkb.results.result import to_json
from hipkb.web.app import CSP, LOOPBACK_HOSTS, create_app
from hipkb.web.forms import vocabulary_form

CASES = sorted((ROOT / "facts" / "cases").glob("*.yaml"))
GROIN_HOP = {"pain": {"regions": ["groin"]}, "behaviour": {"hopping": "painful"}}
SPEC_HYPOTHESES = ("femoral_neck_bsi", "gluteus_medius_tendinopathy", "proximal_hamstring_tendinopathy",
                   "iliopsoas_tendinopathy", "greater_trochanteric_pain_syndrome", "lumbar_referred_pain",
                   "hip_flexor_strain", "intra_articular_hip_pathology", "pelvic_bsi")


@pytest.fixture(scope="module")
def client(kb):
    return TestClient(create_app(kb))


def _yaml(client, text: str | bytes, path: str = "/api/v1/run", name: str | None = "case.yaml", **params):
    query = {**({"name": name} if name else {}), **params}
    return client.post(path, content=text, params=query, headers={"Content-Type": "application/yaml"})


def _cli_error(cli, tmp_path: Path, name: str, text: str | bytes) -> str:
    """What ``hipkb run`` says of the same text in a file of the same name, without ``hipkb: ``."""
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = cli("run", name)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith("hipkb: ")
    return line[len("hipkb: "):]


# -- pages and headers ---------------------------------------------------------

def test_page_is_served_with_a_strict_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP
    assert "default-src 'none'" in CSP and "http" not in CSP and "unsafe" not in CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    # No inline script or style, nothing from another origin.
    html = page.text
    assert "<script>" not in html and "<style" not in html and " style=" not in html
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)
    for asset in re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", html):
        got = client.get(asset)
        assert got.status_code == 200 and got.content, asset
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")


def test_assets_are_the_shipped_files_only(client):
    assert client.get("/static/nothing.js").status_code == 404
    assert client.get("/static/..%2Fapp.py").status_code == 404
    assert client.get("/static/../app.py").status_code == 404


def test_api_page_and_openapi_document(client):
    page = client.get("/api")
    assert page.status_code == 200 and "/api/v1/openapi.json" in page.text
    doc = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/run", "/api/v1/explain", "/api/v1/what-if", "/api/v1/vocabulary", "/api/v1/schema",
                 "/api/v1/case", "/api/v1/compare", "/api/v1/view"):
        assert path in doc["paths"], path
    run = doc["paths"]["/api/v1/run"]["post"]
    assert set(run["requestBody"]["content"]) == {"application/json", "application/yaml"}
    # FastAPI's own docs page loads from a CDN: it is off.
    assert client.get("/docs").status_code == 404


def test_api_answers_are_not_cached(client):
    assert client.get("/api/v1/vocabulary").headers["cache-control"] == "no-store"


# -- GET endpoints ---------------------------------------------------------------

def test_vocabulary_holds_every_group_field_question_and_value(client, kb):
    form = client.get("/api/v1/vocabulary").json()
    fields = {f["path"]: f for g in form["groups"] for f in g["fields"]}
    assert list(fields) == list(kb.vocabulary.fields)
    for path, spec in kb.vocabulary.fields.items():
        assert fields[path]["type"] == spec.type
        assert [v["value"] for v in fields[path]["values"]] == list(spec.values)
        assert fields[path]["question"] == (spec.question or spec.description or spec.name.replace("_", " "))
    assert [r["id"] for r in form["bodymap"]["regions"]] == list(kb.vocabulary.fields["pain.regions"].values)
    assert all(r["shapes"] for r in form["bodymap"]["regions"])


def test_body_map_follows_the_vocabulary_regions_and_side():
    # A knowledge engineer adds a knee region, a region nobody drew, and a side.
    data = yaml.safe_load((ROOT / "facts" / "vocabulary.yaml").read_text())
    regions = data["groups"]["pain"]["fields"]["regions"]["values"]
    regions.update({"knee": "knee", "calf": "calf"})
    data["groups"]["pain"]["fields"]["side"] = {
        "type": "choice", "values": {"left": "left", "right": "right", "both": "both sides"},
        "unknown": ["unknown"], "question": "Which side hurts?"}
    form = vocabulary_form(Vocabulary.from_data(data, "test"))
    regions = {r["id"]: r for r in form["bodymap"]["regions"]}
    assert {"knee", "calf"} <= set(regions)
    assert regions["calf"]["shapes"] == []          # no drawing: a button beside the map instead
    assert {s["side"] for s in regions["knee"]["shapes"]} == {"left", "right"}
    assert form["bodymap"]["side_field"] == "pain.side"
    left = next(s for s in regions["groin"]["shapes"] if s["side"] == "left")
    right = next(s for s in regions["groin"]["shapes"] if s["side"] == "right")
    assert left["cx"] != right["cx"] and left["cy"] == right["cy"]
    lower_back = regions["lower_back"]["shapes"]
    assert [s["side"] for s in lower_back] == [None]  # on the midline: one shape


def test_schema_is_the_cli_schema(client, kb):
    expected = json.loads(json.dumps(case_schema(kb.vocabulary, tuple(kb.hypotheses))))
    assert client.get("/api/v1/schema").json() == expected


def test_knowledge_carries_learning_points(client, kb):
    knowledge = client.get("/api/v1/knowledge").json()
    by_id = {h["id"]: h for h in knowledge["hypotheses"]}
    assert set(by_id) == set(kb.hypotheses)
    for hid in SPEC_HYPOTHESES:
        teaching = by_id[hid]["teaching"]
        assert teaching["discriminators"] and teaching["pitfall"] and teaching["source"]
    assert [t["id"] for t in knowledge["triage_levels"]] == ["emergency", "urgent", "routine", "self_care"]


def test_examples_are_served_from_memory(client):
    names = client.get("/api/v1/examples").json()["examples"]
    assert names == sorted(p.stem for p in CASES)
    case = client.get("/api/v1/examples/fnbsi-classic").json()
    assert case["case_id"] == "fnbsi-classic" and case["pain"]["regions"] == ["groin"]
    missing = client.get("/api/v1/examples/..%2F..%2Fetc%2Fpasswd")
    assert missing.status_code == 404 and missing.json()["error"]


# -- POST /api/v1/run ---------------------------------------------------------------

@pytest.mark.parametrize("path", CASES[::4], ids=lambda p: p.stem)
def test_run_gives_what_the_cli_gives(client, cli, path):
    expected = cli("run", path).output
    yaml_answer = _yaml(client, path.read_bytes(), name=path.name)
    assert yaml_answer.status_code == 200 and yaml_answer.headers["content-type"] == "application/json"
    assert yaml_answer.text + "\n" == expected
    data = yaml.safe_load(path.read_text())
    json_answer = client.post("/api/v1/run", json=data, params={"name": path.name})
    assert json_answer.text + "\n" == expected


def test_run_is_stateless(client):
    first = client.post("/api/v1/run", json={"pain": {"regions": ["buttock"]}}).text
    client.post("/api/v1/run", json=GROIN_HOP)
    assert client.post("/api/v1/run", json={"pain": {"regions": ["buttock"]}}).text == first


@pytest.mark.parametrize("fmt,marker", [("html", "<!DOCTYPE html>"), ("md", "# Hip pain in a runner"),
                                        ("txt", "HIP PAIN IN A RUNNER")])
def test_run_renders_reports(client, fmt, marker):
    answer = client.post("/api/v1/run", json=GROIN_HOP, params={"format": fmt, "audience": "educator"})
    assert answer.status_code == 200 and marker in answer.text[:300]
    assert "What would change the call" in answer.text or "WHAT WOULD CHANGE THE CALL" in answer.text


BAD_CASES = {
    "unknown value": ("case.yaml", "pain: {regions: [groin]}\nbehaviour: {during_run: warm_up}\n"),
    "missing regions": ("case.yaml", "behaviour: {hopping: painful}\n"),
    "not yaml": ("case.yaml", "pain: {regions: [groin\n"),
    "alias": ("case.yaml", "a: &x [groin]\npain: {regions: *x}\n"),
    "duplicate key": ("case.json", '{"pain": {"regions": ["groin"]}, "pain": {}}'),
    "not utf-8": ("case.yaml", b"pain: {regions: [\xff]}\n"),
    "unknown group": ("case.yaml", "pain: {regions: [groin]}\nhistroy: {}\n"),
}


@pytest.mark.parametrize("name,text", BAD_CASES.values(), ids=list(BAD_CASES))
def test_bad_case_gets_422_with_the_cli_line(client, cli, tmp_path, name, text):
    ctype = "application/json" if name.endswith(".json") else "application/yaml"
    answer = client.post("/api/v1/run", content=text, params={"name": name}, headers={"Content-Type": ctype})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == _cli_error(cli, tmp_path, name, text)
    assert "\n" not in body["error"] and body["file"] == name


def test_bad_case_names_field_found_and_allowed(client):
    body = _yaml(client, "pain: {regions: [groin]}\nbehaviour: {during_run: warm_up}\n").json()
    assert body["file"] == "case.yaml" and body["field"] == "behaviour.during_run"
    assert "found 'warm_up'" in body["error"] and "allowed: warms_up" in body["error"]


def test_body_larger_than_the_cli_limit_is_refused(client):
    answer = _yaml(client, b"#" * (MAX_BYTES + 1))
    assert answer.status_code == 413
    assert str(MAX_BYTES) in answer.json()["error"]
    streamed = client.post("/api/v1/run", content=iter([b"#" * 600_000, b"#" * 600_000]),
                           headers={"Content-Type": "application/yaml"})
    assert streamed.status_code == 413


def test_bad_parameter_is_one_line_422(client):
    answer = client.post("/api/v1/run", json=GROIN_HOP, params={"format": "docx"})
    assert answer.status_code == 422
    assert answer.json()["field"] == "format" and "\n" not in answer.json()["error"]


def test_post_only_and_unknown_paths(client):
    assert client.get("/api/v1/run").status_code == 405
    assert client.get("/api/v1/nothing").status_code == 404


# -- explain, what-if, view, case, compare -------------------------------------------

def test_explain_how_why_not_and_trace(client, kb):
    answer = client.post("/api/v1/explain", json=GROIN_HOP,
                         params={"how": "femoral_neck_bsi", "why_not": "gluteus_medius_tendinopathy", "trace": "true"})
    assert answer.status_code == 200
    body = answer.json()
    assert "behaviour.hopping=painful" in body["how"]["findings"]
    assert body["how"]["plain_text"].startswith("hypothesis.femoral_neck_bsi")
    assert body["how"]["text"].startswith("Femoral neck bone stress injury")  # the root node's own words
    assert body["why_not"]["plain_text"].startswith("gluteus_medius_tendinopathy: Gluteus medius tendinopathy")
    assert body["why_not"]["id"] == "gluteus_medius_tendinopathy" and body["why_not"]["verdict"]
    assert body["trace"] and body["trace"][0]["step"] == 1


def test_explain_errors(client):
    nothing = client.post("/api/v1/explain", json=GROIN_HOP)
    assert nothing.status_code == 422 and "how=ID" in nothing.json()["error"]
    unknown = client.post("/api/v1/explain", json=GROIN_HOP, params={"how": "femoral_neck"})
    assert unknown.status_code == 422 and "did you mean 'femoral_neck_bsi'" in unknown.json()["error"]
    bad = client.post("/api/v1/explain", json={"pain": {}}, params={"how": "triage"})
    assert bad.status_code == 422 and bad.json()["field"] == "pain.regions"


def test_what_if_lists_the_changes_that_change_the_call(client):
    body = client.post("/api/v1/what-if", json={"pain": {"regions": ["groin"]}}).json()
    assert body["tried"] > 50
    hop = [c for c in body["changes"] if c["fact"] == "behaviour.hopping" and c["to"] == "painful"]
    assert hop and hop[0]["kind"] == "answer" and hop[0]["effects"]["triage"]["to"] == "urgent"
    assert client.post("/api/v1/what-if", json={"pain": {}}).status_code == 422


def test_view_has_result_graph_and_decisions(client):
    body = client.post("/api/v1/view", json=GROIN_HOP).json()
    assert body["result"]["format"] == "hipkb-result/1"
    assert body["graph"]["nodes"] and body["graph"]["edges"]
    assert set(body["decisions"]) == {"triage", "running"}
    assert "not a probability" in body["certainty_note"]
    # The one page of assessment, in the words reports use: what the page shows first.
    a = body["assessment"]
    result = body["result"]
    assert a["triage"]["level"] == result["triage"]["level"] and a["triage"]["words"] == "Urgent"
    assert a["running"]["words"] == "Stop running"
    assert [h["label"] for h in a["top"]] == [h["label"] for h in result["hypotheses"][:3]]
    assert [q["question"] for q in a["next"]] == [q["question"] for q in result["next_questions"][:3]]
    assert a["not_excluded"] is None or isinstance(a["not_excluded"], list)  # None until the result says


def test_the_case_page_form_has_the_encounter(client):
    encounter = client.get("/api/v1/vocabulary").json()["encounter"]
    assert [f["path"] for f in encounter["fields"]] == [
        "encounter.date", "encounter.clinician", "encounter.record_id", "encounter.setting", "encounter.notes"]
    sent = {**GROIN_HOP, "encounter": {"date": "2026-12-01", "notes": "Two\nlines"}}
    body = client.post("/api/v1/case", json=sent).json()
    assert body["case"]["encounter"] == sent["encounter"]
    assert yaml.safe_load(body["yaml"])["encounter"] == sent["encounter"]


def test_case_round_trips_through_yaml(client, kb):
    sent = {"case_id": "x-1", "pain": {"regions": ["lateral_hip", "groin"]}, "behaviour": {"night_pain": True},
            "expect": {"triage_at_least": "routine"}}
    body = client.post("/api/v1/case", json=sent).json()
    assert body["case"]["pain"]["regions"] == ["groin", "lateral_hip"]   # vocabulary order
    assert body["case"]["behaviour"]["night_pain"] == "yes"
    saved = yaml.safe_load(body["yaml"])
    assert saved == body["case"]
    assert body["yaml"].startswith("#")
    again = client.post("/api/v1/case", content=body["yaml"], headers={"Content-Type": "application/yaml"}).json()
    assert again["yaml"] == body["yaml"]


def test_compare_two_cases(client):
    body = client.post("/api/v1/compare", json={"a": {"pain": {"regions": ["groin"]}}, "b": GROIN_HOP}).json()
    assert [f["fact"] for f in body["findings"]] == ["behaviour.hopping"]
    changed = {c["what"]: c for c in body["conclusions"]}
    assert changed["triage"]["b"] == "urgent"
    assert "behaviour.hopping" in changed["triage"]["because"]


def test_compare_errors(client):
    shape = client.post("/api/v1/compare", json={"a": GROIN_HOP})
    assert shape.status_code == 422 and "a and b" in shape.json()["error"]
    bad = client.post("/api/v1/compare", json={"a": GROIN_HOP, "b": {"pain": {"regions": ["knees"]}}})
    assert bad.status_code == 422 and bad.json()["file"] == "b" and bad.json()["field"] == "pain.regions[0]"
    junk = client.post("/api/v1/compare", content=b"{", headers={"Content-Type": "application/json"})
    assert junk.status_code == 422 and "not valid JSON" in junk.json()["error"]


def test_loopback_server_answers_only_loopback_names(kb):
    guarded = TestClient(create_app(kb, allowed_hosts=LOOPBACK_HOSTS), base_url="http://127.0.0.1")
    assert guarded.get("/api/v1/knowledge").status_code == 200
    assert guarded.get("/api/v1/knowledge", headers={"Host": "evil.example"}).status_code == 400
    assert guarded.get("/api/v1/knowledge", headers={"Host": "127.0.0.1.evil.example:8000"}).status_code == 400
    for host in ("localhost:8000", "[::1]:8000", "127.0.0.1"):
        assert guarded.get("/api/v1/knowledge", headers={"Host": host}).status_code == 200, host


# -- hipkb serve --------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_hipkb_serve_serves_on_loopback(tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-c", "from hipkb.cli import main; main()", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/knowledge", timeout=5) as answer:
                    assert json.load(answer)["name"]
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "hipkb serve did not start"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
            assert page.headers["Content-Security-Policy"] == CSP
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in err.decode()
    assert "warning" not in err.decode()


def test_serve_warns_off_loopback(cli, monkeypatch):
    from hipkb.web import server

    seen = {}
    bound = socket.socket()
    bound.bind(("127.0.0.1", 0))  # tests bind to loopback only: this stands for the address asked for
    monkeypatch.setattr(server, "listen", lambda host, port: seen.update(host=host, port=port) or bound)
    monkeypatch.setattr(server, "serve", lambda app, sock, **kw: seen.update(app=app, sock=sock))
    try:
        result = cli("serve", "--host", "0.0.0.0", "--port", "8123")
        assert result.exit_code == 0
        assert "warning: listening on 0.0.0.0, not loopback" in result.output
        assert seen["host"] == "0.0.0.0" and seen["port"] == 8123 and seen["sock"] is bound
        result = cli("serve")
        assert "warning" not in result.output and seen["host"] == "127.0.0.1" and seen["port"] == 8000
    finally:
        bound.close()


def test_serve_bad_rules_dir_is_one_line(cli, tmp_path):
    result = cli("serve", "--rules", tmp_path)
    assert result.exit_code == 2 and result.output.startswith("hipkb: ") and result.output.count("\n") == 1


def test_is_loopback():
    from hipkb.cli.serve import is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.4", "::", "example.org"))


def test_result_json_matches_to_json(client, kb, reasoner):
    # The API writes results exactly as the library does.
    from hipkb.load.case import validate
    case = validate(GROIN_HOP, kb.vocabulary, "case", default_id="case")
    from hipkb.results.result import build_result
    assert client.post("/api/v1/run", json=GROIN_HOP).text == to_json(build_result(kb, reasoner.infer(case)))
