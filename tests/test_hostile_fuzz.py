"""Fuzzing what issue 14 hardened: the template sandbox, the interview's answers, terminal text.

Random small templates, built from the pieces that made the hostile ones
(loops, ``namespace``, ``*``, ``**``, ``~``, ``%``, filters), either render
or fail with one :class:`ReportError` line: never another exception, never a
report past the output limit. Random answers to every askable field are a
value the case format accepts or one :class:`AnswerError` line of bounded
length.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hipkb import api
from hipkb.load.case import validate
from hipkb.report import limits
from hipkb.report.render import ReportError, render
from hipkb.results.interview import ASKABLE, AnswerError, parse_answer
from hipkb.results.result import build_result
from hipkb.textsafe import has_unsafe, report_text, terminal

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "facts" / "cases" / "fnbsi-classic.yaml"

_ATOMS = ["0", "1", "2", "7", "-1", "64", "65", "4097", "99999", "1000000", "'ab'", "'%s%s'", "'{}{}'",
          "ns.x", "ns.s", "case_id", "[1, 2]", "range(3)", "range(99999)", "'a' * 1000", "none"]
_OPERATORS = ["*", "**", "+", "-", "~", "%", "//", "/"]
_FILTERS = ["length", "string", "list", "join", "upper", "reverse", "first", "sum", "unique", "sort", "e",
            "trim", "center(50)", "center(999999)", "indent(3)", "wordwrap(5)", "replace('a', 'aaaa')",
            "format(1, 2)", "int", "abs"]


def _expressions() -> st.SearchStrategy[str]:
    return st.recursive(
        st.sampled_from(_ATOMS),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(_OPERATORS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, st.sampled_from(_FILTERS)).map(lambda t: f"({t[0]})|{t[1]}"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]}).replace('a', {t[1]})"),
        ),
        max_leaves=6,
    )


def _statements() -> st.SearchStrategy[str]:
    expr = _expressions()
    base = st.one_of(
        expr.map(lambda e: f"{{{{ {e} }}}}"),
        expr.map(lambda e: f"{{% set ns.x = {e} %}}"),
        expr.map(lambda e: f"{{% set ns.s = {e} %}}"),
        st.sampled_from(["text ", "\n", "x" * 200]),
    )
    return st.recursive(
        base,
        lambda inner: st.one_of(
            st.tuples(expr, st.lists(inner, max_size=3)).map(
                lambda t: f"{{% for i in {t[0]} %}}{''.join(t[1])}{{% endfor %}}"),
            st.tuples(expr, st.lists(inner, max_size=3)).map(
                lambda t: f"{{% if {t[0]} %}}{''.join(t[1])}{{% endif %}}"),
            st.lists(inner, max_size=3).map(lambda body: f"{{% set b %}}{''.join(body)}{{% endset %}}{{{{ b }}}}"),
        ),
        max_leaves=8,
    )


@pytest.fixture(scope="module")
def rendered_parts(kb, reasoner):
    inference = reasoner.infer(api.load_case(CASE, kb))
    return kb, inference, build_result(kb, inference)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=st.lists(_statements(), min_size=1, max_size=4))
def test_random_templates_render_or_fail_with_one_report_error(rendered_parts, body):
    kb, inference, result = rendered_parts
    source = "{% set ns = namespace(x=2, s='ab') %}" + "".join(body)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "report.md.j2").write_text(source, encoding="utf-8")
        try:
            text = render(kb, inference, result, fmt="md", templates=folder)
        except ReportError as error:
            message = str(error)
            assert "\n" not in message and "report.md.j2" in message, message
            return
    assert len(text) <= limits.MAX_OUTPUT + 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_answer_is_a_value_or_one_bounded_line(kb, data):
    askable = [f for f in kb.vocabulary.fields.values() if f.type in ASKABLE]
    field = data.draw(st.sampled_from(askable))
    answer = data.draw(st.one_of(
        st.text(max_size=40),
        st.text(alphabet=st.characters(categories=["Nd", "No", "Nl"]), max_size=4),
        st.sampled_from(["²", "١٢", "1_000", "nan", "inf", "1e400", "0x1f", " 3 ", "1,2", "[]", "\x1b[2J",
                         "\u202egroin", "y", "n", "?"]),
        st.text(min_size=5000, max_size=6000),
    ))
    try:
        value = parse_answer(field, answer)
    except AnswerError as error:
        message = str(error)
        assert "\n" not in message and len(message) < 1500, message[:300]
        assert not has_unsafe(message)
        return
    if value is None:
        return
    group, name = field.path.split(".", 1)
    base = {"pain": {"regions": ["groin"]}}
    base.setdefault(group, {})[name] = list(value) if isinstance(value, tuple) else value
    validate(base, kb.vocabulary, "<fuzz>")


@given(text=st.text())
def test_terminal_text_is_one_line_without_controls(text):
    shown = terminal(text)
    assert not has_unsafe(shown)
    assert "\n" not in shown and "\x1b" not in shown
    kept = report_text(text)
    assert "\x1b" not in kept and "\u202e" not in kept
