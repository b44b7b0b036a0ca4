"""Hostile plugins, run as real hosts: denied under the default policy, allowed when it grants.

The test process plays the worker (it starts the hosts, holds the secret in its
environment, runs the TCP server the plugin phones home to). After the attacks a good
plugin and a built-in backend must still process jobs. Where this machine cannot enforce
a layer, the test checks that the host's report says so instead of passing silently.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import uuid

import pytest

from nuvom.job import Job
from nuvom.plugins.registry import REGISTRY
from nuvom.queue_backends.memory import MemoryJobQueue

from tests.conftest import wait_until
from tests.plugins.conftest import alive

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox layers are Linux-only")
GOOD_QUEUE = "examples.plugins.sqlite_queue:MyPlugin"
KINDS = ("env", "read", "write", "network", "memory", "fork", "worker", "grandchild")
GRANTS = {  # the policy lines that let each attempt succeed
    "env": 'env = ["NUVOM_TEST_SECRET"]',
    "read": 'read_paths = ["{secret_file}"]',
    "write": 'write_paths = ["{tmp}"]',
    "network": "network = true",
    "memory": "memory_mb = 4096",
    "fork": "subprocesses = true",
    "grandchild": "subprocesses = true",
}
LAYERS = {  # the layer that must stop each attempt: when it is not enforced, the report must say why
    "env": ["environment"], "read": ["landlock_fs"], "write": ["landlock_fs"],
    "network": ["network_namespace", "seccomp", "landlock_tcp"], "memory": ["rlimit_data"],
    "fork": ["seccomp"], "worker": ["landlock_scope", "seccomp"], "grandchild": ["seccomp"],
}


class Listener:
    """A TCP server on 127.0.0.1 that records what any client sends."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                self.received.append(connection.recv(4096))

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def attack(project, tmp_path, monkeypatch):
    """attack(kind, grant=False) -> (outcome dict, the supervisor) for one hostile plugin in a real host."""
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    monkeypatch.setenv("NUVOM_TEST_SECRET", secret)
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(secret)
    listener = Listener()
    state = {"secret": secret, "listener": listener, "tmp": tmp_path}

    def run(kind: str, grant: bool = False):
        title = kind.title()
        grant_line = GRANTS.get(kind, "").format(secret_file=secret_file, tmp=tmp_path) if grant else ""
        manager = project(f"""
            [plugins]
            result_backend = ["examples.hostile.plugins:Hostile{title}"]
            queue_backend = ["{GOOD_QUEUE}"]

            [plugin.hostile_{kind}]
            settings = {{ secret_name = "NUVOM_TEST_SECRET", worker_pid = {os.getpid()}, secret_file = "{secret_file}", target_file = "{tmp_path}/written.txt", port = {listener.port}, allocate_mb = 768, children = 20 }}
            start_timeout = 5
            call_timeout = 10
            {grant_line}

            [plugin.my_queue]
            settings = {{ path = "{tmp_path}/good.db" }}
            write_paths = ["{tmp_path}"]
        """)
        manager.start_all()
        supervisor = manager.supervisors[f"hostile_{kind}"]
        assert supervisor.state == "running", supervisor.last_failure
        outcome = REGISTRY.get("result_backend", f"hostile_{kind}")().get_result("attempt")
        state["manager"] = manager
        return outcome, supervisor

    yield run, state
    listener.close()


def layers_of(supervisor) -> dict[str, dict]:
    return {layer["name"]: layer for layer in supervisor.sandbox}


def the_worker_still_works() -> None:
    queue = REGISTRY.get("queue_backend", "my_custom_queue")()
    job = Job("after_the_attack")
    queue.enqueue(job)
    assert queue.dequeue(timeout=2).id == job.id, "the good plugin stopped working"
    builtin = MemoryJobQueue()
    builtin.enqueue(job)
    assert builtin.pop_batch(1, 0)[0].id == job.id


@pytest.mark.parametrize("kind", KINDS)
def test_the_default_policy_contains_each_hostile_plugin(kind, attack):
    run, state = attack
    outcome, supervisor = run(kind)
    layers = layers_of(supervisor)
    enforcing = [name for name in LAYERS[kind] if layers.get(name, {}).get("enforced")]
    if not enforcing:  # this machine cannot stop it: the report must say so, in words
        for name in LAYERS[kind]:
            assert name in layers and layers[name]["detail"], f"layer {name} is missing from the report"
        pytest.skip(f"no layer against {kind} on this machine: " + "; ".join(
            f"{n}: {layers[n]['detail']}" for n in LAYERS[kind]))
    assert outcome["outcome"] == "denied", outcome
    assert state["secret"] not in str(outcome), "the secret left the worker"
    if kind == "network":
        assert state["listener"].received == [], "the plugin reached the test's server"
    if kind == "write":
        assert not (state["tmp"] / "written.txt").exists()
    assert supervisor.state == "running", "a denied attempt should not kill the host"
    the_worker_still_works()


