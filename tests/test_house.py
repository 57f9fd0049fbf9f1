"""House rules that no linter checks for us.

- no module uses a private name of another hipkb module, imported (``from x
  import _y``) or read by attribute (``runner._run_chunk``);
- no module imports a private module of another package where a public name
  serves (``_operator``, ``yaml._yaml``);
- no package of hipkb imports another that imports it back, at any depth
  and wherever the import sits (at the top, inside a function, under
  ``TYPE_CHECKING``): a function-local import hides a cycle from Python,
  not from the design;
- every error class lives in ``hipkb/errors.py``;
- the tests mirror the package: every folder of ``tests/`` is named after a
  package of hipkb, no two test modules share a file name (pytest imports
  them by it), and no test module imports another (what tests share lives
  in the helper modules at the top of ``tests/``).
"""

from __future__ import annotations

import ast
import functools
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import hipkb
from hipkb.knowledge.components import components

PACKAGE = Path(hipkb.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent
#: Folders of tests/ that hold data for the tests, not a package's tests.
TEST_DATA = {"broken_kbs"}

#: Private modules of other packages hipkb may import, each with why no public name serves.
PRIVATE_MODULES_ALLOWED = {
    # hashlib.blake2b is this very type, but importing hashlib loads OpenSSL
    # (about 2.5 ms of a 90 ms cold run) for nothing hipkb uses of it.
    "_blake2": "hashlib's own BLAKE2 without OpenSSL",
}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([root.name, *parts])


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module an ``ImportFrom`` names, relative imports made absolute."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


@functools.cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def imports(path: Path, root: Path) -> Iterator[tuple[int, str, str | None]]:
    """``(line, module, name)`` for every import in *path*: ``name`` for ``from module import name``, else None."""
    module = _module_name(path, root)
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, path.name == "__init__.py")
            for alias in node.names:
                yield node.lineno, source, alias.name


def private_imports(path: Path, root: Path) -> list[str]:
    """``file:line: from module import _name`` for each private name of hipkb imported by *path*."""
    found = []
    for line, module, name in imports(path, root):
        if module.split(".")[0] != "hipkb":
            continue
        where = f"{path.relative_to(root)}:{line}: " + (f"from {module}" if name is not None else f"import {module}")
        if any(_private(part) for part in module.split(".")):
            found.append(where)
        elif name is not None and _private(name):
            found.append(f"{where} import {name}")
    return sorted(set(found), key=lambda s: (s.split(":")[0], int(s.split(":")[1]), s))


def private_attributes(path: Path, root: Path) -> list[str]:
    """``file:line: module._name`` for each private name read by attribute from a hipkb module *path* imported."""
    module = _module_name(path, root)
    tree = _tree(path)
    modules: dict[str, str] = {}  # local name -> the hipkb module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "hipkb":
                    modules[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "hipkb"
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, path.name == "__init__.py")
            if source.split(".")[0] != "hipkb":
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                if (root.parent / Path(*full.split("."))).with_suffix(".py").exists() or \
                        (root.parent / Path(*full.split(".")) / "__init__.py").exists():
                    modules[alias.asname or alias.name] = full
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in modules and modules[value.id] != module:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {value.id}.{'.'.join(reversed(chain))}")
    return found


def private_modules(path: Path, root: Path) -> list[str]:
    """``file:line: module`` for each private module of another package *path* imports (``yaml._yaml``)."""
    found = []
    for line, module, name in imports(path, root):
        if module.split(".")[0] == "hipkb" or not module:
            continue
        names = [*module.split("."), *([name] if name is not None else [])]
        # ``from yaml import _yaml`` names a private module as surely as ``import yaml._yaml``.
        private = [part for part in names if _private(part)]
        if private and names[0] not in PRIVATE_MODULES_ALLOWED:
            found.append(f"{path.relative_to(root)}:{line}: {'.'.join(names)}")
    return found


def package_of(module: str) -> str:
    """The wing of hipkb a module is in: ``hipkb.load`` for ``hipkb.load.case``; top-level modules are their own."""
    parts = module.split(".")
    return ".".join(parts[:2])


def package_graph(root: Path) -> dict[str, set[str]]:
    """Which package of hipkb imports which, by any import anywhere in its modules."""
    graph: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        here = package_of(_module_name(path, root))
        targets = graph.setdefault(here, set())
        for _, module, name in imports(path, root):
            if module.split(".")[0] != root.name:
                continue
            if module == root.name and name is not None and not ((root / f"{name}.py").exists()
                                                                 or (root / name).is_dir()):
                continue  # a name of hipkb/__init__.py (__version__)
            target = package_of(module if module != root.name or name is None else f"{module}.{name}")
            if target != here and target != root.name:
                targets.add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one package, each sorted (the verifier's Tarjan walk)."""
    found = components(sorted(graph), lambda node: sorted(graph.get(node, ())))
    return sorted(sorted(component) for component in found if len(component) > 1)


def error_classes(path: Path, root: Path) -> list[str]:
    """``file:line: Name`` for each public exception class defined in *path*."""
    found = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ClassDef) and not _private(node.name):
            bases = [ast.unparse(base) for base in node.bases]
            if any(base.endswith(("Error", "Exception", "Failure")) for base in bases):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {node.name}")
    return found


def _modules(root: Path) -> Iterable[Path]:
    return sorted(root.rglob("*.py"))


def test_no_module_imports_a_private_name_of_another():
    assert [line for path in _modules(PACKAGE) for line in private_imports(path, PACKAGE)] == []


def test_no_module_reads_a_private_name_of_another_by_attribute():
    assert [line for path in _modules(PACKAGE) for line in private_attributes(path, PACKAGE)] == []


