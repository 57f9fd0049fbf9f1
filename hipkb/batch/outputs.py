"""Writing results to files: atomically, under safe names, never over an input.

A report is written to a temporary file in the target directory and moved
into place with :func:`os.replace`, so an interrupted run never leaves half a
report. Names made from a ``case_id`` are reduced to a safe file name, so a
case cannot write outside the output directory, nor through a symbolic link
planted in it, nor to a name Windows keeps for a device (``CON``, ``com1``).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hipkb.errors import HipkbError, OutputError, StreamGivenUp
from hipkb.report.output import SUFFIXES

__all__ = ["SUFFIXES", "AtomicFile", "OutputDir", "StreamOutput", "safe_name", "write_atomic"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Device names Windows reserves in any case and with any extension.
WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                              *(f"LPT{i}" for i in range(10))})


def safe_name(case_id: str, max_length: int = 100) -> str:
    """A file name stem from a case id: ASCII letters, digits, ``._-`` only."""
    text = unicodedata.normalize("NFKD", case_id).encode("ascii", "ignore").decode()
    text = _UNSAFE.sub("_", text).strip("._-")[:max_length] or "case"
    first, dot, rest = text.partition(".")
    if first.upper() in WINDOWS_RESERVED:
        # Windows opens the device, not a file, for CON.json or com1.x.json.
        text = f"{first}_{dot}{rest}"
    return text


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same path once resolved, or the same inode."""
    try:
        if Path(a).resolve() == Path(b).resolve():
            return True
        return os.path.samefile(a, b)
    except (OSError, RuntimeError, ValueError):
        return False


_DIR_FD = os.open in os.supports_dir_fd and os.rename in os.supports_dir_fd and hasattr(os, "O_DIRECTORY")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class AtomicFile:
    """A file written under a temporary name in its directory and moved into place on :meth:`commit`.

    The directory is opened once and every step happens relative to it (a
    directory file descriptor), so the file lands in the directory that was
    checked even if a path component is swapped meanwhile. The temporary
    file is created with ``O_EXCL | O_NOFOLLOW`` and the final rename replaces
    a name, never what a link there points to. With ``follow_links=False``
    (names made from a case_id in ``-o DIR``) a symbolic link already at the
    name is refused: someone planted it. The new file takes the process
    umask, or, when it replaces a regular file, that file's permissions.
    """

    def __init__(self, path: Path, *, follow_links: bool = True, binary: bool = False) -> None:
        self.path = Path(path)
        self.binary = binary
        self.dir_fd: int | None = None
        self.tmp = ""
        shown = str(path)
        try:
            if follow_links:
                target = self.path.resolve()
            else:
                target = self.path.parent.resolve() / self.path.name
        except RuntimeError:  # a symlink loop, before Python 3.13
            raise HipkbError(shown, "", "cannot be written (a symlink loop)") from None
        except OSError as exc:
            raise OutputError(shown, "", f"cannot be written ({exc.strerror})") from None
        self.target = target
        self.name = target.name
        if not target.parent.is_dir():
            raise HipkbError(shown, "", "its directory does not exist")
        try:
            if _DIR_FD:
                self.dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
            mode = self._existing_mode(shown)
            fd = self._create(mode)
        except OSError as exc:
            self._close_dir()
            raise OutputError(shown, "", f"cannot be written ({exc.strerror or exc})") from None
        self.handle: Any = (os.fdopen(fd, "wb") if binary else
                            os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="\n"))

    def _at(self, name: str) -> Any:
        """*name* and the keyword that makes an os call relative to the directory."""
        if self.dir_fd is not None:
            return name, {"dir_fd": self.dir_fd}
        return str(self.target.parent / name), {}

    def _existing_mode(self, shown: str) -> int | None:
        name, at = self._at(self.name)
        try:
            st = os.stat(name, follow_symlinks=False, **at)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(st.st_mode):
            self._close_dir()
            raise OutputError(shown, "", "is a symbolic link; refusing to write through it "
                              "(remove it, or choose another output directory)")
        return stat.S_IMODE(st.st_mode) & 0o777 if stat.S_ISREG(st.st_mode) else None

    def _create(self, mode: int | None) -> int:
        import secrets

        for _ in range(100):
            self.tmp = f".{self.name}.{secrets.token_hex(4)}.tmp"
            name, at = self._at(self.tmp)
            try:
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o666, **at)
            except FileExistsError:
                continue
            if mode is not None:
                with contextlib.suppress(OSError):
                    os.chmod(fd, mode)
            return fd
        raise FileExistsError(f"no free temporary name next to {self.name}")

    def write(self, text: str | bytes) -> None:
        try:
            self.handle.write(text)
        except OSError as exc:
            self.discard()
            raise OutputError(str(self.path), "", f"cannot be written ({exc.strerror or exc})") from None

    def commit(self) -> None:
        """Flush, and move the file into place (it replaces the name, never follows a link there)."""
        try:
            self.handle.close()
            if self.dir_fd is not None:
                os.replace(self.tmp, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
            else:
                os.replace(self.target.parent / self.tmp, self.target)
        except OSError as exc:
            self.discard()
            raise OutputError(str(self.path), "", f"cannot be written ({exc.strerror or exc})") from None
        self.tmp = ""
        self._close_dir()

    def discard(self) -> None:
        """Remove the temporary file; nothing is left behind."""
        with contextlib.suppress(OSError, ValueError):
            self.handle.close()
        if self.tmp:
            name, at = self._at(self.tmp)
            with contextlib.suppress(OSError):
                os.unlink(name, **at)
            self.tmp = ""
        self._close_dir()

    def _close_dir(self) -> None:
        if self.dir_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.dir_fd)
            self.dir_fd = None


