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


# --- CPU time per test (--cpu-times N): the slowest tests by CPU, not by wall time ---
# On a shared, loaded machine wall times say little; CPU seconds (this
# process's and those of the child processes a test waited for) are what the
# test costs on an idle one. The README's lane must stay under 5 minutes on 2
# idle cores, no test over 20 s.
import resource as _resource  # noqa: E402
import time as _time  # noqa: E402

_CPU_TIMES: dict[str, float] = {}


def pytest_addoption(parser):
    parser.addoption("--cpu-times", type=int, default=None, metavar="N",
                     help="print the N tests that took the most CPU seconds (0: all), and the total")


def _cpu() -> float:
    own, children = _resource.getrusage(_resource.RUSAGE_SELF), _resource.getrusage(_resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if item.config.getoption("--cpu-times") is None:
        yield
        return
    start = _cpu()
    yield
    _CPU_TIMES[item.nodeid] = _cpu() - start


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    count = config.getoption("--cpu-times")
    if count is None or not _CPU_TIMES:
        return
    ranked = sorted(_CPU_TIMES.items(), key=lambda item: -item[1])
    total = sum(_CPU_TIMES.values())
    own = _time.process_time()
    terminalreporter.section(f"CPU seconds per test (total {total:.1f} s; {own:.1f} s in this process)")
    for nodeid, seconds in ranked[:count or None]:
        terminalreporter.write_line(f"{seconds:8.2f} {nodeid}")
