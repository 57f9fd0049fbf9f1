"""One knowledge base everywhere (issue 20): the loader, the caches, the cluster bundle and compare read the same files.

Each test puts something beside the rules that the four used to see
differently (a hidden rule file, a symbolic link to nothing, a FIFO, a
directory named like a rule file), and requires one answer from all of them:
an uncached run, a cached one, a run on a Dask cluster and ``compare``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from paths import ROOT

from hipkb.batch.cluster import Bundle
from hipkb.errors import RuleError
from hipkb.knowledge import cache, files
from hipkb.knowledge.rules import KnowledgeBase

SADDLE = ROOT / "facts" / "cases" / "saddle-numbness.yaml"
SCRIPT = "import sys; from hipkb.cli import main; sys.exit(main())"
CES_RULE_START = "  - id: RF-CES-SADDLE\n"
CES_RULE_END = "  - id: RF-CES-BLADDER-BOWEL\n"


@pytest.fixture
def kb_copy(tmp_path, rules_dir, facts_dir):
    rules, facts = tmp_path / "rules", tmp_path / "facts"
    shutil.copytree(rules_dir, rules)
    facts.mkdir()
    shutil.copy(Path(facts_dir) / "vocabulary.yaml", facts / "vocabulary.yaml")
    return rules, facts


def hide_the_cauda_equina_rule(rules: Path) -> Path:
    """Move RF-CES-SADDLE out of red-flags.yaml into a hidden file, ``.ces.yaml``; return that file."""
    red_flags = rules / "red-flags.yaml"
    text = red_flags.read_text(encoding="utf-8")
    start, end = text.index(CES_RULE_START), text.index(CES_RULE_END)
    red_flags.write_text(text[:start] + text[end:], encoding="utf-8")
    hidden = rules / ".ces.yaml"
    hidden.write_text("topic: Hidden\nrules:\n" + text[start:end], encoding="utf-8")
    return hidden


def hipkb(*args: object, cache_dir: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ}
    env.pop("HIPKB_NO_CACHE", None)
    if cache_dir is None:
        env["HIPKB_NO_CACHE"] = "1"
    else:
        env["HIPKB_CACHE_DIR"] = str(cache_dir)
    return subprocess.run([sys.executable, "-c", SCRIPT, *map(str, args)], capture_output=True, env=env, timeout=300)


def test_a_hidden_rule_file_is_no_part_of_the_knowledge_base_for_any_reader(kb_copy, tmp_path):
    rules, facts = kb_copy
    hidden = hide_the_cauda_equina_rule(rules)
    assert hidden not in files.rule_files(rules)
    assert "RF-CES-SADDLE" not in KnowledgeBase.load(rules, facts).by_id
    keys = (files.content_key(rules, facts), cache.fingerprint(rules, facts), Bundle.of(rules=rules, facts=facts).key)
    hidden.write_text(hidden.read_text(encoding="utf-8").replace("possible_cauda_equina", "night_pain"))
    assert (files.content_key(rules, facts), cache.fingerprint(rules, facts),
            Bundle.of(rules=rules, facts=facts).key) == keys


def test_cached_uncached_cluster_and_local_runs_read_the_same_rules(kb_copy, tmp_path):
    pytest.importorskip("distributed")
    rules, facts = kb_copy
    hidden = hide_the_cauda_equina_rule(rules)
    args = ("run", SADDLE, "--rules", rules, "--facts", facts)
    warm = hipkb(*args, cache_dir=tmp_path / "cache")
    # Edited after the cache was made: a reader that counts the hidden file
    # and a key that does not would answer from the stale base.
    hidden.write_text(hidden.read_text(encoding="utf-8").replace("saddle_numbness", "numbness"))
    cached = hipkb(*args, cache_dir=tmp_path / "cache")
    uncached = hipkb(*args)
    two = (*args[:2], SADDLE.parent / "bladder-change.yaml", *args[2:])
    local = hipkb(*two, "--jobs", "1")
    on_cluster = hipkb(*two, "--cluster", "local:1")
    assert warm.returncode == cached.returncode == uncached.returncode == 0, uncached.stderr.decode()
    assert warm.stdout == cached.stdout == uncached.stdout
    assert b'"possible_cauda_equina"' not in uncached.stdout  # the hidden rule counts nowhere
    assert on_cluster.returncode == local.returncode == 0, on_cluster.stderr.decode()
    assert on_cluster.stdout == local.stdout and local.stdout.startswith(uncached.stdout.rstrip(b"\n"))


def test_compare_on_a_cluster_and_here_agree_about_a_hidden_rule_file(kb_copy, rules_dir, tmp_path):
    pytest.importorskip("distributed")
    rules, _ = kb_copy
    hide_the_cauda_equina_rule(rules)
    args = ("compare", SADDLE, "--rules", rules_dir, "--rules", rules, "--format", "json")
    here = hipkb(*args)
    there = hipkb(*args, "--cluster", "local:1")
    assert here.returncode == there.returncode == 1, there.stderr.decode()  # A has the rule, B does not
    assert there.stdout == here.stdout
    assert b'"only_a": ["RF-CES-SADDLE"]' in here.stdout and b'"differing": 1' in here.stdout


def _dangling(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere.yaml")


def _fifo(path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(path)


@pytest.mark.parametrize(("make", "words"), [(_dangling, "a symbolic link to nothing"),
                                             (_fifo, "not a regular file (a FIFO)"),
                                             (Path.mkdir, "not a regular file (a directory)")],
                         ids=["dangling symlink", "fifo", "directory"])
def test_an_entry_that_is_no_file_is_refused_cached_or_not(kb_copy, tmp_path, make, words):
    rules, facts = kb_copy
    args = ("run", SADDLE, "--rules", rules, "--facts", facts)
    assert hipkb(*args, cache_dir=tmp_path / "cache").returncode == 0  # cached before the entry appears
    make(rules / "zz.yaml")
    for ran in (hipkb(*args, cache_dir=tmp_path / "cache"), hipkb(*args)):
        assert ran.returncode == 2 and ran.stdout == b""
        lines = ran.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"hipkb: {rules / 'zz.yaml'}: ") and words in lines[0], lines
    with pytest.raises(RuleError, match=r"zz\.yaml"):
        Bundle.of(rules=rules, facts=facts)
    with pytest.raises(RuleError, match=r"zz\.yaml"):
        KnowledgeBase.load(rules, facts)


def test_hidden_editor_files_beside_the_rules_change_nothing(kb_copy):
    rules, facts = kb_copy
    before = files.content_key(rules, facts)
    (rules / ".#triage.yaml").symlink_to("user@host.1234:1700000000")  # Emacs's lock file: a dangling link
    (rules / "._triage.yaml").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # a copy tool's resource fork
    assert files.content_key(rules, facts) == before
    assert [p.name for p in files.rule_files(rules)] == sorted(p.name for p in rules.glob("[!.]*.yaml"))
    KnowledgeBase.load(rules, facts)
