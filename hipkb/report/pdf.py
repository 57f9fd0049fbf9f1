"""The HTML report as a PDF for the record (``--format pdf``), through WeasyPrint.

WeasyPrint is an optional extra (``pip install 'hipkb[pdf]'``; it needs
Pango, which Debian ships as ``libpango-1.0-0`` and ``libpangoft2-1.0-0``):
without it, asking for a PDF is one line saying what to install. The PDF
lays out the same HTML a browser prints, with the report's print
stylesheet: A4, the assessment alone on page 1, the case id and the date in
every page's margin, page numbers. The report is self-contained, and
WeasyPrint is given a fetcher that refuses every URL, so nothing is read
from the network or the disk while it lays the page out. WeasyPrint writes
no clock into the file: the same case gives the same bytes.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from hipkb.errors import ReportError

INSTALL = ("--format pdf needs WeasyPrint: pip install 'hipkb[pdf]' "
           "(and Pango: apt-get install libpango-1.0-0 libpangoft2-1.0-0)")


def _unavailable(why: BaseException) -> NoReturn:
    reason = str(why).strip().split("\n")[0][:160]
    raise ReportError("pdf", "", f"{INSTALL} ({reason})") from None


def weasyprint() -> Any:
    """The WeasyPrint module, or a :class:`ReportError` saying what to install."""
    try:
        import weasyprint as module
    except ImportError as error:
        raise ReportError("pdf", "", INSTALL) from error
    except OSError as error:  # WeasyPrint is there, Pango is not
        _unavailable(error)
    return module


def check_available() -> None:
    """Raise the one-line :class:`ReportError` now if a PDF could not be made (before any case runs)."""
    weasyprint()


def _refuse(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(f"hipkb reports fetch nothing ({url[:60]})")


def html_to_pdf(html: str) -> bytes:
    """The PDF of a self-contained HTML report."""
    module = weasyprint()
    # WeasyPrint warns of CSS it does not know (the browser-only properties of
    # the stylesheet) through logging, which experta's basicConfig sends to stderr.
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    document = module.HTML(string=html, url_fetcher=_refuse)
    pdf = document.write_pdf()
    assert isinstance(pdf, bytes)
    return pdf
