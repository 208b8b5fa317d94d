"""The package's layers, read from its source: data flows one way.

Every module's ``baa`` imports are parsed (not executed). The test fails on an import of the CLI from
the package, on an import cycle, on an import of a higher layer than the importer's, and on a ``baa``
import hidden inside a function.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "baa"

# Lowest first. A module may import its own layer's modules (without a cycle) and any lower layer.
LAYERS = [
    ("baa", "baa.errors", "baa.paper", "baa.profiles"),  # the vocabulary and the run sizes
    ("baa.io",),  # any radiograph file in, images and JSON out
    ("baa.data", "baa.phantom"),  # datasets: real label files, the synthetic hand
    ("baa.degrade", "baa.metrics"),  # section 3.1.2's degradations; eq. 1-6
    ("baa.restore",),  # the classical restorers
    ("baa.models", "baa.weights"),  # BoNet+, ResUNet, the classifier, the pipelines of Fig. 10; the shipped model
    ("baa.train",),
    ("baa.experiments",),  # the paper's experiments and the artifacts rule
    ("baa.analysis",),  # tables, claims, saliency, restoration and speed
    ("baa.assess",),  # any file to an age
    ("baa.book",),  # papermill, Jupyter Book, figures, widgets
    ("baa.cli", "baa.__main__"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best = None
    for i, names in enumerate(LAYERS):
        for n in names:
            if (module == n or module.startswith(n + ".")) and (best is None or len(n) > len(best[1])):
                best = (i, n)
    assert best is not None, f"{module} is in no layer of LAYERS"
    return best[0]


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported baa module, line, inside a function) for every import of ``baa`` in ``path``."""
    tree = ast.parse(path.read_text())
    here = module_name(path)
    out = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((a.name, child.lineno, in_function) for a in child.names if a.name.split(".")[0] == "baa")
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: resolve against this module's package
                    pkg = here.split(".")[: len(here.split(".")) - child.level + (path.name == "__init__.py")]
                    base = ".".join(pkg + ([base] if base else []))
                if base.split(".")[0] == "baa":
                    for a in child.names:  # `from baa import degrade` imports the module baa.degrade
                        full = f"{base}.{a.name}"
                        out.append((full if (PKG.parent / full.replace(".", "/")).with_suffix(".py").exists()
                                    or (PKG.parent / full.replace(".", "/")).is_dir() else base, child.lineno, in_function))
            visit(child, inner)

    visit(tree, False)
    return out


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}
GRAPH = {m: imports(p) for m, p in MODULES.items()}


def test_every_module_has_a_layer():
    for m in MODULES:
        layer_of(m)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_the_cli(module):
    if module == "baa.__main__":
        return
    bad = [(t, line) for t, line, _ in GRAPH[module] if t == "baa.cli" or t.startswith("baa.cli.")]
    assert not bad, f"{module} imports the CLI at line {bad[0][1]}: the CLI sits on top of the package"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    mine = layer_of(module)
    up = [(t, line) for t, line, _ in GRAPH[module] if layer_of(t) > mine]
    assert not up, f"{module} (layer {mine}) imports {up[0][0]} (layer {layer_of(up[0][0])}) at line {up[0][1]}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_hidden_baa_imports(module):
    hidden = [(t, line) for t, line, inside in GRAPH[module] if inside]
    assert not hidden, f"{module}: `import {hidden[0][0]}` inside a function at line {hidden[0][1]}; put it in the header"


def _resolve(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def test_no_import_cycles():
    edges = {m: {r for t, _, _ in GRAPH[m] if (r := _resolve(t)) and r != m} for m in MODULES}
    # a package's __init__ re-exports its modules; importing one of them first runs the __init__,
    # which is not a cycle of the code's logic, so __init__ -> own submodule edges are skipped
    for m in MODULES:
        if MODULES[m].name == "__init__.py":
            edges[m] = {t for t in edges[m] if not t.startswith(m + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                cycle = stack[stack.index(t):] + [t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                dfs(t)
        stack.pop()
        state[m] = 2

    for m in sorted(MODULES):
        if m not in state:
            dfs(m)



# -- sizes a newcomer can read -------------------------------------------------------------------------

MAX_MODULE_LINES, MAX_FUNCTION_LINES, MAX_NOTEBOOK_CODE_LINES = 600, 80, 80
NOTEBOOKS = sorted((PKG.parent / "notebooks").glob("[0-9][0-9]-*.ipynb"))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_are_short(module):
    """No module over 600 lines, no function over 80 (a table of numbers is data, not a function)."""
    src = MODULES[module].read_text()
    assert len(src.splitlines()) <= MAX_MODULE_LINES, f"{module}: {len(src.splitlines())} lines"
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            assert n <= MAX_FUNCTION_LINES, f"{module}.{node.name}: {n} lines"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_narrate(path):
    """A chapter's code is calls, plots and short checks: at most 80 code lines."""
    cells = json.loads(path.read_text())["cells"]
    n = sum(len("".join(c["source"]).splitlines()) for c in cells if c["cell_type"] == "code")
    assert n <= MAX_NOTEBOOK_CODE_LINES, f"{path.name}: {n} code lines"
