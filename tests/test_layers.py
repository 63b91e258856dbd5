"""The import rules of docs/design.md: each package imports only the layers below it.

Imports are read with ast from the source, so a rule broken in a module no test loads is
still caught; imports under ``if TYPE_CHECKING:`` are for annotations only and do not count.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "ingot"

# What each top-level package of ingot may import, besides itself (docs/design.md).
_BASE = {"common", "conf"}
ALLOWED: dict[str, set[str]] = {
    "common": set(),
    "conf": {"common"},
    "db": _BASE,
    "images": _BASE,
    "configdrive": _BASE | {"images"},
    "swift": _BASE | {"db", "images"},
    "boot": _BASE | {"images"},
    "agent": _BASE | {"images", "configdrive"},
    # Drivers and conductors are handed their settings (drivers/settings.py, services.py):
    # neither may import ingot.conf, whose CONF is the process-wide options.
    # ramdisk: its ISO maker, for redfish-virtual-media's per-node ISO.
    "drivers": {"common", "db", "images", "swift", "boot", "configdrive", "ramdisk"},
    # Inventory processing, rules and discovery; the root disk by the agent's own rule.
    "inspection": {"common", "db", "agent"},
    "conductor": {"common", "db", "drivers", "inspection"},
    # The dashboard: pages served by the API and the proxy; the proxy's part reads no
    # database (test_proxy_loads_no_database_drivers_or_configdrive_code).
    "ui": {"common", "db"},
    "api": _BASE | {"db", "conductor", "drivers", "configdrive", "inspection", "ui"},
    "proxy": _BASE | {"api", "ui"},
    # It drives ingot through its API; with --qemu it builds the ramdisk and an OS to
    # deploy from the ramdisk builder's pieces.
    "demo": _BASE | {"ramdisk"},
    # Builds the agent's ramdisk; packs ingot's source, imports none of its layers.
    "ramdisk": set(),
    "cli": {"common", "conf", "db", "images", "configdrive", "swift", "boot", "agent",
            "drivers", "conductor", "api", "proxy", "demo", "ramdisk", "inspection", "ui"},
}
# The only modules of ingot/api/ the proxy may load: none of them reaches the database.
PROXY_MAY_USE = {"ingot.api.auth", "ingot.api.body", "ingot.api.context",
                 "ingot.api.errors", "ingot.api.microversion", "ingot.api.middleware",
                 "ingot.api.responses", "ingot.api.root", "ingot.api.validation"}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[str]:
    """Modules imported at run time (at any depth, but not under TYPE_CHECKING)."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            # "from ingot.api import errors" imports the module ingot.api.errors.
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
        for inner in ast.iter_child_nodes(node):
            visit(inner)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = _imports(ast.parse(path.read_text(), str(path)))
        graph[name] = {target for target in imported
                       if target in modules or not target.startswith("ingot")}
    return graph


GRAPH = _graph()


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "ingot" else None


def test_every_package_has_a_rule() -> None:
    packages = {_package(name) for name in GRAPH} - {None, "__main__"}
    assert packages == set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_lower_layers(package: str) -> None:
    broken = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items() if _package(module) == package
        for target in targets
        if target.startswith("ingot.")
        and _package(target) not in ALLOWED[package] | {package})
    assert broken == []


def _closure(roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py too.
        parts = module.split(".")
        parents = {".".join(parts[:i]) for i in range(1, len(parts))}
        todo.extend((GRAPH.get(module, set()) | parents) - seen)
    return seen


def test_proxy_loads_no_database_drivers_or_configdrive_code() -> None:
    roots = {name for name in GRAPH if name.startswith("ingot.proxy")} | {"ingot.cli.proxy"}
    loaded = _closure(roots)
    api = {name for name in loaded if name.startswith("ingot.api.")}
    assert api <= PROXY_MAY_USE
    heavy = sorted(name for name in loaded
                   if name.split(".")[0] == "sqlalchemy" or _package(name) in
                   {"db", "drivers", "configdrive", "conductor", "images", "swift", "boot"})
    assert heavy == []


def test_proxy_process_does_not_import_sqlalchemy() -> None:
    """The same, as Python sees it: what `ingot proxy` really loads."""
    code = ("import sys, ingot.cli.proxy, ingot.proxy.asgi, ingot.proxy.server\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'\n"
            "      or m.startswith(('ingot.db', 'ingot.drivers', 'ingot.configdrive'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_inspection_uses_only_the_agents_root_device_rule() -> None:
    """Inspection chooses the root disk with the agent's own rule, and nothing else of it."""
    used = {target for module, targets in GRAPH.items() if _package(module) == "inspection"
            for target in targets if _package(target) == "agent"}
    assert used <= {"ingot.agent.disks", "ingot.agent.root_device"}
