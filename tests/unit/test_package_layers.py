"""The `xmargin` package is layered and free of import cycles.

Every import is counted wherever it is written: at module level, inside a
function (the CLI imports lazily) and under `if TYPE_CHECKING:` (a cycle
that only the type checker sees is still a cycle in the design). Layers,
lowest first:

    maths  pure integer maths; the standard library and itself only
    chain  connection, deployment records and configs, ABIs, batched reads
    ops    deploy, keeper, crowd
    ui     CLI, charts, reports, demo, `ape run` glue

A module may import its own layer and those below, never one above. The
checker is exercised on small synthetic packages too, so it is known to
fail when it should.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

PACKAGE = "xmargin"
ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("maths", "chain", "ops", "ui")
# What `xmargin.maths` may import besides itself: the standard library.
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}

Graph = dict[str, set[str]]


# ---------------------------------------------------------------- the checker


def modules(root: Path, package: str) -> dict[str, Path]:
    """Dotted name -> file, for every module of `package` under `root`."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path) -> Iterator[str]:
    """Every absolute module name `name`'s file imports, wherever the import is
    written (ast.walk reaches function bodies and `if TYPE_CHECKING:` blocks).
    `from a import b` yields `a.b` (which may be a module) and `a`."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                up = here[: len(here) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            yield base
            for alias in node.names:
                yield f"{base}.{alias.name}"


def import_graph(root: Path, package: str) -> tuple[Graph, dict[str, set[str]]]:
    """(module -> the package's modules it imports, module -> outside
    top-level names it imports)."""
    known = modules(root, package)
    graph: Graph = {m: set() for m in known}
    outside: dict[str, set[str]] = {m: set() for m in known}
    for name, path in known.items():
        for target in imports(name, path):
            top = target.split(".")[0]
            if top != package:
                outside[name].add(top)
            elif target in known and target != name:
                # `from xmargin.maths import model` names the module; its
                # package `xmargin.maths` alone is only an edge when
                # nothing more precise was imported from it.
                graph[name].add(target)
    for name in graph:
        # Drop the package edge `a` when `a.b` was imported: `from a import b`
        # yields both and only the module is meant.
        graph[name] = {
            t for t in graph[name] if not any(o.startswith(t + ".") for o in graph[name])
        }
    return graph, outside


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle (a path back to its start) per strongly connected component
    with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
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
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_in(graph, set(c)) for c in components]


def _cycle_in(graph: Mapping[str, set[str]], component: set[str]) -> list[str]:
    """A path start -> ... -> start inside one strongly connected component."""
    start = min(component)
    path, seen = [start], {start}
    while True:
        nxt = sorted(w for w in graph[path[-1]] if w in component)
        back = [w for w in nxt if w == start]
        if back and len(path) > 1:
            return [*path, start]
        fresh = [w for w in nxt if w not in seen]
        if not fresh:
            # Close on the first module of the path this one imports.
            w = nxt[0]
            return [*path[path.index(w) :], w]
        path.append(fresh[0])
        seen.add(fresh[0])


def layer_of(module: str, package: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def upward_imports(graph: Mapping[str, set[str]], package: str) -> list[str]:
    """`a -> b` for every import of a module in a higher layer."""
    out = []
    for src, targets in sorted(graph.items()):
        here = layer_of(src, package)
        for dst in sorted(targets):
            there = layer_of(dst, package)
            if here and there and LAYERS.index(there) > LAYERS.index(here):
                out.append(f"{src} ({here}) -> {dst} ({there})")
    return out


def unlayered(graph: Mapping[str, set[str]], package: str) -> list[str]:
    """Modules outside every layer (the package's own `__init__` aside)."""
    return sorted(m for m in graph if m != package and layer_of(m, package) is None)


def impure_maths(outside: Mapping[str, set[str]], package: str) -> list[str]:
    """`module: name` for every non-standard-library import of the maths layer."""
    return [
        f"{m}: {top}"
        for m, tops in sorted(outside.items())
        if layer_of(m, package) == "maths"
        for top in sorted(tops - STDLIB)
    ]


def layer_graph(graph: Mapping[str, set[str]], package: str) -> dict[str, set[str]]:
    """layer -> the other layers its modules import."""
    out: dict[str, set[str]] = {layer: set() for layer in LAYERS}
    for src, targets in graph.items():
        here = layer_of(src, package)
        for dst in targets:
            there = layer_of(dst, package)
            if here and there and there != here:
                out[here].add(there)
    return out


def problems(root: Path, package: str) -> list[str]:
    graph, outside = import_graph(root, package)
    found = [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)]
    found += [f"imports a higher layer: {e}" for e in upward_imports(graph, package)]
    found += [f"in no layer: {m}" for m in unlayered(graph, package)]
    found += [
        f"maths imports beyond the standard library: {e}" for e in impure_maths(outside, package)
    ]
    return found


# ---------------------------------------------------------------- the package


def test_xmargin_is_layered_without_cycles():
    graph, _ = import_graph(ROOT, PACKAGE)
    layers = layer_graph(graph, PACKAGE)
    counts = {layer: sum(layer_of(m, PACKAGE) == layer for m in graph) for layer in LAYERS}
    print(f"\n{len(graph)} modules, {sum(map(len, graph.values()))} imports between them")
    for layer in reversed(LAYERS):
        below = ", ".join(sorted(layers[layer], key=LAYERS.index)) or "nothing"
        print(f"  {layer:6} ({counts[layer]:2} modules) imports {below}")
    found = problems(ROOT, PACKAGE)
    assert not found, "\n".join(found)


# ---------------------------------------------------------------- the checker can fail


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in {"pkg/__init__.py": "", **files}.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_checker_finds_a_cycle_through_type_checking_and_a_function(tmp_path):
    root = _package(
        tmp_path,
        {
            "pkg/maths/__init__.py": "",
            "pkg/maths/a.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from pkg.maths.b import B\n",
            "pkg/maths/b.py": "def f():\n    from pkg.maths import c\n",
            "pkg/maths/c.py": "from . import a\n",
        },
    )
    assert problems(root, "pkg") == [
        "import cycle: pkg.maths.a -> pkg.maths.b -> pkg.maths.c -> pkg.maths.a"
    ]


def test_checker_finds_an_upward_import_and_impure_maths(tmp_path):
    root = _package(
        tmp_path,
        {
            "pkg/maths/__init__.py": "",
            "pkg/maths/m.py": "import json\nimport web3\nfrom eth_utils import keccak\n",
            "pkg/chain/__init__.py": "",
            "pkg/chain/c.py": "def f():\n    from pkg.ui.cli import main\n",
            "pkg/ui/__init__.py": "",
            "pkg/ui/cli.py": "from pkg.chain import c\n",
            "pkg/loose.py": "",
        },
    )
    assert problems(root, "pkg") == [
        "import cycle: pkg.chain.c -> pkg.ui.cli -> pkg.chain.c",
        "imports a higher layer: pkg.chain.c (chain) -> pkg.ui.cli (ui)",
        "in no layer: pkg.loose",
        "maths imports beyond the standard library: pkg.maths.m: eth_utils",
        "maths imports beyond the standard library: pkg.maths.m: web3",
    ]


@pytest.mark.parametrize("layer", LAYERS)
def test_every_layer_has_modules(layer):
    graph, _ = import_graph(ROOT, PACKAGE)
    assert any(layer_of(m, PACKAGE) == layer for m in graph if m != f"{PACKAGE}.{layer}")
