"""`hipkb evaluate`: labelled cases scored as the reference scorer scores them, with metrics and intervals.

The figures on the reviewed cases are checked against a count made here by
hand from the expectations and the results (not through hipkb.verify), on the
reviewed cases as ../shared/cases-reviewed lays them out (a folder of case
files and one expect.yaml), built from the shipped copies in
facts/cases/published/reviewed, whose expectations are embedded (and on the
shared folder itself too, where it exists); the thorough run also holds them to what the shared
scorer, score_cases.py, prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from paths import ROOT

from hipkb import api
from hipkb.verify.evaluate import NONE, Scored, bootstrap, measure

REVIEWED = ROOT / "facts" / "cases" / "published" / "reviewed"
SHARED = ROOT.parent / "shared"
LIVE = SHARED / "cases-reviewed"
SCORER = SHARED / "tools" / "score_cases.py"
LEAST_URGENT_FIRST = ["self_care", "routine", "urgent", "emergency"]


def hand_count(folder: Path) -> dict[str, tuple[int, int]]:
    """Each tally of the folder's expect.yaml, counted here: (held, stated) per tally, and the errors."""
    expect = yaml.safe_load((folder / "expect.yaml").read_text())
    kb = api.load_kb()
    reasoner = api.reasoner_for(kb)
    held: dict[str, int] = {}
    stated: dict[str, int] = {}
    errors = 0

    def count(name: str, ok: bool) -> None:
        stated[name] = stated.get(name, 0) + 1
        held[name] = held.get(name, 0) + int(ok)

    for stem in expect:
        wanted = expect[stem]
        try:
            result = api.run_case(reasoner, api.load_case(folder / f"{stem}.yaml", kb))
        except Exception:
            errors += 1
            continue
        ids = [h["id"] for h in result["hypotheses"]]
        level = LEAST_URGENT_FIRST.index(result["triage"]["level"])
        advice = result["running"]["advice"]
        hops = [q["fact"] for q in result["next_questions"] if "hop" in q["fact"]]
        if "top" in wanted:
            count("top", bool(ids) and ids[0] in wanted["top"])
        if "in_top3" in wanted:
            count("in_top3", set(wanted["in_top3"]) <= set(ids[:3]))
        if "includes" in wanted:
            count("includes", set(wanted["includes"]) <= set(ids))
        if "excludes" in wanted:
            count("excludes", not set(wanted["excludes"]) & set(ids))
        if "triage_at_most" in wanted:
            count("specific", level <= LEAST_URGENT_FIRST.index(wanted["triage_at_most"]))
        unsafe = []
        if "triage_at_least" in wanted:
            unsafe.append(level < LEAST_URGENT_FIRST.index(wanted["triage_at_least"]))
        running = wanted.get("running_in") or ([wanted["running"]] if "running" in wanted else [])
        unsafe.append(bool(running) and advice not in running)
        unsafe.append(bool(wanted.get("no_hop")) and bool(hops))
        raised = {f["id"] for f in result["red_flags"]}
        unsafe.append(not set(wanted.get("red_flags", [])) <= raised)
        bone = any(h["id"] in ("femoral_neck_bsi", "pelvic_bsi", "femoral_shaft_bsi") and h["certainty"] >= 0.3
                   for h in result["hypotheses"])
        unsafe.append(bone and (bool(hops) or advice != "stop"))
        count("safety", not any(unsafe))
    return {**{name: (held[name], stated[name]) for name in stated}, "errors": (errors, len(expect))}


def summary(counts: dict[str, tuple[int, int]], name: str) -> str:
    parts = ", ".join(f"{k} {h}/{n}" for k, (h, n) in sorted(counts.items()) if k != "errors")
    return f"{name}: {parts}, errors {counts['errors'][0]}"