def write_atomic(path: Path, text: str | bytes, *, protect: Iterable[Path] = (),
                 guard: Callable[[Path], bool] | None = None, follow_links: bool = True) -> None:
    """Write *text* (or bytes, for a PDF) to *path* in one step; refuse to replace a protected file.

    *protect* lists input files; *guard* answers "is this an input?" without a
    list (:class:`hipkb.load.inputs.InputGuard`), which a batch of any size needs:
    checking each write against every input would cost the square of the
    batch. ``follow_links=False`` refuses a symbolic link at *path* (see
    :class:`AtomicFile`). Every failure is one :class:`HipkbError` line.
    """
    path = Path(path)
    try:
        target = path.resolve() if follow_links else path.parent.resolve() / path.name
    except RuntimeError:  # a symlink loop, before Python 3.13
        raise HipkbError(str(path), "", "cannot be written (a symlink loop)") from None
    if guard is not None and guard(target):
        raise HipkbError(str(path), "", "refusing to overwrite an input case file")
    for other in protect:
        if same_file(other, target):
            raise HipkbError(str(path), "", "refusing to overwrite an input case file")
    if follow_links and path.exists() and not path.is_file() and not path.is_dir():
        # A device or a pipe (/dev/stdout, a FIFO): write into it. Replacing
        # it would put a regular file in its place (as root, even in /dev).
        try:
            if isinstance(text, bytes):
                with open(path, "wb") as binary:
                    binary.write(text)
            else:
                with open(path, "w", encoding="utf-8", newline="\n") as handle:
                    handle.write(text)
        except OSError as exc:
            raise OutputError(str(path), "", f"cannot be written ({exc.strerror})") from None
        return
    out = AtomicFile(path, follow_links=follow_links, binary=isinstance(text, bytes))
    try:
        out.write(text)
        out.commit()
    except BaseException:
        out.discard()
        raise


class OutputDir:
    """Names report files in one directory: unique, safe, never an input."""

    def __init__(self, directory: Path, suffix: str, inputs: Iterable[Path] = (),
                 guard: Callable[[Path], bool] | None = None, reserved: Iterable[Path] = ()) -> None:
        self.directory = Path(directory)
        self.suffix = suffix
        # reserved: other outputs of the run (the --errors file), never a report's name
        self.inputs = {Path(p).resolve() for p in [*inputs, *reserved]}
        self.guard = guard
        self.used: set[str] = set()

    def is_input(self, path: Path) -> bool:
        """Whether *path* names an input file, which must never be replaced."""
        target = path.resolve()
        return target in self.inputs or (self.guard is not None and self.guard(target))

    def path_for(self, case_id: str) -> Path:
        stem = safe_name(case_id)
        name, n = stem, 1
        while True:
            candidate = self.directory / f"{name}{self.suffix}"
            if name not in self.used and not self.is_input(candidate):
                self.used.add(name)
                return candidate
            n += 1
            name = f"{stem}-{n}"


class StreamOutput:
    """Results written one after another to a stream (standard output): each whole, or the stream is given up.

    Where the stream has a file descriptor, each result goes straight to it
    (after whatever the stream still buffered), so that a write that fails
    leaves nothing in a buffer: no cut line that the interpreter finishes at
    exit, or that the next result's line runs on from. A result that failed
    before any of it went out is simply not written (each case of a batch
    on ``/dev/full`` fails on its own); once one is cut short, nothing more
    is written: the stream holds the results that were whole, then the cut
    one, and every later case is a failure of its own.
    """

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.failed: str | None = None

    def write(self, text: str | bytes) -> None:
        """Write *text* (or a PDF's bytes) whole, or raise OSError (also for every write after one was cut short)."""
        if self.failed is not None:
            raise StreamGivenUp(0, f"given up after an earlier result was cut short ({self.failed})")
        self._write(text)

    def _write(self, text: str | bytes) -> None:
        stream = self.stream
        try:
            fd = stream.fileno() if os.linesep == "\n" or isinstance(text, bytes) else -1
        except (AttributeError, OSError, ValueError):
            fd = -1
        if fd < 0:  # an in-memory stream (a test's), or a platform that changes line ends
            target = stream
            if isinstance(text, bytes):
                target = getattr(stream, "buffer", None)
                if target is None:
                    raise OutputError("<stdout>", "", "takes text only; write the PDF to a file with -o FILE.pdf")
                stream.flush()
            try:
                target.write(text)
                target.flush()
            except OSError as exc:  # how much went through is unknown: no more
                self.failed = exc.strerror or str(exc)
                raise
            return
        stream.flush()
        data = memoryview(text if isinstance(text, bytes) else text.encode(
            getattr(stream, "encoding", None) or "utf-8", getattr(stream, "errors", None) or "strict"))
        sent = 0
        while sent < len(data):
            try:
                sent += os.write(fd, data[sent:])
            except BlockingIOError:  # a non-blocking descriptor someone else set up: wait until it takes more
                import select

                select.select([], [fd], [])
            except OSError as exc:
                if sent:  # part of it went out: a later line would run on from the cut one
                    self.failed = exc.strerror or str(exc)
                raise
