"""The teaching endpoints of the web app, through FastAPI's TestClient (issue 22).

A library case is served stage by stage (the prose and findings of later
stages stay on the server, the answer until the last stage); any case can be
revealed stage by stage; WHY NOT answers for any hypothesis; the handouts
are pages whose only inline style is allowed by its digest.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from fastapi.testclient import TestClient

from hipkb import api
from hipkb.web.app import create_app


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(api.load_kb()))


def test_the_library_lists_every_case_with_its_filters(client):
    answer = client.get("/api/v1/teach/cases").json()
    assert len(answer["cases"]) >= 30
    first = answer["cases"][0]
    assert first["id"] == "case-01" and first["title"].startswith("Case 1: ")
    assert {"id": "groin", "text": "groin"} in answer["regions"]
    assert [s["id"] for s in answer["stages"]] == ["history", "behaviour", "examination", "imaging"]
    assert {t["id"] for t in answer["topics"]} >= {t for c in answer["cases"] for t in c["topics"]}
    assert "answer" not in str(answer).lower().replace("answers", "")


def test_a_case_is_served_as_far_as_its_stage(client):
    library = api.load_kb()  # the same knowledge base the client serves
    from hipkb.teach.library import load_library

    case = load_library(library).get("case-02")
    two = client.get("/api/v1/teach/cases/case-02?stage=2").json()
    assert two["stage"] == 2 and not two["last"] and "answer" not in two
    assert [v["prose"] for v in two["vignette"]] == [case.vignette["history"], case.vignette["behaviour"]]
    assert case.vignette["examination"] not in str(two)
    assert two["known"]["behaviour"] and not two["known"]["exam"]  # findings of stage 3 stay unknown
    assert [s["stage"]["id"] for s in two["summaries"]] == ["history", "behaviour"]
    assert two["key"]["question"]["exam.single_leg_hop"]["unsafe"]["rules"][0]["source"]
    last = client.get("/api/v1/teach/cases/case-02").json()
    assert last["stage"] == 3 and last["last"] and last["answer"]["id"] == "femoral_neck_bsi"
    assert last["answer"]["teaching_point"] == case.teaching_point


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/api/v1/teach/cases/case-02?stage=4", 422, "this case has stages 1 to 3"),
    ("/api/v1/teach/cases/case-02?stage=0", 422, ""),
    ("/api/v1/teach/cases/nothing-here", 404, "no such teaching case"),
    ("/api/v1/teach/cases/case-02/handout?audience=teacher", 422, ""),
])
def test_bad_requests_are_one_line(client, path, status, says):
    answer = client.get(path)
    assert answer.status_code == status and says in answer.json()["error"] and "\n" not in answer.json()["error"]


def test_any_case_can_be_revealed_stage_by_stage(client):
    case = {"runner": {"age": 25}, "pain": {"regions": ["groin"]}, "behaviour": {"walking": "painful"},
            "exam": {"fadir": "painful"}}
    answer = client.post("/api/v1/teach/reveal?stage=2", json=case).json()
    assert [s["id"] for s in answer["stages"]] == ["history", "behaviour", "examination"]
    assert answer["stage"] == 2 and answer["known"]["exam"] == {}
    assert answer["result"]["triage"]["level"] == "urgent"
    bad = client.post("/api/v1/teach/reveal", json={"pain": {"regions": ["elbow"]}})
    assert bad.status_code == 422 and "pain.regions" in bad.json()["error"]


def test_why_not_for_an_unranked_pick(client):
    case = {"pain": {"regions": ["groin"]}, "history": {"onset": "gradual"}, "behaviour": {"walking": "painful"}}
    answer = client.post("/api/v1/teach/why-not?id=gluteus_medius_tendinopathy", json=case).json()
    assert answer["rank"] is None and answer["verdict"].startswith("hipkb does not rank gluteus medius")
    assert any("outer (lateral) hip" in r["needs"] for r in answer["ruled_out"])
    unknown = client.post("/api/v1/teach/why-not?id=bursitis", json=case)
    assert unknown.status_code == 422


def test_a_handout_page_allows_only_its_own_style(client):
    page = client.get("/api/v1/teach/cases/case-02/handout?audience=student&stage=2")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    style = re.search(r"<style>(.*?)</style>", page.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = page.headers["content-security-policy"]
    assert f"style-src 'self' 'sha256-{digest}'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "Stage 3" not in page.text
    key = client.get("/api/v1/teach/cases/case-02/handout?audience=educator").text
    assert "Teaching point" in key
