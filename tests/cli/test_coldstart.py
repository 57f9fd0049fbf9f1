"""A cold ``hipkb run CASE``: what its process does and does not do on the way to one JSON line.

Cold start is dominated by fixed costs (imports, reading the cached knowledge
base, building the engine, the interpreter's own exit); these tests pin the
choices that keep it short, each by its effect in a real process.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

from paths import ROOT

CASE = ROOT / "facts" / "cases" / "fnbsi-classic.yaml"

# Run the CLI as the hipkb script does, and report on the way out (atexit runs
# after the command has finished and before the interpreter's last collections).
PROBE = """
import atexit, gc, json, sys
def report():
    sys.stderr.write("PROBE " + json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                                           "modules": sorted(sys.modules)}) + "\\n")
atexit.register(report)
from hipkb.cli import main
sys.exit(main())
"""


def probe_run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    env = {**os.environ, "HIPKB_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("HIPKB_NO_CACHE", None)
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env,
                          timeout=120)
    (line,) = [text for text in done.stderr.splitlines() if text.startswith("PROBE ")]
    return done, json.loads(line[len("PROBE "):])


def test_a_one_case_run_freezes_what_start_up_made_and_collects_again(tmp_path):
    for _ in range(2):  # the first run fills the knowledge-base cache, the second reads it
        done, seen = probe_run(tmp_path, "run", str(CASE))
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["case_id"]
        assert seen["enabled"]
        # The knowledge base and the engine: tens of thousands of objects the
        # interpreter's last collections no longer walk.
        assert seen["frozen"] > 10_000


def test_the_collector_is_back_on_after_an_in_process_run_whatever_its_end(cli, tmp_path):
    assert gc.isenabled()
    assert cli("run", CASE).exit_code == 0
    assert gc.isenabled()
    (tmp_path / "rules").mkdir()
    assert cli("run", "--rules", tmp_path / "rules", CASE).exit_code == 2  # no kb.yaml: refused
    assert gc.isenabled()


def test_a_json_run_loads_no_report_templates_no_openssl_and_no_error_wording(tmp_path):
    probe_run(tmp_path, "run", str(CASE))  # fills the knowledge-base cache
    done, seen = probe_run(tmp_path, "run", str(CASE))
    assert done.returncode == 0, done.stderr
    # jinja2: only reports need it. _hashlib (OpenSSL, via hashlib or hmac):
    # the cache's MAC and fingerprint are BLAKE2, which Python has built in.
    # difflib and hipkb.textsafe: only the wording of an error needs them.
    assert not {"jinja2", "_hashlib", "hashlib", "hmac", "difflib", "hipkb.textsafe"} & set(seen["modules"])
