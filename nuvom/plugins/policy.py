"""Per-plugin isolation policy: the `[plugin.NAME]` tables of `.nuvom_plugins.toml`.

Defaults are safe: isolated in its own process, timeouts on every phase, bounded
restarts. (The sandbox issue adds the environment, memory, network and filesystem
layers.) Every key is checked: an unknown key or a wrong type is a
`PluginConfigError` naming the plugin, the key and what is expected.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


class PluginConfigError(ValueError):
    """The plugin configuration is wrong; the message lists every problem, one per line."""


@dataclass(frozen=True)
class Policy:
    isolation: str = "process"  # or "inprocess": a trusted plugin, loaded the upstream way
    start_timeout: float = 10.0
    call_timeout: float = 30.0
    stop_timeout: float = 5.0
    health_interval: float = 5.0
    restart: str = "on-failure"  # or "never"
    max_restarts: int = 3
    restart_backoff: float = 1.0  # doubles after each restart
    env: tuple[str, ...] = ()  # worker environment variables passed to the host


_CHOICES = {"isolation": ("process", "inprocess"), "restart": ("on-failure", "never")}


def parse_policy(plugin: str, table: dict[str, Any]) -> tuple[Policy, dict[str, Any], list[str]]:
    """(policy, settings, problems) from one `[plugin.NAME]` table."""
    problems: list[str] = []
    fields = {field.name: field for field in dataclasses.fields(Policy)}
    values: dict[str, Any] = {}
    settings = table.get("settings", {})
    if not isinstance(settings, dict):
        problems.append(f"plugin {plugin!r}: `settings` must be a table, got {type(settings).__name__}")
        settings = {}
    for key, value in table.items():
        if key == "settings":
            continue
        if key not in fields:
            problems.append(
                f"plugin {plugin!r}: unknown key {key!r}; valid keys: settings, {', '.join(fields)}"
            )
            continue
        default = fields[key].default
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                problems.append(f"plugin {plugin!r}: {key} must be a list of strings")
                continue
            value = tuple(value)
        elif isinstance(default, bool) or isinstance(default, str):
            if type(value) is not type(default):
                problems.append(f"plugin {plugin!r}: {key} must be a {type(default).__name__}, got {value!r}")
                continue
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.append(f"plugin {plugin!r}: {key} must be a number >= 0, got {value!r}")
            continue
        if key in _CHOICES and value not in _CHOICES[key]:
            problems.append(f"plugin {plugin!r}: {key} must be one of {', '.join(_CHOICES[key])}, got {value!r}")
            continue
        values[key] = int(value) if isinstance(default, int) and not isinstance(default, bool) else value
    return Policy(**values), settings, problems
