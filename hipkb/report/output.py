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
#: Every output format of a result: JSON, the reports, a FHIR R4 Bundle, and the HTML report as a PDF.
OUTPUT_FORMATS: tuple[str, ...] = ("json", *REPORT_FORMATS, "fhir", "pdf")
#: Formats written as bytes, not text.
BINARY_FORMATS: tuple[str, ...] = ("pdf",)
#: The file suffix of each output format.
SUFFIXES: dict[str, str] = {**{fmt: f".{fmt}" for fmt in ("json", *REPORT_FORMATS, "pdf")}, "fhir": ".fhir.json"}

__all__ = ["AUDIENCES", "BINARY_FORMATS", "OUTPUT_FORMATS", "REPORT_FORMATS", "SUFFIXES", "render_result"]


def render_result(kb: KnowledgeBase, inference: Inference, result: dict[str, Any], fmt: str = "json", *,
                  audience: str = "clinician", templates: Path | None = None) -> str | bytes:
    """Write out a result already built: one line of JSON, a FHIR Bundle, a report (md, html, txt),
    or the HTML report as a PDF (bytes; needs the ``pdf`` extra)."""
    if fmt == "json":
        from hipkb.results.result import to_json

        return to_json(result) + "\n"
    if fmt == "fhir":
        from hipkb.fhir.bundle import bundle_json

        return bundle_json(kb, inference.case, result)
    from hipkb.report.render import render  # jinja2 is imported only when a report is asked for

    if fmt == "pdf":
        from hipkb.report.pdf import html_to_pdf

        return html_to_pdf(render(kb, inference, result, fmt="html", audience=audience, templates=templates))
    return render(kb, inference, result, fmt=fmt, audience=audience, templates=templates)
