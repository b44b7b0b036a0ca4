"""Each misbehaving plugin, in start() and during a call, is contained and reported in words."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import pytest

import nuvom.plugins.supervisor as supervisor_module
from nuvom.job import Job
from nuvom.plugins.registry import REGISTRY
from nuvom.plugins.supervisor import PluginCallTimeout, PluginUnavailableError
from nuvom.queue_backends.memory import MemoryJobQueue

from tests.conftest import wait_until
from tests.plugins.conftest import SQLITE_QUEUE, alive

START_FAILURES = {
    "raise": "start() raised RuntimeError: this plugin raises on purpose",
    "hang": "start() timed out after 1 s",
    "gil": "start() timed out after 1 s",
    "segfault": "host died during start(): killed by SIGSEGV (segmentation fault)",
    "exit": "host died during start(): exited with code 3",
    "print": "start() raised RuntimeError: printed 64 MiB, then failed",
    "missing": "start() raised ModuleNotFoundError: No module named 'nuvom_dependency_that_does_not_exist'",
}
CALL_FAILURES = {
    "raise": "RuntimeError: this plugin raises on purpose",
    "hang": r"my_custom_queue|bad_hang\.qsize\(\) got no answer within 1 s",
    "gil": "did not answer a health check within 1 s",
    "segfault": "killed by SIGSEGV",
    "exit": "exited with code 3",
    "print": "RuntimeError: printed 64 MiB, then failed",
}
TOML = """
[plugins]
queue_backend = ["examples.plugins.misbehaving.plugins:Bad{title}", "examples.plugins.sqlite_queue:MyPlugin"]

[plugin.bad_{kind}]
settings = {{ when = "{when}" }}
start_timeout = 1
call_timeout = 1
health_interval = 0.5
max_restarts = 0