def test_no_package_of_hipkb_imports_another_that_imports_it_back():
    # Every import counts, at the top or inside a function: batch runs the
    # Job verification hands it and builds results and reports, which import
    # neither batch nor verify (import-linter holds the same edges).
    assert cycles(package_graph(PACKAGE)) == []


def test_no_private_module_of_another_package_where_a_public_name_serves():
    assert [line for path in _modules(PACKAGE) for line in private_modules(path, PACKAGE)] == []


def test_every_error_class_is_in_errors_py():
    found = [line for path in _modules(PACKAGE) if path.name != "errors.py" for line in error_classes(path, PACKAGE)]
    assert found == []


def imported_test_modules(path: Path, root: Path) -> list[str]:
    """``file:line: module`` for each test module (or conftest) that *path* imports."""
    return [f"{path.relative_to(root)}:{line}: {module}" for line, module, _ in imports(path, root)
            if module.split(".")[0].startswith("test_") or module.split(".")[0] == "conftest"]


def _test_modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("test_*.py") if not TEST_DATA & set(p.relative_to(root).parts))


def test_every_folder_of_tests_is_named_after_a_package_of_hipkb():
    # tests/engine/ holds the tests of hipkb/engine/; the whole project's tests sit at the top.
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and p.name not in TEST_DATA
               and not p.name.startswith((".", "_"))}
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert sorted(folders - packages) == []


def test_no_two_test_modules_share_a_file_name():
    # The folders of tests/ are not packages: pytest imports a test module by its file name alone.
    names = Counter(path.name for path in _test_modules(TESTS))
    assert sorted(name for name, count in names.items() if count > 1) == []


def test_no_test_module_imports_another():
    assert [line for path in _test_modules(TESTS) for line in imported_test_modules(path, TESTS)] == []


# -- the checks see what they look for ----------------------------------------------


def _probe(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "hipkb"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for directory in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        (directory / "__init__.py").touch()
    return root


def test_the_checks_see_private_names_and_private_modules(tmp_path):
    root = _probe(tmp_path, {"probe.py": "from hipkb.knowledge.rules import _mapping, load_kb\n"
                                         "from hipkb._private import x\n"})
    assert private_imports(root / "probe.py", root) == [
        "probe.py:1: from hipkb.knowledge.rules import _mapping",
        "probe.py:2: from hipkb._private",
    ]


def test_the_checks_see_private_names_read_by_attribute(tmp_path):
    root = _probe(tmp_path, {
        "batch/runner.py": "def _init_worker():\n    pass\n",
        "verify/exhaustive.py": "def _work():\n    pass\n",
        "batch/cluster.py": "from hipkb.batch import runner\n\n\ndef f():\n    from hipkb.verify import exhaustive\n"
                            "    import hipkb.batch.runner as r\n"
                            "    return runner._init_worker, exhaustive._work, r._init_worker, runner.public\n",
        "verify/own.py": "import hipkb\n\n\ndef _mine():\n    pass\n\n\nx = hipkb.verify.exhaustive._work\n",
    })
    assert private_attributes(root / "batch" / "cluster.py", root) == [
        "batch/cluster.py:7: runner._init_worker", "batch/cluster.py:7: exhaustive._work",
        "batch/cluster.py:7: r._init_worker"]
    assert private_attributes(root / "verify" / "own.py", root) == ["verify/own.py:8: hipkb.verify.exhaustive._work"]


def test_the_checks_see_private_modules_of_other_packages(tmp_path):
    root = _probe(tmp_path, {"probe.py": "from _operator import _compare_digest\nfrom yaml import _yaml\n"
                                         "import yaml.cyaml\nfrom _blake2 import blake2b\n"})
    assert private_modules(root / "probe.py", root) == [
        "probe.py:1: _operator._compare_digest", "probe.py:2: yaml._yaml"]


def test_the_checks_see_a_cycle_hidden_in_a_function(tmp_path):
    root = _probe(tmp_path, {
        "load/case.py": "from hipkb.knowledge import vocabulary\n\n\ndef read():\n"
                        "    from hipkb.fhir import response\n",
        "fhir/response.py": "from hipkb.load.case import read\n",
        "knowledge/vocabulary.py": "from hipkb.errors import HipkbError\n",
        "errors.py": "class HipkbError(Exception):\n    pass\n",
        "batch/pool.py": "def run():\n    from hipkb.verify import exhaustive\n",
        "verify/exhaustive.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                "    from hipkb.batch import pool\n",
    })
    graph = package_graph(root)
    assert graph["hipkb.load"] == {"hipkb.knowledge", "hipkb.fhir"}
    assert cycles(graph) == [["hipkb.batch", "hipkb.verify"], ["hipkb.fhir", "hipkb.load"]]


def test_the_checks_see_an_error_class_outside_errors_py(tmp_path):
    root = _probe(tmp_path, {"report/limits.py": "class LimitError(Exception):\n    pass\n\n\n"
                                                 "class _Signal(Exception):\n    pass\n\n\n"
                                                 "class Given(HipkbError):\n    pass\n"})
    assert error_classes(root / "report" / "limits.py", root) == ["report/limits.py:1: LimitError",
                                                                  "report/limits.py:9: Given"]


def test_the_checks_see_a_test_module_imported_by_another(tmp_path):
    probe = tmp_path / "tests" / "report" / "test_probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("import smallkb\nfrom conftest import ROOT\nfrom test_pdf import page_texts\n"
                     "def test_x():\n    import test_web_browser.helpers\n")
    assert imported_test_modules(probe, tmp_path / "tests") == [
        "report/test_probe.py:2: conftest", "report/test_probe.py:3: test_pdf",
        "report/test_probe.py:5: test_web_browser.helpers"]
