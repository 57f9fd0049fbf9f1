"""The teaching library, the staged reveal, scoring, feedback and handouts (issue 22).

The library is checked as data (safe YAML, one line naming file and field),
and as teaching: every case teaches what hipkb concludes at its last stage,
the library covers every hypothesis and red flag of the knowledge base, and
no title or id gives an answer away. The reveal shows each stage only what
its groups say; a commitment is scored against what hipkb concludes from the
findings known so far; a loading test chosen while a bone stress injury is
not excluded is warned against with the reason and source of the rule that
forbids it; the student sheet holds no answer.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hipkb import api
from hipkb.cli import main
from hipkb.errors import TeachingError
from hipkb.knowledge.resources import shipped
from hipkb.teach.feedback import unsafe_test, why_not_pick
from hipkb.teach.handout import handout_model, render_handout
from hipkb.teach.library import giveaway_words, load_library
from hipkb.teach.reveal import movement, run_stages, stage_summary, verify_case
from hipkb.teach.scoring import answer_key, score
from hipkb.teach.stages import case_at, load_manifest

FIELD_PATH = re.compile(r"\b[a-z]+\.[a-z_]+\b")


@pytest.fixture(scope="module")
def library(kb):
    return load_library(kb)


def _runs(reasoner, library, case_id):
    case = library.get(case_id)
    return case, run_stages(reasoner, case.case, case.stages(library.manifest))


# -- the library ----------------------------------------------------------------

def test_the_library_covers_every_hypothesis_and_red_flag(kb, library):
    assert len(library.cases) >= 30
    taught = {c.answer for c in library.cases.values()}
    assert set(kb.hypotheses) <= taught, f"no case teaches {sorted(set(kb.hypotheses) - taught)}"
    flags = {f for c in library.cases.values() for f in c.red_flags}
    assert set(kb.red_flags) <= flags, f"no case teaches {sorted(set(kb.red_flags) - flags)}"
    assert sum("mimics" in c.topics for c in library.cases.values()) >= 8
    assert {c.difficulty for c in library.cases.values()} == set(library.manifest.difficulties)


def test_every_case_teaches_what_hipkb_concludes(kb, reasoner, library):
    problems = {c.id: verify_case(kb, reasoner, library.manifest, c) for c in library.cases.values()}
    assert not {k: v for k, v in problems.items() if v}


def test_no_title_or_id_gives_the_answer_away(kb, library):
    words = giveaway_words(kb)
    for case in library.cases.values():
        said = re.findall(r"[a-z]+", f"{case.title} {case.id}".lower())
        assert not [w for w in said if w in words], case.title
        assert case.title.startswith(f"Case {int(case.id.split('-')[1])}: ")
        # and the label of its answer is not the title either
        assert kb.hypotheses[case.answer].label.lower() not in case.title.lower()


def test_every_stage_with_findings_has_prose_and_the_stages_follow_the_vocabulary(kb, library):
    manifest = library.manifest
    groups = [g for s in manifest.stages for g in s.groups]
    assert sorted(groups) == sorted(kb.vocabulary.groups)
    for case in library.cases.values():
        stages = case.stages(manifest)
        assert stages[0].id == "history"
        for stage in stages:
            assert case.vignette.get(stage.id), (case.id, stage.id)


def _kb_copy(tmp_path, vocabulary_edit=None, manifest_edit=None):
    """A facts directory beside the shipped rules: the shipped vocabulary and library.yaml, edited."""
    facts = tmp_path / "facts"
    (facts / "teaching" / "cases").mkdir(parents=True)
    vocab = yaml.safe_load((shipped("facts") / "vocabulary.yaml").read_text())
    if vocabulary_edit:
        vocabulary_edit(vocab)
    (facts / "vocabulary.yaml").write_text(yaml.safe_dump(vocab, sort_keys=False))
    manifest = yaml.safe_load((shipped("facts") / "teaching" / "library.yaml").read_text())
    if manifest_edit:
        manifest_edit(manifest)
    (facts / "teaching" / "library.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return facts


def test_a_new_field_lands_in_its_groups_stage_without_code(tmp_path):
    def add_field(vocab):
        vocab["groups"]["exam"]["fields"]["thomas_test"] = {
            "type": "choice", "values": {"painful": "painful", "pain_free": "pain free"}, "unknown": ["not_tested"],
            "question": "Is the Thomas test painful?"}
    facts = _kb_copy(tmp_path, add_field)
    kb = api.load_kb(shipped("rules"), facts)
    manifest = load_manifest(facts, kb.vocabulary)
    assert manifest.stage_of("exam.thomas_test").id == "examination"
    from hipkb.load.case import validate

    full = validate({"pain": {"regions": ["groin"]}, "exam": {"thomas_test": "painful"}}, kb.vocabulary, "t")
    assert case_at(full, manifest.stages, 2).get("exam.thomas_test") is None
    assert case_at(full, manifest.stages, 3).get("exam.thomas_test") == "painful"


@pytest.mark.parametrize(("edit", "where", "says"), [
    (lambda m: m["stages"][2]["groups"].remove("mechanics"), "stages", "'mechanics' is in no stage"),
    (lambda m: m["stages"][1]["groups"].append("exam"), "stages[2].groups", "already in the stage"),
    (lambda m: m["stages"][0]["groups"].remove("pain") or m["stages"][1]["groups"].append("pain"), "stages",
     "pain.regions is required"),
    (lambda m: m["stages"][3]["groups"].append("imagin"), "stages[3].groups", "did you mean 'imaging'"),
    (lambda m: m.update({"format": "hipkb-teaching-library/2"}), "format", "expected format"),
])
def test_a_bad_manifest_is_one_line_naming_file_and_field(tmp_path, kb, edit, where, says):
    facts = _kb_copy(tmp_path, manifest_edit=edit)
    with pytest.raises(TeachingError) as caught:
        load_manifest(facts, kb.vocabulary)
    message = str(caught.value)
    assert "\n" not in message and "library.yaml" in message and f": {where}: " in message and says in message


GOOD = {
    "format": "hipkb-teaching-case/1", "id": "case-99", "title": "Case 99: a 30-year-old runner",
    "tags": {"topics": ["groin"], "difficulty": "introductory"},
    "vignette": {"history": "Groin pain for a month.", "behaviour": "Walking hurts."},
    "teaching_point": "Walking pain is a bone sign.", "answer": {"hypothesis": "femoral_neck_bsi"},
    "source": "a test", "case": {"runner": {"age": 30}, "pain": {"regions": ["groin"]},
                                 "behaviour": {"walking": "painful"}},
}


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"title": "Case 99: a runner with a stress fracture"}, "title", "'stress' names femoral_neck_bsi"),
    ({"id": "case-bursitis"}, "id", "the id is the file's name"),
    ({"id": "septic-hip"}, "id", "'septic' names septic_arthritis"),
    ({"colour": "red"}, "colour", "unknown key"),
    ({"vignette": {"history": "Groin pain."}}, "vignette.behaviour", "missing"),
    ({"vignette": {"history": "x", "behaviour": "y", "examinaton": "z"}}, "vignette.examinaton",
     "did you mean 'examination'"),
    ({"answer": {"hypothesis": "femoral_neck"}}, "answer.hypothesis", "did you mean 'femoral_neck_bsi'"),
    ({"tags": {"topics": ["groin"], "difficulty": "easy"}}, "tags.difficulty", "allowed: introductory"),
    ({"tags": {"topics": [], "difficulty": "introductory"}}, "tags.topics", "expected a list"),
    ({"case": {"pain": {"regions": ["groin"]}, "behaviour": {"walking": "sore"}}}, "case.behaviour.walking",
     "allowed: painful, pain_free"),
    ({"case": {"behaviour": {"walking": "painful"}}}, "case.pain.regions", "is required"),
    ({"discussion": {"imaging": ["Why?"]}}, "discussion.imaging", "a stage this case has prose for"),
])
def test_a_bad_case_file_is_one_line_naming_file_and_field(tmp_path, kb, change, field, says):
    facts = _kb_copy(tmp_path)
    data = {**GOOD, **change}
    path = facts / "teaching" / "cases" / ("septic-hip.yaml" if change.get("id") == "septic-hip" else "case-99.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(TeachingError) as caught:
        load_library(kb, facts)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and f": {field}: " in message and says in message, message


def test_a_case_file_is_read_safely(tmp_path, kb):
    facts = _kb_copy(tmp_path)
    path = facts / "teaching" / "cases" / "case-99.yaml"
    path.write_text(yaml.safe_dump(GOOD, sort_keys=False) + "note: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(TeachingError) as caught:
        load_library(kb, facts)
    assert str(path) in str(caught.value) and not (Path.cwd() / "pwned").exists()
    path.write_text(yaml.safe_dump(GOOD, sort_keys=False))
    (facts / "teaching" / "cases" / ".case-99.yaml.swp").write_text("not yaml: [")  # an editor's file is no part
    assert list(load_library(kb, facts).cases) == ["case-99"]


# -- the staged reveal ------------------------------------------------------------

def test_each_stage_knows_only_what_its_groups_reveal(reasoner, library):
    for case in library.cases.values():
        stages = case.stages(library.manifest)
        for n, run in enumerate(run_stages(reasoner, case.case, stages), start=1):
            shown = {g for s in stages[:n] for g in s.groups}
            for path, value in run.case.facts():
                assert path.split(".")[0] in shown and case.case.get(path) == value
            assert {p for p, _ in case.case.facts() if p.split(".")[0] in shown} == {p for p, _ in run.case.facts()}


def test_certainty_and_status_move_between_stages(kb, reasoner, library):
    _, runs = _runs(reasoner, library, "case-02")
    chart = movement(kb, runs)
    assert [s["id"] for s in chart["stages"]] == ["history", "behaviour", "examination"]
    fn = next(r for r in chart["rows"] if r["id"] == "femoral_neck_bsi")
    assert [c["status"] for c in fn["cells"]] == ["not_excluded", "suspected", "suspected"]
    assert fn["cells"][0]["certainty"] < fn["cells"][1]["certainty"]
    walking = [m for m in fn["moves"][1] if "pain on walking" in " ".join(m["facts"])]
    assert walking and walking[0]["change"] == "for"
    assert fn["text"].startswith("femoral neck bone stress injury: history:") and "suspected" in fn["text"]
    summary = stage_summary(kb, runs[1])
    assert summary["triage"]["level"] == "urgent" and summary["top"][0]["id"] == "femoral_neck_bsi"
    assert not FIELD_PATH.search(json.dumps([[f["text"] for f in summary["revealed"]], fn["text"]]))


# -- scoring and feedback ----------------------------------------------------------

def test_a_commitment_is_scored_against_the_stage(kb, reasoner, library):
    _, runs = _runs(reasoner, library, "case-02")
    first = answer_key(kb, runs[0].inference, runs[0].result)
    second = answer_key(kb, runs[1].inference, runs[1].result)
    top = runs[1].result["hypotheses"][0]["id"]
    best = score(second, top, runs[1].result["triage"]["level"], runs[1].result["next_questions"][0]["fact"])
    assert best["total"] == 3 and best["warning"] is None
    under = score(second, "hip_flexor_strain", "routine", "history.mechanism")
    assert [p["points"] for p in under["parts"]][:2] == [0, 0] and "under-triage" in under["parts"][1]["text"]
    assert second["triage"]["emergency"]["points"] == 0.5
    # the same choice is worth what the findings known at that stage make it worth
    assert first["triage"][runs[0].result["triage"]["level"]]["points"] == 1
    assert first["best"] != second["best"]
    # only unknown findings are questions
    assert "behaviour.walking" in first["question"] and "behaviour.walking" not in second["question"]


def test_the_hop_test_with_a_bsi_not_excluded_is_warned_with_reason_and_source(kb, reasoner, library):
    _, runs = _runs(reasoner, library, "case-02")
    run = runs[1]
    key = answer_key(kb, run.inference, run.result)
    for test in kb.safety.unsafe_tests:
        scored = score(key, "femoral_neck_bsi", "urgent", test)
        warning = scored["warning"]
        assert scored["parts"][2]["points"] == 0 and warning is not None
        assert {a["id"] for a in warning["alarms"]} >= {"femoral_neck_bsi"}
        rule = kb.rule(warning["rules"][0]["id"])
        assert rule.conclusion.kind == "avoid_asking" and test in rule.conclusion.facts
        assert rule.conclusion.text in warning["text"] and rule.source in warning["text"]
        assert warning["text"].startswith("Unsafe now: this test loads the bone while femoral neck bone stress")
    assert unsafe_test(kb, run.inference, run.result, "behaviour.night_pain") is None


def test_the_hop_test_is_warned_while_a_bsi_is_only_not_excluded(kb, reasoner, library):
    # at the history stage nothing suggests a bone stress injury yet, but silence never excludes one:
    # the warning reads the result's exclusions (not excluded), not the ranking
    _, runs = _runs(reasoner, library, "case-02")
    run = runs[0]
    statuses = {e["id"]: e["status"] for e in run.result["exclusions"]}
    assert statuses["femoral_neck_bsi"] == "not_excluded"
    warning = unsafe_test(kb, run.inference, run.result, "exam.single_leg_hop")
    assert warning is not None
    assert {(a["id"], a["status"]) for a in warning["alarms"]} >= {("femoral_neck_bsi", "not_excluded")}
    assert "femoral neck bone stress injury is not yet excluded" in warning["text"]
    assert kb.rule(warning["rules"][0]["id"]).source in warning["text"]


def test_a_hop_test_the_knowledge_base_allows_is_not_warned(kb, reasoner):
    from hipkb.load.case import validate

    # every safe exclusion question answered and negative, no risk: the hop is the last clinical exclusion
    case = validate({"runner": {"age": 30, "sex": "male"}, "pain": {"regions": ["groin"]},
                     "behaviour": {"walking": "pain_free", "night_pain": "no", "during_run": "warms_up"},
                     "exam": {"single_leg_stance_30s": "pain_free"}}, kb.vocabulary, "t")
    inference = reasoner.infer(case)
    result = api.build_result(kb, inference)
    assert unsafe_test(kb, inference, result, "behaviour.hopping") is None


def test_why_not_any_pick_ranked_or_not_in_words(kb, reasoner, library):
    _, runs = _runs(reasoner, library, "case-02")
    run = runs[1]
    ranked = {h["id"] for h in run.result["hypotheses"]}
    for hid in kb.hypotheses:
        info = why_not_pick(kb, run.inference, run.result, hid)
        assert info["verdict"] and info["label"]
        said = {k: info[k] for k in ("verdict", "above", "for", "against", "ruled_out")}
        text = json.dumps([said, [m["question"] for m in info["missing"]]])  # the path stays beside, to jump to
        paths = [p for p in FIELD_PATH.findall(text) if not p.endswith(("e.g", "i.e"))]
        assert not [p for p in paths if p.split(".")[0] in kb.vocabulary.groups], (hid, paths)
        assert (info["rank"] is not None) == (hid in ranked)
    strain = why_not_pick(kb, run.inference, run.result, "hip_flexor_strain")
    assert strain["rank"] is None and strain["ruled_out"]
    assert any("onset" in r["needs"] for r in strain["ruled_out"])
    assert strain["learning"]["pitfall"].startswith("Accepting a strain")
    pelvic = why_not_pick(kb, run.inference, run.result, "pelvic_bsi")
    assert pelvic["exclusion"]["status"] == "suspected" and "keep it in view" in pelvic["verdict"]


# -- handouts -------------------------------------------------------------------------

def _plain(text):
    return " ".join(re.sub(r"[^a-z0-9]+", " ", html.unescape(text).replace("\\", "").lower()).split())


def _answers(kb, case):
    """What must never be on a student sheet: the answer's label, the teaching point, hipkb's conclusions."""
    said = [kb.hypotheses[case.answer].label, case.teaching_point, "hipkb ranks", "Teaching point", "likely (",
            "suspected", "not yet excluded"]
    if case.summary:
        said.append(case.summary)
    return said


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_the_student_sheet_holds_no_answer(kb, reasoner, library, fmt):
    for case in library.cases.values():
        text = render_handout(kb, reasoner, library, case, audience="student", fmt=fmt)
        text = re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<style>.*?</style>", "", text))  # what a reader sees
        for answer in _answers(kb, case):
            assert answer not in text, (case.id, answer)
        for stage in case.stages(library.manifest):
            assert _plain(case.vignette[stage.id]) in _plain(text)


def test_the_answer_key_reasons_stage_by_stage(kb, reasoner, library):
    case = library.get("case-02")
    model = handout_model(kb, reasoner, library, case, audience="educator")
    assert [s["hipkb"]["triage"]["level"] for s in model["stages"]][1:] == ["urgent", "urgent"]
    assert model["stages"][1]["unsafe"] and model["stages"][1]["unsafe"][0]["source"]
    page = render_handout(kb, reasoner, library, case, audience="educator")
    for text in (case.teaching_point, "Femoral neck bone stress injury", "Rule out the worst first", "References",
                 kb.teaching["femoral_neck_bsi"].pitfall, case.source, "How each hypothesis moved"):
        assert _plain(text) in _plain(page), text
    assert page == render_handout(kb, reasoner, library, case, audience="educator")  # byte for byte


def test_a_partial_sheet_stops_at_its_stage(kb, reasoner, library):
    case = library.get("case-02")
    text = render_handout(kb, reasoner, library, case, audience="student", upto=2)
    assert "Stage 2" in text and "Stage 3" not in text and "More of the case follows" in text
    assert case.vignette["examination"][:40] not in text
    with pytest.raises(TeachingError, match="stages 1 to 3"):
        handout_model(kb, reasoner, library, case, upto=4)


# -- the command line ----------------------------------------------------------------

def test_teach_list_and_filters():
    runner = CliRunner()
    result = runner.invoke(main, ["teach", "list", "--format", "json"])
    assert result.exit_code == 0
    cases = json.loads(result.stdout)
    assert len(cases) >= 30 and cases[0]["id"] == "case-01" and cases[1]["id"] == "case-02"
    result = runner.invoke(main, ["teach", "list", "--region", "knee"])
    assert result.exit_code == 0 and "case-10" in result.stdout and "case-01 " not in result.stdout
    result = runner.invoke(main, ["teach", "list", "--topic", "red_flag"])
    assert result.exit_code == 2 and "did you mean 'red_flags'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_teach_show_stages_answers_and_the_case_behind(tmp_path):
    runner = CliRunner()
    shown = runner.invoke(main, ["teach", "show", "case-02", "--stage", "2"])
    assert shown.exit_code == 0 and "Stage 2 of 3: Symptom behaviour" in shown.stdout
    assert "Stage 3" not in shown.stdout and "hipkb:" not in shown.stdout and "Answer" not in shown.stdout
    answers = runner.invoke(main, ["teach", "show", "case-02", "--answers"])
    assert "triage urgent; stop running" in answers.stdout and "Answer: Femoral neck" in answers.stdout
    behind = runner.invoke(main, ["teach", "show", "case-02", "--case"])
    (tmp_path / "case-02.yaml").write_text(behind.stdout)
    ran = runner.invoke(main, ["run", str(tmp_path / "case-02.yaml")])
    assert json.loads(ran.stdout)["hypotheses"][0]["id"] == "femoral_neck_bsi"
    missing = runner.invoke(main, ["teach", "show", "case-999"])
    assert missing.exit_code == 2 and "no such teaching case" in missing.stderr
    too_far = runner.invoke(main, ["teach", "show", "case-02", "--stage", "9"])
    assert too_far.exit_code == 2 and "stages 1 to 3" in too_far.stderr


def test_teach_handout_writes_the_file_and_teach_check_passes(tmp_path):
    runner = CliRunner()
    out = tmp_path / "key.html"
    result = runner.invoke(main, ["teach", "handout", "case-07", "--audience", "educator", "-o", str(out)])
    assert result.exit_code == 0 and "Pelvic bone stress injury" in out.read_text()
    result = runner.invoke(main, ["teach", "check"])
    assert result.exit_code == 0 and ", 0 problem(s)" in result.stderr


def test_teach_check_fails_a_case_that_teaches_what_hipkb_does_not_conclude(tmp_path, kb):
    facts = tmp_path / "facts"
    shutil.copytree(shipped("facts") / "teaching", facts / "teaching")
    shutil.copy(shipped("facts") / "vocabulary.yaml", facts)
    path = facts / "teaching" / "cases" / "case-01.yaml"
    path.write_text(path.read_text().replace("hypothesis: femoral_neck_bsi", "hypothesis: hip_flexor_strain"))
    result = CliRunner().invoke(main, ["teach", "check", "--facts", str(facts)])
    assert result.exit_code == 1
    assert "case-01.yaml: answer.hypothesis: hip_flexor_strain is not ranked first" in result.stderr
