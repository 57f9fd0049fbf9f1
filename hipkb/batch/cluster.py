"""Batches on a Dask cluster: the same output as a local run, from as many machines as the cluster has.

``hipkb run CASES --cluster tcp://host:8786`` (or ``--cluster local:N`` for a
:class:`distributed.LocalCluster` of N processes on this machine):

- the client reads each case file and sends its text, so workers need no
  shared file system; the knowledge base (rule, vocabulary and template
  files) travels once, as a :class:`Bundle` scattered to every worker;
- each worker process builds the engine once per bundle (keyed by the hash
  of its content) and keeps it for every later chunk of cases;
- chunks are submitted in order with at most a window of them in flight, and
  results are taken in order: the output is byte for byte that of ``--jobs``,
  and the client's memory stays flat however many cases stream through;
- a worker lost mid-run has its tasks run again by Dask's scheduler; a task
  whose workers keep dying (Dask's ``KilledWorker``) fails its cases with a
  clear error, so every case is accounted for, once.

Dask is optional (``pip install 'hipkb[dask]'``); it is imported only here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hipkb.batch.inflight import InFlight
from hipkb.errors import ClusterError, HipkbError

#: Seconds to wait for a scheduler to answer before giving up on an address.
CONNECT_TIMEOUT = float(os.environ.get("HIPKB_CLUSTER_TIMEOUT", "10"))
INSTALL_HINT = "needs Dask: pip install 'hipkb[dask]'"
WINDOW_PER_WORKER = 4
#: Cases per task: each task costs a round trip to the scheduler and one to a
#: worker for its result, so tasks carry more cases than a local chunk does.
CHUNKSIZE = 128
MAX_BUNDLE_BYTES = 64 * 1024 * 1024


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError("--cluster", "", INSTALL_HINT) from None
    return distributed


def check_address(address: str) -> None:
    """Refuse an address that cannot be one (before any work), and a missing Dask."""
    if address.startswith("local:"):
        count = address.removeprefix("local:")
        if not count.isascii() or not count.isdigit() or not 1 <= int(count) <= 256:
            raise ClusterError("--cluster", "", f"{address!r}: local:N takes a number of workers from 1 to 256")
    elif not address.strip() or any(c.isspace() for c in address):
        raise ClusterError("--cluster", "", f"{address!r} is no scheduler address; "
                           "expected tcp://HOST:PORT, HOST:PORT or local:N")
    _distributed()


@contextlib.contextmanager
def environment_kept() -> Iterator[None]:
    """Undo what Dask writes into this process's environment (``MALLOC_TRIM_THRESHOLD_``, ``PYTHONHASHSEED``, ...).

    Starting a :class:`distributed.LocalCluster` sets them in ``os.environ`` for
    its worker processes, and leaves them there: every later child of this
    process (a library user's, a test's) would inherit a changed allocator
    and hash seed.
    """
    saved = dict(os.environ)
    try:
        yield
    finally:
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        os.environ.update(saved)


@contextlib.contextmanager
def connect(address: str) -> Iterator[Any]:
    """A :class:`distributed.Client` for *address*, closed (with a local cluster) on leaving."""
    with environment_kept():
        yield from _connect(address)


def _connect(address: str) -> Iterator[Any]:
    check_address(address)
    distributed = _distributed()
    import logging

    cluster = None
    try:
        if address.startswith("local:"):
            cluster = distributed.LocalCluster(
                n_workers=int(address.removeprefix("local:")), threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
            client = distributed.Client(cluster)
        else:
            # Dask logs each failed attempt; the one line below says it all.
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
            try:
                client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError, ValueError) as error:
                reason = "; ".join(str(error).splitlines()[:1]) or type(error).__name__
                raise ClusterError("--cluster", "", f"no Dask scheduler answers at {address} within "
                                   f"{CONNECT_TIMEOUT:g} s ({reason})") from None
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    try:
        try:
            # A scheduler with no worker would take the work and never give it back.
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise ClusterError("--cluster", "", f"the Dask scheduler at {address} has no workers (none joined "
                               f"within {CONNECT_TIMEOUT:g} s)") from error
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# -- the knowledge base, shipped to the workers --------------------------------

def _chunks(numbered: Iterable[tuple[int, Any]], chunksize: int) -> Iterator[list[tuple[int, Any]]]:
    """Numbered case sources as lists of *chunksize* portable cases (the case texts, read here)."""
    chunk: list[tuple[int, Any]] = []
    for index, source in numbered:
        chunk.append(_portable(index, source))
        if len(chunk) == chunksize:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True)
class Bundle:
    """The files of a knowledge base (and templates), by role; ``key`` is the hash of them all."""

    key: str
    files: tuple[tuple[str, str, bytes], ...]  # (role, file name, content)

    @classmethod
    def of(cls, **directories: Path | None) -> Bundle:
        """Every regular file at the top of each directory given (rules, facts, templates)."""
        files = []
        size = 0
        for role, directory in sorted(directories.items()):
            if directory is None:
                continue
            for path in sorted(Path(directory).iterdir()):
                if path.name.startswith(".") or not path.is_file():
                    continue
                content = path.read_bytes()
                size += len(content)
                if size > MAX_BUNDLE_BYTES:
                    raise ClusterError(str(directory), "", "the knowledge base is too large to send to a "
                                       f"cluster (over {MAX_BUNDLE_BYTES // 2**20} MB)")
                files.append((role, path.name, content))
        digest = hashlib.sha256()
        for role, name, content in files:
            for part in (role.encode(), name.encode(), content):
                digest.update(len(part).to_bytes(8, "big"))
                digest.update(part)
        return cls(digest.hexdigest(), tuple(files))

    def unpack(self) -> dict[str, Path]:
        """The bundle as directories on this machine, once per process and bundle.

        Removed when the worker process ends (templates are read as reports
        are rendered, so they must stay while it runs).
        """
        if self.key in _UNPACKED:
            return _UNPACKED[self.key]
        import atexit
        import shutil
        from multiprocessing import util

        root = Path(tempfile.mkdtemp(prefix=f"hipkb-kb-{self.key[:12]}-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        # A Dask worker is often a multiprocessing child, which ends without
        # running atexit but runs these finalizers.
        util.Finalize(None, shutil.rmtree, args=(root,), kwargs={"ignore_errors": True}, exitpriority=1)
        dirs: dict[str, Path] = {}
        for role, name, content in self.files:
            directory = dirs.setdefault(role, root / role)
            directory.mkdir(exist_ok=True)
            (directory / name).write_bytes(content)
        _UNPACKED[self.key] = dirs
        return dirs


    def tidy(self) -> None:
        """Remove the files read once loaded (all but templates): a worker killed later leaves less behind."""
        import shutil

        # Unpacked again (anew) if this process ever needs the files again.
        dirs = _UNPACKED.pop(self.key, {})
        for role in ("rules", "facts"):
            if role in dirs:
                shutil.rmtree(dirs[role], ignore_errors=True)
        if "templates" not in dirs and dirs:
            shutil.rmtree(next(iter(dirs.values())).parent, ignore_errors=True)


_UNPACKED: dict[str, dict[str, Path]] = {}


def _shipped(path: Path | None, name: str) -> Path:
    from hipkb.knowledge.resources import shipped

    return Path(path).resolve() if path is not None else shipped(name)


# -- hipkb run --cluster ---------------------------------------------------------

def _remote_chunk(bundle: Bundle, settings: Any, chunk: list[tuple[int, Any]]) -> list[Any]:
    """On a worker: the outcomes of one chunk of cases, with the engine built once per bundle."""
    from hipkb.batch import runner

    key = (bundle.key, settings)
    if _READY.get("run") != key:
        dirs = bundle.unpack()
        # Not worker=True: a Dask worker process is shared with whatever else
        # the cluster runs, so hipkb leaves its garbage collector as it is.
        runner._init_worker(replace(settings, rules_dir=dirs["rules"], facts_dir=dirs["facts"],
                                    templates=dirs.get("templates")))
        bundle.tidy()
        _READY["run"] = key
    return runner._run_chunk(chunk)


_READY: dict[str, Any] = {}  # what this worker process has built, by command


def _portable(index: int, source: Any) -> tuple[int, Any]:
    """A case source a worker on another machine can load: the file's text, not its path."""
    from hipkb.load.inputs import CaseSource
    from hipkb.load.safeload import read_text

    if source.path is None:
        return index, source
    try:
        text = read_text(source.path, source.name)
    except HipkbError as error:
        if error.source == source.name and not error.where:
            return index, CaseSource(source.name, error=error.message, default_id=source.default_id)
        return index, source  # the worker meets the same error, in full
    kind = "json" if source.path.suffix.lower() == ".json" else "yaml"
    return index, CaseSource(source.name, text=text, kind=kind, default_id=source.default_id)


