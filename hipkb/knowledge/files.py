"""Which files make up a knowledge base: one answer for every part of hipkb that reads one.

A knowledge base is the ``*.yaml`` files at the top of its rules directory
(``kb.yaml``, ``codes.yaml``, ``teaching.yaml`` and the rule files) and
``vocabulary.yaml`` in its facts directory. A file whose name starts with a
dot is not part of it, as a batch skips hidden case files: an editor's lock
or backup file (Emacs's ``.#triage.yaml`` is a symbolic link to nothing), a
copy tool's ``._triage.yaml``, a file hidden on purpose. Any other entry of
such a name that is not a regular file (a symbolic link to nothing, a FIFO, a
directory) is refused with one line: it cannot be read as rules, and leaving
it out would change the answers without a word.

The rule loader, the key of the loaded-knowledge-base caches (in memory and
on disk), the bundle sent to a Dask cluster, ``hipkb compare`` and the
property checks' reload all list files here, so they never disagree about
what a knowledge base holds.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hipkb.errors import HipkbError, RuleError
from hipkb.parse.reading import read_bytes

RULES_SUFFIX = ".yaml"
VOCABULARY = "vocabulary.yaml"

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _checked(path: Path) -> Path:
    """*path*, which must be a regular file (a symbolic link to one is followed)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise RuleError(str(path), "", "a symbolic link to nothing; every *.yaml file at the top of a "
                        "rules directory is part of the knowledge base (remove it, or name it with a dot)") from None
    except OSError as error:
        raise RuleError(str(path), "", f"cannot be read ({error.strerror or error})") from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "a special file")
        raise RuleError(str(path), "", f"is not a regular file ({kind}); a knowledge base is made of files")
    return path


def rule_files(rules_dir: Path) -> list[Path]:
    """The knowledge base's files in *rules_dir*: every ``*.yaml`` at its top but hidden ones, by name.

    Raises :class:`~hipkb.errors.RuleError` for the directory that cannot be
    listed and for an entry that is not a regular file.
    """
    try:
        with os.scandir(rules_dir) as entries:
            names = sorted(e.name for e in entries if e.name.endswith(RULES_SUFFIX) and not e.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        raise RuleError(str(rules_dir), "", "no such rules directory") from None
    except OSError as error:
        raise RuleError(str(rules_dir), "", f"cannot be listed ({error.strerror or error})") from None
    return [_checked(Path(rules_dir) / name) for name in names]


def kb_files(rules_dir: Path, facts_dir: Path) -> list[tuple[str, Path]]:
    """Every file of a knowledge base with its role (``rules`` or ``facts``), in a fixed order.

    A missing ``vocabulary.yaml`` is left out here: loading says it is missing.
    """
    listed = [("rules", path) for path in rule_files(rules_dir)]
    vocabulary = Path(facts_dir) / VOCABULARY
    if os.path.lexists(vocabulary):
        listed.append(("facts", _checked(vocabulary)))
    return listed


def read_kb(rules_dir: Path, facts_dir: Path) -> tuple[tuple[str, str, bytes], ...]:
    """The content of every file of a knowledge base: ``(role, file name, bytes)``, in :func:`kb_files` order."""
    contents = []
    for role, path in kb_files(rules_dir, facts_dir):
        try:
            contents.append((role, path.name, read_bytes(path)))
        except HipkbError as error:
            raise RuleError(error.source, error.where, error.message) from None
    return tuple(contents)


def digest(contents: tuple[tuple[str, str, bytes], ...]) -> str:
    """The content key of files read by :func:`read_kb` (or of any such triples): it changes with any of them."""
    from hipkb.knowledge.cache import blake2b  # hashlib's, without loading OpenSSL

    hashed = blake2b(digest_size=32)
    for role, name, content in contents:
        for part in (role.encode(), name.encode("utf-8", "surrogateescape"), content):
            hashed.update(len(part).to_bytes(8, "big"))
            hashed.update(part)
    return hashed.hexdigest()


def content_key(rules_dir: Path, facts_dir: Path) -> str:
    """A digest of every file of the knowledge base: it changes when any of them is edited, added or removed."""
    return digest(read_kb(rules_dir, facts_dir))


__all__ = ["RULES_SUFFIX", "VOCABULARY", "content_key", "digest", "kb_files", "read_kb", "rule_files"]
