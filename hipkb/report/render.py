"""Render narrative reports (md, html, txt) from Jinja templates in a sandbox.

:func:`render` maps (knowledge base, inference, result) to the report model
of :mod:`hipkb.report.model`, then lays it out with the template
``<audience>.<fmt>.j2`` or, failing that, ``report.<fmt>.j2``, looked up first
in ``--templates DIR`` (when given) and then in the shipped ``reports/``. So a
researcher can replace one format, or one audience, and keep the rest.

Templates run in :class:`jinja2.sandbox.SandboxedEnvironment`, shipped and
custom alike: a template cannot reach Python internals (``__class__``,
``__subclasses__``, ...), and runs under the limits of
:mod:`hipkb.report.limits` (CPU time, loop steps, value sizes, report size);
a template that tries, that goes past a limit, or that is broken, becomes
one :class:`ReportError` line naming the template and its line.
HTML is autoescaped (the pictures included, since their SVG markup is written
by templates too); Markdown text goes through the ``md`` filter; control and
bidi characters from a case never reach a terminal, nor raw ESC or NUL the
HTML (:mod:`hipkb.textsafe`). Undefined names are errors
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
from hipkb.errors import LimitError, ReportError
from hipkb.knowledge.resources import shipped
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.report import limits
from hipkb.report.model import AUDIENCES, build_model
from hipkb.report.output import REPORT_FORMATS
from hipkb.textsafe import html_text, report_text

FORMATS = REPORT_FORMATS
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
    if templates is not None and not Path(templates).is_dir():
        raise ReportError(str(templates), "", "no such templates directory")
    model = build_model(kb, inference, result, audience=audience)
    return render_template([f"{audience}.{fmt}.j2", f"report.{fmt}.j2"], model, fmt=fmt, templates=templates)


def render_template(names: list[str], model: dict[str, Any], *, fmt: str, templates: Path | str | None = None) -> str:
    """Lay out *model* with the first of the templates *names* found (custom first), in the sandbox.

    The one place a template runs: reports and teaching handouts alike, under
    the same limits, with every problem one :class:`ReportError` line naming
    the template and its line.
    """
    custom = str(Path(templates).resolve()) if templates is not None else ""
    if custom and not Path(custom).is_dir():
        raise ReportError(str(templates), "", "no such templates directory")
    env = _environment(fmt == "html", custom)
    import jinja2

    template = None
    try:
        template = env.select_template(names)
        with limits.metered():
            text = limits.collect(template.generate(**model))
    except LimitError as error:
        shown = template.filename or template.name if template is not None else names[-1]
        raise ReportError(*_where(error, shown or names[-1]),
                          _one_line(f"template stopped: it {error} (a limit of hipkb's report templates)")) from None
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
    from jinja2 import nodes
    from jinja2.compiler import CodeGenerator
    from jinja2.sandbox import SandboxedEnvironment

    class MeteredCodeGenerator(CodeGenerator):
        """Every ``{% for %}`` iterates through :func:`limits.steps`; every ``~`` result is measured."""

        def visit_Template(self, node: Any, frame: Any = None) -> None:
            for loop in node.find_all(nodes.For):
                if not getattr(loop, "metered", False):
                    counted = nodes.Call(nodes.EnvironmentAttribute("hipkb_steps"), [loop.iter], [], None, None,
                                         lineno=loop.iter.lineno)
                    counted.set_environment(self.environment)
                    loop.iter, loop.metered = counted, True
            # The operands of ~ are measured before they are turned into text
            # (visit_Concat measures the result): rewritten here, before the
            # generator collects the filters the template uses.
            for concat in list(node.find_all(nodes.Concat)):
                concat.nodes = [n if getattr(n, "measured", False) else _measured(n) for n in concat.nodes]
            super().visit_Template(node, frame)

        def visit_Concat(self, node: Any, frame: Any) -> None:
            self.write("environment.hipkb_built(")
            super().visit_Concat(node, frame)
            self.write(")")

    def _measured(operand: Any) -> Any:
        measured = nodes.Filter(operand, "hipkb_text", [], [], None, None, lineno=operand.lineno)
        measured.set_environment(operand.environment)
        measured.measured = True  # type: ignore[attr-defined]  # a mark the code generator reads
        return measured

    class ReportSandbox(SandboxedEnvironment):
        # The operators that can build a large value from small ones, or run long.
        intercepted_binops = frozenset({"*", "**", "+", "%", "-", "/", "//"})
        code_generator_class = MeteredCodeGenerator
        hipkb_steps = staticmethod(limits.steps)
        hipkb_built = staticmethod(limits.built)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            limits.check_binop(operator, left, right)
            limits.event()
            return limits.built(super().call_binop(context, operator, left, right))

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            limits.event()
            limits.check_method(__obj, args, kwargs)
            return limits.built(super().call(__context, __obj, *args, **kwargs))

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
        finalize=limits.finalize_counter(_clean_html if html else _clean_text),
    )
    env.filters.update({
        "md": md_escape,
        "code": md_code,
        "mermaid": mermaid_label,
        "wrap": wrap,
        "num": num,
        "plain": plain,
        "zip_text": zip_text,
        "css_string": css_string,
        "refs": refs_text,
        "cites": cites_text,
        "cites_md": cites_md,
        "cites_html": cites_html,
        "rule_list_md": rule_list_md,
        "rule_list_text": rule_list_text,
    })
    env.filters = {name: limits.metered_filter(name, func) for name, func in env.filters.items()}
    env.filters["hipkb_text"] = limits.check_text  # the operands of ~ (added unwrapped: it is the check)
    env.globals["range"] = limits.small_range
    env.globals.pop("lipsum", None)  # a report has no use for it, and it can be asked for millions of words
    return env


def _clean_text(value: Any) -> Any:
    # Text and Markdown are read in terminals: never pass control or bidi
    # characters (an escape sequence in a case_id) through.
    return report_text(value) if isinstance(value, str) else value


def _clean_html(value: Any) -> Any:
    # Markup (the SVG pictures) stays markup; only the characters go.
    if isinstance(value, str):
        cleaned = html_text(value)
        if cleaned != value:
            return type(value)(cleaned) if hasattr(value, "__html__") else cleaned
    return value


# -- filters -----------------------------------------------------------------

def plain(value: Any) -> str:
    """One line of text, without control or bidi characters."""
    return report_text(" ".join(str(value).split()))


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
    text = plain(value)
    initial = prefix if first is None else first
    if text and len(initial) + len(text) <= width:
        return initial + text  # what textwrap gives a line that fits, without its cost
    return textwrap.fill(text, width=width, initial_indent=initial,
                         subsequent_indent=prefix, break_long_words=True, break_on_hyphens=False)


# -- citations ----------------------------------------------------------------
# A rule as reports cite it outside their appendix: its title, then the
# numbers of its references ([2, 5]), or its source as written when the
# knowledge base has no references table. One filter per list, not a macro
# per rule: reports cite dozens of rules.

def refs_text(numbers: Any) -> str:
    """``[2, 5]``, or nothing."""
    return f"[{', '.join(str(n) for n in numbers)}]" if numbers else ""


def _cite(rule: Any, title: str, source: str) -> str:
    refs = rule.get("refs") if isinstance(rule, dict) else None
    if refs:
        return f"{title} {refs_text(refs)}"
    return f"{title} ({source})" if source else title


def cites_text(rules: Any, sep: str = "; ") -> str:
    """Rules (or one rule) for the plain-text report: ``Title [2]; Other title (its source)``."""
    items = [rules] if isinstance(rules, dict) else list(rules)
    return sep.join(_cite(r, plain(r.get("title", "")), plain(r.get("source", ""))) for r in items)


def cites_md(rules: Any, sep: str = "; ") -> str:
    """The same for Markdown: titles and sources escaped, reference numbers as they are."""
    items = [rules] if isinstance(rules, dict) else list(rules)
    return sep.join(_cite(r, md_escape(r.get("title", "")), md_escape(r.get("source", ""))) for r in items)


def rule_list_md(rules: Any) -> str:
    """The appendix's list of rules in Markdown: ``- `ID` Title (source: ...) [2]`` a line each."""
    lines = []
    for r in rules:
        refs = f" {refs_text(r['refs'])}" if r.get("refs") else ""
        lines.append(f"- {md_code(r['id'])} {md_escape(r.get('title', ''))} "
                     f"(source: {md_escape(r.get('source') or 'the shell')}){refs}")
    return "\n".join(lines)


