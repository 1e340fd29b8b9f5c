"""The kit's shape: no import cycle, short modules and functions, settings read only at the entry points.

These are the rules of the kit's layout (README, *Layout*), checked on the source with ``ast`` so
that a new module or notebook helper cannot quietly break them. The size and docstring rules cover
``tools/`` and ``benchmarks/`` as well; the import and settings rules are the package's.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from labs_helpers.settings import KIT_ROOT

PACKAGE = KIT_ROOT / "labs_helpers"
MODULES = sorted(PACKAGE.rglob("*.py"))
# The size and docstring rules hold for the kit's other Python too: the tools and the benchmarks.
SIZED = MODULES + sorted([*(KIT_ROOT / "tools").rglob("*.py"), *(KIT_ROOT / "benchmarks").rglob("*.py")])
# Where get_settings() may be called and the environment set: the settings module and the command lines.
ENTRY_POINTS = {"settings", "train", "run_labs", "grade"}
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50


def module_name(path: Path) -> str:
    parts = path.relative_to(KIT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def imports(path: Path) -> set[str]:
    """The kit's modules that ``path`` imports: at module level, inside functions, or for type checking."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree(path)):  # TYPE_CHECKING imports count too: they tie the modules together for readers
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(
                    candidate
                    if (KIT_ROOT / candidate.replace(".", "/")).with_suffix(".py").exists()
                    or (KIT_ROOT / candidate.replace(".", "/")).is_dir()
                    else target
                )
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("labs_helpers") and m != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module -> modules it imports) as a path, or None."""
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1  # on the current path
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt in graph and nxt not in state and (cycle := visit(nxt, path + [nxt])):
                return cycle
        state[node] = 2  # done, no cycle through it
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [node])):
            return cycle
    return None


def test_no_import_cycle():
    cycle = find_cycle({module_name(p): imports(p) for p in MODULES})
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_sees_cycles_and_only_cycles(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    # imports() finds a function-level import as well: the kind that tied pretrain and standin together.
    (tmp_path / "labs_helpers").mkdir()
    late = tmp_path / "labs_helpers" / "late.py"
    late.write_text("def f():\n    from .settings import get_settings\n")
    assert "labs_helpers.settings" in {
        n.module and f"labs_helpers.{n.module}" for n in ast.walk(tree(late)) if isinstance(n, ast.ImportFrom)
    }


@pytest.mark.parametrize("path", SIZED, ids=lambda p: str(p.relative_to(KIT_ROOT)))
def test_modules_and_functions_are_short(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.name}: {lines} lines; split it by job"
    for node in ast.walk(tree(path)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{path.name}:{node.lineno} {node.name}: {length} lines"


@pytest.mark.parametrize("path", SIZED, ids=lambda p: str(p.relative_to(KIT_ROOT)))
def test_public_functions_have_a_docstring(path):
    for node in tree(path).body:
        items = [node] + (node.body if isinstance(node, ast.ClassDef) and not node.name.startswith("_") else [])
        for item in items:
            if isinstance(item, (ast.FunctionDef, ast.ClassDef)) and not item.name.startswith("_"):
                assert ast.get_docstring(item), f"{path.name}:{item.lineno} {item.name} has no docstring"


def _calls(module: ast.Module, name: str) -> list[int]:
    return [
        n.lineno
        for n in ast.walk(module)
        if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == name
    ]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_settings_are_read_only_at_the_entry_points(path):
    if path.stem in ENTRY_POINTS:
        return
    module = tree(path)
    assert not _calls(module, "get_settings"), f"{path.name} calls get_settings(): take the settings as an argument"
    assert not _calls(module, "make_settings"), f"{path.name} makes settings: take them as an argument"
    for node in ast.walk(module):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args.args + node.args.kwonlyargs
            defaults = dict(zip([a.arg for a in node.args.args][::-1], node.args.defaults[::-1]))
            defaults.update({a.arg: d for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None})
            for arg in args:
                if arg.arg in ("settings", "dataset") and arg.arg in defaults:
                    pytest.fail(f"{path.name}:{node.lineno} {node.name}({arg.arg}=...): pass it, do not default it")
                if arg.arg == "settings":
                    assert ast.unparse(arg.annotation) == "Settings", (
                        f"{path.name}:{node.lineno} type settings as Settings"
                    )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_entry_points_write_the_environment(path):
    if path.stem in ENTRY_POINTS:
        return
    for node in ast.walk(tree(path)):
        target = None
        if isinstance(node, ast.Assign):
            target = node.targets[0]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("setdefault", "update", "pop", "__setitem__")
        ):
            target = node.func.value
        if isinstance(target, ast.Subscript):
            target = target.value
        assert not (target is not None and ast.unparse(target) == "os.environ"), (
            f"{path.name}:{node.lineno} writes os.environ; only entry points may"
        )
