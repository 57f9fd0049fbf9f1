"""The loaded knowledge base, cached on disk: a cold ``hipkb run`` skips parsing the rule files.

Loading the shipped rules and vocabulary (YAML parsing and every check) costs
about 30 ms, a third of a cold start; reading the cached knowledge base back,
with the walk over the files that key it, about 7 ms. The cache is keyed by
the content of every file of the knowledge base (and by its directories,
hipkb's version and Python's), so changing any rule or vocabulary file misses
it and the knowledge base is loaded, checked, and cached anew. The files are
those :mod:`hipkb.knowledge.files` lists, the ones the loader reads: a cached
run and an uncached one read the same knowledge base, and refuse the same
planted FIFO or dangling link. hipkb's own code is part of the key too (each
module's size and modification time), so an edited checkout never reads back
objects pickled by other code.

Where: ``$HIPKB_CACHE_DIR``, else ``$XDG_CACHE_HOME/hipkb``, else
``~/.cache/hipkb``; ``HIPKB_NO_CACHE=1`` turns it off.

Why a pickle is safe here: unpickling runs code, so a file is unpickled only
when its MAC (keyed BLAKE2b, a MAC by design: RFC 7693), under a random key
kept in ``key`` beside it, matches.
The directory is created 0700, the key 0600, and both are used only when
owned by this user and writable by no one else; so another user cannot plant
a file that passes, and whoever can read the key can already run code as
this user. A file that fails the check, or fails to unpickle, is ignored and
replaced: it is never trusted. Writes go to a temporary file moved into
place, so a reader never sees half a file; a key left short (a disk that was
full when it was first written) is replaced by a whole one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# hashlib's own BLAKE2, without importing hashlib, which loads OpenSSL
# (about 2.5 ms of a cold run); no public name gives it without that.
try:
    from _blake2 import blake2b
except ImportError:  # a Python built without it
    from hashlib import blake2b

KEEP = 16  # cached knowledge bases kept; older ones are removed
_MAC = 32  # bytes of MAC before the pickle
_KEY = 32  # bytes of the MAC's key


def cache_dir() -> Path | None:
    """Where cached knowledge bases live, or None when caching is off."""
    if os.environ.get("HIPKB_NO_CACHE"):
        return None
    if os.environ.get("HIPKB_CACHE_DIR"):
        return Path(os.environ["HIPKB_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hipkb"


def fingerprint(rules_dir: Path, facts_dir: Path, content: str | None = None) -> str | None:
    """The key of the cached knowledge base of these directories; None if hipkb's own code cannot be read.

    *content* is the knowledge base's content key (:func:`hipkb.knowledge.files.content_key`,
    worked out here when not given): the same list of files as the loader
    reads, so a file the loader would read, or refuse, is never left out.
    """
    from hipkb import __version__
    from hipkb.knowledge import files

    if content is None:
        content = files.content_key(rules_dir, facts_dir)
    digest = blake2b(digest_size=32)
    for part in (__version__, sys.version, str(rules_dir), str(facts_dir), content):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    try:
        # The code that loads and defines the knowledge base's objects: a
        # pickle made by other code (an edited checkout, an upgrade that kept
        # the version) must not be read back into these classes.
        package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
        for name, info in sorted(modules(package)):
            digest.update(f"{name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode("utf-8", "surrogateescape"))
    except OSError:
        return None
    return digest.hexdigest()


def modules(top: str, prefix: str = "") -> list[tuple[str, os.stat_result]]:
    """Every ``*.py`` file under *top* (symbolic links to directories not followed), by path from *top*, with its stat.

    os.scandir, not Path.rglob: the same files for a fifth of the time, as
    the directory entries already say which are directories.
    """
    found = []
    with os.scandir(top) as entries:
        for entry in entries:
            name = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                found += modules(entry.path, name + "/")
            elif entry.name.endswith(".py"):
                found.append((name, entry.stat()))
    return found


def _private(path: Path, directory: bool) -> bool:
    """Owned by this user and writable by no one else (so no one else could have planted it)."""
    try:
        info = path.lstat()
    except OSError:
        return False
    kind = stat.S_ISDIR(info.st_mode) if directory else stat.S_ISREG(info.st_mode)
    return kind and info.st_uid == os.getuid() and not info.st_mode & 0o022


def _key(directory: Path) -> bytes | None:
    """The HMAC key of *directory*, made on first use; None when the directory or the key cannot be trusted."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    if not _private(directory, directory=True):
        return None
    path = directory / "key"
    key = _read_key(path)
    if key is None:
        return None
    if len(key) != _KEY:
        # None yet, or one that cannot be used (a full disk once left it
        # empty or short): a whole new one takes its place, or none does.
        _install_key(directory, path, replace=bool(os.path.lexists(path)))
        key = _read_key(path)  # another process may have put its own there first: use that
    return key if key is not None and len(key) == _KEY else None


