"""The package layout's rules (docs/architecture.md), checked on the source tree.

* no import cycle among anomark's modules, counting imports inside functions (a lazy import
  that closes a circle is still a circle) but not ``if TYPE_CHECKING:`` blocks;
* ``anomark.sagemaker.*`` (algorithm-free plumbing) imports nothing from ``anomark.detectors``;
* an engine (``detectors/<family>/sagemaker.py``) never imports its detector module;
* no module over 800 lines; the three detector families are packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import anomark

ROOT = Path(anomark.__file__).resolve().parent
MAX_LINES = 800


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py")) if "__pycache__" not in p.parts}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _reexports(path: Path) -> dict[str, str]:
    """Names a package ``__init__`` imports at top level, mapped to the module they come from."""
    out: dict[str, str] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                out[alias.asname or alias.name] = node.module
    return out


REEXPORTS = {
    name: _reexports(path) for name, path in MODULES.items() if path.name == "__init__.py"
}


def _resolve(module: str, name: str | None) -> str | None:
    """The anomark module an import depends on.

    ``from a.b import c`` -> ``a.b.c`` when that is a module, else the module a package
    ``a.b`` re-exports ``c`` from, else ``a.b`` itself.
    """
    if name is not None and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    source = REEXPORTS.get(module, {}).get(name or "")
    if source is not None and source in MODULES and source != module:
        return _resolve(source, name) if source in REEXPORTS else source
    return module if module in MODULES else None


def _imports(name: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name, None)
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                target = _resolve(base, alias.name)
                if target:
                    found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return out


def _ancestors(name: str) -> set[str]:
    """Packages whose ``__init__`` runs when ``name`` is imported (they are not cycles)."""
    parts = name.split(".")
    return {".".join(parts[:k]) for k in range(1, len(parts))}


def test_no_import_cycles() -> None:
    # Importing a.b.c runs a/__init__ and a/b/__init__ first, so a plain import of an ancestor
    # package adds nothing; a name a package re-exports counts as an import of its source
    # module (see _resolve).
    graph = {v: {w for w in ws if w not in _ancestors(v)} for v, ws in GRAPH.items()}
    assert _cycles(graph) == []


def test_sagemaker_plumbing_imports_no_detector() -> None:
    bad = {
        name: sorted(w for w in deps if w.startswith("anomark.detectors"))
        for name, deps in GRAPH.items()
        if name == "anomark.sagemaker" or name.startswith("anomark.sagemaker.")
    }
    assert {k: v for k, v in bad.items() if v} == {}


@pytest.mark.parametrize("family", ["rcf", "conv_autoencoder", "isolation_forest"])
def test_detector_families_are_packages_and_engines_never_import_detectors(family: str) -> None:
    package = f"anomark.detectors.{family}"
    assert (ROOT / "detectors" / family / "__init__.py").is_file()
    assert f"{package}.detector" in MODULES
    engine = f"{package}.sagemaker"
    if engine in GRAPH:
        assert f"{package}.detector" not in GRAPH[engine]


def test_no_module_over_800_lines() -> None:
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