def rule_list_text(rules: Any, width: int = 78) -> str:
    """The same for the plain-text report, each wrapped to *width* columns."""
    return "\n".join(wrap(f"- {r['id']}: {r.get('title', '')} [source: {r.get('source') or 'the shell'}]"
                           + (f" {refs_text(r['refs'])}" if r.get("refs") else ""), width, 4, "") for r in rules)


def cites_html(rules: Any, sep: str = "; ") -> Any:
    """The same for HTML: escaped text, each reference number a link to its entry."""
    from markupsafe import Markup, escape

    items = [rules] if isinstance(rules, dict) else list(rules)
    parts = []
    for r in items:
        refs = r.get("refs") or []
        text = escape(html_text(str(r.get("title", ""))))
        if refs:
            links = ", ".join(f'<a href="#ref-{int(n)}">{int(n)}</a>' for n in refs)
            text += Markup(f'<sup class="refs">[{links}]</sup>')
        elif r.get("source"):
            text += Markup(' <span class="cite">(') + escape(html_text(str(r["source"]))) + Markup(")</span>")
        parts.append(Markup('<span class="because">') + text + Markup("</span>"))
    return Markup(escape(sep)).join(parts)


def zip_text(words: Any, texts: Any, sep: str = "; ") -> str:
    """``words: text`` pairs joined: the findings of one group on one line."""
    return sep.join(f"{w}: {t}" for w, t in zip(list(words), list(texts), strict=False))


def css_string(value: Any) -> str:
    """Text for inside a double-quoted CSS string (a page header): every character but letters, digits,
    spaces and ``.,:-_`` as a CSS escape, so nothing from a case can end the string, the rule or the
    ``<style>`` element it sits in."""
    return "".join(c if c.isascii() and (c.isalnum() or c in " .,:-_") else f"\\{ord(c):x} " for c in plain(value))


def num(value: Any) -> str:
    """A number as reports show it: ``0.6``, ``0.916``, ``5``."""
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)
