"""Where the shipped knowledge base lives: ``facts/``, ``rules/``, ``reports/``.

In a built wheel they are installed inside the package (``hipkb/facts`` ...);
in a source checkout or an editable install they sit at the top of the
project, beside ``hipkb/``. Both are found without any configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hipkb.errors import HipkbError

if TYPE_CHECKING:
    from hipkb.knowledge.rules import KnowledgeBase

PACKAGE = Path(__file__).resolve().parent.parent  # hipkb/
MARKERS = {"facts": "vocabulary.yaml", "rules": "kb.yaml", "reports": "."}


def shipped(name: str) -> Path:
    """The directory of shipped data called *name* (facts, rules or reports)."""
    marker = MARKERS[name]
    for candidate in (PACKAGE / name, PACKAGE.parent / name):
        if (candidate / marker).exists() and candidate.is_dir():
            return candidate
    raise HipkbError(str(PACKAGE / name), "", "the shipped knowledge base is missing; reinstall hipkb")


def load_kb(rules_dir: str | Path | None = None, facts_dir: str | Path | None = None) -> KnowledgeBase:
    """A knowledge base: the shipped one unless directories are given; loaded once per content of its files."""
    from hipkb.knowledge.rules import load_kb as load

    return load(Path(rules_dir).resolve() if rules_dir else shipped("rules"),
                Path(facts_dir).resolve() if facts_dir else shipped("facts"))


def example_cases() -> list[Path]:
    """The example cases shipped under ``facts/cases``."""
    return sorted((shipped("facts") / "cases").glob("*.yaml"))