@pytest.mark.parametrize("kind", sorted(GRANTS))
def test_the_same_plugin_succeeds_when_its_policy_grants_the_access(kind, attack):
    run, state = attack
    outcome, supervisor = run(kind, grant=True)
    assert outcome["outcome"] == "succeeded", outcome
    if kind in ("env", "read"):
        assert outcome["detail"] == state["secret"]
    if kind == "network":
        wait_until(lambda: state["listener"].received, 5, "the server got nothing")
        assert state["listener"].received == [b"stolen: "], "only granted variables reach the host"
    if kind == "write":
        assert (state["tmp"] / "written.txt").read_text() == "written by a hostile plugin"
    the_worker_still_works()
    if kind == "grandchild":
        grandchild = outcome["detail"]
        assert alive(grandchild), "the grandchild did not start"
        state["manager"].stop_all()
        wait_until(lambda: not alive(grandchild), 5, "a detached grandchild outlived its host")


def test_the_process_that_starts_hosts_is_not_dumpable(attack):
    import ctypes

    run, _ = attack
    outcome, _ = run("env")
    PR_GET_DUMPABLE = 3
    assert ctypes.CDLL(None, use_errno=True).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, (
        "a host of the same user could read this process's /proc/<pid>/environ"
    )
    assert outcome["outcome"] == "denied" and "environ" in outcome["detail"] or "not in it" in outcome["detail"]


def test_strict_refuses_a_plugin_whose_sandbox_is_not_fully_enforced(project, tmp_path):
    from nuvom.plugins.supervisor import probe_sandbox

    manager = project("""
        [plugins]
        result_backend = ["examples.hostile.plugins:HostileEnv"]
        [plugin.hostile_env]
        strict = true
        start_timeout = 5
    """)
    layers = probe_sandbox(manager.specs["hostile_env"])
    missing = [layer for layer in layers if not layer["enforced"] and not layer["detail"].startswith("not requested")]
    manager.start_all()
    supervisor = manager.supervisors["hostile_env"]
    if not missing:
        assert supervisor.state == "running", supervisor.last_failure
        pytest.skip("every layer is enforced on this machine: strict has nothing to refuse")
    assert supervisor.state == "failed"
    reason = supervisor.last_failure["reason"]
    assert "strict = true and the sandbox is not fully enforced, so the plugin was not loaded" in reason
    assert all(f"{layer['name']}: " in reason for layer in missing), reason
    assert "examples.hostile" not in " ".join(supervisor.stderr_tail), "plugin code ran before the refusal"


def test_running_out_of_memory_is_reported_with_the_limit_and_the_host_survives(project):
    from nuvom.ipc import RemoteError

    manager = project("""
        [plugins]
        result_backend = ["examples.hostile.plugins:HostileMemory"]
        [plugin.hostile_memory]
        settings = { allocate_mb = 1024, catch = false }
        memory_mb = 300
    """)
    manager.start_all()
    backend = REGISTRY.get("result_backend", "hostile_memory")()
    with pytest.raises(RemoteError, match=r"ran out of its memory limit of 300 MiB \(memory_mb\) during invoke"):
        backend.get_result("attempt")
    assert manager.supervisors["hostile_memory"].state == "running"
    assert backend.get_full("nothing") is None, "the host stopped answering after running out of memory"


def test_a_root_worker_never_gives_a_host_root_powers_and_the_report_says_which_way(attack):
    from nuvom.sandbox.profile import unreadable_by_others

    run, _ = attack
    _, supervisor = run("worker")
    layer = layers_of(supervisor)["privileges"]
    with open(f"/proc/{supervisor.pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status.read().splitlines() if ":" in line)
    if os.geteuid() != 0:
        assert layer["enforced"] and "unprivileged already" in layer["detail"]
        return
    assert int(fields["CapEff"].strip(), 16) == 0 and int(fields["CapBnd"].strip(), 16) == 0, fields["CapEff"]
    blocked = unreadable_by_others([sys.prefix, sys.base_prefix])
    if blocked:  # nobody cannot run this Python: root without capabilities, and said so
        assert not layer["enforced"]
        assert f"uid 65534 could not read {blocked[0]}" in layer["detail"] and "no capabilities" in layer["detail"]
        assert fields["Uid"].split()[0] == "0"
    else:
        assert layer["enforced"] and fields["Uid"].split()[0] != "0", layer


def test_a_plugin_that_burns_its_cpu_budget_is_killed_and_the_report_names_the_limit(project):
    manager = project("""
        [plugins]
        queue_backend = ["examples.plugins.misbehaving.plugins:BadGil"]
        [plugin.bad_gil]
        cpu_seconds = 1
        start_timeout = 20
    """)
    started = time.monotonic()
    manager.start_all()
    supervisor = manager.supervisors["bad_gil"]
    assert supervisor.state == "failed"
    reason = supervisor.last_failure["reason"]
    assert "host died during start(): killed by SIGXCPU: CPU time limit of 1 s reached" in reason
    assert time.monotonic() - started < 10, "the CPU limit did not end the host long before start_timeout"
