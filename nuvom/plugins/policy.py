"""Per-plugin isolation policy: the `[plugin.NAME]` tables of `.nuvom_plugins.toml`.

Defaults are safe: isolated in its own process, timeouts on every phase, bounded
restarts, and a sandbox (`docs/security.md`): a scrubbed environment, 512 MiB of
memory, no network, no subprocesses, read access only to Python and the plugin's code,
write access only to a private temporary directory. Every key is checked: an unknown
key or a wrong type is a `PluginConfigError` naming the plugin, the key and what is
expected.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nuvom.sandbox.profile import SandboxProfile


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
    memory_mb: int = 512  # RLIMIT_DATA of the host; 0 = no cap
    max_open_files: int = 256
    max_file_mb: int = 1024  # largest file the host may write; 0 = no cap
    max_processes: int = 0  # RLIMIT_NPROC (counts the host user's processes system-wide); 0 = not set
    cpu_seconds: int = 0  # CPU time over the host's life, then SIGXCPU; 0 = no cap
    network: bool = False  # sockets other than the RPC channel
    subprocesses: bool = False  # fork/exec
    read_paths: tuple[str, ...] = ()  # besides Python and the plugin's code; relative to the project
    write_paths: tuple[str, ...] = ()  # besides a private temporary directory; relative to the project
    run_as: str = "nobody"  # when the worker runs as root; "root" keeps uid 0 without capabilities
    strict: bool = False  # refuse to start the plugin when a sandbox layer cannot be enforced


_CHOICES = {"isolation": ("process", "inprocess"), "restart": ("on-failure", "never"), "run_as": ("nobody", "root")}


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


def sandbox_profile(
    policy: Policy, project_dir: str, code_paths: list[str], environment: list[str], private_tmp: str = ""
) -> "SandboxProfile":
    """What the host enforces for `policy`: relative paths are the project's; the code stays readable."""
    from nuvom.sandbox.profile import SandboxProfile

    def absolute(paths: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(os.path.normpath(os.path.join(project_dir, path)) for path in paths)

    return SandboxProfile(
        memory_mb=policy.memory_mb or None,
        max_open_files=policy.max_open_files,
        max_file_mb=policy.max_file_mb or None,
        max_processes=policy.max_processes or None,
        cpu_seconds=policy.cpu_seconds or None,
        network=policy.network,
        subprocesses=policy.subprocesses,
        read_paths=tuple(dict.fromkeys([*code_paths, *absolute(policy.read_paths)])),
        write_paths=absolute(policy.write_paths),
        run_as=policy.run_as,
        environment=tuple(environment),
        strict=policy.strict,
        private_tmp=private_tmp,
    )
