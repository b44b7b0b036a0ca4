"""Find the configured plugins without running any of their code.

Sources: the `[plugins]` table of `.nuvom_plugins.toml` (capability = "module:Class"
or a list of them) and the `nuvom` entry-point group of installed packages. A
plugin's `name` is read *statically*: its module's source is located on disk and
parsed with `ast`, so an untrusted plugin never runs in the worker. The host's
handshake later confirms the name (and refuses a mismatch).
"""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from nuvom.plugins.contracts import CAPABILITIES, api_compatible
from nuvom.plugins.policy import Policy, PluginConfigError, parse_policy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10
    import tomli as tomllib

ENTRY_POINT_GROUP = "nuvom"


@dataclass(frozen=True)
class PluginSpec:
    target: str  # "module:Class" or "path/file.py:Class"
    capabilities: tuple[str, ...]
    name: str
    source: str
    project_dir: str
    settings: dict = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    import_root: str = ""  # the sys.path entry its module was found under
    provides: tuple[str, ...] = ()  # the class's literal `provides`, read from its source
    registers: tuple[tuple[str, str], ...] = ()  # literal register_*("name", ...) calls in its module

    def handshake(self) -> dict[str, Any]:
        """What the host needs to load the plugin (sent in `hello`)."""
        path = [self.import_root or self.project_dir]
        if self.project_dir not in path:
            path.append(self.project_dir)
        location, _, attribute = self.target.rpartition(":")
        target = self.target
        if location.endswith(".py"):  # the host's working directory is not the project's
            target = f"{Path(self.project_dir, location)}:{attribute}"
        return {"target": target, "import_path": path, "name": self.name, "cwd": self.project_dir}


def module_source(module: str, search_path: list[str]) -> tuple[Path, str] | None:
    """(the .py file of `module`, the search_path entry it is under), found without importing."""
    parts = module.split(".")
    for root in search_path:
        base = Path(root or ".").joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate, str(Path(root or ".").resolve())
    return None


def read_class_attributes(source: Path, class_name: str) -> dict[str, Any] | None:
    """Literal class attributes (name, provides, api_version) of `class_name`; None if absent."""
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return _literal_attributes(node)
    return None


def _literal_attributes(node: ast.ClassDef) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for statement in node.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else (
            [statement.target] if isinstance(statement, ast.AnnAssign) and statement.value else []
        )
        for target in targets:
            if isinstance(target, ast.Name) and target.id in ("name", "provides", "api_version"):
                try:
                    found[target.id] = ast.literal_eval(statement.value)
                except ValueError:
                    pass
    return found


REGISTER_FUNCTIONS = {
    "register_queue_backend": "queue_backend",
    "register_result_backend": "result_backend",
    "register_metrics_provider": "metrics_provider",
}


def literal_registrations(source: Path) -> tuple[tuple[str, str], ...]:
    """(capability, name) of every `register_*("name", ...)` call with a literal name in `source`.

    It lets a producer start only the plugin that registers the backend it asks for.
    """
    found = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), filename=str(source))):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if function in REGISTER_FUNCTIONS and isinstance(node.args[0].value, str):
                found.append((REGISTER_FUNCTIONS[function], node.args[0].value.strip().lower()))
    return tuple(found)


def _static_info(target: str, project_dir: str) -> tuple[str, str, list[str], dict[str, Any]]:
    """(plugin name, import root, problems, {"provides", "registers"}) for a target, read from its source."""
    location, _, class_name = target.rpartition(":")
    if not location or not class_name:
        return "", "", [f"plugin {target!r}: expected 'module:Class' or 'path/file.py:Class'"], {}
    if location.endswith(".py"):
        source = Path(project_dir, location)
        root = project_dir
        if not source.is_file():
            return "", "", [f"plugin {target!r}: file {source} not found"], {}
    else:
        search = [project_dir, *[p for p in sys.path if p and os.path.isdir(p)]]
        found = module_source(location, search)
        if found is None:
            return "", "", [f"plugin {target!r}: module {location!r} not found in {project_dir} or on sys.path"], {}
        source, root = found
    attributes = read_class_attributes(source, class_name)
    if attributes is None:
        return "", "", [f"plugin {target!r}: {source} defines no class {class_name!r}"], {}
    problems = []
    version = attributes.get("api_version")
    if version is not None and not api_compatible(version):
        problems.append(f"plugin {target!r}: api_version {version!r} is incompatible with Nuvom's plugin API 1.x")
    name = attributes.get("name")
    provides = attributes.get("provides", ())
    provides = tuple(p for p in provides if isinstance(p, str)) if isinstance(provides, (list, tuple)) else ()
    static = {"provides": provides, "registers": literal_registrations(source)}
    return (name if isinstance(name, str) and name else class_name.lower()), root, problems, static


