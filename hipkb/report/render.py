"""Render narrative reports (md, html, txt) from Jinja templates in a sandbox.

:func:`render` maps (knowledge base, inference, result) to the report model
of :mod:`hipkb.report.model`, then lays it out with the template
``<audience>.<fmt>.j2`` or, failing that, ``report.<fmt>.j2``, looked up first
in ``--templates DIR`` (when given) and then in the shipped ``reports/``. So a
researcher can replace one format, or one audience, and keep the rest.

Templates run in :class:`jinja2.sandbox.SandboxedEnvironment`, shipped and
custom alike: a template cannot reach Python internals (``__class__``,
``__subclasses__``, ...), and a template that tries, or that is broken,
becomes one :class:`ReportError` line naming the template and its line.
HTML is autoescaped (the pictures included, since their SVG markup is written
by templates too); Markdown text goes through the ``md`` filter; control
characters never reach a terminal. Undefined names are errors
(``StrictUndefined``). Nothing depends on the clock or on hash order, so the
same case gives the same bytes.
"""

from __future__ import annotations

import re
import textwrap
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any

from hipkb.engine.record import Inference
from hipkb.errors import ReportError
from hipkb.knowledge.resources import shipped
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.report.model import AUDIENCES, build_model
from hipkb.report.output import REPORT_FORMATS

FORMATS = REPORT_FORMATS
# Sandbox limits on what one template expression may build: a report is
# small, so a string or list of a million items is a broken or hostile template.
MAX_SEQUENCE = 1_000_000
MAX_EXPONENT = 64

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|#&~!])")
# An underscore only starts or ends emphasis at a word boundary; inside a word
# (femoral_neck_bsi) it is plain text and stays unescaped, for readable source.
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def render(kb: KnowledgeBase, inference: Inference, result: dict[str, Any], *, fmt: str,
           audience: str = "clinician", templates: Path | str | None = None) -> str:
    """The report of one case as text in *fmt* (``md``, ``html`` or ``txt``) for *audience*.

    *templates* names a directory whose templates take precedence over the
    shipped ones. Raises :class:`ReportError` for an unknown format or
    audience and for any template problem.
    """
    if fmt not in FORMATS:
        raise ReportError(fmt, "", f"unknown report format; allowed: {', '.join(FORMATS)}")
    if audience not in AUDIENCES:
        raise ReportError(audience, "", f"unknown audience; allowed: {', '.join(AUDIENCES)}")
    custom = str(Path(templates).resolve()) if templates is not None else ""
    if custom and not Path(custom).is_dir():
        raise ReportError(str(templates), "", "no such templates directory")
    model = build_model(kb, inference, result, audience=audience)
    env = _environment(fmt == "html", custom)
    names = [f"{audience}.{fmt}.j2", f"report.{fmt}.j2"]
    import jinja2

    try:
        template = env.select_template(names)
        text = template.render(**model)
    except jinja2.TemplatesNotFound:
        where = custom or str(shipped("reports"))
        raise ReportError(where, "", f"no template for {fmt}: expected {' or '.join(names)}") from None
    except jinja2.TemplateSyntaxError as error:
        raise ReportError(error.filename or error.name or "template", f"line {error.lineno}",
                          _one_line(f"template syntax error: {error.message}")) from None
    except jinja2.exceptions.SecurityError as error:
        raise ReportError(*_where(error, names[-1]), _one_line(f"refused by the template sandbox: {error}")) from None
    except jinja2.TemplateError as error:
        raise ReportError(*_where(error, names[-1]), _one_line(f"template error: {error}")) from None
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError, RecursionError) as error:
        if not custom:
            raise  # a bug in the shipped templates: let it show
        raise ReportError(*_where(error, names[-1]),
                          _one_line(f"template error: {type(error).__name__}: {error}")) from None
    return text.rstrip("\n") + "\n"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _where(error: BaseException, fallback: str) -> tuple[str, str]:
    """The template file and line an error was raised from, read off the traceback.

    Jinja rewrites tracebacks so that template frames carry the template's
    file name and line number; the innermost such frame is where it happened.
    """
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename.endswith(".j2") or frame.filename.endswith(".css"):
            return frame.filename, f"line {frame.lineno}"
    return fallback, ""


# -- the environment ---------------------------------------------------------

@lru_cache(maxsize=16)
def _environment(html: bool, custom: str) -> Any:
    """One sandboxed environment per (HTML or not, templates directory); templates compile once."""
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    class ReportSandbox(SandboxedEnvironment):
        # Intercept the two operators that can build huge values from small ones.
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise jinja2.exceptions.SecurityError(f"exponent {right} is too large for a report")
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_SEQUENCE:
                        raise jinja2.exceptions.SecurityError("a repeated sequence is too long for a report")
            return super().call_binop(context, operator, left, right)

    shipped_dir = str(shipped("reports"))
    loaders = [jinja2.FileSystemLoader(custom)] if custom else []
    loaders.append(jinja2.FileSystemLoader(shipped_dir))
    env = ReportSandbox(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        finalize=None if html else _finalize,
    )
    env.filters.update({
        "md": md_escape,
        "code": md_code,
        "mermaid": mermaid_label,
        "wrap": wrap,
        "num": num,
        "plain": plain,
        "zip_text": zip_text,
    })
    return env


def _finalize(value: Any) -> Any:
    # Text and Markdown are read in terminals: never pass control characters
    # (an escape sequence in a case_id) through.
    return _CONTROL.sub("", value) if isinstance(value, str) else value


# -- filters -----------------------------------------------------------------

def plain(value: Any) -> str:
    """One line of text, without control characters."""
    return _CONTROL.sub("", " ".join(str(value).split()))


def md_escape(value: Any) -> str:
    """Text safe inside Markdown: one line, with every character that could start markup escaped.

    A ``case_id`` such as ``<script>`` or ``# heading`` stays text in any
    CommonMark renderer (a backslash escapes any ASCII punctuation).
    """
    return _MD_UNDERSCORE.sub(r"\\_", _MD_SPECIAL.sub(r"\\\1", plain(value)))


def md_code(value: Any) -> str:
    """A Markdown code span that holds *value* whatever backticks it contains."""
    text = plain(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def mermaid_label(value: Any) -> str:
    """Text for a quoted Mermaid label: quotes, brackets and backticks as Mermaid entity codes."""
    text = plain(value)
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;"),
                       ("&", "#amp;")):
        text = text.replace(char, code)
    return text


def wrap(value: Any, width: int = 78, indent: int = 0, first: str | None = None) -> str:
    """Wrap text for the plain-text report, continuation lines indented by *indent* spaces."""
    prefix = " " * indent
    return textwrap.fill(plain(value), width=width, initial_indent=prefix if first is None else first,
                         subsequent_indent=prefix, break_long_words=True, break_on_hyphens=False)


def zip_text(words: Any, texts: Any, sep: str = "; ") -> str:
    """``words: text`` pairs joined: the findings of one group on one line."""
    return sep.join(f"{w}: {t}" for w, t in zip(list(words), list(texts), strict=False))


def num(value: Any) -> str:
    """A number as reports show it: ``0.6``, ``0.916``, ``5``."""
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)