def _check_figures(cli, folder: Path) -> None:
    counts = hand_count(folder)
    result = cli("evaluate", folder, "--format", "json", "--bootstrap", "50")
    report = json.loads(result.output)
    assert result.exit_code == (0 if report["failed"] == 0 else 1)
    got = {k: (m["k"], m["n"]) for k, m in report["tallies"].items() if m["n"]}
    assert got == {k: v for k, v in counts.items() if k != "errors"}
    assert report["errors"] == counts["errors"][0]
    for key in ("top", "in_top3", "safety", "specific"):
        assert key in got  # top-1, top-3, safety and over-triage are all stated by the reviewed set
    assert report["over_triage"] == {"k": counts["specific"][1] - counts["specific"][0], "n": counts["specific"][1]}
    text = cli("evaluate", folder, "--bootstrap", "0").output
    assert text.rstrip().splitlines()[-1] == summary(counts, folder.name)
    # One line per failed case, saying what was expected and what came out.
    failed = [c for c in report["results"] if not c["ok"]]
    lines = text.split(f"failed ({len(failed)}):\n")[1].split("\n\n")[0].splitlines() if failed else []
    assert [line.split(":")[0].strip() for line in lines] == [c["name"] for c in failed]
    assert all("| top 3:" in line and "triage" in line for line in lines)