def process(numbered: Iterable[tuple[int, Any]], settings: Any, address: str, *,
            chunksize: int = CHUNKSIZE) -> Iterator[Any]:
    """Every case's :class:`~hipkb.batch.runner.Outcome`, in input order, computed on the cluster."""
    from hipkb.batch.runner import Outcome

    bundle = Bundle.of(rules=_shipped(settings.rules_dir, "rules"), facts=_shipped(settings.facts_dir, "facts"),
                       templates=settings.templates)

    def lost(chunk: list[tuple[int, Any]], reason: str) -> list[Any]:
        return [Outcome(index, source.name, error={"file": source.name, "field": "",
                                                   "error": f"not run: {reason}"})
                for index, source in chunk]

    with connect(address) as client:
        for outcomes in ordered_map(client, _remote_chunk, _chunks(numbered, chunksize),
                                    shared=(bundle, settings), lost=lost):
            yield from outcomes


def ordered_map(client: Any, function: Callable[..., Any], tasks: Iterable[Any], *, shared: tuple[Any, ...],
                lost: Callable[[Any, str], Any], window: int | None = None) -> Iterator[Any]:
    """``function(*shared, task)`` on the cluster for each task, yielded in task order.

    *shared* is scattered to every worker once. At most *window* tasks are in
    flight (default: 4 per worker thread). A task Dask gives up on after its
    workers died (``KilledWorker``) is yielded as ``lost(task, reason)``.
    """
    import asyncio
    from concurrent.futures import CancelledError

    distributed = _distributed()
    if window is None:
        threads = sum(client.nthreads().values()) or 1
        window = max(2, WINDOW_PER_WORKER * threads)
    scattered = [client.scatter(item, broadcast=True, hash=False) for item in shared]
    # pure=False: two equal chunks are still two pieces of work
    flight = InFlight(tasks, window, lambda task: client.submit(function, *scattered, task, pure=False))
    try:
        while flight.fill():
            task, future, _ = flight.take()
            try:
                result = future.result()
            except distributed.KilledWorker:
                result = lost(task, "the workers running it kept dying (Dask gave up on it)")
            except (OSError, TimeoutError, CancelledError, asyncio.CancelledError) as error:
                # The scheduler went away mid-run: nothing more will come back.
                raise ClusterError("--cluster", "", f"lost the Dask cluster mid-run ({type(error).__name__}: "
                                   f"{error})") from None
            finally:
                future.release()
            yield result
    finally:
        for _, future, _ in flight.pending:
            future.cancel()


