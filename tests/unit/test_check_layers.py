"""scripts/check_layers.py, the import-graph check of `make lint`: it must catch an
upward import, a sibling import, a cycle, a stale exception and a long module, and the
project's own graph must pass it."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_layers.py"
_spec = importlib.util.spec_from_file_location("check_layers", SCRIPT)
assert _spec is not None and _spec.loader is not None
check_layers = importlib.util.module_from_spec(_spec)
sys.modules["check_layers"] = check_layers  # dataclasses look their module up there
_spec.loader.exec_module(check_layers)

NO_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset()


def test_an_upward_import_is_a_violation():
    graph = {"ctsd.db.stores": {"ctsd.api.keys"}, "ctsd.api.keys": set()}
    problems = check_layers.layer_violations(graph, exceptions=NO_EXCEPTIONS)
    assert problems == ["ctsd.db.stores (db) imports ctsd.api.keys (api, a higher layer)"]


def test_handlers_may_not_import_the_database():
    graph = {"handlers.tags": {"ctsd.db.tables"}, "ctsd.db.tables": set()}
    assert check_layers.layer_violations(graph, exceptions=NO_EXCEPTIONS)


def test_a_sibling_import_is_a_violation():
    graph = {"ctsd.consumer.runner": {"ctsd.api.app"}, "ctsd.api.app": set()}
    problems = check_layers.layer_violations(graph, exceptions=NO_EXCEPTIONS)
    assert problems == ["ctsd.consumer.runner (consumer) imports ctsd.api.app "
                        "(api, a sibling)"]


def test_downward_and_same_component_imports_are_fine():
    graph = {"ctsd.api.listing": {"ctsd.db.queries.filters", "ctsd.api.keys", "handlers"},
             "ctsd.db.queries.filters": {"ctsd.db.tables", "handlers.errors"}}
    assert check_layers.layer_violations(graph, exceptions=NO_EXCEPTIONS) == []


def test_an_exception_allows_its_import_and_must_stay_needed():
    graph = {"ctsd.db.stores": {"ctsd.api.keys"}, "ctsd.api.keys": set()}
    allowed = frozenset({("ctsd.db.stores", "ctsd.api.keys")})
    assert check_layers.layer_violations(graph, exceptions=allowed) == []
    assert check_layers.unused_exceptions(graph, allowed) == []
    stale = frozenset({("ctsd.db.stores", "ctsd.service")})
    assert check_layers.unused_exceptions(graph, stale) == [
        "exception ctsd.db.stores -> ctsd.service is no longer needed; remove it"]


def test_cycles_are_found_and_acyclic_graphs_pass():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert check_layers.cycles(graph) == [["a", "b", "c"], ["e"]]
    assert check_layers.cycles({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) == []


def test_a_module_over_the_limit_is_named():
    counts = {"ctsd/small.py": 300, "ctsd/big.py": 301}
    assert check_layers.long_modules(counts) == ["ctsd/big.py has 301 lines (at most 300)"]


def test_from_imports_resolve_to_modules_and_nested_imports_count():
    tree = ast.parse("from ctsd import jsonio, __version__\n"
                     "def later():\n    import ctsd.api.keys\n")
    modules = {"ctsd", "ctsd.jsonio", "ctsd.api.keys"}
    assert check_layers.imports_of(tree, modules) == {"ctsd", "ctsd.jsonio", "ctsd.api.keys"}


def test_the_project_passes():
    graph, line_counts = check_layers.project_graph()
    assert "ctsd.db.queries.filters" in graph and len(graph) > 100
    assert check_layers.problems_of(graph, line_counts) == []