def shared_layout(source: Path, folder: Path) -> Path:
    """The cases of *source* laid out as cases-reviewed is: each embedded expect block moved to expect.yaml."""
    folder.mkdir()
    expect = {}
    for path in sorted(source.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        expect[path.stem] = data.pop("expect")
        (folder / path.name).write_text(yaml.safe_dump(data, sort_keys=False))
    (folder / "expect.yaml").write_text(yaml.safe_dump(expect, sort_keys=False))
    return folder


def test_evaluate_counts_the_reviewed_cases_as_a_hand_count_does(cli, tmp_path):
    _check_figures(cli, shared_layout(REVIEWED, tmp_path / "cases-reviewed"))


@pytest.mark.skipif(not (LIVE / "expect.yaml").is_file(), reason="../shared/cases-reviewed is not on this machine")
def test_evaluate_counts_the_shared_reviewed_cases_as_a_hand_count_does(cli):
    _check_figures(cli, LIVE)


@pytest.mark.thorough
@pytest.mark.skipif(not SCORER.is_file() or not LIVE.is_dir(), reason="../shared/tools/score_cases.py is not here")
def test_evaluate_prints_the_summary_the_shared_scorer_prints(cli, tmp_path):
    # The scorer runs `hipkb run` once per case, as a command: give it this checkout's.
    wrapper = tmp_path / "hipkb"
    wrapper.write_text(f"#!{sys.executable}\nimport sys\nfrom hipkb.cli import main\nsys.exit(main())\n")
    wrapper.chmod(0o755)
    scored = subprocess.run([sys.executable, str(SCORER), str(LIVE), "--hipkb", str(wrapper)], capture_output=True,
                            text=True, timeout=600, env=os.environ.copy())
    mine = cli("evaluate", LIVE, "--bootstrap", "0").output
    assert scored.stdout.rstrip().splitlines()[-1] == mine.rstrip().splitlines()[-1]


# -- the metrics, on cases scored by hand ------------------------------------------

def _scored(name: str, top: list[str], ranked: list[tuple[str, float, str]], ok: bool = True) -> Scored:
    item = Scored(name, f"{name}.yaml", {"top": top}, case_id=name, ranked=ranked, triage="routine",
                  running="reduce")
    item.tallies = {"top": bool(ranked) and ranked[0][0] in top, "safety": ok}
    if not item.tallies["top"]:
        item.failures = ["top"]
    return item


CASES = [
    _scored("a", ["gmed"], [("gmed", 0.7, "likely"), ("oa", 0.2, "unlikely")]),
    _scored("b", ["gmed"], [("oa", 0.5, "possible"), ("gmed", 0.4, "possible")]),
    _scored("c", ["oa", "gmed"], [("gmed", 0.65, "likely")]),          # either answer is right: counts as oa
    _scored("d", ["oa"], [("oa", 0.8, "likely"), ("gmed", 0.1, "unlikely")]),
    _scored("e", ["fnbsi"], [], ok=False),
]


def test_sensitivity_ppv_confusion_and_calibration_of_scored_cases():
    ev = measure(CASES, {"name": "t", "version": "0", "rules": 0}, resamples=200, seed=3)
    assert (ev.tallies["top"].k, ev.tallies["top"].n) == (3, 5)
    assert (ev.tallies["safety"].k, ev.tallies["safety"].n) == (4, 5)
    assert ev.confusion == {"fnbsi": {NONE: 1}, "gmed": {"gmed": 1, "oa": 1}, "oa": {"oa": 2}}
    gmed, oa = ev.hypotheses["gmed"], ev.hypotheses["oa"]
    assert (gmed["sensitivity"].k, gmed["sensitivity"].n) == (1, 2) and (gmed["ppv"].k, gmed["ppv"].n) == (1, 1)
    assert (oa["sensitivity"].k, oa["sensitivity"].n) == (2, 2) and (oa["ppv"].k, oa["ppv"].n) == (2, 3)
    # Of the ranked hypotheses in each band, those the case accepts as the truth.
    assert [(ev.calibration[b].k, ev.calibration[b].n) for b in ("likely", "possible", "unlikely")] == \
        [(3, 3), (1, 2), (0, 2)]
    assert ev.truth_band == {"likely": 3, "possible": 1, "unlikely": 0, "not ranked": 1}
    for metric in (ev.tallies["top"], oa["ppv"], ev.calibration["possible"]):
        assert metric.low is not None and metric.high is not None
        assert metric.low <= metric.value <= metric.high
    again = measure(CASES, {"name": "t", "version": "0", "rules": 0}, resamples=200, seed=3)
    assert again.to_dict() == ev.to_dict()  # seeded: the same intervals


def test_bootstrap_intervals_narrow_with_more_cases():
    few = bootstrap({"m": [(1, 1), (0, 1)] * 5}, 500, 1)["m"]
    many = bootstrap({"m": [(1, 1), (0, 1)] * 200}, 500, 1)["m"]
    assert few[0] < many[0] <= 0.5 <= many[1] < few[1]


# -- output ---------------------------------------------------------------------------

def _evil_set(tmp_path: Path) -> Path:
    folder = tmp_path / "labelled"
    folder.mkdir()
    evil = "x<script>alert(1)|*"
    (folder / f"{evil}.yaml").write_text(yaml.safe_dump({"case_id": "<b>bold</b>", "pain": {"regions": ["groin"]},
                                                        "behaviour": {"walking": "painful"}}))
    (folder / "plain.yaml").write_text(yaml.safe_dump({"pain": {"regions": ["lateral_hip"]}}))
    (folder / "expect.yaml").write_text(yaml.safe_dump({
        evil: {"top": ["proximal_hamstring_tendinopathy"], "running_in": ["continue_as_tolerated"]},
        "plain": {"triage_at_most": "emergency"}}))
    return folder


def test_html_and_markdown_escape_case_text_and_load_nothing(cli, tmp_path):
    folder = _evil_set(tmp_path)
    page = cli("evaluate", folder, "--format", "html")
    assert page.exit_code == 1
    html = page.output
    assert "<script" not in html and "&lt;script&gt;" in html and "<b>" not in html
    assert "<svg" in html and "src=" not in html and "href=" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    markdown = cli("evaluate", folder, "--format", "md").output
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    failed_line = next(line for line in markdown.splitlines() if line.startswith("- x"))
    assert "\\|" in failed_line and "top: expected proximal" in failed_line
    out = tmp_path / "report.html"
    assert cli("evaluate", folder, "--format", "html", "-o", out).exit_code == 1
    assert out.read_text() == html


def test_bad_expectations_are_one_line_naming_the_case_and_key(cli, tmp_path):
    folder = _evil_set(tmp_path)
    (folder / "expect.yaml").write_text("plain: {triage_at_leest: urgent}\n")
    result = cli("evaluate", folder)
    assert result.exit_code == 2
    assert "plain.triage_at_leest: unknown key" in result.output and "did you mean 'triage_at_least'" in result.output
    (folder / "expect.yaml").write_text("plain: {running_in: [sprint]}\n")
    assert "plain.running_in: found" in cli("evaluate", folder).output
    missing = cli("evaluate", tmp_path / "nowhere")
    assert missing.exit_code == 2 and "nowhere: no such file or directory" in missing.output


def test_case_files_own_expect_blocks_serve_without_an_expectations_file(cli, tmp_path):
    examples = ROOT / "facts" / "cases"
    folder = tmp_path / "examples"
    folder.mkdir()
    for name in ("fnbsi-classic.yaml", "glute-med-warms-up.yaml", "minimal.yaml"):
        (folder / name).write_text((examples / name).read_text())
    report = json.loads(cli("evaluate", folder, "--format", "json").output)
    with_expect = sum(1 for name in ("fnbsi-classic.yaml", "glute-med-warms-up.yaml", "minimal.yaml")
                      if "expect" in yaml.safe_load((examples / name).read_text()))
    assert report["cases"] == with_expect and len(report["unlabelled"]) == 3 - with_expect
    assert report["tallies"]["safety"]["n"] == with_expect
