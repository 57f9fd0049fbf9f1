"""A built result written out in the format asked for: one line of JSON, or a report.

The one place that maps an output format to its renderer and its file suffix,
for the CLI, batches and the library alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported for real where used: the CLI reads the constants below before loading anything
    from hipkb.engine.record import Inference
    from hipkb.knowledge.rules import KnowledgeBase

#: Who a report is written for. Kept here, not beside the report model, so
#: that a command writing JSON does not import the report machinery.
AUDIENCES: tuple[str, ...] = ("clinician", "educator")

#: Report formats, rendered by Jinja templates.
REPORT_FORMATS: tuple[str, ...] = ("md", "html", "txt")
#: Every output format of a result: JSON, the reports, and a FHIR R4 Bundle.
OUTPUT_FORMATS: tuple[str, ...] = ("json", *REPORT_FORMATS, "fhir")
#: The file suffix of each output format.
SUFFIXES: dict[str, str] = {**{fmt: f".{fmt}" for fmt in ("json", *REPORT_FORMATS)}, "fhir": ".fhir.json"}

__all__ = ["AUDIENCES", "OUTPUT_FORMATS", "REPORT_FORMATS", "SUFFIXES", "render_result"]


def render_result(kb: KnowledgeBase, inference: Inference, result: dict[str, Any], fmt: str = "json", *,
                  audience: str = "clinician", templates: Path | None = None) -> str:
    """Write out a result already built: one line of JSON, a FHIR Bundle, or a report (md, html, txt)."""
    if fmt == "json":
        from hipkb.results.result import to_json

        return to_json(result) + "\n"
    if fmt == "fhir":
        from hipkb.fhir.bundle import bundle_json

        return bundle_json(kb, inference.case, result)
    from hipkb.report.render import render  # jinja2 is imported only when a report is asked for

    return render(kb, inference, result, fmt=fmt, audience=audience, templates=templates)
