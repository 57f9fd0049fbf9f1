"""The knowledge-base cache: rebuilt when any rule or vocabulary file changes, never trusted blindly."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from paths import ROOT

from hipkb.knowledge import cache
from hipkb.knowledge.rules import DATA_FILES, KnowledgeBase


@pytest.fixture
def kb_dirs(tmp_path, rules_dir, facts_dir, monkeypatch):
    rules, facts = tmp_path / "rules", tmp_path / "facts"
    shutil.copytree(rules_dir, rules)
    facts.mkdir()
    shutil.copy(Path(facts_dir) / "vocabulary.yaml", facts / "vocabulary.yaml")
    monkeypatch.setenv("HIPKB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HIPKB_NO_CACHE", raising=False)
    return rules.resolve(), facts.resolve()


class Counting:
    """KnowledgeBase.load, counting the times it really loads."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, rules: Path, facts: Path) -> KnowledgeBase:
        self.calls += 1
        return KnowledgeBase.load(rules, facts)


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("kb-*.pickle"))


def test_a_second_load_comes_from_the_cache_and_is_the_same(kb_dirs, tmp_path):
    rules, facts = kb_dirs
    load = Counting()
    first = cache.cached_load(rules, facts, load)
    second = cache.cached_load(rules, facts, load)
    assert load.calls == 1
    assert len(entries(tmp_path / "cache")) == 1
    assert [r.id for r in second.rules] == [r.id for r in first.rules]
    assert second.vocabulary.fields.keys() == first.vocabulary.fields.keys()
    assert (second.rules_dir, second.facts_dir) == (rules, facts)
    assert oct((tmp_path / "cache").stat().st_mode & 0o777) == "0o700"


