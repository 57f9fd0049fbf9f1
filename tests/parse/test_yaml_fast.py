"""libyaml's fast path gives the data the strict Python loader gives, or steps aside.

Case files are composed by libyaml and built in one walk (hipkb.parse.yamlfast);
anything that walk does not judge goes to PyYAML's strict loader. Whatever
text libyaml composes, the fast path must give exactly what the strict loader
gives (types included: 1, 1.0 and True differ), or nothing.
"""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hipkb.parse import yamlfast, yamltext

TRICKY = ["yes", "No", "on", "OFF", "true", "~", "null", "", "1:30", "0x22", "017", "0o17", "1_000", ".inf",
          "-.inf", ".nan", "1e5", "1.5e+3", "-0.0", "+4", ".5", "5.", "2024-01-01", "?x", "a?b", "<<", "=",
          "groin", "lateral_hip", "!", "&a", "#", "- x", "a: b", "[x]", "{x: 1}", "é", "a\tb"]
SCALARS = st.one_of(st.sampled_from(TRICKY), st.text(max_size=8), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False, width=32), st.booleans(), st.none())
KEYS = st.one_of(st.sampled_from(TRICKY), st.text(min_size=1, max_size=6), st.integers(-5, 5), st.booleans())
TREES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)
TAGGED = st.sampled_from(["!!bool yes", "!!bool maybe", "!!int 3", "!!int 1.5", "!!float 7", "!!float 1e5",
                          "!!str 5", "!!null x", "!!str {a: 1}", "!!map [1]", "!!seq {a: 1}", "plain", "? x",
                          "[a?b]", "{a: 1, a: 2}", "{[1]: 2}", "{1: a, 1.0: b}", "{true: a, 1: b}"])


def _reference(text: str) -> str:
    try:
        return repr(yamltext.reference(text))
    except Exception as error:  # the strict loader's refusal: the fast path must not accept it
        return f"refused: {type(error).__name__}"


def _fast(text: str) -> str | None:
    data = yamlfast.compose(text)
    return None if data is yamlfast.NOT_FAST else repr(data)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(TREES, st.booleans())
def test_dumped_data_comes_back_the_same_by_either_path(tree, flow):
    text = yaml.safe_dump({"x": tree}, default_flow_style=flow, allow_unicode=True)
    if "*" in text:
        return
    fast = _fast(text)
    if fast is not None:
        assert fast == _reference(text), text


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "1", "true"]), TAGGED), min_size=1, max_size=4),
       st.booleans())
def test_hand_written_tags_and_keys_are_judged_as_the_strict_loader_judges_them(pairs, flow):
    if flow:
        text = "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}\n"
    else:
        text = "".join(f"{k}: {v}\n" for k, v in pairs)
    fast = _fast(text)
    if fast is not None:
        assert fast == _reference(text), text
