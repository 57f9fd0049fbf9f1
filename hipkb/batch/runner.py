"""Many cases at once: every core, flat memory, one bad case never stops the rest.

This is what ``hipkb run`` does with several inputs, as a library::

    from hipkb.batch import runner as batch
    from hipkb.load.inputs import expand

    settings = batch.Settings(fmt="json")
    for outcome in batch.process(expand(["cases/"]), settings, jobs=2):
        print(outcome.text if outcome.ok else outcome.error)

or, with files, an errors file and a summary, :func:`run`.

How it stays fast and flat:

- each worker process builds the engine once (the pool's initializer) and
  then only resets it per case; workers also read and parse the case files,
  so parsing is spread over the cores too;
- cases travel in chunks (``chunksize``) to cut inter-process overhead, and at
  most ``window`` chunks are in flight: ``multiprocessing.Pool.imap`` would
  read the whole input ahead with no back-pressure, and a fast producer with
  a slow consumer would hold every pending result; here memory is bounded by
  the window, however many cases stream through;
- results come back in input order, so the output is the same, byte for
  byte, whatever the number of jobs;
- a batch too small to pay for starting processes runs in-process.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any

from hipkb.batch import startup
from hipkb.errors import HipkbError, StreamClosedError, StreamGivenUp
from hipkb.load.inputs import CaseSource, InputGuard, expand

DEFAULT_CHUNKSIZE = 16
WINDOW_PER_JOB = 4  # chunks in flight per worker: enough to keep it busy, few enough to stay flat
MIN_POOL_CASES = 48  # below this, starting worker processes costs more than it saves


@dataclass(frozen=True)
class Settings:
    """Everything a worker needs to turn a case into output; picklable."""

    fmt: str = "json"
    audience: str = "clinician"
    templates: Path | None = None
    rules_dir: Path | None = None
    facts_dir: Path | None = None
    verbose: int = 0


@dataclass(frozen=True)
class Outcome:
    """What became of one case: its output text, or the error that stopped it."""

    index: int
    source: str
    case_id: str = ""
    text: str | bytes | None = None  # bytes for a binary format (pdf)
    top: str | None = None
    triage: str | None = None
    error: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# -- the work of one case (in a worker, or in-process) --------------------

_STATE: dict[str, Any] = {}


def init_worker(settings: Settings, worker: bool = False, own_process: bool = False) -> None:
    """Pool initializer: load the knowledge base and build its engine, once.

    ``worker``: a process that runs many cases and is ours alone (a pool
    worker, or the CLI's own batch); ``own_process``: the CLI's own run;
    neither: a Dask worker, shared with other work. Start-up ends here, with
    the collector set for that kind of process (:func:`hipkb.batch.startup.settle`).
    """
    from hipkb.engine.reasoner import reasoner_for
    from hipkb.engine.watchers import set_verbose
    from hipkb.knowledge.store import load_kb

    kb = load_kb(settings.rules_dir, settings.facts_dir)
    _STATE["reasoner"] = reasoner_for(kb)
    _STATE["settings"] = settings
    set_verbose(settings.verbose)
    startup.settle(startup.WORKER if worker else startup.ONE_RUN if own_process else startup.SHARED)


def _run_one(index: int, source: CaseSource, *, catch: bool = True) -> Outcome:
    from hipkb.report.output import render_result
    from hipkb.results.result import build_result

    reasoner = _STATE["reasoner"]
    settings: Settings = _STATE["settings"]
    case_id = ""
    try:
        case = source.load(reasoner.kb)
        case_id = case.case_id
        inference = reasoner.infer(case)
        result = build_result(reasoner.kb, inference)
        # The summary needs the result too, so render it here rather than
        # through a call that reasons and renders, which would build it a second time.
        text = render_result(reasoner.kb, inference, result, settings.fmt,
                             audience=settings.audience, templates=settings.templates)
    except HipkbError as error:
        if not catch:
            raise
        return Outcome(index, source.name, case_id, error=error.as_dict())
    except Exception as error:  # a bug must not sink the other cases of a batch
        if not catch:
            raise
        return Outcome(index, source.name, case_id,
                       error={"file": source.name, "field": "",
                              "error": f"internal error: {type(error).__name__}: {error}"})
    ranked = result["hypotheses"]
    return Outcome(index, source.name, case_id, text,
                   top=ranked[0]["id"] if ranked else None, triage=result["triage"]["level"])


def run_chunk(chunk: list[tuple[int, CaseSource]]) -> list[Outcome]:
    return [_run_one(index, source) for index, source in chunk]


# -- streaming ---------------------------------------------------------------

def _chunks(items: Iterator[tuple[int, CaseSource]], size: int) -> Iterator[list[tuple[int, CaseSource]]]:
    while chunk := list(islice(items, size)):
        yield chunk


def default_jobs() -> int:
    """Every core this process may use."""
    from hipkb.batch import pool  # here: a one-case run never needs the pool module

    return pool.default_jobs()


def _lost(chunk: list[tuple[int, CaseSource]], reason: str) -> list[Outcome]:
    """The outcomes of a chunk whose worker kept dying: each case failed, with why."""
    return [Outcome(index, source.name, error={"file": source.name, "field": "",
                                               "error": f"not run: {reason} while running it"})
            for index, source in chunk]


def process(sources: Iterable[CaseSource], settings: Settings, *, jobs: int | None = None,
            chunksize: int = DEFAULT_CHUNKSIZE, own_process: bool = False,
            cluster: str | None = None) -> Iterator[Outcome]:
    """Run every source and yield its :class:`Outcome`, in input order.

    ``jobs`` worker processes (default: every core; 1 runs in this process),
    or the Dask cluster at *cluster* (``tcp://host:8786``, or ``local:N``).
    Nothing raises for a bad case: its outcome carries the error.
    ``own_process``: this process is hipkb's alone (the CLI), so a batch run
    in it may tune the garbage collector as workers do.
    """
    if cluster is not None:
        from hipkb.batch import cluster as dask_cluster

        startup.over()  # the cluster's workers build the engine
        yield from dask_cluster.process(enumerate(sources), settings, cluster,
                                        chunksize=max(chunksize, dask_cluster.CHUNKSIZE))
        return
    jobs = default_jobs() if jobs is None else max(1, jobs)
    numbered = enumerate(sources)
    head = list(islice(numbered, MIN_POOL_CASES))
    if jobs == 1 or len(head) < MIN_POOL_CASES:
        init_worker(settings, worker=own_process and len(head) == MIN_POOL_CASES, own_process=own_process)
        for index, source in head:
            yield _run_one(index, source)
        for index, source in numbered:
            yield _run_one(index, source)
        return
    yield from _pooled(iter([*head, *numbered]) if head else numbered, settings, jobs, chunksize, own_process)


def _pooled(numbered: Iterator[tuple[int, CaseSource]], settings: Settings, jobs: int,
            chunksize: int, own_process: bool = False) -> Iterator[Outcome]:
    from hipkb.batch.pool import LostWork, ordered_map, uses_fork

    if uses_fork():
        # Build the engine here, once: forked workers inherit it (and their
        # initializer finds it built) instead of each building its own.
        init_worker(settings, own_process=own_process)
    else:
        startup.over()  # each worker builds its own engine
    for outcomes in ordered_map(run_chunk, _chunks(numbered, chunksize), jobs=jobs,
                                initializer=init_worker, initargs=(settings, True),
                                window=jobs * WINDOW_PER_JOB):
        if isinstance(outcomes, LostWork):
            yield from _lost(outcomes.task, outcomes.reason)
        else:
            yield from outcomes


# -- a whole run: outputs, errors file, summary ------------------------------

@dataclass
class Summary:
    """Counts of a batch: cases, failures, top hypotheses and triage levels."""

    total: int = 0
    failed: int = 0
    top: Counter[str] = field(default_factory=Counter)
    triage: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        self.total += 1
        if not outcome.ok:
            self.failed += 1
            return
        self.top[outcome.top or "(none)"] += 1
        if outcome.triage:
            self.triage[outcome.triage] += 1

    def not_written(self, outcome: Outcome) -> None:
        """A case that ran but whose output could not be written: a failure, not a result."""
        self.failed += 1
        self.top[outcome.top or "(none)"] -= 1
        if outcome.triage:
            self.triage[outcome.triage] -= 1
        self.top, self.triage = +self.top, +self.triage  # drop zero counts

    def lines(self, errors_file: Path | None = None) -> list[str]:
        """The summary as printed on stderr at the end of a batch."""
        from hipkb.knowledge.scales import TRIAGE_LEVELS

        ran = self.total - self.failed
        lines = [f"hipkb: {self.total} cases: {ran} ran, {self.failed} failed"]
        if ran:
            order = {level: i for i, level in enumerate(TRIAGE_LEVELS)}
            levels = sorted(self.triage, key=lambda k: order.get(k, len(order)))
            lines.append("  triage: " + ", ".join(f"{k} {self.triage[k]}" for k in levels))
            tops = sorted(self.top, key=lambda k: (-self.top[k], k))
            lines.append("  top hypothesis: " + ", ".join(f"{k} {self.top[k]}" for k in tops))
        if self.failed:
            where = f", listed in {errors_file}" if errors_file else ", listed above"
            lines.append(f"  failures: {self.failed}{where}")
        return lines


class _ErrorsFile:
    """JSON Lines of failures, streamed to a temporary file and moved into place at the end.

    A write that fails (a full disk) stops the list and is kept in
    ``failure``, reported once the batch has run: the batch itself goes on.
    """

    def __init__(self, path: Path | None) -> None:
        from hipkb.batch.outputs import AtomicFile

        self.path = path
        self.handle: IO[str] | None = None
        self.atomic: AtomicFile | None = None
        self.failure: HipkbError | None = None
        if path is not None:
            target = Path(path)
            if target.exists() and not target.is_file() and not target.is_dir():
                # A device or a pipe (/dev/stderr, a FIFO): stream into it;
                # replacing it would put a regular file in its place.
                try:
                    self.handle = open(target, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed in close()
                except OSError as exc:
                    raise HipkbError(str(path), "", f"cannot be written ({exc.strerror})") from None
                return
            self.atomic = AtomicFile(target)
            self.handle = self.atomic.handle

    def add(self, error: dict[str, str]) -> None:
        if self.handle is not None:
            try:
                self.handle.write(json.dumps(error, ensure_ascii=False, sort_keys=False) + "\n")
            except (OSError, ValueError) as exc:
                self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        from hipkb.errors import OutputError

        reason = getattr(exc, "strerror", None) or str(exc)
        self.failure = OutputError(str(self.path), "", f"cannot be written ({reason})")
        if self.atomic is not None:
            self.atomic.discard()
        else:
            with contextlib.suppress(OSError, ValueError):
                self.handle.close()  # type: ignore[union-attr]
        self.handle = self.atomic = None

    def close(self, keep: bool) -> None:
        if self.handle is None:
            return
        if self.atomic is None:  # streamed into a device or pipe
            try:
                self.handle.close()
            except OSError as exc:
                self._fail(exc)
            self.handle = None
            return
        if keep:
            try:
                self.atomic.commit()
            except HipkbError as error:
                self.failure = error
        else:
            self.atomic.discard()
        self.handle = self.atomic = None


class _Progress:
    """A one-line counter on stderr, redrawn a few times a second (terminals only)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.start = self.last = time.monotonic()
        self.drawn = False

    def update(self, summary: Summary) -> None:
        now = time.monotonic()
        if now - self.last < 0.2:
            return
        self.last = now
        rate = summary.total / max(now - self.start, 1e-9)
        self.stream.write(f"\r\x1b[K  {summary.total} cases, {summary.failed} failed, {rate:.0f} cases/s")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def run(arguments: Iterable[str], settings: Settings, *, jobs: int | None = None,
        output: Path | None = None, errors: Path | None = None, stdout: IO[str] | None = None,
        stderr: IO[str] | None = None, progress: bool | None = None,
        chunksize: int = DEFAULT_CHUNKSIZE, stdin: Any = None, own_process: bool = False,
        cluster: str | None = None) -> Summary:
    """Run every case the arguments name (files, directories, ``-``) and write the results.

    Output goes to *stdout* (JSON Lines for ``json``), or to *output*: a file
    for a single case, else a directory with one file per case, named from
    its ``case_id``, written atomically and never over an input. Each failure
    is printed on *stderr* and, with *errors*, written to that JSON Lines
    file (``file``, ``field``, ``error``). For more than one case a summary
    ends the run on *stderr*. A single case that fails raises its
    :class:`~hipkb.errors.HipkbError` instead, as ``hipkb run CASE`` always has.
    """
    from hipkb.batch.outputs import SUFFIXES, OutputDir, StreamOutput, same_file, write_atomic
    from hipkb.report.output import BINARY_FORMATS

    arguments = list(arguments)
    sink = StreamOutput(stdout or sys.stdout)
    stderr = stderr or sys.stderr
    if output is not None and errors is not None and same_file(output, errors):
        raise HipkbError(str(errors), "", "--errors names the same file as -o; give each its own")
    guard = InputGuard(arguments, stdin=stdin)
    sources = expand(arguments, stdin=stdin)
    if output is not None and output.is_dir() and guard.within_inputs(output):
        # Reports go where inputs are found: list the inputs before writing
        # any, so that this run's reports are never read back as cases, and
        # guard exactly those (this one case holds the list in memory).
        listed = list(sources)
        guard = InputGuard((), exact=[s.path for s in listed if s.path is not None])
        sources = iter(listed)
    if output is None and getattr(sink.stream, "closed", False):
        # Refused before any work: every result would be lost.
        raise StreamClosedError("<stdout>", "", "standard output is closed; give -o FILE or DIR for the results")
    head = list(islice(sources, 2))
    single = len(head) == 1
    stream = iter([*head, *sources])

    if output is None and not single and settings.fmt in BINARY_FORMATS:
        raise HipkbError(f"--format {settings.fmt}", "", "with several cases, give -o DIR for one file per case")
    out_dir: OutputDir | None = None
    if output is not None and (output.is_dir() or not single):
        if not output.is_dir():
            _make_directory(output)
        out_dir = OutputDir(output, SUFFIXES[settings.fmt], guard=guard,
                            reserved=[errors] if errors is not None else [])
    if errors is not None and guard(Path(errors)):
        raise HipkbError(str(errors), "", "refusing to overwrite an input case file")

    if single:
        init_worker(settings, own_process=own_process)
        try:
            outcome = _run_one(0, head[0], catch=False)
        except HipkbError as error:
            if errors is not None:
                write_atomic(errors, json.dumps(error.as_dict(), ensure_ascii=False) + "\n", guard=guard)
            raise
        summary = Summary()
        summary.add(outcome)
        _write(outcome, out_dir, output, sink, guard, write_atomic)
        if errors is not None:
            write_atomic(errors, "", guard=guard)
        return summary

    summary = Summary()
    errors_file = _ErrorsFile(errors)
    bar = _Progress(stderr) if (progress if progress is not None else _isatty(stderr)) else None
    completed = False
    if own_process:
        from hipkb.batch.pool import catch_signals

        restore = catch_signals()
    else:
        restore = None
    try:
        for outcome in process(stream, settings, jobs=jobs, chunksize=chunksize, own_process=own_process,
                               cluster=cluster):
            summary.add(outcome)
            if outcome.error is not None:
                errors_file.add(outcome.error)
                if bar is not None:
                    bar.close()
                stderr.write(f"hipkb: {HipkbError(**_error_args(outcome.error))}\n")
            else:
                try:
                    _write(outcome, out_dir, None, sink, guard, write_atomic)
                except HipkbError as error:  # e.g. an output file that cannot be written
                    # A case counts as run once its result is written whole;
                    # the failure names the case, to run it again.
                    summary.not_written(outcome)
                    failure = HipkbError(outcome.source, "", f"result not written: {error}")
                    errors_file.add(failure.as_dict())
                    stderr.write(f"hipkb: {failure}\n")
            if bar is not None:
                bar.update(summary)
        completed = True
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM: say what ran before going (the caller exits 130 or 143).
        if bar is not None:
            bar.close()
        errors_file.close(keep=False)
        stderr.write("\n".join(summary.lines(None)) + "\n")
        stderr.write(f"  interrupted after {summary.total} cases; no errors file written\n"
                     if errors is not None else f"  interrupted after {summary.total} cases\n")
        stderr.flush()
        raise
    finally:
        if restore is not None:
            restore()
        if bar is not None:
            bar.close()
        # A complete errors file, or none: an interrupted run leaves no half list.
        errors_file.close(keep=completed)
    if summary.total > 1:
        stderr.write("\n".join(summary.lines(errors)) + "\n")
    stderr.flush()
    if errors_file.failure is not None:
        raise errors_file.failure
    return summary


def _make_directory(output: Path) -> None:
    """Create the directory ``-o`` names for several cases; never through a symbolic link."""
    from hipkb.errors import OutputError

    if output.is_symlink():
        raise HipkbError(str(output), "", "is a symbolic link; refusing to create a directory through it "
                         "(remove it, or choose another output directory)")
    if output.exists():
        raise HipkbError(str(output), "", "with several cases, -o must name a directory (this is a file)")
    try:
        output.mkdir(parents=True)
    except OSError as exc:
        raise OutputError(str(output), "", f"cannot be created ({exc.strerror or exc})") from None


def _error_args(error: dict[str, str]) -> dict[str, str]:
    return {"source": error.get("file", ""), "where": error.get("field", ""), "message": error.get("error", "")}


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _write(outcome: Outcome, out_dir: Any, output: Path | None, stdout: Any, guard: InputGuard,
           write_atomic: Callable[..., None]) -> None:
    assert outcome.text is not None
    if out_dir is not None:
        # follow_links=False: a name made from a case_id never writes through a planted link
        write_atomic(out_dir.path_for(outcome.case_id), outcome.text, guard=guard, follow_links=False)
    elif output is not None:
        write_atomic(output, outcome.text, guard=guard)
    else:
        try:
            stdout.write(outcome.text)  # whole, or not (a StreamOutput): a full disk is this case's failure
        except OSError as exc:
            from hipkb.errors import OutputError

            reason = exc.strerror or str(exc)
            given_up = isinstance(exc, StreamGivenUp)
            raise OutputError("<stdout>", "", reason if given_up else f"cannot be written ({reason})") from None


__all__ = ["Outcome", "Settings", "Summary", "default_jobs", "process", "run"]
