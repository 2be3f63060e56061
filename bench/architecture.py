"""The structure's measured targets (issue 13): the layers' imports, the size of each file, the
repeated code. Prints figures; `python bench/architecture.py` from the project's root.

Layers, lowest first (docs/architecture.md): each may import those below it only.
"""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Lowest first. Workflows import their activities (typed references to them), the typed gateway
# in services imports the workflows (typed references to their methods).
LAYERS = ["vocabulary", "core", "activities", "workflows", "services", "edges"]
EDGES = {"web", "worker", "sandbox", "temporal_dev"}
MAX_LINES = 500


def layer_of(module: str) -> str | None:
    top = module.split(".")[0]
    if top in LAYERS:
        return top
    return "edges" if top in EDGES else None


def app_files() -> list[Path]:
    files = [ROOT / "worker.py", ROOT / "temporal_dev.py"]
    for package in ("vocabulary", "core", "activities", "workflows", "services", "web", "sandbox"):
        files += sorted((ROOT / package).rglob("*.py"))
    return [f for f in files if f.exists()]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The app names `path` imports, anywhere in it (workflows import inside a with-block):
    `from core import marketplaces` imports core.marketplaces, `from core.x import y` core.x.y
    (which graph() reads as the module core.x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {m for m in found if layer_of(m)}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in app_files()}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for imported in imports(path):
            # `from core import marketplaces` names a module; `from core.x import y` the module x.
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        edges[name] = targets
    return edges


def upward(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a lower layer to a higher one."""
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    return sorted(
        (a, b)
        for a, targets in edges.items()
        for b in targets
        if rank[layer_of(a)] < rank[layer_of(b)]
    )


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles between modules (strongly connected components of more than one)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def long_files() -> list[tuple[int, str]]:
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    sizes = []
    for name in tracked:
        if name.startswith(("tests/", "migrations/")) or not (ROOT / name).exists():
            continue
        lines = len((ROOT / name).read_text().splitlines())
        if lines > MAX_LINES:
            sizes.append((lines, name))
    return sorted(sizes, reverse=True)


def duplicate_pairs() -> tuple[int, list[str]] | None:
    """Real duplicate pairs by the `duplicates` tool, boilerplate and migrations aside (None
    where the tool is not installed)."""
    tool = shutil.which("duplicates")
    if tool is None:
        return None
    out = subprocess.run(
        [tool, "--most", "200", "--seconds", "120"], cwd=ROOT, capture_output=True, text=True
    ).stdout.splitlines()
    rows = [
        line
        for line in out
        if line.startswith("D") and "boilerplate" not in line and "migrations/" not in line
    ]
    return len(rows), rows


def main() -> None:
    edges = graph()
    print(f"modules: {len(edges)}, imports between them: {sum(map(len, edges.values()))}")
    up = upward(edges)
    print(f"imports from a lower layer up: {len(up)} (target: at most 1)")
    for a, b in up:
        print(f"    {a} -> {b}")
    loops = cycles(edges)
    print(f"import cycles: {len(loops)} (target: 0)")
    for loop in loops:
        print("    " + " <-> ".join(loop))
    long = long_files()
    print(f"Python files over {MAX_LINES} lines outside tests/ and migrations/: {len(long)}")
    for lines, name in long:
        print(f"    {lines:5d} {name}")
    pairs = duplicate_pairs()
    if pairs is None:
        print("duplicate pairs: `duplicates` is not installed here")
    else:
        count, rows = pairs
        print(f"real duplicate pairs (boilerplate and migrations aside): {count} (target: 8)")
        for row in rows:
            print(f"    {row}")


if __name__ == "__main__":
    main()