@pytest.mark.parametrize("which", ["rule", "manifest", "vocabulary", "new rule file"])
def test_any_change_to_a_rule_or_vocabulary_file_rebuilds(kb_dirs, which):
    rules, facts = kb_dirs
    load = Counting()
    cache.cached_load(rules, facts, load)
    if which == "rule":
        target = sorted(p for p in rules.glob("*.yaml") if p.name not in DATA_FILES)[0]
        target.write_text(target.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")
    elif which == "manifest":
        (rules / "kb.yaml").write_text((rules / "kb.yaml").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    elif which == "vocabulary":
        path = facts / "vocabulary.yaml"
        path.write_text(path.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")
    else:
        source = sorted(p for p in rules.glob("*.yaml") if p.name not in DATA_FILES)[0]
        text = source.read_text(encoding="utf-8")
        source.unlink()
        (rules / "zz-moved.yaml").write_text(text, encoding="utf-8")  # same rules, another file
    cache.cached_load(rules, facts, load)
    assert load.calls == 2
    cache.cached_load(rules, facts, load)
    assert load.calls == 2  # and the new content is cached in turn


def test_an_edited_rule_is_what_the_rebuilt_base_says(kb_dirs):
    rules, facts = kb_dirs
    before = cache.cached_load(rules, facts, Counting())
    rule = before.by_id["FNBSI-WALKING"]
    target = Path(rule.file)
    text = target.read_text(encoding="utf-8")
    start = text.index("id: FNBSI-WALKING")
    written = f"      weight: {rule.conclusion.weight:g}\n"
    at = text.index(written, start)
    target.write_text(text[:at] + "      weight: 0.25\n" + text[at + len(written):], encoding="utf-8")
    after = cache.cached_load(rules, facts, Counting())
    assert rule.conclusion.weight != 0.25
    assert after.by_id["FNBSI-WALKING"].conclusion.weight == 0.25


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "foreign pickle"])
def test_a_corrupted_or_planted_cache_file_is_ignored_and_rebuilt(kb_dirs, tmp_path, damage):
    rules, facts = kb_dirs
    load = Counting()
    cache.cached_load(rules, facts, load)
    (entry,) = entries(tmp_path / "cache")
    blob = entry.read_bytes()
    marker = tmp_path / "code-ran"
    if damage == "truncate":
        entry.write_bytes(blob[: len(blob) // 2])
    elif damage == "flip":
        entry.write_bytes(blob[:-10] + bytes(b ^ 0xFF for b in blob[-10:]))
    elif damage == "empty":
        entry.write_bytes(b"")
    else:
        # A pickle that would run code, in place of the cache file, with a made-up MAC.
        payload = pickle.dumps(Planted(str(marker)))
        entry.write_bytes(b"\0" * 32 + payload)
    kb = cache.cached_load(rules, facts, load)
    assert load.calls == 2
    assert isinstance(kb, KnowledgeBase) and kb.rules
    assert not marker.exists()
    assert entry.read_bytes() != b"" and cache.cached_load(rules, facts, load) is not None
    assert load.calls == 2  # rebuilt and written back


class Planted:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path(self.path).touch, ())


def test_a_cache_others_can_write_is_not_used(kb_dirs, tmp_path):
    rules, facts = kb_dirs
    load = Counting()
    cache.cached_load(rules, facts, load)
    os.chmod(tmp_path / "cache", 0o777)
    cache.cached_load(rules, facts, load)
    assert load.calls == 2
    os.chmod(tmp_path / "cache", 0o700)
    os.chmod(tmp_path / "cache" / "key", 0o666)
    cache.cached_load(rules, facts, load)
    assert load.calls == 3


def test_no_cache_when_turned_off(kb_dirs, tmp_path, monkeypatch):
    rules, facts = kb_dirs
    monkeypatch.setenv("HIPKB_NO_CACHE", "1")
    load = Counting()
    cache.cached_load(rules, facts, load)
    cache.cached_load(rules, facts, load)
    assert load.calls == 2
    assert not (tmp_path / "cache").exists()


def test_the_cli_gives_the_same_bytes_from_a_cold_and_a_warm_cache(tmp_path):
    case = ROOT / "facts" / "cases" / "fnbsi-classic.yaml"
    env = {**os.environ, "HIPKB_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("HIPKB_NO_CACHE", None)
    script = "import sys; from hipkb.cli import main; sys.exit(main())"
    runs = [subprocess.run([sys.executable, "-c", script, "run", str(case)], capture_output=True, env=env,
                           timeout=120) for _ in range(2)]
    assert runs[0].returncode == runs[1].returncode == 0
    assert runs[0].stdout == runs[1].stdout
    assert len(entries(tmp_path / "cache")) == 1


def test_a_change_to_hipkb_code_misses_the_cache(kb_dirs, tmp_path, monkeypatch):
    rules, facts = kb_dirs
    package = tmp_path / "pkg" / "hipkb"
    (package / "knowledge").mkdir(parents=True)
    module = package / "knowledge" / "rules.py"
    module.write_text("# the loader\n", encoding="utf-8")
    monkeypatch.setattr(cache, "__file__", str(package / "knowledge" / "cache.py"))
    before = cache.fingerprint(rules, facts)
    assert cache.fingerprint(rules, facts) == before
    module.write_text("# the loader, edited\n", encoding="utf-8")
    assert cache.fingerprint(rules, facts) != before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a file-size limit stands for a full disk")
def test_a_key_cut_short_by_a_full_disk_is_replaced(tmp_path):
    import resource

    case = ROOT / "facts" / "cases" / "fnbsi-classic.yaml"
    env = {**os.environ, "HIPKB_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("HIPKB_NO_CACHE", None)
    script = "import sys; from hipkb.cli import main; sys.exit(main())"

    def full_disk() -> None:  # no file may grow past 16 bytes: the 32-byte key is cut in two
        resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))

    first = subprocess.run([sys.executable, "-c", script, "run", str(case)], capture_output=True, env=env,
                           timeout=120, preexec_fn=full_disk)
    assert first.returncode == 0, first.stderr.decode()  # the cache costs speed, never the answer
    key = tmp_path / "cache" / "key"
    assert not key.exists() or len(key.read_bytes()) in (0, 32)
    runs = [subprocess.run([sys.executable, "-c", script, "run", str(case)], capture_output=True, env=env,
                           timeout=120) for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout == first.stdout
    assert len(key.read_bytes()) == 32
    assert len(entries(tmp_path / "cache")) == 1  # the cache works again


def test_an_empty_or_short_key_is_replaced_by_a_whole_one(kb_dirs, tmp_path):
    rules, facts = kb_dirs
    load = Counting()
    (tmp_path / "cache").mkdir(mode=0o700)
    for broken in (b"", b"\x01" * 7):
        key = tmp_path / "cache" / "key"
        key.write_bytes(broken)
        os.chmod(key, 0o600)
        cache.cached_load(rules, facts, load)
        assert len(key.read_bytes()) == 32 and key.read_bytes() != broken
        calls = load.calls
        cache.cached_load(rules, facts, load)
        assert load.calls == calls  # read back from the cache under the new key
    assert oct(key.stat().st_mode & 0o777) == "0o600"


def test_macs_are_compared_whole():
    mac = bytes(range(32))
    assert cache.same_mac(mac, bytes(mac))
    for position in (0, 31):  # the first and the last byte count alike
        wrong = bytearray(mac)
        wrong[position] ^= 1
        assert not cache.same_mac(bytes(wrong), mac)
    assert not cache.same_mac(mac[:16], mac)
