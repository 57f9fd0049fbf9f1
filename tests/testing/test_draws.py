"""hipkb.testing.draws: the seed alone decides the cases a command draws."""

from __future__ import annotations

import json
import subprocess
import sys

from hipkb.testing.draws import draw_cases

_DRAW = ("import json, sys; {imports}from hipkb import api; from hipkb.testing.draws import draw_cases; "
         "sys.stdout.write(json.dumps(draw_cases(api.load_kb(), 80, seed=5)))")


def _drawn_in_a_new_process(cwd, imports: str = "") -> list:
    out = subprocess.run([sys.executable, "-c", _DRAW.format(imports=imports)], cwd=cwd,
                         capture_output=True, text=True, check=True, timeout=300)
    return json.loads(out.stdout)


def test_the_same_seed_draws_the_same_cases_whatever_code_is_loaded(tmp_path):
    # hypothesis's own provider now and then draws a constant of the local
    # code loaded so far (any module in sys.modules outside site-packages):
    # a researcher's module imported first must not change the draw.
    # (hypothesis ignores a module with too many constants: a handful.)
    (tmp_path / "my_constants.py").write_text(
        "VALUES = [" + ", ".join(str(n) for n in range(0, 40, 3)) + ", -1, 120, 0.5, 37.5]\n"
        "WORDS = ['groin', 'gradual', 'female']\n")
    assert _drawn_in_a_new_process(tmp_path) == _drawn_in_a_new_process(tmp_path, "import my_constants; ")


def test_the_same_seed_draws_the_same_cases_twice_in_one_process(kb):
    assert draw_cases(kb, 40, seed=11) == draw_cases(kb, 40, seed=11) != draw_cases(kb, 40, seed=12)


def test_each_drawn_case_is_named_in_order(kb):
    cases = draw_cases(kb, 5, seed=1)
    assert [c["case_id"] for c in cases] == [f"generated-{n:04d}" for n in range(1, 6)]
