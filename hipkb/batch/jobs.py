"""Work handed to the local pool or a Dask cluster as a :class:`Job`: what a worker builds once, what it does per task.

A command that spreads work (``hipkb compare --jobs``, ``hipkb sensitivity``,
``hipkb check --mutants``) describes it as a job::

    job = Job(init=compare.start_worker, work=compare.work, kbs=((rules_a, facts_a), (rules_b, facts_b)))
    for outcome in run(job, chunks, jobs=2, lost=lambda chunk, reason: ...):
        ...

- ``init(kbs, *args)`` runs once per worker process: *kbs* are the
  ``(rules_dir, facts_dir)`` pairs of the knowledge bases it loads (on a
  cluster, directories the bundle was unpacked into), *args* whatever else it
  needs (case texts, settings), which must pickle;
- ``work(task)`` runs per task, in that process, and returns a picklable outcome.

Both are module-level functions, so a worker finds them by name. Outcomes come
back in task order whatever order the workers finish in; a task lost with its
workers becomes ``lost(task, reason)``. With one job and no cluster, both run
here, in this process.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Job:
    """What a worker builds once (``init``) and does per task (``work``), with the knowledge bases it loads."""

    init: Callable[..., None]
    work: Callable[[Any], Any]
    kbs: tuple[tuple[Path, Path], ...] = ()
    args: tuple[Any, ...] = ()


def run(job: Job, tasks: Iterable[Any], *, jobs: int = 1, cluster: str | None = None,
        lost: Callable[[Any, str], Any]) -> Iterator[Any]:
    """``job.work(task)`` for every task, in task order: here, in *jobs* worker processes, or on *cluster*."""
    if cluster is not None:
        yield from _remote(job, tasks, cluster, lost)
        return
    if jobs <= 1:
        job.init(job.kbs, *job.args)
        for task in tasks:
            yield job.work(task)
        return
    from hipkb.batch.pool import LostWork, ordered_map

    for outcome in ordered_map(job.work, tasks, jobs=jobs, initializer=job.init, initargs=(job.kbs, *job.args)):
        yield lost(outcome.task, outcome.reason) if isinstance(outcome, LostWork) else outcome


# -- on a cluster ------------------------------------------------------------------

_STARTED: dict[str, str] = {}  # what this worker process was started for, by init function


@dataclass(frozen=True)
class _Shared:
    """Everything a cluster worker needs besides its task, scattered to every worker once (as one object)."""

    token: str
    bundles: tuple[Any, ...]
    job: Job


def _remote_task(shared: _Shared, task: Any) -> Any:
    """On a cluster worker: start it for this run once (unpacking the knowledge bases), then do one task."""
    from hipkb.batch.cluster import on_worker

    job = shared.job
    name = f"{job.init.__module__}.{job.init.__qualname__}"
    if _STARTED.get(name) != shared.token:
        # The worker must run the client's hipkb on the knowledge bases it sent (the cluster's own check).
        dirs = [on_worker(bundle) for bundle in shared.bundles]
        job.init(tuple((d["rules"], d["facts"]) for d in dirs), *job.args)
        for bundle in shared.bundles:
            bundle.tidy()
        _STARTED[name] = shared.token
    return job.work(task)


def _remote(job: Job, tasks: Iterable[Any], address: str, lost: Callable[[Any, str], Any]) -> Iterator[Any]:
    from hipkb.batch.cluster import Bundle, connect, ordered_map

    bundles = tuple(Bundle.of(rules=Path(rules), facts=Path(facts)) for rules, facts in job.kbs)
    # One token per run: a worker that served an earlier run (with other
    # arguments, or another version of the rules) starts afresh for this one.
    token = uuid.uuid4().hex
    with connect(address) as client:
        yield from ordered_map(client, _remote_task, tasks, shared=(_Shared(token, bundles, job),), lost=lost)


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """*items* in lists of *size* (the last one shorter): tasks that carry several items each."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


__all__ = ["Job", "chunked", "run"]
