"""Where the shipped knowledge base lives: ``facts/``, ``rules/``, ``reports/``.

In a built wheel they are installed inside the package (``hipkb/facts`` ...);
in a source checkout or an editable install they sit at the top of the
project, beside ``hipkb/``. Both are found without any configuration.
"""

from __future__ import annotations

from pathlib import Path

from hipkb.errors import HipkbError

PACKAGE = Path(__file__).resolve().parent.parent  # hipkb/
MARKERS = {"facts": "vocabulary.yaml", "rules": "kb.yaml", "reports": "."}


def shipped(name: str) -> Path:
    """The directory of shipped data called *name* (facts, rules or reports)."""
    marker = MARKERS[name]
    for candidate in (PACKAGE / name, PACKAGE.parent / name):
        if (candidate / marker).exists() and candidate.is_dir():
            return candidate
    raise HipkbError(str(PACKAGE / name), "", "the shipped knowledge base is missing; reinstall hipkb")


def example_cases() -> list[Path]:
    """The example cases shipped under ``facts/cases``."""
    return sorted((shipped("facts") / "cases").glob("*.yaml"))
