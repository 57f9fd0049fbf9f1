"""Shared fixtures: the shipped knowledge base, a reasoner, the shipped rules and facts, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hipkb import api
from hipkb.cli import main
from hipkb.knowledge.resources import shipped


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


# --- hypothesis profiles (issue 5: property checks of the knowledge base) ---
# The default profile keeps CI fast; HIPKB_HYPOTHESIS_PROFILE=thorough runs ten
# times the examples (for a researcher's or a nightly run).
import os as _os  # noqa: E402

from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("thorough", max_examples=1000, deadline=None)
if _os.environ.get("HIPKB_HYPOTHESIS_PROFILE"):
    _hypothesis_settings.load_profile(_os.environ["HIPKB_HYPOTHESIS_PROFILE"])


# The environment as the session found it: a test that changes it (a library
# that sets variables for its own child processes, as Dask does) must not
# change what later tests and the processes they start see.
_SESSION_ENVIRON = dict(_os.environ)


@pytest.fixture(autouse=True)
def _environment_restored():
    yield
    for key in [k for k in _os.environ if k not in _SESSION_ENVIRON and not k.startswith("PYTEST_")]:
        del _os.environ[key]
    for key, value in _SESSION_ENVIRON.items():
        if _os.environ.get(key) != value:
            _os.environ[key] = value
