"""A plain, non-editable install works from another directory.

One wheel is built (``pip wheel --no-deps``) and installed, with its
dependencies from the package index as pip is configured on the machine, into
one fresh virtual environment per test session (a module-scoped fixture).
Then the installed ``hipkb`` runs from a directory that is not the project,
and the knowledge base it ships (``facts/``, ``rules/``, ``reports/``) is
found inside the installed package, not in the source tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from resultcheck import check_result

import hipkb

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("facts", "rules", "reports")


def _clean_env() -> dict[str, str]:
    """The environment without anything that points back at the source tree."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(args: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """Build the wheel, make a venv with the running interpreter, install the wheel into it."""
    base = tmp_path_factory.mktemp("install")
    dist, venv, elsewhere = base / "dist", base / "venv", base / "elsewhere"
    elsewhere.mkdir()
    # Build from a copy: setuptools reuses build/ in a source tree, which can
    # carry files deleted since into the wheel, and the copy leaves the
    # working tree of other people untouched.
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", ".venv", ".hypothesis", ".pytest_cache", ".ruff_cache",
        "__pycache__"))
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(source)], base)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheels = sorted(dist.glob("hipkb-*.whl"))
    assert len(wheels) == 1, wheels
    made = _run([sys.executable, "-m", "venv", str(venv)], base)
    assert made.returncode == 0, made.stderr
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    done = _run([str(python), "-m", "pip", "install", str(wheels[0])], base)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"python": python, "hipkb": bindir / "hipkb", "cwd": elsewhere, "wheel": wheels[0]}


def test_installed_package_is_not_the_source_tree(installed):
    proc = _run([str(installed["python"]), "-c",
                 "import hipkb, pathlib; print(pathlib.Path(hipkb.__file__).resolve().parent)"],
                installed["cwd"])
    assert proc.returncode == 0, proc.stderr
    location = Path(proc.stdout.strip())
    assert "site-packages" in location.parts
    assert ROOT not in location.parents and location != ROOT / "hipkb"


def test_version_from_another_directory(installed):
    proc = _run([str(installed["hipkb"]), "--version"], installed["cwd"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"hipkb, version {hipkb.__version__}"


def test_run_prints_a_valid_result(installed, kb):
    case = (ROOT / "facts" / "cases" / "fnbsi-classic.yaml").resolve()
    proc = _run([str(installed["hipkb"]), "run", str(case), "--format", "json"], installed["cwd"])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["format"] == "hipkb-result/1"
    assert result["case_id"] == "fnbsi-classic"
    check_result(result, kb)


def test_installed_output_matches_the_source_tree(installed, reasoner, kb):
    from hipkb import api

    case = (ROOT / "facts" / "cases" / "minimal.yaml").resolve()
    proc = _run([str(installed["hipkb"]), "run", str(case), "--format", "json"], installed["cwd"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == api.report(reasoner, api.load_case(case, kb), "json")


@pytest.mark.parametrize("fmt", ["md", "txt", "html"])
def test_reports_render_from_the_installed_templates(installed, fmt):
    case = (ROOT / "facts" / "cases" / "fnbsi-classic.yaml").resolve()
    proc = _run([str(installed["hipkb"]), "run", str(case), "--format", fmt], installed["cwd"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_schema_and_validate_work_installed(installed):
    proc = _run([str(installed["hipkb"]), "schema"], installed["cwd"])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["$schema"].endswith("2020-12/schema")
    bad = installed["cwd"] / "bad.yaml"
    bad.write_text("pain: {regions: [groin]}\nrunnr: {}\n", encoding="utf-8")
    proc = _run([str(installed["hipkb"]), "validate", "bad.yaml"], installed["cwd"])
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "runnr" in proc.stderr and "Traceback" not in proc.stderr


def test_knowledge_base_ships_inside_the_package(installed):
    code = (
        "import json, hipkb.knowledge.resources as r\n"
        "print(json.dumps({n: str(r.shipped(n)) for n in ('facts', 'rules', 'reports')}))\n"
    )
    proc = _run([str(installed["python"]), "-c", code], installed["cwd"])
    assert proc.returncode == 0, proc.stderr
    found = {name: Path(path) for name, path in json.loads(proc.stdout).items()}
    for name in SHIPPED:
        assert found[name].name == name and found[name].parent.name == "hipkb", found[name]
        assert "site-packages" in found[name].parts
        source_files = sorted(
            p.relative_to(ROOT / name) for p in (ROOT / name).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
        )
        assert source_files, f"{name}/ holds nothing in the source tree"
        missing = [str(p) for p in source_files if not (found[name] / p).is_file()]
        assert not missing, f"not installed from {name}/: {missing}"


def test_hypothesis_stays_optional(installed):
    """hipkb.testing imports without hypothesis; its strategies say how to get it."""
    proc = _run([str(installed["python"]), "-c", "import hipkb.testing"], installed["cwd"])
    assert proc.returncode == 0, proc.stderr
    has = _run([str(installed["python"]), "-c", "import hypothesis"], installed["cwd"])
    if has.returncode == 0:
        pytest.skip("hypothesis is installed in the test venv")
    proc = _run([str(installed["python"]), "-c", "import hipkb.testing.strategies"], installed["cwd"])
    assert proc.returncode != 0
    assert "hipkb[test]" in proc.stderr


def test_fhir_form_in_and_bundle_out_work_installed(installed):
    """Issue 12's "done when": questionnaire > q.json, a response to it, run --format fhir, on a plain install."""
    cwd = installed["cwd"]
    proc = _run([str(installed["hipkb"]), "questionnaire"], cwd)
    assert proc.returncode == 0, proc.stderr
    form = json.loads(proc.stdout)
    regions = next(item for group in form["item"] if group["type"] == "group"
                   for item in group["item"] if item["linkId"] == "pain.regions")
    groin = next(o["valueCoding"] for o in regions["answerOption"] if o["valueCoding"]["code"] == "groin")
    response = {"resourceType": "QuestionnaireResponse", "id": "r1", "status": "completed",
                "questionnaire": f"{form['url']}|{form['version']}",
                "item": [{"linkId": "pain", "item": [{"linkId": "pain.regions", "answer": [{"valueCoding": groin}]}]}]}
    (cwd / "response.json").write_text(json.dumps(response), encoding="utf-8")
    proc = _run([str(installed["hipkb"]), "run", "response.json", "--format", "fhir"], cwd)
    assert proc.returncode == 0, proc.stderr
    bundle = json.loads(proc.stdout)
    risk = bundle["entry"][0]["resource"]
    assert (bundle["resourceType"], risk["resourceType"]) == ("Bundle", "RiskAssessment")
    assert risk["basis"] == [{"reference": "QuestionnaireResponse/r1", "type": "QuestionnaireResponse"}]


def test_web_app_and_its_assets_ship_in_the_wheel(installed):
    """``pip install .`` then ``hipkb serve``: FastAPI and uvicorn come along, every page asset is inside."""
    code = (
        "import json, uvicorn\n"
        "from hipkb import api\n"
        "from hipkb.web.app import STATIC, create_app\n"
        "app = create_app(api.load_kb())\n"
        "print(json.dumps({'static': str(STATIC), 'files': sorted(p.name for p in STATIC.iterdir())}))\n"
    )
    proc = _run([str(installed["python"]), "-c", code], installed["cwd"])
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert "site-packages" in Path(found["static"]).parts
    source = sorted(p.name for p in (ROOT / "hipkb" / "web" / "static").iterdir() if p.is_file())
    assert found["files"] == source
    helped = _run([str(installed["hipkb"]), "serve", "--help"], installed["cwd"])
    assert helped.returncode == 0 and "127.0.0.1" in helped.stdout
