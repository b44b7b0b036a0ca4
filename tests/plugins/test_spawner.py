"""Hosts forked from the zygote: fast, each on its own, and nothing lost when the zygote dies."""

from __future__ import annotations

import glob
import os
import signal
import socket
import sys
import tempfile

import pytest

import nuvom.plugins.spawner as spawner_module
import nuvom.plugins.supervisor as supervisor_module
from nuvom.plugins.spawner import Spawner, spawner

from tests.conftest import wait_until
from tests.plugins.conftest import SQLITE_QUEUE, alive, cmdline, parent_of

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the zygote is Linux-only")

QUEUE = SQLITE_QUEUE + "restart_backoff = 0.1\n"


def test_a_host_is_forked_by_the_zygote_in_its_own_session(project, tmp_path):
    manager = project(QUEUE.format(tmp=tmp_path))
    manager.start_all()  # the first host of a process may start directly, beside the zygote
    manager.stop_all()
    manager.start_all()
    host = manager.supervisors["my_queue"].pid
    zygote = parent_of(host)
    assert b"--zygote" in cmdline(zygote) and parent_of(zygote) == os.getpid()
    assert os.getsid(host) == host and os.getpgid(host) == host, "the host shares a session"
    with open(f"/proc/{host}/environ", "rb") as environ:
        names = {entry.split(b"=", 1)[0] for entry in environ.read().split(b"\0") if entry}
    assert names <= {b"PATH", b"LANG", b"PYTHONUNBUFFERED", b"TMPDIR"}, names


def test_when_the_zygote_dies_its_hosts_die_and_come_back_from_a_new_one(project, tmp_path):
    from nuvom.job import Job
    from nuvom.plugins.registry import REGISTRY

    manager = project(QUEUE.format(tmp=tmp_path))
    manager.start_all()
    manager.stop_all()
    manager.start_all()  # forked by the zygote (the first host of a process may not be)
    supervisor = manager.supervisors["my_queue"]
    first_host, zygote = supervisor.pid, parent_of(supervisor.pid)
    assert b"--zygote" in cmdline(zygote)
    os.kill(zygote, signal.SIGKILL)
    wait_until(lambda: not alive(first_host), 2, "a host outlived its zygote")
    wait_until(lambda: supervisor.state == "running" and supervisor.pid != first_host, 15, "the host did not come back")
    assert parent_of(supervisor.pid) not in (zygote, None), "the new host was not forked by a new zygote"
    assert "host died: killed by SIGKILL" in supervisor.last_failure["reason"]
    queue = REGISTRY.get("queue_backend", "my_custom_queue")()
    job = Job("after_the_zygote_died")
    queue.enqueue(job)
    assert queue.dequeue(timeout=2).id == job.id


def test_without_a_zygote_hosts_start_as_fresh_interpreters():
    fallback = Spawner()
    fallback._zygote_failed = True  # as on a platform without fork
    ours, theirs = socket.socketpair()
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "LANG": "C.UTF-8"}
    process = fallback.spawn_host([], env, theirs.fileno())
    theirs.close()
    try:
        assert parent_of(process.pid) == os.getpid() and b"--zygote" not in cmdline(process.pid)
        assert b"plugin_host" in cmdline(process.pid)
    finally:
        ours.close()  # the host sees the end of its channel and exits
        assert process.wait(10) == 0


def test_the_worker_spawner_is_one_long_lived_zygote_per_process(project, tmp_path):
    manager = project(QUEUE.format(tmp=tmp_path))
    manager.start_all()
    manager.stop_all()
    manager.start_all()
    zygote = parent_of(manager.supervisors["my_queue"].pid)
    manager.stop_all()
    manager.start_all()
    assert parent_of(manager.supervisors["my_queue"].pid) == zygote
    assert spawner._zygote is not None and spawner._zygote.process.pid == zygote


PRINTING = '''
from nuvom.plugins.contracts import Plugin

class Chatty(Plugin):
    name = "chatty"
    provides = ["lifecycle_hook"]

    def start(self, settings):
        print("hello from chatty")  # one line, no flush: the worker must still see it at once
'''


def test_a_forked_hosts_output_reaches_the_worker_line_by_line(project, tmp_path, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="nuvom.plugin.chatty")
    (tmp_path / "chatty.py").write_text(PRINTING)
    manager = project("""
        [plugins]
        lifecycle_hook = ["chatty:Chatty"]
    """)
    # the first host of a process starts as a fresh interpreter, later ones are forked: both must print at once
    for started in ("first start", "second start (forked by the zygote)"):
        caplog.clear()
        manager.start_all()
        wait_until(lambda: "plugin chatty: hello from chatty" in caplog.text, 3, f"{started}: the print did not arrive")
        assert manager.supervisors["chatty"].state == "running"
        manager.stop_all()


UNSPAWNABLE = '''
from nuvom.plugins.contracts import Plugin

class Unspawnable(Plugin):
    name = "unspawnable"
    provides = ["lifecycle_hook"]

    def start(self, settings):
        pass
'''


def test_a_host_that_cannot_be_spawned_fails_and_leaves_no_private_directory(project, tmp_path, monkeypatch):
    fallback = Spawner()
    fallback._zygote_failed = True  # straight to Popen, which finds no interpreter
    monkeypatch.setattr(supervisor_module, "spawner", fallback)
    monkeypatch.setattr(spawner_module, "HOST_INTERPRETER", (str(tmp_path / "no-such-python"),))
    (tmp_path / "unspawnable.py").write_text(UNSPAWNABLE)
    manager = project("""
        [plugins]
        lifecycle_hook = ["unspawnable:Unspawnable"]
    """)
    pattern = os.path.join(tempfile.gettempdir(), "nuvom-host-unspawnable-*")
    manager.start_all()  # a failure is kept in the plugin's state, never raised
    supervisor = manager.supervisors["unspawnable"]
    assert supervisor.state == "failed", supervisor.state
    assert "cannot start a host process" in supervisor.last_failure["reason"]
    assert not glob.glob(pattern), "the private directory of a host that never started remains"
