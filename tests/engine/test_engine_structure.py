"""The engine's shape: no import cycle, no oversized module, no reaching into
another object's private members (checked on the source, with ``ast``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "fleetsim" / "engine"
MAX_LINES = 700


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(), filename=str(p))
            for p in sorted(ENGINE.glob("*.py"))}


def engine_imports(tree: ast.Module) -> set[str]:
    """The ``fleetsim.engine`` modules a module imports, anywhere in it (inside
    functions and ``if TYPE_CHECKING:`` blocks too)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[:2] == ["fleetsim", "engine"]:
                if len(parts) > 2:
                    out.add(parts[2])
                else:  # from fleetsim.engine import x
                    out.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[:2] == ["fleetsim", "engine"] and len(parts) > 2:
                    out.add(parts[2])
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle in ``graph`` (as the list of its nodes, first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                return path[path.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def private_access(tree: ast.Module) -> list[tuple[int, str]]:
    """``obj._name`` where ``obj`` is not ``self`` or ``cls`` (dunder names allowed)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                out.append((node.lineno, ast.unparse(node)))
    return out


def test_no_import_cycle_in_the_engine():
    mods = _modules()
    # The package's __init__ re-exports the engine; it is nobody's dependency.
    graph = {m: engine_imports(t) & set(mods) - {m} for m, t in mods.items()
             if m != "__init__"}
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    src = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                    "    from fleetsim.engine.sim import Simulation\n"
                    "from fleetsim.engine import states\n")
    assert engine_imports(src) == {"sim", "states"}


@pytest.mark.parametrize("path", sorted(ENGINE.glob("*.py")), ids=lambda p: p.name)
def test_no_engine_module_over_700_lines(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.name} has {n} lines (at most {MAX_LINES}): split it"


def test_no_access_to_another_objects_private_members():
    found = [f"{name}.py:{line}: {expr}" for name, tree in _modules().items()
             for line, expr in private_access(tree)]
    assert not found, "private members of other objects used:\n" + "\n".join(found)


def test_the_private_access_check_sees_it():
    tree = ast.parse("def f(self, sim):\n    self._a = sim._b\n    return cls._c, x.__len__\n")
    assert private_access(tree) == [(2, "sim._b")]
