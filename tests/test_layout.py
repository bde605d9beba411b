"""The floor plan holds: the import graph (every import, those inside functions too) has no cycle, the command
line is the top floor (no stage imports it back), ``deepsport`` imports no stage, stages do not import each other,
and ``deepsport.dev`` (tiny models, synthetic videos, the scripted endpoint) serves only tests, benchmarks and the
``deepsport dev`` command."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("data_distill", "rl", "eval")
CLI = ("deepsport.cli", "deepsport.tools_cli", "deepsport.coach.cli", "data_distill.cli", "eval.cli", "rl.cli")


def modules() -> dict[str, Path]:
    found = {}
    for package in ("deepsport", *STAGES):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Each module's imports of project modules (the deepest module each import names)."""
    known = modules()
    graph = {}
    for name, path in known.items():
        named = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                named |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                named |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = set()
        for target in named:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def importers(graph: dict[str, set[str]], prefix: str) -> set[str]:
    return {name for name, targets in graph.items() if any(t == prefix or t.startswith(f"{prefix}.") for t in targets)}


def test_the_import_graph_has_no_cycle():
    graph, state, cycles = import_graph(), {}, []

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_command_line_is_the_top_floor():
    graph = import_graph()
    assert importers(graph, "deepsport.cli") == {"deepsport.__main__"}
    for cli in CLI[1:]:
        assert importers(graph, cli) <= {"deepsport.cli", "rl.__main__"}, cli


def test_deepsport_imports_no_stage_and_stages_not_each_other():
    graph = import_graph()
    for stage in STAGES:
        outside = {name for name in importers(graph, stage) if not name.startswith(f"{stage}.") and name != stage}
        assert outside <= {"deepsport.cli"}, (stage, outside)


def test_dev_helpers_serve_only_tests_benchmarks_and_the_dev_command():
    graph = import_graph()
    assert {name for name in importers(graph, "deepsport.dev") if not name.startswith("deepsport.dev")} == {
        "deepsport.cli"
    }
    source = (ROOT / "deepsport" / "cli.py").read_text()
    dev_command = source[source.index('@dev_app.command("tiny-model")') :]
    assert source.count("deepsport.dev") == dev_command.count("deepsport.dev")  # only inside `deepsport dev`
