"""`PluginManager`: every configured plugin of a project, started and stopped together.

The worker starts all plugins (in parallel) at start-up; a producer process that
asks for a backend name nobody registered starts only the plugins that declare
that capability, lazily, and stops them at exit. Either way, a name a plugin
registers becomes a registry entry whose instances are remote stubs, so
`NUVOM_QUEUE_BACKEND=my_custom_queue` works exactly like a built-in.
`isolation = "inprocess"` plugins are imported and started in this process, the
upstream way, for plugins the user trusts.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nuvom.plugins.discovery import PluginSpec, load_plugin_specs
from nuvom.plugins.registry import REGISTRY
from nuvom.plugins.remote import STUBS
from nuvom.plugins.supervisor import PluginError, PluginSupervisor

log = logging.getLogger("nuvom.plugins")


def plugin_settings(spec: PluginSpec) -> dict[str, Any]:
    """What `start(settings)` receives: Nuvom's settings, the plugin's table, then its env vars.

    `NUVOM_PLUGIN_<NAME>_<KEY>` (in the environment or .env) overrides `settings.<key>`.
    """
    from nuvom.config import get_settings, load_dotenv

    merged: dict[str, Any] = {**get_settings().as_dict(), **spec.settings}
    prefix = f"NUVOM_PLUGIN_{spec.name.upper()}_"
    for source in (load_dotenv(".env"), os.environ):
        for key, value in source.items():
            if key.startswith(prefix):
                merged[key[len(prefix):].lower()] = value
    return merged


class PluginManager:
    def __init__(self, specs: list[PluginSpec]) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.supervisors: dict[str, PluginSupervisor] = {}
        self.inprocess: dict[str, Any] = {}
        self._entries: list[tuple[str, str, Any]] = []  # what we put in the registry, to take out at stop
        self._lock = threading.Lock()

    @classmethod
    def from_project(cls, project_dir: str = ".") -> "PluginManager":
        return cls(load_plugin_specs(project_dir))

    def __enter__(self) -> "PluginManager":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop_all()

    def _registered(self, plugin: str, capability: str, name: str) -> None:
        stub = STUBS.get(capability)
        if stub is None:
            return
        supervisor = self.supervisors[plugin]
        existing = REGISTRY.get(capability).get(name.strip().lower())
        ours = isinstance(existing, functools.partial) and existing.args[:1] == (supervisor,)
        if existing is not None and not ours:
            log.error(
                "plugin %s tried to register %s %r, which is already provided by %s; ignored",
                plugin, capability.replace("_", " "), name, getattr(existing, "__qualname__", existing),
            )
            return
        factory = functools.partial(stub, supervisor, name)
        REGISTRY.register(capability, name, factory, override=True)  # replaces only our own, after a restart
        with self._lock:
            self._entries.append((capability, name, factory))

    def start(self, spec: PluginSpec) -> None:
        """Start one plugin; a failure is logged and kept in its state, never raised."""
        if spec.policy.isolation == "inprocess":
            self._start_inprocess(spec)
            return
        with self._lock:
            supervisor = self.supervisors.get(spec.name)
            if supervisor is None:
                supervisor = self.supervisors[spec.name] = PluginSupervisor(
                    spec, plugin_settings(spec), on_registered=self._registered
                )
            elif supervisor.state != "stopped":
                return
        try:
            supervisor.start()
        except PluginError:
            pass  # reported by the supervisor, kept as its last failure

    def _start_inprocess(self, spec: PluginSpec) -> None:
        if spec.project_dir not in sys.path:
            sys.path.insert(0, spec.project_dir)
        module, _, attribute = spec.target.rpartition(":")
        try:
            plugin = getattr(importlib.import_module(module), attribute)()
            plugin.start(plugin_settings(spec))
        except Exception as error:
            log.error("plugin %s (in process) failed to start: %s: %s", spec.name, type(error).__name__, error)
            return
        self.inprocess[spec.name] = plugin

    def start_all(self) -> None:
        """Start every plugin in parallel and wait until each is running or failed."""
        if not self.specs:
            return
        with ThreadPoolExecutor(max_workers=min(16, len(self.specs))) as pool:
            list(pool.map(self.start, self.specs.values()))

    def start_providing(self, capability: str) -> None:
        """Start the not-yet-started plugins that declare `capability` (lazy, producer side)."""
        wanted = [s for s in self.specs.values() if capability in s.capabilities and s.name not in self.supervisors]
        with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
            list(pool.map(self.start, wanted))

    def stop_all(self) -> None:
        """stop() every plugin (in parallel), then end every host's process group."""
        threads = [threading.Thread(target=supervisor.stop, daemon=True) for supervisor in self.supervisors.values()]
        for thread in threads:  # plain threads: this also runs at interpreter exit, where pools are refused
            thread.start()
        for thread in threads:
            thread.join()
        with self._lock:
            entries, self._entries = self._entries, []
        for capability, name, factory in entries:
            if REGISTRY.get(capability).get(name) is factory:
                REGISTRY.unregister(capability, name)  # a stopped plugin's backends are gone
        for name, plugin in list(self.inprocess.items()):
            try:
                plugin.stop()
            except Exception as error:
                log.error("plugin %s (in process) stop() raised %s: %s", name, type(error).__name__, error)
        self.inprocess.clear()


_manager: PluginManager | None = None
_manager_lock = threading.RLock()


def get_manager(project_dir: str = ".") -> PluginManager:
    """The process's plugin manager (the worker's, or a producer's lazy one); stopped at exit."""
    global _manager
    with _manager_lock:
        if _manager is None:
            _manager = PluginManager.from_project(project_dir)
            atexit.register(_manager.stop_all)
        return _manager


def lazy_resolver(capability: str, name: str) -> Any:
    """Registry resolver: start the plugins that provide `capability`, once, then look again."""
    with _manager_lock:
        try:
            manager = get_manager()
        except Exception as error:
            log.error("cannot load the plugin configuration: %s", error)
            return None
        manager.start_providing(capability)
    return REGISTRY.get(capability).get(name)
