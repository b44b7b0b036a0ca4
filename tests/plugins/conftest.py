"""A project directory with a .nuvom_plugins.toml, and cleanup of every host a test started."""

from __future__ import annotations

import os
import signal
import textwrap

import pytest

from nuvom.plugins.discovery import load_plugin_specs
from nuvom.plugins.manager import PluginManager

SQLITE_QUEUE = """
    [plugins]
    queue_backend = ["examples.plugins.sqlite_queue:MyPlugin"]
    [plugin.my_queue]
    settings = {{ path = "{tmp}/q.db" }}
    write_paths = ["{tmp}"]
"""  # the example SQLite queue plugin, storing in {tmp}; append policy lines as needed


def host_pids() -> set[int]:
    """Every plugin host process on the machine (by command line)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if b"plugin_host" in cmdline.read():
                        pids.add(int(entry))
            except OSError:
                pass
    return pids


def cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read()
    except OSError:
        return b""


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(") ", 1)[1].split()[1])
    except (OSError, ValueError):
        return None


def worker_hosts(worker_pid: int) -> set[int]:
    """The plugin hosts of a worker: forked by its zygote, or (without one) its own children."""
    hosts = host_pids()
    children = {pid for pid in hosts if parent_of(pid) == worker_pid}
    zygotes = {pid for pid in children if b"--zygote" in cmdline(pid)}
    return (children - zygotes) | {pid for pid in hosts if parent_of(pid) in zygotes}


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


@pytest.fixture
def project(tmp_path):
    """write(toml_text) -> PluginManager for a project in tmp_path; every host is stopped at teardown."""
    managers = []

    def write(toml: str) -> PluginManager:
        (tmp_path / ".nuvom_plugins.toml").write_text(textwrap.dedent(toml))
        manager = PluginManager(load_plugin_specs(tmp_path))
        managers.append(manager)
        return manager

    yield write
    for manager in managers:
        manager.stop_all()
        for supervisor in manager.supervisors.values():
            if supervisor.pid and alive(supervisor.pid):
                os.killpg(supervisor.pid, signal.SIGKILL)
