"""The shape of the house: one-way imports, no cycles, small files and functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("assistant", "training")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules `path` imports anywhere (module level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([node.module] if node.module else []))
            # `from package import module` imports the module; anything else, the package
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in known)
    return found - {name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, name, set(known)) for name, path in known.items()}


def test_the_graph_is_not_empty(graph):
    assert len(graph) > 60 and sum(map(len, graph.values())) > 100


def test_no_import_cycles(graph):
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_assistant_never_imports_training(graph):
    offenders = {name: sorted(t for t in targets if t.startswith("training"))
                 for name, targets in graph.items() if name.startswith("assistant")}
    assert {name: t for name, t in offenders.items() if t} == {}


def test_the_generic_core_imports_no_domain(graph):
    generic = [name for name in graph if name.startswith("assistant")
               and not name.startswith("assistant.domains")]
    offenders = {name: sorted(t for t in graph[name] if t.startswith("assistant.domains"))
                 for name in generic}
    assert {name: t for name, t in offenders.items() if t} == {}
    training_loop = [name for name in graph
                     if name.startswith("training") and ".benchmarks" not in name]
    assert [(name, t) for name in training_loop for t in sorted(graph[name])
            if t.startswith("assistant.domains")] == []


def test_the_entry_point_is_imported_by_nothing_and_args_by_no_command(graph):
    importers = [name for name, targets in graph.items() if "assistant.cli.main" in targets]
    assert importers == ["assistant.__main__"]
    commands = {"assistant.cli.export", "assistant.cli.chat.command",
                "assistant.cli.convert.command"}
    assert not graph["assistant.cli.args"] & commands


def test_decoding_never_imports_the_model(graph):
    decoding = [name for name in graph if name.startswith("assistant.decoding")]
    assert decoding and not any("assistant.core.model" in graph[name] for name in decoding)


def test_files_and_functions_stay_small():
    too_long = []
    for path in [*modules().values(), *sorted((ROOT / "tests").rglob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_FILE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: "
                                    f"{length} lines")
    assert too_long == []