def _read_key(path: Path) -> bytes | None:
    """The bytes of the key file (empty when there is none), or None when it cannot be trusted or read."""
    if not os.path.lexists(path):
        return b""
    if not _private(path, directory=False):
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def _install_key(directory: Path, path: Path, replace: bool) -> None:
    """Write a new random key to a temporary file and move it into place whole (or leave everything as it was)."""
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".key-", suffix=".tmp", dir=directory)  # 0600
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(_KEY))
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # only where there is no key yet: a key another process made stays
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _mac(key: bytes, name: str, payload: bytes) -> bytes:
    return blake2b(name.encode() + b"\0" + payload, key=key, digest_size=_MAC).digest()


def same_mac(found: bytes, expected: bytes) -> bool:
    """Whether two MACs are equal, in a time that tells nothing about where they differ.

    hmac.compare_digest would load OpenSSL (see above); so both are MACed
    again under a key made for this comparison, and those compared: how long
    ``==`` takes then depends on digests no one can predict, not on how much
    of *found* is right (the "double HMAC" comparison).
    """
    key = os.urandom(_KEY)
    return blake2b(found, key=key).digest() == blake2b(expected, key=key).digest()


def cached_load(rules_dir: Path, facts_dir: Path, load: Callable[[Path, Path], Any], *,
                content: str | None = None) -> Any:
    """``load(rules_dir, facts_dir)``, or the same knowledge base read back from the cache.

    *content*: the knowledge base's content key, when the caller has it already.
    """
    directory = cache_dir()
    print_ = fingerprint(rules_dir, facts_dir, content) if directory is not None else None
    key = _key(directory) if directory is not None and print_ is not None else None
    if directory is None or print_ is None or key is None:
        return load(rules_dir, facts_dir)
    import pickle

    name = f"kb-{print_}.pickle"
    path = directory / name
    with contextlib.suppress(Exception):  # any failure to read back is a miss, never an error
        if _private(path, directory=False):
            blob = path.read_bytes()
            if same_mac(blob[:_MAC], _mac(key, name, blob[_MAC:])):
                kb = pickle.loads(blob[_MAC:])  # authenticated above: written by this user's hipkb
                from hipkb.knowledge.rules import KnowledgeBase

                if isinstance(kb, KnowledgeBase) and kb.rules_dir == rules_dir and kb.facts_dir == facts_dir:
                    return kb
    kb = load(rules_dir, facts_dir)
    with contextlib.suppress(Exception):  # a cache that cannot be written costs speed, nothing else
        payload = pickle.dumps(kb, protocol=pickle.HIGHEST_PROTOCOL)
        _write(directory, path, _mac(key, name, payload) + payload)
        _prune(directory)
    return kb


def _write(directory: Path, path: Path, data: bytes) -> None:
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=".kb-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _prune(directory: Path) -> None:
    entries = sorted(directory.glob("kb-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        with contextlib.suppress(OSError):
            old.unlink()


__all__ = ["cache_dir", "cached_load", "fingerprint", "modules"]
