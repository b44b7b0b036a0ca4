"""The registry: capability + name -> backend class (or provider object).

Built-in backends (`memory`, `sqlite`) are always registered. Plugins add more
with `register_queue_backend(name, cls)` and friends; names are case-insensitive.
When a name is unknown, resolvers (added by the plugin layer with `add_resolver`)
are asked before failing: that is how a plugin host is started lazily for a
backend name only a plugin provides. The worker only ever sees the classes and
objects this registry returns.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

QUEUE_BACKEND = "queue_backend"
RESULT_BACKEND = "result_backend"
METRICS_PROVIDER = "metrics_provider"

Resolver = Callable[[str, str], Any]


class UnknownBackendError(LookupError):
    """No backend is registered under the requested name."""


class DuplicateRegistrationError(ValueError):
    """A name is registered twice without `override=True`."""


_ENV_VARIABLE = {QUEUE_BACKEND: "NUVOM_QUEUE_BACKEND", RESULT_BACKEND: "NUVOM_RESULT_BACKEND"}


class Registry:
    """Thread-safe map of capability -> lower-cased name -> object."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Any]] = {}
        self._resolvers: list[Resolver] = []
        self._lock = threading.RLock()

    def register(self, capability: str, name: str, obj: Any, *, override: bool = False) -> None:
        """Register `obj` under `name`; registering the same object again is a no-op."""
        key = name.strip().lower()
        if not key:
            raise ValueError(f"cannot register a {capability} with an empty name")
        with self._lock:
            entries = self._entries.setdefault(capability, {})
            existing = entries.get(key)
            if existing is not None and existing is not obj and not override:
                raise DuplicateRegistrationError(
                    f"{capability} {key!r} is already registered ({_describe(existing)}); "
                    "pass override=True to replace it"
                )
            entries[key] = obj

    def unregister(self, capability: str, name: str) -> None:
        with self._lock:
            self._entries.get(capability, {}).pop(name.strip().lower(), None)

    def get(self, capability: str, name: str | None = None) -> Any:
        """The object under `name`, asking resolvers if unknown; `UnknownBackendError` if none has it.

        With `name=None`, returns the whole {name: object} map of the capability.
        """
        if name is None:
            with self._lock:
                return dict(self._entries.get(capability, {}))
        key = name.strip().lower()
        with self._lock:
            found = self._entries.get(capability, {}).get(key)
            resolvers = list(self._resolvers)
        if found is not None:
            return found
        for resolver in resolvers:
            resolved = resolver(capability, key)
            if resolved is not None:
                return resolved
        with self._lock:
            found = self._entries.get(capability, {}).get(key)
        if found is not None:
            return found
        raise UnknownBackendError(self._unknown_message(capability, key))

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """A copy of every entry, by capability then name."""
        with self._lock:
            return {capability: dict(entries) for capability, entries in self._entries.items()}

    def names(self, capability: str) -> list[str]:
        with self._lock:
            return sorted(self._entries.get(capability, {}))

    def add_resolver(self, resolver: Resolver) -> None:
        """Ask `resolver(capability, name)` for names nobody registered (plugin layer)."""
        with self._lock:
            if resolver not in self._resolvers:
                self._resolvers.append(resolver)

    def remove_resolver(self, resolver: Resolver) -> None:
        with self._lock:
            if resolver in self._resolvers:
                self._resolvers.remove(resolver)

    def _unknown_message(self, capability: str, key: str) -> str:
        label = capability.replace("_", " ")
        known = ", ".join(self.names(capability)) or "none"
        hint = (
            f" Set {_ENV_VARIABLE[capability]} to one of them or register a plugin that provides it."
            if capability in _ENV_VARIABLE
            else ""
        )
        return f"unknown {label} {key!r}; known: {known}.{hint}"


def _describe(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


REGISTRY = Registry()


def register_queue_backend(name: str, cls: type, *, override: bool = False) -> None:
    """Make `cls` (instantiated with no arguments) selectable as `NUVOM_QUEUE_BACKEND=name`."""
    REGISTRY.register(QUEUE_BACKEND, name, cls, override=override)


def register_result_backend(name: str, cls: type, *, override: bool = False) -> None:
    """Make `cls` (instantiated with no arguments) selectable as `NUVOM_RESULT_BACKEND=name`."""
    REGISTRY.register(RESULT_BACKEND, name, cls, override=override)


def register_metrics_provider(name: str, obj: Any, *, override: bool = False) -> None:
    """Register a metrics provider (monitoring plugins)."""
    REGISTRY.register(METRICS_PROVIDER, name, obj, override=override)


def get_queue_backend_cls(name: str) -> type:
    return REGISTRY.get(QUEUE_BACKEND, name)


def get_result_backend_cls(name: str) -> type:
    return REGISTRY.get(RESULT_BACKEND, name)


def _register_builtins() -> None:
    from nuvom.queue_backends.memory import MemoryJobQueue
    from nuvom.queue_backends.sqlite import SQLiteJobQueue
    from nuvom.result_backends.memory import MemoryResultBackend
    from nuvom.result_backends.sqlite import SQLiteResultBackend

    register_queue_backend("memory", MemoryJobQueue)
    register_queue_backend("sqlite", SQLiteJobQueue)
    register_result_backend("memory", MemoryResultBackend)
    register_result_backend("sqlite", SQLiteResultBackend)


def _lazy_plugins(capability: str, name: str) -> Any:
    from nuvom.plugins.manager import lazy_resolver

    return lazy_resolver(capability, name)


_register_builtins()
REGISTRY.add_resolver(_lazy_plugins)