[plugin.my_queue]
settings = {{ path = "{tmp}/good.db" }}
write_paths = ["{tmp}"]
"""


def good_neighbours_still_work() -> None:
    queue = REGISTRY.get("queue_backend", "my_custom_queue")()
    job = Job("t")
    queue.enqueue(job)
    assert queue.dequeue(timeout=1).id == job.id
    builtin = MemoryJobQueue()
    builtin.enqueue(job)
    assert builtin.qsize() == 1


@pytest.mark.parametrize("kind", sorted(START_FAILURES))
def test_a_plugin_misbehaving_in_start_is_reported_and_contained(kind, project, tmp_path, caplog):
    manager = project(TOML.format(kind=kind, title=kind.title(), when="start", tmp=tmp_path))
    started = time.monotonic()
    manager.start_all()
    elapsed = time.monotonic() - started
    bad = manager.supervisors[f"bad_{kind}"]
    assert bad.state == "failed"
    assert START_FAILURES[kind] in bad.last_failure["reason"]
    assert f"plugin 'bad_{kind}'" in bad.last_failure["reason"]
    assert elapsed < 1 + 1 + 1.5, f"the failure took {elapsed:.1f} s to report"
    assert manager.supervisors["my_queue"].state == "running"
    good_neighbours_still_work()
    assert any(f"bad_{kind}" in record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR)


@pytest.mark.parametrize("kind", sorted(CALL_FAILURES))
def test_a_plugin_misbehaving_during_a_call_is_reported_and_contained(kind, project, tmp_path):
    import re

    manager = project(TOML.format(kind=kind, title=kind.title(), when="call", tmp=tmp_path))
    manager.start_all()
    bad = manager.supervisors[f"bad_{kind}"]
    assert bad.state == "running", bad.last_failure
    queue = REGISTRY.get("queue_backend", f"bad_{kind}")()
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        queue.qsize()
    assert time.monotonic() - started < 1 + 1
    if kind in ("raise", "print", "hang"):
        assert re.search(CALL_FAILURES[kind], str(caught.value)), caught.value
        assert bad.state == "running", "a plugin that answers its health checks must keep running"
    else:
        expected = PluginCallTimeout if kind == "gil" else PluginUnavailableError
        assert isinstance(caught.value, expected), repr(caught.value)
        wait_until(lambda: bad.state == "failed", 4, f"bad_{kind} was not marked failed")
        assert re.search(CALL_FAILURES[kind], bad.last_failure["reason"]), bad.last_failure["reason"]
        with pytest.raises(PluginUnavailableError, match=f"plugin 'bad_{kind}' is failed"):
            queue.qsize()
    good_neighbours_still_work()


def test_a_missing_dependency_at_import_is_reported_with_the_hosts_traceback(project, tmp_path):
    manager = project("""
        [plugins]
        queue_backend = ["examples.plugins.misbehaving.missing_dependency:NeedsMissingPackage"]
        [plugin.needs_missing_package]
        max_restarts = 0
    """)
    manager.start_all()
    failure = manager.supervisors["needs_missing_package"].last_failure["reason"]
    assert "loading the plugin raised ModuleNotFoundError: No module named 'nuvom_dependency_that_does_not_exist'" in failure
    assert "missing_dependency.py" in failure and "Traceback" in failure


def test_a_host_that_keeps_dying_ends_up_failed_with_the_reason(project, tmp_path):
    manager = project(SQLITE_QUEUE.format(tmp=tmp_path) + "max_restarts = 1\nrestart_backoff = 0.05\n")
    manager.start_all()
    supervisor = manager.supervisors["my_queue"]
    first = supervisor.pid
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: supervisor.state == "running" and supervisor.pid != first, 10, "not restarted")
    queue = REGISTRY.get("queue_backend", "my_custom_queue")()
    queue.enqueue(Job("t"))
    assert queue.qsize() == 1, "the restarted plugin does not serve calls"
    os.kill(supervisor.pid, signal.SIGKILL)
    wait_until(lambda: supervisor.state == "failed", 5, "a plugin past max_restarts did not stay failed")
    assert supervisor.restarts == 1
    assert "host died: killed by SIGKILL" in supervisor.last_failure["reason"]
    with pytest.raises(PluginUnavailableError, match="plugin 'my_queue' is failed: host died"):
        queue.qsize()


def test_a_plugin_cannot_take_over_a_name_someone_else_provides(project, tmp_path, caplog):
    from nuvom.queue_backends.sqlite import SQLiteJobQueue

    (tmp_path / "hijack.py").write_text(
        "from nuvom.plugins.contracts import Plugin\n"
        "from nuvom.queue_backends.memory import MemoryJobQueue\n"
        "class Hijack(Plugin):\n"
        "    name = 'hijack'\n"
        "    provides = ['queue_backend']\n"
        "    def start(self, settings):\n"
        "        from nuvom.plugins.registry import register_queue_backend\n"
        "        register_queue_backend('sqlite', MemoryJobQueue, override=True)\n"
    )
    manager = project("""
        [plugins]
        queue_backend = ["hijack.py:Hijack"]
    """)
    manager.start_all()
    assert manager.supervisors["hijack"].state == "running"
    assert REGISTRY.get("queue_backend", "sqlite") is SQLiteJobQueue
    assert "plugin hijack tried to register queue backend 'sqlite', which is already provided by SQLiteJobQueue" in caplog.text


def test_stop_during_a_restart_leaves_no_host_running(project, tmp_path, monkeypatch):
    """stop() that comes while a restart is spawning sees the dead host, not the new one: the restart ends it."""
    manager = project(SQLITE_QUEUE.format(tmp=tmp_path) + "restart_backoff = 0.01\n")
    manager.start_all()
    supervisor = manager.supervisors["my_queue"]
    real_spawner, spawning, stopped, spawned = supervisor_module.spawner, threading.Event(), threading.Event(), []

    class HeldSpawner:
        def spawn_host(self, *args):
            spawning.set()
            stopped.wait(5)
            spawned.append(real_spawner.spawn_host(*args))
            return spawned[-1]

    monkeypatch.setattr(supervisor_module, "spawner", HeldSpawner())
    os.kill(supervisor.pid, signal.SIGKILL)
    wait_until(spawning.is_set, 5, "no restart began")
    supervisor.stop()
    stopped.set()
    wait_until(lambda: spawned, 5, "the held restart did not spawn")
    wait_until(lambda: not alive(spawned[0].pid), 5, "a host started by a restart outlived stop()")
    wait_until(lambda: supervisor.state == "stopped", 5, f"state is {supervisor.state} after stop()")
