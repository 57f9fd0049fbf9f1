"""Batches on a Dask cluster: byte for byte a local run, no case lost or run twice, clear failures.

One LocalCluster (processes, 2 workers, loopback) serves the module: the
tests start it and close it. The CLI runs in processes of its own and reaches
the cluster at its ``tcp://127.0.0.1:PORT`` address, as it would a scheduler
started by hand.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from casefiles import generated, write_cases
from paths import ROOT

distributed = pytest.importorskip("distributed")

SCRIPT = "import sys; from hipkb.cli import main; sys.exit(main())"
HANG = 300  # seconds: only a hang reaches it
CASES = ROOT / "facts" / "cases"


def hipkb(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    import os

    return subprocess.run([sys.executable, "-c", SCRIPT, *map(str, args)], capture_output=True, timeout=HANG,
                          env={**os.environ, **(env or {})})


@contextlib.contextmanager
def local_cluster(workers: int):
    """A LocalCluster of worker processes on loopback, stopped on leaving; the environment kept as it was."""
    import logging

    from hipkb.batch.cluster import environment_kept

    with environment_kept(), \
            distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address=None, silence_logs=logging.ERROR) as local:
        yield local


def one_line_exit_2(result: subprocess.CompletedProcess[bytes]) -> str:
    """The one line a refused run prints, after checking it printed only that and exited 2."""
    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def here_and_there(address: str, *args: object) -> tuple[subprocess.CompletedProcess[bytes], ...]:
    """The same command with two local jobs, and on the cluster at *address*."""
    return hipkb(*args, "--jobs", "2"), hipkb(*args, "--cluster", address)


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(2) as local, distributed.Client(local) as client:
        yield local.scheduler_address, client


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory, kb) -> Path:
    """500 generated cases, 5% of them corrupted in ways the loader refuses."""
    directory = tmp_path_factory.mktemp("cluster") / "cases"
    cases = generated(kb, 500, seed=13)
    rng = random.Random(13)
    for case in rng.sample(cases, 25):
        case["runner"] = {"age": "old"} if rng.random() < 0.5 else {"no_such_field": 1}
    paths = write_cases(directory, cases)
    paths[7].write_text('{"pain": ', encoding="utf-8")  # not even JSON
    return directory


def test_cluster_output_is_byte_for_byte_that_of_jobs_2(cluster, corrupted, tmp_path):
    address, _ = cluster
    local = hipkb("run", corrupted, "--jobs", "2", "--errors", tmp_path / "local.jsonl")
    remote = hipkb("run", corrupted, "--cluster", address, "--errors", tmp_path / "remote.jsonl")
    assert local.returncode == remote.returncode == 1, remote.stderr.decode()
    assert remote.stdout == local.stdout
    assert len(remote.stdout.splitlines()) > 400
    assert (tmp_path / "remote.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert remote.stderr.replace(b"remote.jsonl", b"local.jsonl") == local.stderr
    assert b"hipkb: 500 cases: " in remote.stderr


def test_cluster_reports_into_a_directory_are_those_of_jobs_2(cluster, corrupted, tmp_path):
    address, _ = cluster
    (tmp_path / "local").mkdir()
    (tmp_path / "remote").mkdir()
    local = hipkb("run", corrupted, "--jobs", "2", "--format", "md", "-o", tmp_path / "local")
    remote = hipkb("run", corrupted, "--cluster", address, "--format", "md", "-o", tmp_path / "remote")
    assert local.returncode == remote.returncode == 1
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "remote").iterdir())
    assert len(names) > 400
    for name in names:
        assert (tmp_path / "remote" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(cluster, kb, tmp_path):
    address, client = cluster
    directory = tmp_path / "cases"
    write_cases(directory, generated(kb, 1500, seed=17))
    expected = hipkb("run", directory, "--jobs", "2")
    out = tmp_path / "out.jsonl"
    with out.open("wb") as stdout:
        proc = subprocess.Popen([sys.executable, "-c", SCRIPT, "run", str(directory), "--cluster", address],
                                stdout=stdout, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + HANG
        while out.read_bytes().count(b"\n") < 16:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        pids = client.run(lambda: __import__("os").getpid())
        victim = sorted(pids.values())[0]
        import os

        os.kill(victim, signal.SIGKILL)  # a real worker process, mid-run
        _, stderr = proc.communicate(timeout=HANG)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    assert proc.returncode == 0, stderr.decode()
    assert out.read_bytes() == expected.stdout  # every case once, in order
    client.wait_for_workers(2, timeout=60)  # the nanny brings the worker back for the next test


def test_check_exhaustive_on_the_cluster_finds_what_local_workers_find(cluster):
    address, _ = cluster
    fields = "systemic.fever,neuro.weakness,behaviour.trend,neuro.saddle_numbness"
    local, remote = here_and_there(address, "check", "--exhaustive", "--fields", fields, "--format", "json")
    assert local.returncode == remote.returncode == 0, remote.stderr.decode()
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    for report in (a, b):
        report["stats"]["exhaustive"].pop("seconds")
    assert a == b
    assert b["stats"]["exhaustive"]["checked"] == 3 * 3 * 4 * 3


def test_compare_on_the_cluster_is_compare_here(cluster, rules_dir, tmp_path):
    import shutil

    address, _ = cluster
    changed = tmp_path / "rules"
    shutil.copytree(rules_dir, changed)
    # Rule base B: one rule file fewer, so some cases come out differently.
    victim = sorted(p for p in changed.glob("*.yaml") if p.name != "kb.yaml")[0]
    victim.unlink()
    args = ("compare", Path(rules_dir).parent / "facts" / "cases", "--rules", rules_dir, "--rules", changed)
    here = hipkb(*args, "--format", "json", "--all")
    there = hipkb(*args, "--format", "json", "--all", "--cluster", address)
    assert here.returncode == there.returncode, there.stderr.decode()
    assert there.stdout == here.stdout


def test_a_local_cluster_by_count(corrupted, tmp_path):
    remote = hipkb("run", corrupted, "--cluster", "local:1")
    local = hipkb("run", corrupted, "--jobs", "1")
    assert remote.returncode == local.returncode == 1
    assert remote.stdout == local.stdout


def test_an_address_where_no_scheduler_answers_is_one_line_and_exit_2():
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = hipkb("run", CASES, "--cluster", f"tcp://127.0.0.1:{port}", env={"HIPKB_CLUSTER_TIMEOUT": "2"})
    assert time.monotonic() - started < 60
    line = one_line_exit_2(result)
    assert line.startswith(f"hipkb: --cluster: no Dask scheduler answers at tcp://127.0.0.1:{port} within 2 s")


@pytest.mark.parametrize("address", ["local:0", "local:x", "two words"])
def test_a_malformed_address_is_bad_usage(address):
    assert one_line_exit_2(hipkb("run", "whatever.yaml", "--cluster", address)).startswith("hipkb: --cluster: ")


def test_without_dask_cluster_says_how_to_install_it():
    script = "import sys; sys.modules['distributed'] = None; from hipkb.cli import main; sys.exit(main())"
    result = subprocess.run([sys.executable, "-c", script, "run", "x.yaml", "--cluster", "local:2"],
                            capture_output=True, timeout=HANG)
    assert one_line_exit_2(result) == "hipkb: --cluster: needs Dask: pip install 'hipkb[dask]'"


def test_a_scheduler_without_workers_is_one_line_and_exit_2():
    with local_cluster(0) as empty:
        started = time.monotonic()
        result = hipkb("run", CASES, "--cluster", empty.scheduler_address, env={"HIPKB_CLUSTER_TIMEOUT": "2"})
    assert time.monotonic() - started < 60
    assert "has no workers (none joined within 2 s)" in one_line_exit_2(result)


def test_a_local_cluster_leaves_the_environment_as_it_was(cli):
    import os

    before = dict(os.environ)
    result = cli("run", CASES / "fnbsi-classic.yaml", CASES / "sacral-stress.yaml", "--cluster", "local:1")
    assert result.exit_code == 0, result.output
    assert dict(os.environ) == before


# -- issue 20: every worker runs this hipkb and this knowledge base; an address that is no scheduler fails fast --

def test_a_worker_running_another_hipkb_version_is_refused_naming_it():
    with local_cluster(1) as other, distributed.Client(other) as client:
        (worker,) = client.scheduler_info()["workers"]
        client.run(lambda: setattr(__import__("hipkb"), "__version__", "0.9.9"))
        result = hipkb("run", CASES, "--cluster", other.scheduler_address)
    line = one_line_exit_2(result)
    assert line.startswith(f"hipkb: --cluster: the worker at {worker} runs hipkb 0.9.9, this hipkb is "), line


# Run on a worker: its unpacking of the bundle now edits a rule, as a worker
# whose hipkb reads the knowledge base differently would.
_EDITING_UNPACK = """
import hipkb.batch.cluster as cluster
unpack = cluster.Bundle.unpack
def edited(self):
    dirs = unpack(self)
    path = dirs["rules"] / "red-flags.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("saddle_numbness", "numbness"), encoding="utf-8")
    return dirs
