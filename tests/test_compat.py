"""experta 1.9.4 must import and run on this Python through hipkb's shim."""

from __future__ import annotations

import collections
import subprocess
import sys


def test_plain_experta_import_needs_the_shim_on_new_python():
    # In a fresh interpreter, without hipkb, experta's frozendict 1.2 fails on
    # 3.10+; if this ever passes, the shim can go.
    code = "import experta"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "collections" in proc.stderr and "Mapping" in proc.stderr


def test_shim_makes_experta_import_and_fire_a_rule():
    code = (
        "from hipkb.engine.experta_shim import import_experta\n"
        "experta = import_experta()\n"
        "class A(experta.Fact): pass\n"
        "fired = []\n"
        "class E(experta.KnowledgeEngine):\n"
        "    @experta.Rule(A(x=1))\n"
        "    def r(self):\n"
        "        fired.append(1)\n"
        "e = E(); e.reset(); e.declare(A(x=1)); e.run()\n"
        "assert fired == [1], fired\n"
        "import frozendict; print(frozendict.frozendict({'a': 1})['a'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"


def test_shim_restores_the_mapping_alias():
    from hipkb.engine.experta_shim import patch_collections

    patch_collections()
    assert collections.Mapping is collections.abc.Mapping


def test_importing_hipkb_engine_leaves_root_logging_alone():
    code = (
        "import logging\n"
        "from hipkb import engine\n"
        "print(len(logging.getLogger().handlers))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"
