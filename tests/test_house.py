"""House rules that no linter checks for us: no module imports a private name of another hipkb module."""

from __future__ import annotations

import ast
from pathlib import Path

import hipkb

PACKAGE = Path(hipkb.__file__).resolve().parent


def private_imports(path: Path, root: Path) -> list[str]:
    """``file:line: from module import _name`` for each private name of hipkb imported by *path*."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "hipkb":
            where = f"{path.relative_to(root)}:{node.lineno}: from {node.module}"
            if any(part.startswith("_") and not part.startswith("__") for part in node.module.split(".")):
                found.append(where)
            found += [f"{where} import {alias.name}" for alias in node.names
                      if alias.name.startswith("_") and not alias.name.startswith("__")]
    return found


def test_no_module_imports_a_private_name_of_another():
    assert [line for path in sorted(PACKAGE.rglob("*.py")) for line in private_imports(path, PACKAGE)] == []


def test_the_check_sees_private_names_and_private_modules(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from hipkb.knowledge.rules import _mapping, load_kb\nfrom hipkb._private import x\n")
    assert private_imports(probe, tmp_path) == [
        "probe.py:1: from hipkb.knowledge.rules import _mapping",
        "probe.py:2: from hipkb._private",
    ]
