"""The README works for a newcomer: its commands name files that exist and run as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def shell_lines(text: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [line.split(" #")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_set_up_says_how_to_reach_the_hipkb_command():
    setup = section("Set up and run (fresh machine)")
    assert ". .venv/bin/activate" in setup and ".venv/bin/hipkb" in setup


def test_every_example_path_in_using_it_exists():
    paths = [word for line in shell_lines(section("Using it")) + shell_lines(section("Set up and run (fresh machine)"))
             for word in shlex.split(line) if word.startswith(("facts/", "rules/", "reports/"))]
    assert paths, "the examples should use the shipped example cases"
    for path in paths:
        assert (ROOT / path).exists(), path


def test_the_commands_of_using_it_run_as_written(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    for command in ("hipkb run facts/cases/fnbsi-classic.yaml",
                    "hipkb validate facts/cases/minimal.yaml",
                    "hipkb explain facts/cases/fnbsi-classic.yaml --how femoral_neck_bsi",
                    "hipkb rules hypotheses"):
        assert command in README
        result = cli(*shlex.split(command)[1:])
        assert result.exit_code == 0, (command, result.output)
