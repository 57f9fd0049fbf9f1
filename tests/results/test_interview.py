"""``hipkb interview``: question order, answer validation, scripted stdin, a valid saved case."""

from __future__ import annotations

import pytest
import yaml
from samplekb import write_sample_kb

from hipkb import api
from hipkb.load.case import validate
from hipkb.results.interview import AnswerError, Interview, InterviewError, parse_answer, run
from hipkb.results.result import build_result


def first_allowed(field) -> str:
    """A valid, non-unknown answer for any askable field, whatever order questions come in."""
    if field.type in ("choice", "set"):
        return next(iter(field.values))
    return f"{field.minimum:g}" if field.minimum is not None else "1"


def scripted(kb, answer, max_questions=None, case_id="scripted"):
    """Run an interview through the Python API, answering with *answer(field)*; return it and the answers given."""
    given: list[str] = []

    def ask(field):
        text = answer(field)
        if text is not None:
            given.append(text)
        return text

    interview = Interview(kb, api.reasoner_for(kb), case_id=case_id, max_questions=max_questions)
    run(interview, ask, lambda _: None, interactive=False)
    return interview, given


def test_stdin_interview_saves_a_case_that_validate_accepts(tmp_path, cli, kb):
    out = tmp_path / "new-case.yaml"
    answers = "groin\n" + "\n" * (len(kb.vocabulary.fields) + 5)
    result = cli("interview", "-o", out, input=answers)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # progress and questions go to stderr
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data == {"format": "hipkb-case/1", "case_id": "new-case", "pain": {"regions": ["groin"]}}
    check = cli("validate", out)
    assert check.exit_code == 0 and "ok (new-case)" in check.stdout


def test_cli_and_api_ask_the_same_questions_and_save_the_same_case(tmp_path, cli, kb):
    # Answer every question with its first allowed value: the order of
    # questions depends on the knowledge base, the answers do not.
    interview, given = scripted(kb, first_allowed, max_questions=12, case_id="same")
    out = tmp_path / "same.yaml"
    result = cli("interview", "-o", out, "--max-questions", "12", "--case-id", "same", input="\n".join(given) + "\n")
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert saved == interview.data()
    assert len(interview.asked) == 12
    case = validate(saved, kb.vocabulary, str(out), hypotheses=kb.hypotheses)
    for path in interview.asked:
        field = kb.vocabulary.fields[path]
        value = case.get(path)
        assert (value[0] if isinstance(value, tuple) else str(value).removesuffix(".0")) == first_allowed(field)
    assert cli("validate", out).exit_code == 0


def test_questions_follow_the_engine_ranking(kb, reasoner):
    interview = Interview(kb, reasoner)
    assert interview.next_field().path == "pain.regions"  # required, always first
    interview.record("pain.regions", ("groin",))
    case = validate({"pain": {"regions": ["groin"]}}, kb.vocabulary, "<t>")
    inference = reasoner.infer(case)
    suggested = build_result(kb, inference)["next_questions"]
    expected = suggested[0]["fact"] if suggested else next(
        p for p in kb.vocabulary.fields if p != "pain.regions" and p not in inference.avoid)
    assert interview.next_field().path == expected


def test_a_question_the_rules_forbid_is_never_asked(tmp_path_factory):
    kb = api.load_kb(write_sample_kb(tmp_path_factory.mktemp("iv")))
    interview = Interview(kb, api.reasoner_for(kb))
    interview.record("pain.regions", ("groin",))
    interview.record("behaviour.during_run", "worsens")
    snapshot = interview.record("behaviour.after_run", "lingers")
    assert snapshot.top[0][0] == "femoral_neck_bsi"
    asked = []
    while (field := interview.next_field()) is not None:
        asked.append(field.path)
        interview.record(field.path, None)
    assert "behaviour.hopping" not in asked and "exam.single_leg_hop" not in asked
    assert len(asked) == len(kb.vocabulary.fields) - 5


def test_a_bad_answer_from_a_script_is_an_error_and_nothing_is_saved(tmp_path, cli):
    out = tmp_path / "bad.yaml"
    result = cli("interview", "-o", out, input="groin\nsometimes, maybe\n")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("hipkb: <stdin>: ") and "found 'sometimes, maybe'" in lines[-1]
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_missing_required_answer_is_an_error(cli):
    result = cli("interview", input="")
    assert result.exit_code == 2 and "pain.regions" in result.stderr
    result = cli("interview", input="unknown\n")
    assert result.exit_code == 2 and "required" in result.stderr


