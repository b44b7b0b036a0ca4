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
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nuvom.plugins.contracts import call_start, check_plugin_class
from nuvom.plugins.discovery import PluginSpec, load_plugin_specs
from nuvom.plugins.loader import PluginLoadError, load_plugin_class
from nuvom.plugins.registry import REGISTRY
from nuvom.plugins.remote import STUBS
from nuvom.plugins.state import StateFile
from nuvom.plugins.supervisor import PluginError, PluginSupervisor

log = logging.getLogger("nuvom.plugins")


def own_settings(spec: PluginSpec) -> dict[str, Any]:
    """The plugin's own settings: its `[plugin.NAME].settings` table, then its variables.

    `NUVOM_PLUGIN_<NAME>_<KEY>` (in the environment or .env) overrides `settings.<key>`.
    """
    from nuvom.config import load_dotenv

    merged: dict[str, Any] = dict(spec.settings)
    prefix = f"NUVOM_PLUGIN_{spec.name.upper()}_"
    for source in (load_dotenv(".env"), os.environ):
        for key, value in source.items():
            if key.startswith(prefix):
                merged[key[len(prefix):].lower()] = value
    return merged


def plugin_settings(spec: PluginSpec) -> dict[str, Any]:
    """What `start(settings)` receives: Nuvom's settings overlaid with the plugin's own."""
    from nuvom.config import get_settings

    return {**get_settings().as_dict(), **own_settings(spec)}


@functools.lru_cache(maxsize=None)
def protect_this_process() -> None:
    """Before the first host starts: hosts of our user may not read our memory or environment.

    PR_SET_DUMPABLE 0 closes /proc/<our pid>/environ, mem and ptrace to processes of the
    same user (a host that kept uid 0 has no CAP_SYS_PTRACE to get around it).
    """
    from nuvom.sandbox import set_not_dumpable

    layer = set_not_dumpable()
    if not layer.enforced:
        log.warning("cannot hide this process from plugin hosts of the same user: %s", layer.detail)


class PluginManager:
    def __init__(self, specs: list[PluginSpec], state_file: StateFile | None = None) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.supervisors: dict[str, PluginSupervisor] = {}
        self.inprocess: dict[str, Any] = {}
        self.inprocess_failures: dict[str, dict[str, Any]] = {}
        self.state_file = state_file  # the worker publishes its plugins' states for the CLI
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
            log.warning(
                "plugin %s registered %s %r in its host, where only queue and result backends can be "
                "reached from the worker; use isolation = \"inprocess\" for it",
                plugin, capability.replace("_", " "), name,
            )
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
        protect_this_process()
        with self._lock:
            supervisor = self.supervisors.get(spec.name)
            if supervisor is None:
                supervisor = self.supervisors[spec.name] = PluginSupervisor(
                    spec, plugin_settings(spec), on_registered=self._registered, on_state=self._publish
                )
            elif supervisor.state != "stopped":
                return
        try:
            supervisor.start()
        except PluginError:
            pass  # reported by the supervisor, kept as its last failure

    def _start_inprocess(self, spec: PluginSpec) -> None:
        handshake = spec.handshake()
        for path in reversed(handshake["import_path"]):
            if path not in sys.path:
                sys.path.insert(0, path)
        try:
            cls = load_plugin_class(handshake["target"])
            problems = check_plugin_class(cls)
            if problems:
                raise PluginLoadError(f"{spec.target} is not a Nuvom plugin: " + "; ".join(problems))
            plugin = cls()
            call_start(plugin, plugin_settings(spec))
        except Exception as error:
            reason = f"plugin {spec.name!r} (in process) failed to start: {type(error).__name__}: {error}"
            log.error("%s", reason)
            self.inprocess_failures[spec.name] = {"reason": reason, "stderr_tail": [], "at": time.time()}
            self._publish()
            return
        self.inprocess[spec.name] = plugin
        self._publish()

    def statuses(self) -> dict[str, dict[str, Any]]:
        """Every started plugin's status, by name (what the state file holds)."""
        statuses = {name: supervisor.status() for name, supervisor in list(self.supervisors.items())}
        for name in set(self.inprocess) | set(self.inprocess_failures):
            failure = self.inprocess_failures.get(name)
            statuses[name] = {
                "isolation": "inprocess", "state": "failed" if failure else "running", "pid": os.getpid(),
                "restarts": 0, "started_at": None, "registered": {}, "last_failure": failure,
            }
        return statuses

    def _publish(self, _changed: Any = None) -> None:
        if self.state_file is None:
            return
        try:
            self.state_file.write(self.statuses())
        except OSError as error:
            log.warning("cannot write the plugin state file %s: %s", self.state_file.path, error)

    def start_all(self) -> None:
        """Start every plugin in parallel and wait until each is running or failed."""
        if not self.specs:
            return
        with ThreadPoolExecutor(max_workers=min(16, len(self.specs))) as pool:
            list(pool.map(self.start, self.specs.values()))

    def start_providing(self, capability: str, name: str | None = None) -> None:
        """Start the not-yet-started plugins that can provide `capability` `name` (lazy, producer side).

        A plugin whose source registers `name` literally is started alone; when none does
        (a computed name), every plugin declaring the capability is started.
        """
        waiting = [s for s in self.specs.values() if capability in s.capabilities and s.name not in self.supervisors]
        wanted = [s for s in waiting if (capability, (name or "").strip().lower()) in s.registers] or waiting
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
        self._publish()


_managers: dict[str, PluginManager] = {}
_manager_lock = threading.RLock()


def get_manager(project_dir: str = ".") -> PluginManager:
    """The plugin manager of a project in this process (the worker's, or a producer's lazy one).

    One per project directory, so a process that changes directory gets the plugins of
    the project it is in; each is stopped at exit.
    """
    key = os.path.realpath(project_dir)
    with _manager_lock:
        manager = _managers.get(key)
        if manager is None:
            manager = _managers[key] = PluginManager.from_project(key)
            atexit.register(manager.stop_all)
        return manager


def stop_managers() -> None:
    """Stop and forget every manager `get_manager` made (at exit, and between tests)."""
    with _manager_lock:
        managers = list(_managers.values())
        _managers.clear()
    for manager in managers:
        manager.stop_all()


def lazy_resolver(capability: str, name: str) -> Any:
    """Registry resolver: start the plugins that provide `capability`, once, then look again."""
    with _manager_lock:
        try:
            manager = get_manager()
        except Exception as error:
            log.error("cannot load the plugin configuration: %s", error)
            return None
        manager.start_providing(capability, name)
    return REGISTRY.get(capability).get(name)
