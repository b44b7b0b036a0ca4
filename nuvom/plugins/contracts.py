"""The `Plugin` protocol, as Nuvom documents it.

A plugin is a class with `name`, `provides`, `start(settings)` and `stop()`.
Subclassing `Plugin` is optional: a duck-typed class with the same attributes
works, and `start(settings, **extras)` is accepted too. Only the major part of
`api_version` has to match `API_VERSION`.
"""

from __future__ import annotations

from typing import Any

API_VERSION = "1.0"
CAPABILITIES = ("queue_backend", "result_backend", "monitoring", "lifecycle_hook")


class Plugin:
    """Base class for plugins (optional: any class with these attributes is a plugin)."""

    api_version: str = API_VERSION
    name: str = ""
    provides: list[str] = []
    requires: list[str] = []

    def start(self, settings: dict[str, Any], **extras: Any) -> None:
        """Called once when the plugin is loaded; register backends here."""

    def stop(self) -> None:
        """Called once at shutdown; release what start() acquired."""


def api_compatible(version: Any) -> bool:
    """True when `version`'s major part equals `API_VERSION`'s."""
    return str(version).split(".")[0] == API_VERSION.split(".")[0]


def check_plugin_class(cls: Any) -> list[str]:
    """What keeps `cls` from being a plugin, in words; an empty list when it is one."""
    if not isinstance(cls, type):
        return [f"{cls!r} is not a class"]
    problems = []
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.strip():
        problems.append("it has no `name` (a non-empty string class attribute)")
    provides = getattr(cls, "provides", None)
    if not isinstance(provides, (list, tuple)) or not all(isinstance(item, str) for item in provides):
        problems.append("`provides` must be a list of capability names")
    for method in ("start", "stop"):
        if not callable(getattr(cls, method, None)):
            problems.append(f"it has no `{method}()` method")
    version = getattr(cls, "api_version", API_VERSION)
    if not api_compatible(version):
        problems.append(f"api_version {version!r} is not compatible with Nuvom's plugin API {API_VERSION}")
    return problems


CO_VARARGS = 0x04  # inspect.CO_VARARGS, without importing inspect (slow) on a host's way to ready


def takes_arguments(method: Any) -> bool:
    """Whether `method` takes a positional argument (besides self) or *args."""
    function = getattr(method, "__func__", method)
    code = getattr(function, "__code__", None)
    if code is None:  # a builtin or callable object: ask inspect
        import inspect

        try:
            return bool(inspect.signature(method).parameters)
        except (TypeError, ValueError):
            return True
    bound = 1 if function is not method else 0
    return code.co_argcount - bound > 0 or bool(code.co_flags & CO_VARARGS)


def call_start(plugin: Any, settings: dict[str, Any]) -> None:
    """`plugin.start(settings)`, or `plugin.start()` for a plugin written without the argument."""
    if takes_arguments(plugin.start):
        plugin.start(settings)
    else:
        plugin.start()