def test_interactive_answers_are_asked_again(kb, reasoner):
    # The second question is the runner's age (asked first while unknown): 9 is under its minimum, 30 fits.
    answers = iter(["nowhere", "", "groin", "9", "30"])
    shown: list[str] = []
    interview = Interview(kb, reasoner, max_questions=2)
    run(interview, lambda field: next(answers, None), shown.append, interactive=True)
    assert interview.answers["pain.regions"] == ("groin",)
    second = [p for p in interview.asked if p != "pain.regions"]
    assert len(second) == 1
    field = kb.vocabulary.fields[second[0]]
    assert second == ["runner.age"] and field.is_numeric
    assert interview.answers["runner.age"] == 30
    assert any("found 'nowhere'" in s for s in shown)
    assert any("required" in s for s in shown)
    assert any(s.strip().startswith("differential:") for s in shown)


def test_max_questions_and_stdout_output(cli, kb):
    result = cli("interview", "--max-questions", "3", "-q", "--case-id", "three", input="groin\n\n\n\n\n\n")
    assert result.exit_code == 0
    assert result.stderr == ""  # -q: no questions, no progress
    data = yaml.safe_load(result.stdout)
    assert data["case_id"] == "three" and data["pain"] == {"regions": ["groin"]}
    shown = cli("interview", "--max-questions", "3", input="groin\n\n\n\n\n\n")
    assert shown.stderr.count("\n> ") == 3


def test_existing_output_needs_force_and_json_by_suffix(tmp_path, cli):
    out = tmp_path / "case.json"
    out.write_text("{}", encoding="utf-8")
    refused = cli("interview", "-o", out, input="buttock\n")
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert out.read_text(encoding="utf-8") == "{}"
    done = cli("interview", "-o", out, "--force", "--max-questions", "1", input="buttock\n")
    assert done.exit_code == 0, done.output
    import json

    assert json.loads(out.read_text(encoding="utf-8"))["pain"] == {"regions": ["buttock"]}
    assert cli("validate", out).exit_code == 0


def test_bad_case_id_is_refused(cli):
    result = cli("interview", "--case-id", "x" * 500, input="groin\n")
    assert result.exit_code == 2 and "case id" in result.stderr


@pytest.mark.parametrize("path, text, expected", [
    ("behaviour.night_pain", "y", "yes"),
    ("behaviour.night_pain", "No", "no"),
    ("behaviour.night_pain", "true", "yes"),
    ("behaviour.during_run", "Worsens", "worsens"),
    ("behaviour.during_run", "2", "worsens"),
    ("behaviour.during_run", "gets worse the longer the run goes", "worsens"),
    ("behaviour.during_run", "", None),
    ("behaviour.during_run", " ? ", None),
    ("exam.fulcrum", "not tested", None),
    ("pain.regions", "groin, lower back", ("groin", "lower_back")),
    ("pain.regions", "3 1", ("groin", "buttock")),
    ("history.prior_conditions", "[]", ()),
    ("history.prior_conditions", "none", ()),
    ("history.training_change", "none", ("none",)),
    ("runner.age", "34", 34),
    ("pain.severity", "4.5", 4.5),
    ("history.weeks_since_onset", "unknown", None),
])
def test_parse_answer(kb, path, text, expected):
    assert parse_answer(kb.vocabulary.fields[path], text) == expected


@pytest.mark.parametrize("path, text, needle", [
    ("behaviour.during_run", "worse", "did you mean 'worsens'"),
    ("behaviour.during_run", "9", "a number from 1 to"),
    ("behaviour.night_pain", "maybe", "allowed: yes, no"),
    ("pain.regions", "groin, ankle", "found 'ankle'"),
    ("pain.regions", "groin, lower leg", "found 'lower'"),
    ("pain.regions", "[]", "at least 1"),
    ("runner.age", "34.5", "whole number"),
    ("runner.age", "7", "allowed: 10 to 100"),
    ("pain.severity", "nan", "finite"),
    ("pain.severity", "lots", "expected a number"),
])
def test_parse_answer_refuses(kb, path, text, needle):
    with pytest.raises(AnswerError) as info:
        parse_answer(kb.vocabulary.fields[path], text)
    assert needle in str(info.value) and path in str(info.value)


def test_interview_error_for_answers_that_end_too_early(kb, reasoner):
    with pytest.raises(InterviewError, match=r"pain\.regions"):
        run(Interview(kb, reasoner), lambda field: None, lambda _: None, interactive=False)
