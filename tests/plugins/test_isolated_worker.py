"""`nuvom runworker` with its queue and result backends in plugin hosts: real processes throughout."""

from __future__ import annotations

import os
import signal
import textwrap

import pytest

from nuvom.plugins.manager import get_manager
from nuvom.plugins.state import read_state
from nuvom.result_store import get_backend

from tests.conftest import wait_until
from tests.plugins.conftest import alive, parent_of, worker_hosts
from tests.plugins import plugin_tasks

WORKER = ["-m", "nuvom.cli.main", "runworker", "--tasks", "tests.plugins.plugin_tasks"]


@pytest.fixture
def isolated_project(tmp_path, monkeypatch):
    (tmp_path / ".nuvom_plugins.toml").write_text(textwrap.dedent(f"""
        [plugins]
        queue_backend = ["examples.plugins.sqlite_queue:MyPlugin"]
        result_backend = ["examples.plugins.file_results:ResultsPlugin"]

        [plugin.my_queue]
        settings = {{ path = "{tmp_path}/plugin-queue.db" }}
        write_paths = ["{tmp_path}"]
        start_timeout = 10
        restart_backoff = 0.1

        [plugin.file_results]
        settings = {{ path = "{tmp_path}/plugin-results.db", stop_marker = "{tmp_path}/stopped" }}
        write_paths = ["{tmp_path}"]
        start_timeout = 10
    """))
    monkeypatch.setenv("NUVOM_QUEUE_BACKEND", "my_custom_queue")
    monkeypatch.setenv("NUVOM_RESULT_BACKEND", "file_results")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    from nuvom.config import reload_settings

    reload_settings()
    yield tmp_path
    from nuvom.plugins.manager import stop_managers

    stop_managers()  # the hosts this test process started lazily as a producer


def finished(job_ids) -> int:
    results = get_backend()
    return sum(1 for job_id in job_ids if results.get_full(job_id))


def test_a_worker_runs_1000_jobs_through_plugin_hosted_backends(isolated_project, processes):
    jobs = plugin_tasks.double.map([(i,) for i in range(1000)])  # this producer starts my_queue lazily
    worker = processes.python(*WORKER)
    wait_until(lambda: finished([job.id for job in jobs]) == 1000, 60, "not every job finished")
    results = get_backend()
    assert all(results.get_result(job.id) == 2 * job.args[0] for job in jobs)
    worker.send_signal(signal.SIGINT)
    assert worker.wait(timeout=20) == 0


def test_sigint_calls_every_stop_and_leaves_no_host(isolated_project, processes):
    worker = processes.python(*WORKER)
    hosts = wait_until(lambda: len(worker_hosts(worker.pid)) == 2 and worker_hosts(worker.pid), 20, "hosts did not start")
    worker.send_signal(signal.SIGINT)
    assert worker.wait(timeout=20) == 0
    assert (isolated_project / "stopped").read_text() == "stopped", "file_results' stop() did not run"
    assert not any(alive(pid) for pid in hosts), "a host outlived the worker's shutdown"


def test_sigkill_of_the_worker_leaves_no_host_after_2_seconds(isolated_project, processes):
    worker = processes.python(*WORKER)
    hosts = wait_until(lambda: len(worker_hosts(worker.pid)) == 2 and worker_hosts(worker.pid), 20, "hosts did not start")
    zygotes = {parent_of(pid) for pid in hosts} - {worker.pid}
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=5)
    wait_until(lambda: not any(alive(pid) for pid in hosts | zygotes), 2, "hosts or their zygote survived the worker")


def host_tmpdirs(project) -> dict[str, str]:
    """Each running plugin's private temporary directory, from the worker's state file."""
    plugins = (read_state(project) or {}).get("plugins", {})
    return {name: layer["detail"] for name, status in plugins.items() if status["state"] == "running"
            for layer in status.get("sandbox") or [] if layer["name"] == "private_tmp" and layer["enforced"]}


def test_the_private_directories_of_a_killed_worker_are_removed_by_the_next_start(isolated_project, processes):
    """SIGKILL leaves the worker no chance to remove its hosts' directories: the next start does, not before."""
    worker = processes.python(*WORKER)
    theirs = wait_until(lambda: len(host_tmpdirs(isolated_project)) == 2 and host_tmpdirs(isolated_project), 20,
                        "hosts did not start")
    hosts = worker_hosts(worker.pid)
    manager = get_manager(".")
    manager.start_all()  # another owner's start while the worker lives: its directories are in use
    ours = {name: supervisor._host_tmpdir for name, supervisor in manager.supervisors.items()}
    assert all(os.path.isdir(path) for path in theirs.values()), "a live worker's directory was removed"
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=5)
    wait_until(lambda: not any(alive(pid) for pid in hosts), 2, "hosts survived the worker")
    manager.stop_all()
    manager.start_all()
    assert not [path for path in theirs.values() if os.path.exists(path)], "the killed worker's directories remain"
    assert all(supervisor.state == "running" for supervisor in manager.supervisors.values())
    manager.stop_all()
    assert not [path for path in ours.values() if os.path.exists(path)], "a stopped host's directory remains"


def test_a_host_killed_mid_run_is_restarted_and_work_resumes(isolated_project, processes):
    first = plugin_tasks.double.map([(i,) for i in range(50)])
    worker = processes.python(*WORKER)
    wait_until(lambda: finished([job.id for job in first]) == 50, 30, "the first jobs did not finish")
    killed = worker_hosts(worker.pid)
    for pid in killed:
        os.kill(pid, signal.SIGKILL)  # both hosts die mid-run
    wait_until(lambda: len(worker_hosts(worker.pid) - killed) == 2, 15, "the killed hosts were not restarted")
    second = plugin_tasks.double.map([(i,) for i in range(50, 100)])
    wait_until(lambda: finished([job.id for job in second]) == 50, 30, "work did not resume after the restart")
    worker.send_signal(signal.SIGINT)
    assert worker.wait(timeout=20) == 0
