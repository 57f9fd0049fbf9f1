"""A fixed number of cases drawn from the strategies, the same for the same seed: for commands, not for tests.

``hipkb compare --generated N`` and ``hipkb sensitivity --generated N`` need N
case files, drawn the way the property checks draw them (freely over the
vocabulary, and leaning towards each hypothesis's findings, so rare
presentations come up), and the same N for the same seed, so that a
researcher can run the command again and get the same answer::

    from hipkb.testing.draws import draw_cases
    cases = draw_cases(kb, 500, seed=1)      # 500 dicts in the case format

hypothesis generates them (its generate phase only: no shrinking, no example
database); what a command does with them is up to it.

The seed alone decides them. hypothesis's own provider now and then draws a
constant it found in the code loaded so far (every local module in
``sys.modules``), so the same seed would give other cases once more modules
are imported, or where hipkb is installed rather than checked out; the draws
here go through that provider with the constants left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as with_seed
from hypothesis import strategies as st

from hipkb.testing import strategies as hs

if TYPE_CHECKING:
    from hipkb.knowledge.rules import KnowledgeBase

try:
    from hypothesis.internal.conjecture.providers import AVAILABLE_PROVIDERS, HypothesisProvider
except ImportError:  # a hypothesis older than its providers, which draws no constant of the code loaded either
    BACKEND: dict[str, Any] = {}
else:
    class SeedOnlyProvider(HypothesisProvider):
        """hypothesis's provider, drawing from the seed only (none of the constants of the code loaded so far)."""

        def _maybe_draw_constant(self, choice_type: Any, constraints: Any, *, p: float = 0.05) -> None:
            return None

    # The backend the draws use (hypothesis's documented way to add a provider), as settings' keyword.
    AVAILABLE_PROVIDERS.setdefault("hipkb-seed-only", SeedOnlyProvider)
    BACKEND = {"backend": "hipkb-seed-only"}


#: Draws hypothesis is asked for at a time; it may stop early once it has tried what it finds worth trying.
_ROUND = 1000


def case_strategy(kb: KnowledgeBase, lean: bool = True) -> Any:
    """Whole cases: free over the vocabulary, or (with *lean*) as often leaning towards one of the hypotheses."""
    bare = {"case_id": hs.OMIT, "format": hs.OMIT}  # the command names the cases itself
    options = [hs.cases(kb, fixed=bare)]
    if lean:
        options += [hs.cases(kb, fixed=bare, lean_towards=h) for h in sorted(kb.hypotheses)]
    return st.one_of(options)


def draw_cases(kb: KnowledgeBase, count: int, *, seed: int = 0, lean: bool = True) -> list[dict[str, Any]]:
    """*count* valid case dicts, each with a ``case_id`` (``generated-0001`` ...), the same for the same *seed*."""
    strategy = case_strategy(kb, lean)
    drawn: list[dict[str, Any]] = []
    attempt = 0
    while len(drawn) < count and attempt < 50:
        wanted = min(_ROUND, count - len(drawn))

        @with_seed(seed * 7919 + attempt)
        @settings(max_examples=wanted, phases=[Phase.generate], database=None, deadline=None,
                  verbosity=Verbosity.quiet, suppress_health_check=list(HealthCheck), **BACKEND)
        @given(strategy)
        def collect(case: dict[str, Any]) -> None:
            if len(drawn) < count:
                drawn.append(case)

        collect()
        attempt += 1
    return [{"case_id": f"generated-{number:04d}", **case} for number, case in enumerate(drawn, start=1)]


__all__ = ["case_strategy", "draw_cases"]