def plugin_classes_in(source: Path) -> list[str]:
    """Classes in `source` that look like plugins: a literal string `name`, and a `start()` or a base class."""
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    found = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        methods = {item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
        named = isinstance(_literal_attributes(node).get("name"), str)
        if named and ("start" in methods or node.bases):
            found.append(node.name)
    return found


def targets_in(location: str, project_dir: str | os.PathLike = ".") -> list[str]:
    """`module:Class` targets for a module path or a .py file given without a class.

    `location` may already name a class (`x.py:Cls`, `pkg.mod:Cls`): then it is returned as is.
    Raises `PluginConfigError` when nothing plugin-like is found.
    """
    if ":" in location:
        return [location]
    root = str(Path(project_dir).resolve())
    if location.endswith(".py"):
        source = Path(root, location)
        if not source.is_file():
            raise PluginConfigError(f"{location}: no such file in {root}")
    else:
        found = module_source(location, [root, *[p for p in sys.path if p and os.path.isdir(p)]])
        if found is None:
            raise PluginConfigError(
                f"{location!r} is neither a configured plugin name, a .py file nor an importable module"
            )
        source = found[0]
    classes = plugin_classes_in(source)
    if not classes:
        raise PluginConfigError(
            f"{location}: no plugin class found (a class with a `name = \"...\"` attribute and a `start()` method); "
            "name one explicitly as module:Class"
        )
    return [f"{location}:{name}" for name in classes]


def _listed(table: dict[str, Any], problems: list[str]) -> list[tuple[str, str]]:
    listed = []
    for capability, targets in table.items():
        if capability not in CAPABILITIES:
            problems.append(f"[plugins] {capability!r} is not a capability; use one of: {', '.join(CAPABILITIES)}")
            continue
        for target in [targets] if isinstance(targets, str) else targets if isinstance(targets, list) else [None]:
            if not isinstance(target, str):
                problems.append(f"[plugins] {capability}: expected a \"module:Class\" string or a list of them")
                continue
            listed.append((capability, target))
    return listed


def load_plugin_specs(project_dir: str | os.PathLike = ".", *, entry_points: bool = True) -> list[PluginSpec]:
    """Every configured plugin; `PluginConfigError` listing every problem at once."""
    root = Path(project_dir).resolve()
    path = root / _plugins_file()
    problems: list[str] = []
    config: dict[str, Any] = {}
    if path.is_file():
        try:
            config = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise PluginConfigError(f"{path}: {error}") from None
    listed = [
        (capability, target, str(path.name)) for capability, target in _listed(config.get("plugins", {}), problems)
    ]
    if entry_points:
        for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
            capability = entry.name if entry.name in CAPABILITIES else "queue_backend"
            listed.append((capability, entry.value, f"entry point {entry.name!r}"))
    by_target: dict[str, dict[str, Any]] = {}
    for capability, target, source in listed:
        entry = by_target.setdefault(target, {"capabilities": [], "source": source})
        entry["capabilities"].append(capability)
    tables = config.get("plugin", {})
    specs, names = [], {}
    for target, entry in by_target.items():
        spec = _spec(target, tuple(entry["capabilities"]), entry["source"], root, tables, problems)
        if spec is None:
            continue
        if spec.name in names:
            problems.append(f"plugin name {spec.name!r} is used by both {names[spec.name]} and {target}; rename one")
            continue
        names[spec.name] = target
        specs.append(spec)
    for unknown in set(tables) - set(names):
        problems.append(f"[plugin.{unknown}] configures a plugin that is not listed under [plugins]")
    if problems:
        raise PluginConfigError("\n".join(problems))
    return specs


def _spec(
    target: str, capabilities: tuple[str, ...], source: str, root: Path, tables: dict[str, Any], problems: list[str]
) -> PluginSpec | None:
    """A validated spec (policy and settings from `[plugin.NAME]`), or None with `problems` extended."""
    name, import_root, found, static = _static_info(target, str(root))
    problems.extend(found)
    if not name:
        return None
    policy, settings, found = parse_policy(name, tables.get(name, {}))
    problems.extend(found)
    return PluginSpec(
        target, capabilities, name, source, str(root), settings, policy, import_root,
        static["provides"], static["registers"],
    )


def spec_for_target(target: str, project_dir: str | os.PathLike = ".") -> PluginSpec:
    """A spec for a plugin named on the command line (`module:Class` or `file.py:Class`).

    Its settings and policy come from the project's `[plugin.NAME]` table when there is one.
    """
    root = Path(project_dir).resolve()
    path = root / _plugins_file()
    tables: dict[str, Any] = {}
    if path.is_file():
        try:
            tables = tomllib.loads(path.read_text(encoding="utf-8")).get("plugin", {})
        except tomllib.TOMLDecodeError as error:
            raise PluginConfigError(f"{path}: {error}") from None
    problems: list[str] = []
    spec = _spec(target, (), "command line", root, tables, problems)
    if problems or spec is None:
        raise PluginConfigError("\n".join(problems))
    return spec


def _plugins_file() -> str:
    from nuvom.config import get_settings

    return get_settings().plugins_file
