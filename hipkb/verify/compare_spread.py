"""``hipkb compare --jobs/--cluster``: the cases of a comparison spread over worker processes or a Dask cluster.

The comparison of one case is :class:`hipkb.results.compare.Comparer`'s;
here it is handed to :mod:`hipkb.batch.jobs` as a :class:`~hipkb.batch.jobs.Job`
(both knowledge bases loaded once per worker, a chunk of cases per task). It
lives above the pool and the cluster, not in :mod:`hipkb.results`, so that
``results`` never imports ``batch`` (which builds results).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from hipkb.batch import jobs as batch_jobs
from hipkb.errors import HipkbError
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.load.inputs import CaseSource
from hipkb.results.compare import CaseDiff, Comparer, iter_compare

#: How many cases a task of ``--jobs``/``--cluster`` carries.
CHUNKSIZE = 32


def compare(kb_a: KnowledgeBase, kb_b: KnowledgeBase, sources: Iterable[CaseSource], *, tolerance: float = 0.0,
            questions: bool = False, jobs: int = 1, cluster: str | None = None) -> list[CaseDiff]:
    """:func:`hipkb.results.compare.compare`, with *jobs* > 1 over worker processes, with *cluster*
    (``tcp://host:8786`` or ``local:N``) over a Dask cluster; the same comparisons, in the order given."""
    return list(iter_compare_spread(kb_a, kb_b, sources, tolerance=tolerance, questions=questions, jobs=jobs,
                                    cluster=cluster))


def iter_compare_spread(kb_a: KnowledgeBase, kb_b: KnowledgeBase, sources: Iterable[CaseSource], *,
                        tolerance: float = 0.0, questions: bool = False, jobs: int = 1,
                        cluster: str | None = None) -> Iterator[CaseDiff]:
    """:func:`compare`, one case at a time."""
    if cluster is None and jobs <= 1:
        yield from iter_compare(kb_a, kb_b, sources, tolerance=tolerance, questions=questions)
        return
    for kb in (kb_a, kb_b):
        if kb.rules_dir is None or kb.facts_dir is None:
            raise HipkbError("compare", "", "a knowledge base not loaded from directories cannot be sent to workers")
    if cluster is not None:
        from hipkb.batch.cluster import portable

        sources = (portable(source) for source in sources)
    job = batch_jobs.Job(start_worker, work, kbs=((kb_a.rules_dir, kb_a.facts_dir),  # type: ignore[arg-type]
                                                  (kb_b.rules_dir, kb_b.facts_dir)), args=(tolerance, questions))

    def lost(chunk: list[CaseSource], reason: str) -> list[CaseDiff]:
        return [CaseDiff(source.default_id, source.name, error=f"not run: {reason}") for source in chunk]

    for diffs in batch_jobs.run(job, batch_jobs.chunked(sources, CHUNKSIZE), jobs=jobs, cluster=cluster,
                                lost=lost):
        yield from diffs


# -- in a worker process (hipkb.batch.jobs) ---------------------------------------

_WORKER: dict[str, Comparer] = {}


def start_worker(kbs: tuple[tuple[Any, Any], ...], tolerance: float, questions: bool) -> None:
    """Load both knowledge bases and build their engines, once per worker process."""
    from hipkb.knowledge.store import load_kb

    (rules_a, facts_a), (rules_b, facts_b) = kbs
    _WORKER["comparer"] = Comparer(load_kb(rules_a, facts_a), load_kb(rules_b, facts_b), tolerance=tolerance,
                                   questions=questions)


def work(chunk: list[CaseSource]) -> list[CaseDiff]:
    """The comparisons of one chunk of cases."""
    comparer = _WORKER["comparer"]
    return [comparer.case(source) for source in chunk]