cluster.Bundle.unpack = edited
"""


def test_a_worker_reading_another_knowledge_base_is_refused_naming_it():
    with local_cluster(1) as other, distributed.Client(other) as client:
        (worker,) = client.scheduler_info()["workers"]
        client.run(lambda: exec(_EDITING_UNPACK, {}))
        results = [hipkb(*command, "--cluster", other.scheduler_address) for command in (
            ("run", CASES / "saddle-numbness.yaml", CASES / "bladder-change.yaml"),
            ("check", "--exhaustive", "--fields", "neuro.saddle_numbness"),
            ("compare", CASES / "saddle-numbness.yaml", "--rules", CASES.parent.parent / "rules",
             "--rules", CASES.parent.parent / "rules"))]
    for result in results:
        assert result.returncode == 2 and result.stdout == b""
        line = result.stderr.decode().splitlines()[-1]  # check says first what it sweeps
        assert line.startswith(f"hipkb: --cluster: the worker at {worker} read another knowledge base than this "
                               "client sent"), line
        assert "Traceback" not in result.stderr.decode()


class _Endpoint:
    """A loopback port that takes connections and then says nothing, sends garbage, or answers as an HTTP server."""

    def __init__(self, mode: str) -> None:
        import threading

        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            with contextlib.suppress(OSError):
                if self.mode == "garbage":
                    conn.sendall(bytes(range(256)) * 64)
                elif self.mode == "http":
                    conn.settimeout(5)
                    conn.recv(65536)
                    page = b"<!doctype html><title>a web server</title>"
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s"
                                 % (len(page), page))

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.mark.parametrize(("mode", "scheme"), [("silent", "tcp"), ("garbage", "tcp"), ("http", "tcp"),
                                              ("http", "ws"), ("silent", "tls")])
def test_an_endpoint_that_is_no_scheduler_is_one_line_and_exit_2_within_the_timeout(mode, scheme):
    endpoint = _Endpoint(mode)
    address = f"{scheme}://127.0.0.1:{endpoint.port}"
    started = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "-c", SCRIPT, "run", str(CASES), "--cluster", address],
                                capture_output=True, timeout=90, env={**__import__("os").environ,
                                                                      "HIPKB_CLUSTER_TIMEOUT": "2"})
    finally:
        endpoint.close()
    # 2 s to wait, and a Python process to start on a machine that may be busy.
    assert time.monotonic() - started < 30
    line = one_line_exit_2(result)
    assert line.startswith("hipkb: --cluster: ") and address in line, line
    assert "internal error" not in line


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                if int(fields[1]) == pid:
                    found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_sigterm_while_a_local_cluster_starts_ends_the_run_without_a_traceback():
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, "run", str(CASES), "--cluster", "local:2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not _children(proc.pid):  # Dask has begun starting its worker processes
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(0.2)  # in the midst of it
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=HANG)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    text = err.decode()
    assert proc.returncode == 143, text
    assert "Traceback" not in text and "Exception ignored" not in text, text
    assert text.splitlines()[-1] == "hipkb: interrupted"
    assert out == b""


def test_sensitivity_and_mutants_on_the_cluster_are_what_local_workers_give(cluster, tmp_path):
    import shutil

    import smallkb
    import yaml

    address, _ = cluster
    rules = smallkb.write_kb(tmp_path / "rules")
    facts = tmp_path / "facts"
    (facts / "cases").mkdir(parents=True)
    shutil.copy(CASES.parent / "vocabulary.yaml", facts / "vocabulary.yaml")
    for name, case in {"lateral": {"runner": {"age": 60}, "pain": {"regions": ["lateral_hip"]},
                                   "expect": {"top": ["gluteus_medius_tendinopathy"]}},
                       "groin": {"pain": {"regions": ["groin"]}, "behaviour": {"walking": "painful"},
                                 "expect": {"triage_at_least": "urgent"}}}.items():
        (facts / "cases" / f"{name}.yaml").write_text(yaml.safe_dump(case))
    kb = ("--rules", rules, "--facts", facts)
    local, remote = here_and_there(address, "sensitivity", facts / "cases", *kb, "--format", "json")
    assert local.returncode == remote.returncode == 0, remote.stderr.decode()
    assert remote.stdout == local.stdout
    local, remote = here_and_there(address, "check", "--mutants", *kb, "--format", "json")
    assert local.returncode == remote.returncode == 0, remote.stderr.decode()
    a, b = json.loads(local.stdout), json.loads(remote.stdout)
    for report in (a, b):
        report.pop("seconds")
    assert a == b and a["run"] == a["made"] > 0
