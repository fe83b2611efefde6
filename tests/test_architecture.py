"""Dependencies point one way (docs/architecture.md): the import graph of omr_data, read
with `ast` from every module (top-level and function-level imports alike), has no cycles,
and no edge goes from a lower layer to a higher one or from one stage to another."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "omr_data"

# Layers, from the top. A module's layer is named by its first component under omr_data.
ENTRY = {"cli", "__main__", "recipe", "registry", "demo"}     # may import anything
RUNNER = {"runner", "executors"}                              # core only: no stage by name
# Stage packages; `hub` is the publish stage's front module, over `publish/`.
STAGE_OF = {"sources": "sources", "distill": "distill", "verify": "verify", "dedup": "dedup",
            "mix": "mix", "filters": "filters",
            "pass_rate": "pass_rate", "hub": "publish", "publish": "publish"}
# Everything else is core (records, store, stage, answers, images, prompts, stats, ...).
REPO_DIRS = {"tests", "bench", "samples", "train_minimal"}     # never imported by omr_data


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(path: Path, module: str) -> list[tuple[str, int]]:
    """(dotted name, line) of every import in the file, wherever it sits; relative imports
    resolved; `from X import y` gives X and X.y (y may be a submodule)."""
    names = []
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.append((target, node.lineno))
            names += [(f"{target}.{alias.name}", node.lineno) for alias in node.names]
    return names


def build_graph() -> tuple[dict[str, Path], dict[str, dict[str, int]], list[tuple[str, str, int]]]:
    """(modules, edges module -> {imported omr_data module: line}, imports of repo dirs)."""
    modules = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    edges: dict[str, dict[str, int]] = {m: {} for m in modules}
    repo_imports = []
    for module, path in modules.items():
        for name, line in imported_names(path, module):
            root = name.split(".")[0]
            if root in REPO_DIRS:
                repo_imports.append((module, name, line))
            if root != "omr_data":
                continue
            while name and name not in modules:   # `from pkg import function` -> pkg
                name = name.rpartition(".")[0]
            if name and name != module:
                edges[module].setdefault(name, line)
    return modules, edges, repo_imports


MODULES, EDGES, REPO_IMPORTS = build_graph()


def component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer(module: str) -> str:
    part = component(module)
    if part in ENTRY:
        return "entry"
    if part in RUNNER:
        return "runner"
    if part in STAGE_OF:
        return "stage"
    return "core"


def where(module: str, target: str) -> str:
    path = MODULES[module].relative_to(ROOT)
    return f"{path}:{EDGES[module][target]} imports {target}"


def violations(rule) -> list[str]:
    return [where(m, t) for m in sorted(EDGES) for t in sorted(EDGES[m]) if rule(m, t)]


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for start in sorted(EDGES):
        if start in index:
            continue
        work = [(start, iter(sorted(EDGES[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(EDGES[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component_ = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component_.append(member)
                    if member == node:
                        break
                if len(component_) > 1:
                    found.append(sorted(component_))
    return found


def test_the_graph_is_read_from_the_whole_package():
    # a broken reader would pass every rule below vacuously
    assert len(MODULES) > 50
    assert "omr_data.verify.extract" in EDGES["omr_data.verify"]
    assert "omr_data.store" in EDGES["omr_data.stage"]


def test_no_import_cycles():
    found = cycles()
    assert not found, "import cycles:\n" + "\n".join(
        " -> ".join(c) + "\n  " + "\n  ".join(where(a, b) for a in c for b in c
                                             if b in EDGES[a]) for c in found)


def test_sources_import_neither_verify_nor_distill():
    bad = violations(lambda m, t: component(m) == "sources"
                     and component(t) in ("verify", "distill"))
    assert not bad, "adapters share answer reading through omr_data.answers:\n" + "\n".join(bad)


def test_stages_do_not_import_one_another():
    bad = violations(lambda m, t: layer(m) == layer(t) == "stage"
                     and STAGE_OF[component(m)] != STAGE_OF[component(t)])
    assert not bad, "stage -> stage imports (move the shared code to a core module):\n" + \
        "\n".join(bad)


def test_runner_and_executors_know_no_stage():
    bad = violations(lambda m, t: layer(m) == "runner" and layer(t) in ("stage", "entry"))
    assert not bad, "runner/executors -> stage imports (give the stage API a hook):\n" + \
        "\n".join(bad)


def test_core_imports_no_stage_runner_or_entry_point():
    bad = violations(lambda m, t: layer(m) == "core" and layer(t) != "core")
    assert not bad, "core modules import upwards:\n" + "\n".join(bad)


def test_the_package_imports_nothing_from_tests_bench_or_scripts():
    bad = [f"{MODULES[m].relative_to(ROOT)}:{line} imports {name}"
           for m, name, line in REPO_IMPORTS]
    assert not bad, "\n".join(bad)


def test_train_minimal_uses_only_the_verify_api():
    bad = []
    for path in sorted((ROOT / "train_minimal").rglob("*.py")):
        for name, line in imported_names(path, module_name(path)):
            if name.startswith("omr_data") and not name.startswith("omr_data.verify"):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "train_minimal reads published datasets and omr_data.verify only:\n" + \
        "\n".join(bad)


def test_the_rules_name_the_offending_edge():
    # the messages above come from `where`: path, line and target
    module = "omr_data.verify"
    assert where(module, "omr_data.verify.extract").startswith("omr_data/verify/__init__.py:")