# -- hipkb check --exhaustive --cluster ------------------------------------------

def _remote_span(bundle: Bundle, axes: Any, base: Any, span: tuple[int, int]) -> Any:
    """On a worker: one span of combinations, with the subject built once per bundle and axes."""
    import json

    from hipkb.verify import exhaustive

    key = (bundle.key, json.dumps([repr(axes), base], sort_keys=True, default=str))
    if _READY.get("exhaustive") != key:
        dirs = bundle.unpack()
        exhaustive._init(str(dirs["rules"]), str(dirs["facts"]), axes, base)
        bundle.tidy()
        _READY["exhaustive"] = key
    return exhaustive._work(span)


def remote_exhaustive(address: str, spans: Iterable[tuple[int, int]], args: tuple[Any, ...],
                      lost: Callable[[Any, str], Any]) -> Iterator[Any]:
    """The outcome of each span of an exhaustive run (``args`` as for its workers' initializer), in order."""
    rules_dir, facts_dir, axes, base = args
    bundle = Bundle.of(rules=Path(rules_dir), facts=Path(facts_dir))
    with connect(address) as client:
        yield from ordered_map(client, _remote_span, spans, shared=(bundle, axes, base), lost=lost)


# -- hipkb compare --cluster --------------------------------------------------------

_ENGINES: dict[str, Any] = {}


def _engine(bundle: Bundle) -> Any:
    if bundle.key not in _ENGINES:
        from hipkb.engine.reasoner import Reasoner
        from hipkb.knowledge.rules import KnowledgeBase

        dirs = bundle.unpack()
        kb = KnowledgeBase.load(dirs["rules"], dirs["facts"])
        _ENGINES[bundle.key] = (kb, Reasoner(kb))
        bundle.tidy()
    return _ENGINES[bundle.key]


def _remote_compare(bundle_a: Bundle, bundle_b: Bundle, chunk: list[Any]) -> list[Any]:
    from hipkb.results.compare import compare_case

    a, b = _engine(bundle_a), _engine(bundle_b)
    return [compare_case(a, b, source) for _, source in chunk]


def remote_compare(address: str, dirs_a: tuple[Path, Path], dirs_b: tuple[Path, Path], sources: Iterable[Any], *,
                   chunksize: int = CHUNKSIZE) -> Iterator[Any]:
    """Each case's :class:`~hipkb.results.compare.CaseDiff` under rule bases A and B, in order, on the cluster."""
    from hipkb.results.compare import CaseDiff

    bundle_a = Bundle.of(rules=dirs_a[0], facts=dirs_a[1])
    bundle_b = Bundle.of(rules=dirs_b[0], facts=dirs_b[1])

    def lost(chunk: list[tuple[int, Any]], reason: str) -> list[Any]:
        return [CaseDiff(source.default_id, source.name, error=f"not run: {reason}") for _, source in chunk]

    with connect(address) as client:
        for diffs in ordered_map(client, _remote_compare, _chunks(enumerate(sources), chunksize),
                                 shared=(bundle_a, bundle_b), lost=lost):
            yield from diffs


__all__ = ["CONNECT_TIMEOUT", "Bundle", "check_address", "connect", "ordered_map", "process", "remote_compare",
           "remote_exhaustive"]
