"""The shape of ``pipeline/storage``: no import circle, one way to build a driver, typed capabilities."""

from __future__ import annotations

import ast
import functools
import inspect
import pathlib
import subprocess
import sys
import typing
from collections.abc import Iterator
from importlib import metadata
from typing import ClassVar

import pytest

import pipeline.storage
from pipeline import storage
from pipeline.storage import base, capabilities, tickets
from pipeline.storage.base import EVENT_PRIMITIVES
from pipeline.storage.tickets import TICKET_PRIMITIVES

STORAGE = pathlib.Path(pipeline.storage.__file__).parent
PACKAGE_ROOT = STORAGE.parent.parent


@functools.cache
def storage_modules() -> dict[str, pathlib.Path]:
    """Every module of ``pipeline.storage`` (migrations included) by dotted name."""
    found = {}
    for path in sorted(STORAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported_names(module: str, path: pathlib.Path) -> Iterator[str]:
    """Every module ``module`` imports, wherever the import stands (functions included).

    ``from package import name`` names ``package.name`` when that is a module
    (a package's own submodules reached through it are edges to them, not to
    the package), else ``package``.
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    modules = storage_modules()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            origin = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                name = f"{origin}.{alias.name}"
                yield name if name in modules else origin


def import_graph() -> dict[str, set[str]]:
    """Edges between storage modules: who imports whom."""
    modules = storage_modules()
    return {
        name: {other for other in imported_names(name, path) if other in modules} - {name}
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path of module names, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target, [*path, target])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_the_graph_walk_sees_a_cycle(tmp_path: pathlib.Path) -> None:
    """Guards the check below: it finds cycles, and imports inside functions count."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    module = tmp_path / "tickets.py"
    module.write_text("def f():\n    from pipeline.storage.base import Capability\n")
    assert "pipeline.storage.base" in set(imported_names("pipeline.storage.tickets", module))


def test_no_storage_module_imports_one_that_imports_it_back() -> None:
    """Imports inside functions and under TYPE_CHECKING count: they are circles waiting."""
    graph = import_graph()
    assert "pipeline.storage.capabilities" in graph["pipeline.storage.tickets"]
    assert find_cycle(graph) is None, f"import circle: {' -> '.join(find_cycle(graph) or [])}"


_IMPORT_EACH_ALONE = """
import os, sys
# Third-party libraries first, once: only pipeline's own modules must start fresh.
import alembic.command, oslo_config.cfg, pymongo, sqlalchemy, stevedore.driver
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:  # a child that has imported nothing of pipeline yet
        try:
            __import__(name)
        except BaseException as err:
            print(f"{name}: {type(err).__name__}: {err}", flush=True)
            os._exit(1)
        os._exit(0)
    if os.waitpid(pid, 0)[1]:
        failed.append(name)
sys.exit(1 if failed else 0)
"""


def test_every_storage_module_imports_on_its_own() -> None:
    """Each module imported first, alone, in a fresh process (an order-dependent
    import, the symptom of a circle, fails there)."""
    names = [n for n in storage_modules() if ".migrations." not in n]
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH_ALONE, *names],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=PACKAGE_ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def builtin_drivers() -> list[tuple[str, type[base.Connection]]]:
    """Every driver entry point that pipeline itself ships, with its class."""
    return [
        (entry_point.name, storage.load_driver(entry_point.name))
        for entry_point in sorted(metadata.entry_points(group=storage.NAMESPACE))
        if entry_point.value.startswith("pipeline.storage.")
    ]


BUILTIN = builtin_drivers()


def test_the_builtin_drivers_are_found() -> None:
    assert {"memory", "sqlite", "postgresql", "mysql", "mongodb"} <= {n for n, _ in BUILTIN}


def _origin(cls: type, name: str) -> str:
    """The class that defines the method ``name`` resolved on ``cls`` (unwrapped)."""
    return inspect.unwrap(getattr(cls, name)).__qualname__.rpartition(".")[0]


@pytest.mark.parametrize(("scheme", "driver"), BUILTIN, ids=[n for n, _ in BUILTIN])
def test_every_builtin_driver_is_an_events_part_a_tickets_part_and_the_base(
    scheme: str, driver: type[base.Connection]
) -> None:
    """``Connection(<X>Events, <X>Tickets, base.Connection)``: each part implements
    every primitive of its half and none of the other's; the driver's own class
    only connects, upgrades, clears and closes (no method forwarded to a part)."""
    events, tickets_part, last = driver.__bases__
    assert last is base.Connection
    assert events.__name__.endswith("Events") and tickets_part.__name__.endswith("Tickets")
    prefix = events.__name__.removesuffix("Events")
    assert tickets_part.__name__ == f"{prefix}Tickets"
    for part in (events, tickets_part):
        assert not issubclass(part, tickets.TicketStore), f"{part} is a second driver base"
    for name in EVENT_PRIMITIVES:
        assert _origin(driver, name) == events.__qualname__, f"{name} of {scheme}"
        assert name not in vars(tickets_part)
    for name in TICKET_PRIMITIVES:
        assert _origin(driver, name) == tickets_part.__qualname__, f"{name} of {scheme}"
        assert name not in vars(events)
    own = {name for name, value in vars(driver).items() if callable(value)}
    wrapped = {name for name in own if hasattr(vars(driver)[name], "__wrapped__")}
    assert not (own - wrapped) & {*EVENT_PRIMITIVES, *TICKET_PRIMITIVES}


def test_capabilities_are_one_typed_enum() -> None:
    """One Capability class wherever it is imported from, and typed class attributes."""
    assert storage.Capability is base.Capability is tickets.Capability
    assert storage.Capability is capabilities.Capability
    hints = typing.get_type_hints(base.Connection, include_extras=True)
    assert hints["capabilities"] == ClassVar[frozenset[capabilities.Capability]]
    for _, driver in BUILTIN:
        assert isinstance(driver.capabilities, frozenset) and driver.capabilities
        assert all(isinstance(c, capabilities.Capability) for c in driver.capabilities)
