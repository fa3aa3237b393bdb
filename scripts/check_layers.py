"""Check the import graph of handlers/, schemas/ and ctsd/: layers, cycles, module size.

Run by `make lint` (`python scripts/check_layers.py`); exits 1 and names every problem.

Layers, lowest first. A module may import its own component and any component of a
lower layer; never a higher layer, nor another component of its own layer:

0. core      handlers (commands, rules, ports: standard library and productmd only),
             ctsd (the package: its version), ctsd.jsonio, ctsd.background, ctsd.amqp
             (helpers with no ctsd import)
1. config    ctsd.config, ctsd.promotion_settings, ctsd.auth.settings, ctsd.auth.errors
             (parsing the configuration; the [auth] part lives with the auth package
             but below it)
   schemas   schemas (the fedora-messaging classes of what CTS publishes and accepts)
2. db        ctsd.db (tables, engines, stores, the unit of work, the read side
             ctsd.db.queries)
3. service   ctsd.service, ctsd.envelopes, ctsd.group_commit, ctsd.allocations_ahead,
             ctsd.respin_predictions, ctsd.lost_answers, ctsd.outbox_retention,
             ctsd.workflow_task (the command bus, what it runs commands with, and what
             runs commands in the background)
   auth      ctsd.auth (authentication backends and group sources)
   observability  the parts of ctsd.observability that read the configuration
             (announce, queue_gauges, setup); the rest of it (tracing, logs, metric
             registry and files) is core, bus_tracing belongs to the relay and http
             (request-id middleware) to the api
4. relay     ctsd.relay (the outbox publisher: `ctsd serve` hosts it, `ctsd relay` too)
5. bootstrap ctsd.bootstrap (the composition root #9a adds: engines, allocator, roles,
             command bus, background tasks for every entry point)
6. api       ctsd.api (the aiohttp views)
   consumer  ctsd.consumer (the bus consumer)
   cts_cli   ctsd.cts_cli (the user CLI; it talks HTTP and imports no other component)
7. cli       ctsd.cli (`ctsd ...`: parses arguments, starts an entry point), ctsd.serving
             (`ctsd serve --workers N`: gunicorn around the api's app factory)

A module belongs to the component with the longest matching prefix. Imports inside
functions and under TYPE_CHECKING count as well: they are a dependency all the same.
Besides the layers: no import cycle between modules, and no module over 300 lines.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("handlers", "schemas", "ctsd")
MAX_LINES = 300

LAYERS: tuple[dict[str, tuple[str, ...]], ...] = (
    {"core": ("handlers", "ctsd", "ctsd.jsonio", "ctsd.background", "ctsd.amqp")},
    {"config": ("ctsd.config", "ctsd.promotion_settings", "ctsd.auth.settings",
                "ctsd.auth.errors", "ctsd.contents_fetch.settings",
                "ctsd.config_values"),
     "schemas": ("schemas",)},
    {"db": ("ctsd.db", "ctsd.contents_fetch.jobs")},
    {"service": ("ctsd.service", "ctsd.group_commit", "ctsd.allocations_ahead",
                 "ctsd.envelopes", "ctsd.respin_predictions", "ctsd.outbox_retention",
                 "ctsd.contents_fetch",
                 "ctsd.workflow_task"),
     "auth": ("ctsd.auth",),
     "observability": ("ctsd.observability.announce", "ctsd.observability.queue_gauges",
                       "ctsd.observability.setup")},
    {"relay": ("ctsd.relay", "ctsd.observability.bus_tracing")},
    {"bootstrap": ("ctsd.bootstrap",)},
    {"api": ("ctsd.api", "ctsd.observability.http"), "consumer": ("ctsd.consumer",),
     "cts_cli": ("ctsd.cts_cli",)},
    {"cli": ("ctsd.cli", "ctsd.serving")},
)

# Known violations, each to be removed by the change named; nothing else may be added
# here without saying when it goes.
EXCEPTIONS: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Component:
    name: str
    layer: int


def component_of(module: str, layers: Iterable[Mapping[str, tuple[str, ...]]] = LAYERS
                 ) -> Component | None:
    """The component whose longest prefix matches the module (None: no layer)."""
    best: tuple[int, Component] | None = None
    for level, components in enumerate(layers):
        for name, prefixes in components.items():
            for prefix in prefixes:
                matches = module == prefix or module.startswith(prefix + ".")
                if matches and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), Component(name, level))
    return best[1] if best else None


def layer_violations(graph: Mapping[str, set[str]],
                     layers: Iterable[Mapping[str, tuple[str, ...]]] = LAYERS,
                     exceptions: frozenset[tuple[str, str]] = EXCEPTIONS) -> list[str]:
    """Every import from a component to a higher one or to a sibling of its layer."""
    layers = tuple(layers)
    problems = []
    for module in sorted(graph):
        source = component_of(module, layers)
        for imported in sorted(graph[module]):
            target = component_of(imported, layers)
            if source is None or target is None or source.name == target.name:
                continue
            if target.layer < source.layer or (module, imported) in exceptions:
                continue
            where = "a higher layer" if target.layer > source.layer else "a sibling"
            problems.append(f"{module} ({source.name}) imports {imported} "
                            f"({target.name}, {where})")
    return problems


def unused_exceptions(graph: Mapping[str, set[str]],
                      exceptions: frozenset[tuple[str, str]] = EXCEPTIONS) -> list[str]:
    """Exceptions no import needs any more: they must go, so they cannot hide a new one."""
    return [f"exception {a} -> {b} is no longer needed; remove it"
            for a, b in sorted(exceptions) if b not in graph.get(a, set())]


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The import cycles: strongly connected components of more than one module, or a
    module importing itself (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1 or node in graph.get(node, ()):
                    found.append(sorted(members))
    return found


def long_modules(line_counts: Mapping[str, int], limit: int = MAX_LINES) -> list[str]:
    return [f"{path} has {count} lines (at most {limit})"
            for path, count in sorted(line_counts.items()) if count > limit]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(tree: ast.AST, modules: set[str]) -> set[str]:
    """The project modules a parsed module imports (`from a import b` is a.b when that
    is a module, else a). Parent packages imported on the way do not count: otherwise
    every package __init__ that gathers its modules would close a cycle."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [name if name in modules else node.module for name in names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def project_graph(root: Path = ROOT) -> tuple[dict[str, set[str]], dict[str, int]]:
    """The import graph of the project's modules and each file's line count."""
    paths = {module_name(path, root): path
             for package in PACKAGES for path in sorted((root / package).rglob("*.py"))}
    modules = set(paths)
    graph, line_counts = {}, {}
    for module, path in paths.items():
        text = path.read_text()
        graph[module] = imports_of(ast.parse(text, str(path)), modules) - {module}
        line_counts[str(path.relative_to(root))] = len(text.splitlines())
    return graph, line_counts


def without_exceptions(graph: Mapping[str, set[str]],
                       exceptions: frozenset[tuple[str, str]] = EXCEPTIONS
                       ) -> dict[str, set[str]]:
    """The graph less the known exceptions: they are on their way out, and one of them
    (jsonio's lazy json_response) closes a cycle until it goes."""
    return {module: {target for target in targets if (module, target) not in exceptions}
            for module, targets in graph.items()}


def problems_of(graph: Mapping[str, set[str]], line_counts: Mapping[str, int]) -> list[str]:
    return [*layer_violations(graph), *unused_exceptions(graph),
            *(f"import cycle: {' -> '.join(cycle)}"
              for cycle in cycles(without_exceptions(graph))),
            *long_modules(line_counts)]


def main() -> int:
    graph, line_counts = project_graph()
    problems = problems_of(graph, line_counts)
    for problem in problems:
        print(problem)
    edges = sum(len(targets) for targets in graph.values())
    print(f"check_layers: {len(graph)} modules, {edges} imports, "
          f"{len(EXCEPTIONS)} known exceptions, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
