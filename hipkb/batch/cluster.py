"""Batches on a Dask cluster: the same output as a local run, from as many machines as the cluster has.

``hipkb run CASES --cluster tcp://host:8786`` (or ``--cluster local:N`` for a
:class:`distributed.LocalCluster` of N processes on this machine):

- an address is first asked who it is, under one deadline (:func:`probe`):
  a port that never answers, or answers as something else, is one line;
- every worker must run this hipkb (its version and a digest of its code,
  :func:`check_workers`), and checks, before its first task, that the
  knowledge base it unpacked is the one the client sent (its content key);
- the client reads each case file and sends its text, so workers need no
  shared file system; the knowledge base (the files
  :mod:`hipkb.knowledge.files` lists, and the template files) travels once,
  as a :class:`Bundle` scattered to every worker;
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
import functools
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

    from hipkb.batch.pool import signals_deferred

    cluster = None
    try:
        if address.startswith("local:"):
            # A signal while Dask starts its processes would cut the start
            # short, and Dask would print a traceback closing the half-made
            # cluster at exit: the signal waits until the cluster is whole,
            # then ends the run (the cluster closed below).
            with signals_deferred():
                try:
                    cluster = distributed.LocalCluster(
                        n_workers=int(address.removeprefix("local:")), threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
                    client = distributed.Client(cluster)
                except BaseException:
                    if cluster is not None:
                        cluster.close()
                        cluster = None
                    raise
        else:
            # Dask logs each failed attempt; the one line below says it all.
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
            security = _security(distributed, address)
            probe(address, security, CONNECT_TIMEOUT)
            try:
                client = distributed.Client(address, timeout=CONNECT_TIMEOUT, security=security)
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
        check_workers(client)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _security(distributed: Any, address: str) -> Any:
    """The security settings a Dask client would use for *address* (Dask's configuration: TLS files)."""
    loader = getattr(distributed.client, "_maybe_call_security_loader", None)
    security = loader(address) if loader is not None else None
    return security if security is not None else distributed.Security()


def probe(address: str, security: Any, timeout: float) -> None:
    """Ask *address* who it is, as a Dask client does first, within *timeout* seconds; else a ClusterError.

    ``distributed.Client`` waits without end for an endpoint that takes the
    connection and never answers (a silent port, an HTTP server reading its
    request), and fails in odd ways on one that answers garbage: this asks in
    a thread of its own, under one deadline, and does not unpickle anything
    the endpoint sends.
    """
    import asyncio
    import threading

    scheme = address.partition("://")[0] if "://" in address else "tcp"
    if scheme == "tls" and security.get_connection_args("client").get("ssl_context") is None:
        raise ClusterError("--cluster", "", f"{address}: tls:// needs Dask's TLS settings (a CA file, and this "
                           "client's certificate and key, in Dask's configuration; see the README)")

    async def ask() -> Any:
        from distributed.comm import connect

        comm = await connect(address, timeout=timeout, deserialize=False, **security.get_connection_args("client"))
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(asyncio.run(asyncio.wait_for(ask(), timeout)))
        except BaseException as error:  # given to the caller below
            outcome.append(error)

    # A daemon thread: whatever the endpoint does, the deadline below holds.
    thread = threading.Thread(target=run, name="hipkb-cluster-probe", daemon=True)
    thread.start()
    thread.join(timeout + 1)
    answer = outcome[0] if outcome else TimeoutError()
    if isinstance(answer, (TimeoutError, asyncio.TimeoutError)):
        raise ClusterError("--cluster", "", f"no Dask scheduler answers at {address} within {timeout:g} s")
    if isinstance(answer, OSError):
        reason = "; ".join(str(answer).splitlines()[:1]) or type(answer).__name__
        raise ClusterError("--cluster", "", f"no Dask scheduler answers at {address} within {timeout:g} s "
                           f"({reason})")
    if isinstance(answer, BaseException):
        raise ClusterError("--cluster", "", f"{address} does not answer as a Dask scheduler (what it sends is not "
                           f"Dask's protocol: {type(answer).__name__})")
    if not (isinstance(answer, dict) and answer.get("type") == "Scheduler"):
        kind = answer.get("type") if isinstance(answer, dict) else None
        raise ClusterError("--cluster", "", f"{address} does not answer as a Dask scheduler"
                           + (f" (it is a {kind}; give the scheduler's address)" if isinstance(kind, str) else ""))


# -- every worker runs this hipkb ------------------------------------------------

def identity() -> tuple[str, str]:
    """hipkb's version and a digest of its code (modules and shipped report templates) in this process."""
    import hipkb

    return hipkb.__version__, _code_digest()


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    from hipkb.knowledge.cache import blake2b, modules
    from hipkb.knowledge.resources import shipped

    package = Path(__file__).resolve().parent.parent
    digest = blake2b(digest_size=16)
    sources = [(f"hipkb/{name}", package / name) for name, _ in modules(str(package))]
    reports = shipped("reports")
    sources += [(f"reports/{p.name}", p) for p in reports.iterdir() if p.is_file() and not p.name.startswith(".")]
    for name, path in sorted(sources):
        for part in (name.encode("utf-8", "surrogateescape"), path.read_bytes()):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def _worker_identity() -> tuple[str, str]:
    return identity()


def _difference(address: str, found: Any, expected: tuple[str, str]) -> str | None:
    """Why the worker at *address* must not be used, or None when it runs this hipkb."""
    if isinstance(found, BaseException):
        return (f"the worker at {address} cannot run this hipkb ({type(found).__name__}: {str(found)[:100]}); "
                "install the same hipkb on every worker")
    if found == expected:
        return None
    version, code = found if isinstance(found, tuple) and len(found) == 2 else ("?", "?")
    if version != expected[0]:
        return (f"the worker at {address} runs hipkb {version}, this hipkb is {expected[0]}: its results could "
                "differ; install the same hipkb on every worker")
    return (f"the worker at {address} runs other hipkb {version} code (code {str(code)[:12]}, here "
            f"{expected[1][:12]}): its results could differ; install the same hipkb on every worker")


def check_workers(client: Any) -> None:
    """Refuse a cluster with a worker that runs another hipkb (version or code), naming the worker."""
    expected = identity()
    found = client.run(_worker_identity, on_error="return")
    for address in sorted(found):
        reason = _difference(address, found[address], expected)
        if reason is not None:
            raise ClusterError("--cluster", "", reason)


def on_worker(bundle: Bundle) -> dict[str, Path]:
    """On a worker, before any work: refuse to run unless it runs the client's hipkb; the bundle's directories.

    Workers that join after the client checked them meet the same check
    here. The unpacked knowledge base must have the content key the client
    worked out, or the worker would answer from another knowledge base.
    """
    from hipkb.knowledge import files

    address = _worker_address()
    reason = _difference(address, identity(), bundle.identity)
    if reason is not None:
        raise ClusterError("--cluster", "", reason)
    dirs = bundle.unpack()
    try:
        key = files.content_key(dirs["rules"], dirs["facts"])
    except HipkbError as error:
        key = f"unreadable ({error})"
    if key != bundle.kb_key:
        raise ClusterError("--cluster", "", f"the worker at {address} read another knowledge base than this "
                           f"client sent (content key {key[:12]}, sent {bundle.kb_key[:12]}); its results could "
                           "differ")
    return dirs


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "(not a Dask worker)"


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
    """The files of a knowledge base (and templates), by role, and what a worker must match to use them.

    ``key`` is the hash of every file; ``kb_key`` the knowledge base's content
    key (:func:`hipkb.knowledge.files.content_key`), which a worker checks
    once it has unpacked it; ``identity`` the client's hipkb version and code.
    """

    key: str
    kb_key: str
    identity: tuple[str, str]
    files: tuple[tuple[str, str, bytes], ...]  # (role, file name, content)

    @classmethod
    def of(cls, *, rules: Path, facts: Path, templates: Path | None = None) -> Bundle:
        """The files of the knowledge base in *rules* and *facts* (the loader's list), and every template file."""
        from hipkb.knowledge import files as kb

        contents = list(kb.read_kb(rules, facts))
        kb_key = kb.digest(tuple(contents))
        if templates is not None:
            for path in sorted(Path(templates).iterdir()):
                if path.name.startswith(".") or not path.is_file():
                    continue
                contents.append(("templates", path.name, path.read_bytes()))
        if sum(len(content) for _, _, content in contents) > MAX_BUNDLE_BYTES:
            raise ClusterError(str(rules), "", "the knowledge base is too large to send to a "
                               f"cluster (over {MAX_BUNDLE_BYTES // 2**20} MB)")
        return cls(kb.digest(tuple(contents)), kb_key, identity(), tuple(contents))

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
        dirs = on_worker(bundle)
        # Not worker=True: a Dask worker process is shared with whatever else
        # the cluster runs, so hipkb leaves its garbage collector as it is.
        runner.init_worker(replace(settings, rules_dir=dirs["rules"], facts_dir=dirs["facts"],
                                    templates=dirs.get("templates")))
        bundle.tidy()
        _READY["run"] = key
    return runner.run_chunk(chunk)


_READY: dict[str, Any] = {}  # what this worker process has built, by command


def portable(source: Any) -> Any:
    """*source* as a case source a worker on another machine can load (its text, read here)."""
    return _portable(0, source)[1]


def _portable(index: int, source: Any) -> tuple[int, Any]:
    """A case source a worker on another machine can load: the file's text, not its path."""
    from hipkb.load.inputs import CaseSource
    from hipkb.parse.reading import read_text

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

    from hipkb.batch.pool import uncut

    distributed = _distributed()
    if window is None:
        threads = sum(client.nthreads().values()) or 1
        window = max(2, WINDOW_PER_WORKER * threads)
    # The client's calls take locks its event-loop thread needs too: a stop
    # signal is held back until each is done (see hipkb.batch.pool.Uncut).
    with uncut:
        scattered = [client.scatter(item, broadcast=True, hash=False) for item in shared]

    def submit(task: Any) -> Any:
        with uncut:
            # pure=False: two equal chunks are still two pieces of work
            return client.submit(function, *scattered, task, pure=False)

    flight = InFlight(tasks, window, submit)
    try:
        while flight.fill():
            task, future, _ = flight.take()
            try:
                _wait_done(future)
                with uncut:
                    result = future.result()
            except ClusterError as error:  # a worker that must not be used: it names itself
                raise ClusterError(error.source, error.where, error.message) from None
            except distributed.KilledWorker:
                result = lost(task, "the workers running it kept dying (Dask gave up on it)")
            except (OSError, TimeoutError, CancelledError, asyncio.CancelledError) as error:
                # The scheduler went away mid-run: nothing more will come back.
                raise ClusterError("--cluster", "", f"lost the Dask cluster mid-run ({type(error).__name__}: "
                                   f"{error})") from None
            finally:
                with uncut:
                    future.release()
            yield result
    finally:
        with uncut:
            for _, future, _ in flight.pending:
                future.cancel()


def _wait_done(future: Any) -> None:
    """Wait for a Dask future without taking a lock, so a stop signal ends the wait at once."""
    import time

    from hipkb.batch.pool import POLL

    pause = 0.001
    while not future.done():
        time.sleep(pause)
        pause = min(2 * pause, POLL)


__all__ = ["CONNECT_TIMEOUT", "Bundle", "check_address", "check_workers", "connect", "identity", "ordered_map",
           "portable", "probe", "process"]
