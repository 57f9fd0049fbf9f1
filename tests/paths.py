"""Where the project is, for a test in any folder of tests/ (``from paths import ROOT``)."""

from __future__ import annotations

from pathlib import Path

#: The top of the project: README.md, docs/, facts/, rules/, benchmarks/, tests/.
ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ROOT"]
