"""Shared fixtures: the shipped knowledge base, a reasoner, the example cases, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hipkb import api
from hipkb.cli import main
from hipkb.resources import shipped

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted((ROOT / "facts" / "cases").glob("*.yaml"))


@pytest.fixture(scope="session")
def kb():
    return api.load_kb()


@pytest.fixture(scope="session")
def reasoner(kb):
    return api.reasoner_for(kb)


@pytest.fixture(scope="session")
def rules_dir() -> Path:
    return shipped("rules")


@pytest.fixture(scope="session")
def facts_dir() -> Path:
    return shipped("facts")


@pytest.fixture
def cli():
    """Invoke the hipkb CLI in-process: ``cli("run", path)`` returns click's Result."""
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None):
        return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke
