"""Worker processes that never hang: ordered results, a bounded window, dead workers noticed.

One pool for every command that spreads work over the cores (``hipkb run
--jobs``, ``hipkb check --exhaustive``). Built on
:class:`concurrent.futures.ProcessPoolExecutor`, which, unlike
``multiprocessing.Pool``, notices a worker that dies (``kill -9``, the
out-of-memory killer) and fails the work in flight with
``BrokenProcessPool`` instead of waiting for it for ever. Here:

- a task lost with a dead worker is run again in a fresh pool, at most
  :data:`MAX_LOSSES` times; past that it is given up with
  :class:`LostWork`, which the caller turns into one clear error per case, so
  every item is accounted for and the run ends in bounded time;
- a worker whose initializer fails (an ImportError, a knowledge base that no
  longer loads) makes every task fail with :class:`~hipkb.errors.WorkerError`:
  the command ends with that one line instead of starting workers for ever;
- workers ignore SIGINT, so a Ctrl-C reaches the parent alone: it stops the
  pool and prints what ran, and no worker prints a traceback;
- a stop signal never cuts the parent's own calls into the executor (see
  :class:`Uncut`): raised there, it could leave a future's lock held, and the
  run would hang at exit instead of ending.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hipkb.batch.inflight import InFlight
from hipkb.errors import WorkerError

if TYPE_CHECKING:  # imported where used: a one-case run never starts a pool, nor pays for these
    from concurrent.futures import Future, ProcessPoolExecutor

#: How many times one task may be lost with a dead worker before it is given up.
MAX_LOSSES = 2


@dataclass(frozen=True)
class LostWork:
    """A task given up after its worker died :data:`MAX_LOSSES` times; the caller fails its items."""

    task: Any
    reason: str


#: The signals that end a run with its summary: Ctrl-C, ``kill``, and the hang-up of a closed terminal or
#: SSH session (which would otherwise end the parent alone, leaving its workers and temporary files).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP during a run; ``signum`` says which (the exit status is 128 + it)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Uncut:
    """A section a stop signal must not cut: the signal is noted inside it and raised on leaving it.

    The handler of :func:`catch_signals` raises wherever the main thread is.
    Raised just after the main thread took a future's lock (inside
    ``Future.result``'s ``with self._condition``), the exception leaves that
    lock held for ever: the executor's thread waits on it when it fails or
    cancels the future, and the interpreter waits on that thread at exit, so
    the run never ends (and, its handlers ignoring further stop signals, only
    ``kill -9`` ends it). Only the main thread's sections count, as only it
    runs signal handlers. Sections nest; the signal is raised on leaving the
    outermost.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.noted = 0  # the stop signal held back (0: none), raised when the outermost section ends

    def __enter__(self) -> None:
        if threading.get_ident() == _MAIN:
            self.depth += 1

    def __exit__(self, *exc_info: object) -> None:
        if threading.get_ident() != _MAIN:
            return
        self.depth -= 1
        if not self.depth and self.noted:
            signum, self.noted = self.noted, 0
            raise Interrupted(signum)


_MAIN = threading.main_thread().ident
#: The one :class:`Uncut` every section uses, and the handler of :func:`catch_signals` reads.
uncut = Uncut()

#: How long the parent waits for a result before it looks at a noted signal again.
POLL = 0.1


def result_of(future: Future[Any], waiting: Callable[[], None] | None = None) -> Any:
    """``future.result()``, in :class:`Uncut` sections of at most :data:`POLL` seconds.

    A stop signal ends the wait within :data:`POLL` seconds, even for a worker
    that never answers, and never cuts the future's own locking. *waiting* is
    called each time :data:`POLL` seconds pass with no result.
    """
    from concurrent.futures import TimeoutError as WaitedTooLong  # not the builtin before Python 3.11

    while True:
        with uncut:
            try:
                return future.result(timeout=POLL)
            except WaitedTooLong:
                pass
        if waiting is not None:
            waiting()


# -- in the worker -------------------------------------------------------------

_INIT_ERROR: list[str] = []


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    # The parent handles Ctrl-C for the whole run; a worker that also took it
    # would print a KeyboardInterrupt traceback from the middle of a case.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forked worker inherits the parent's SIGTERM handler, which turns the
    # signal into an exception, and the signals the parent held while it
    # forked: the executor's terminate() must simply end it. A hang-up ends
    # it as it would any process (unless the run ignores hang-ups: nohup).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, set(STOP_SIGNALS))
    if initializer is None:
        return
    try:
        initializer(*initargs)
    except BaseException as error:
        # Raising here would make the executor log a traceback and break the
        # pool with no reason given; keep the reason and give it to the parent.
        _INIT_ERROR.append(f"{type(error).__name__}: {error}")


def _call(function: Callable[[Any], Any], task: Any) -> Any:
    if _INIT_ERROR:
        raise WorkerError("hipkb", "", f"worker processes could not start ({_INIT_ERROR[0]})")
    return function(task)


# -- in the parent ---------------------------------------------------------------

def uses_fork() -> bool:
    """Whether workers start by fork here, and so inherit what the parent has built."""
    import multiprocessing

    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


def _context() -> Any:
    import multiprocessing

    # fork is the cheapest start on Linux: loaded modules and a knowledge base
    # built in the parent are shared copy-on-write. Elsewhere, the default.
    return multiprocessing.get_context("fork" if uses_fork() else None)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back while the executor forks workers.

    A handler that raises while ``os.fork`` runs its at-fork hooks has its
    exception printed and dropped: the signal would be lost, and a traceback
    shown. Held back, it is delivered the moment the fork is done.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(STOP_SIGNALS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _Pool:
    """One executor, replaced by a fresh one when a worker dies."""

    def __init__(self, jobs: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
        self.jobs = jobs
        self.initializer = initializer
        self.initargs = initargs
        self.processes: dict[int, Any] = {}
        self.dead_since: float | None = None
        self.executor = self._start()

    def _start(self, fork: bool = True) -> ProcessPoolExecutor:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if fork:
            context = _context()
        else:
            # Forking now could copy a lock some thread of the broken pool
            # still holds, and the new workers would wait on it for ever.
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        return ProcessPoolExecutor(self.jobs, mp_context=context, initializer=_start_worker,
                                   initargs=(self.initializer, self.initargs))

    def submit(self, function: Callable[[Any], Any], task: Any) -> Future[Any]:
        from concurrent.futures import Future
        from concurrent.futures.process import BrokenProcessPool

        try:
            with uncut, _signals_held():
                future = self.executor.submit(_call, function, task)
            # The executor forgets its processes once it breaks; keep them to
            # tell how they died.
            self.processes.update(getattr(self.executor, "_processes", None) or {})
            return future
        except BrokenProcessPool as broken:
            # Broke between two submits: this task is in flight like the others.
            failed: Future[Any] = Future()
            failed.set_exception(broken)
            return failed

    def death(self) -> str:
        """Why the pool broke, as far as the dead workers' exit codes tell."""
        for process in self.processes.values():
            process.join(timeout=1)  # the dead one is gone already; this only collects its status
        codes = sorted({p.exitcode for p in self.processes.values() if p.exitcode not in (None, 0)})
        if not codes:
            return "a worker process died"
        signals = [f"signal {-c} ({signal.Signals(-c).name})" for c in codes if c < 0 and -c in signal.valid_signals()]
        exits = [f"exit status {c}" for c in codes if c > 0]
        return "a worker process died (" + ", ".join(signals + exits) + ")"

    def restart(self) -> None:
        settled = self.stop()
        self.processes = {}
        self.dead_since = None
        # Fork again only once the broken pool's threads are gone (they hold
        # the locks of its queues); else start workers afresh.
        self.executor = self._start(fork=settled)

    def stop(self) -> bool:
        """End the workers now: nothing they still hold is wanted. Whether the pool's threads ended too."""
        import threading

        self.break_up()
        # shutdown(wait=True) joins the executor's threads; in a thread of its
        # own, so that one stuck on a dead pipe cannot hang the run.
        closer = threading.Thread(target=self.executor.shutdown, kwargs={"wait": True, "cancel_futures": True},
                                  daemon=True)
        closer.start()
        closer.join(timeout=5)
        return not closer.is_alive()

    def break_up(self) -> None:
        """End every worker, and let the executor's thread see the end of the results pipe.

        A worker that ends part way through sending a result (terminated,
        killed) leaves that thread reading the rest for ever, since the parent
        holds the pipe's write end as well and no end of file comes: the run
        would never learn that the pool broke, nor end (the interpreter waits
        for that thread at exit). With every worker gone, the parent's write
        end is closed: the read ends in EOFError, which the executor takes for
        a broken pool (its futures fail, its thread ends).
        """
        processes = list({**self.processes, **(getattr(self.executor, "_processes", None) or {})}.values())
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=2)
            if process.is_alive():  # stuck on a lock the dead one held: no more waiting
                process.kill()
                process.join(timeout=2)
        if any(process.is_alive() for process in processes):
            return  # a worker that could still write: its pipe stays
        writer = getattr(getattr(self.executor, "_result_queue", None), "_writer", None)
        if writer is not None:
            with contextlib.suppress(OSError):
                writer.close()

    def watch(self) -> None:
        """While a result is awaited: a worker dead for :data:`GRACE` seconds unnoticed breaks the pool up.

        The executor notices a dead worker at once, unless its thread is stuck
        reading the rest of a result that worker never finished sending.
        """
        import time

        if not any(process.exitcode is not None for process in self.processes.values()):
            self.dead_since = None
            return
        now = time.monotonic()
        if self.dead_since is None:
            self.dead_since = now
        elif now - self.dead_since >= GRACE:
            self.dead_since = None
            self.break_up()


#: How long a dead worker may go unnoticed by the executor before the pool is broken up on purpose.
GRACE = 1.0


def ordered_map(function: Callable[[Any], Any], tasks: Iterable[Any], *, jobs: int,
                initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = (),
                window: int | None = None) -> Iterator[Any]:
    """``function(task)`` for every task in worker processes, yielded in task order.

    At most *window* tasks (default ``4 * jobs``) are in flight, so tasks are
    drawn from *tasks* only as results are taken: memory stays flat however
    long the stream. A task whose worker died is run again (in a fresh pool);
    one lost :data:`MAX_LOSSES` times is yielded as :class:`LostWork`.
    Raises :class:`~hipkb.errors.WorkerError` when the workers cannot start,
    and whatever *function* raises.
    """
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    with uncut:
        pool = _Pool(jobs, initializer, initargs)
    flight = InFlight(tasks, window or 4 * jobs, lambda task: pool.submit(function, task))
    fruitless = 0  # pools in a row that broke before any task came back from them
    try:
        while flight.fill():
            try:
                result = result_of(flight.oldest[1], pool.watch)
            except BrokenProcessPool:
                with uncut:
                    reason = pool.death()
                fruitless += 1
                if fruitless > MAX_LOSSES:
                    # Workers that die before finishing anything would be
                    # started again and again: that is no run, say so.
                    raise WorkerError("hipkb", "", f"worker processes keep dying before finishing any work "
                                      f"({reason})") from None
                with uncut:
                    pool.restart()
                    # Every task in flight went down with the pool: the one that
                    # killed it is among them, so each is charged one loss.
                    for item in flight.pending:
                        item[2] += 1
                        if item[2] < MAX_LOSSES:
                            item[1] = pool.submit(function, item[0])
                            continue
                        lost: Future[Any] = Future()
                        lost.set_result(LostWork(item[0], reason))
                        item[1] = lost
                continue
            flight.take()
            if not isinstance(result, LostWork):
                fruitless = 0
            yield result
    finally:
        with uncut:
            pool.stop()


def catch_signals() -> Callable[[], None] | None:
    """Make SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` in this process; return how to undo it.

    For a command's own process only (the CLI): SIGTERM or a hang-up would
    otherwise end it at once, leaving temporary files behind and workers
    without a parent. A hang-up the process was started ignoring (``nohup``)
    stays ignored. None where signals cannot be caught (not the main thread).
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum: int, frame: Any) -> None:
        # Once: a second signal during the clean-up must not cut it short.
        for each in STOP_SIGNALS:
            signal.signal(each, signal.SIG_IGN)
        if uncut.depth:
            uncut.noted = signum  # raised where the section ends
            return
        raise Interrupted(signum)

    previous = {}
    for signum in STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if handler == signal.SIG_IGN and signum not in (signal.SIGINT, signal.SIGTERM):
            continue
        previous[signum] = signal.signal(signum, interrupt)

    def restore() -> None:
        uncut.noted = 0
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return restore


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Run the block with the stop signals noted instead of handled; handle the first one after it.

    For work that must not be cut in the middle (a Dask cluster starting its
    processes): the run still ends, once the block is done. Signals with no
    Python handler (the default action, or ignored) are left as they are.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous: dict[int, Callable[[int, Any], Any]] = {}
    for signum in STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler):
            previous[signum] = handler
            signal.signal(signum, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            previous[caught[0]](caught[0], None)


def default_jobs() -> int:
    """Every core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


__all__ = ["GRACE", "MAX_LOSSES", "POLL", "STOP_SIGNALS", "Interrupted", "LostWork", "Uncut", "catch_signals",
           "default_jobs", "ordered_map", "result_of", "signals_deferred", "uncut", "uses_fork"]
