"""`nuvom plugin test/list/inspect/scaffold` as a user runs them: real subprocesses and hosts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import PROJECT_ROOT, wait_until

MISBEHAVING = "examples.plugins.misbehaving.plugins"
START_REASONS = {
    "raise": "start() raised RuntimeError: this plugin raises on purpose",
    "hang": "start() timed out after 1 s",
    "gil": "start() timed out after 1 s",
    "segfault": "host died during start(): killed by SIGSEGV",
    "exit": "host died during start(): exited with code 3",
    "sysexit": "the plugin called sys.exit(0) during start()",
    "print": "start() raised RuntimeError: printed 64 MiB, then failed",
    "missing": "ModuleNotFoundError: No module named 'nuvom_dependency_that_does_not_exist'",
}
CALL_REASONS = {  # qsize() misbehaves: the first contract step that calls it fails
    "raise": "RuntimeError: this plugin raises on purpose",
    "hang": "qsize() got no answer within 1 s",
    "gil": "qsize() got no answer within 1 s",
    "segfault": "host died: killed by SIGSEGV (segmentation fault)",
    "exit": "host died: exited with code 3",
    "sysexit": "the plugin called sys.exit(0) during invoke()",
    "print": "RuntimeError: printed 64 MiB, then failed",
}


def nuvom(*args: str, cwd=None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "nuvom.cli.main", *args], capture_output=True, text=True, env=env,
        timeout=timeout, cwd=cwd, start_new_session=True,
    )


def write_config(directory, toml: str) -> None:
    (directory / ".nuvom_plugins.toml").write_text(textwrap.dedent(toml))


def step_rows(output: str) -> list[list[str]]:
    """[mark, milliseconds, "ms", plugin, step and detail] per step line of `nuvom plugin test`."""
    return [line.split(None, 4) for line in output.splitlines() if line.startswith(("ok  ", "FAIL"))]


def test_scaffolded_plugin_passes_its_own_test_isolated_and_in_process(tmp_path):
    made = nuvom("plugin", "scaffold", "my_store", "-c", "queue_backend", "-c", "result_backend", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "plugins" / "my_store.py").is_file() and (tmp_path / ".nuvom_plugins.toml").is_file()
    for target, flags in (("my_store", ["--isolated"]), ("plugins/my_store.py", ["--isolated"]), ("my_store", [])):
        result = nuvom("plugin", "test", target, *flags, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        steps = [row[4] for row in step_rows(result.stdout)]
        assert any("queue backend 'my_store': fifo" in step for step in steps)
        assert any("result backend 'my_store': list_jobs" in step for step in steps)
        if flags:  # an isolated run lists every sandbox layer of the host that ran the test
            assert any(step.startswith("sandbox landlock_fs") for step in steps), steps
            assert any(step.startswith("sandbox seccomp") for step in steps)
        assert all(row[0] == "ok" for row in step_rows(result.stdout))


def test_scaffold_refuses_a_bad_name_and_an_existing_file(tmp_path):
    bad = nuvom("plugin", "scaffold", "My-Store", cwd=tmp_path)
    assert bad.returncode == 1 and "not a valid plugin name" in bad.stderr
    assert nuvom("plugin", "scaffold", "hook", cwd=tmp_path).returncode == 0
    again = nuvom("plugin", "scaffold", "hook", cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr


@pytest.mark.parametrize("target", [
    "examples.plugins.sqlite_queue",  # a module path, class found statically
    "examples.plugins.file_results:ResultsPlugin",  # module:Class
])
def test_plugin_test_isolated_passes_on_the_good_examples(target, tmp_path):
    write_config(tmp_path, """
        [plugin.my_queue]
        write_paths = ["."]
        [plugin.file_results]
        write_paths = ["."]
    """)
    result = nuvom("plugin", "test", target, "--isolated", cwd=tmp_path)  # their files land in tmp_path
    assert result.returncode == 0, result.stdout + result.stderr
    rows = step_rows(result.stdout)
    assert rows[0][0] == "ok" and "start in a host" in result.stdout and rows[-1][4].startswith("stop()")
    assert "contract" not in result.stderr


@pytest.mark.parametrize("kind", sorted(START_REASONS))
def test_plugin_test_isolated_fails_with_the_reason_when_start_misbehaves(kind, tmp_path):
    write_config(tmp_path, f"""
        [plugins]
        queue_backend = ["{MISBEHAVING}:Bad{kind.title()}"]
        [plugin.bad_{kind}]
        start_timeout = 1
    """)
    result = nuvom("plugin", "test", f"bad_{kind}", "--isolated", "-p", str(tmp_path), cwd=PROJECT_ROOT)
    assert result.returncode == 1, result.stdout
    first = step_rows(result.stdout)[0]
    assert first[0] == "FAIL" and f"plugin 'bad_{kind}'" in result.stdout
    assert START_REASONS[kind] in result.stdout, result.stdout


@pytest.mark.parametrize("kind", sorted(CALL_REASONS))
def test_plugin_test_isolated_fails_with_the_reason_when_a_call_misbehaves(kind, tmp_path):
    write_config(tmp_path, f"""
        [plugins]
        queue_backend = ["{MISBEHAVING}:Bad{kind.title()}"]
        [plugin.bad_{kind}]
        settings = {{ when = "call" }}
        call_timeout = {1 if kind in ("hang", "gil") else 10}
        stop_timeout = 1
    """)
    result = nuvom("plugin", "test", f"bad_{kind}", "--isolated", "-p", str(tmp_path), cwd=PROJECT_ROOT)
    assert result.returncode == 1, result.stdout
    failed = [row for row in step_rows(result.stdout) if row[0] == "FAIL"]
    assert failed and "is empty" in failed[0][4], result.stdout
    assert CALL_REASONS[kind] in result.stdout, result.stdout


def test_a_missing_dependency_file_fails_with_the_import_error():
    result = nuvom("plugin", "test", "examples/plugins/misbehaving/missing_dependency.py", "--isolated",
                   cwd=PROJECT_ROOT)
    assert result.returncode == 1
    assert "loading the plugin raised ModuleNotFoundError" in result.stdout


def test_plugin_test_refuses_a_queue_that_holds_jobs(tmp_path):
    queue_file = tmp_path / "busy.db"
    write_config(tmp_path, f"""
        [plugins]
        queue_backend = ["examples.plugins.sqlite_queue:MyPlugin"]
        [plugin.my_queue]
        settings = {{ path = "{queue_file}" }}
        write_paths = ["{tmp_path}"]
    """)
    seed = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from examples.plugins import sqlite_queue
        from nuvom.job import Job
        sqlite_queue.DB_PATH["path"] = {str(queue_file)!r}
        sqlite_queue.MyQueue().enqueue(Job("precious"))
    """)], cwd=PROJECT_ROOT, timeout=30)
    assert seed.returncode == 0
    result = nuvom("plugin", "test", "my_queue", "--isolated", "-p", str(tmp_path), cwd=PROJECT_ROOT)
    assert result.returncode == 1 and "the queue holds 1 jobs" in result.stdout
    check = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from examples.plugins import sqlite_queue
        sqlite_queue.DB_PATH["path"] = {str(queue_file)!r}
        print(sqlite_queue.MyQueue().qsize())
    """)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30)
    assert check.stdout.strip() == "1", "plugin test consumed a job it was not given"


def test_unknown_target_is_one_clear_line(tmp_path):
    result = nuvom("plugin", "test", "no_such_plugin", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "neither a configured plugin name, a .py file nor an importable module" in result.stderr


def test_list_and_inspect_read_the_config_without_running_plugin_code(tmp_path):
    marker = tmp_path / "imported"
    (tmp_path / "watched.py").write_text(textwrap.dedent(f"""
        open({str(marker)!r}, "w").close()  # proves the module was imported
        from nuvom.plugins.contracts import Plugin
        class Watched(Plugin):
            name = "watched"
            provides = ["queue_backend"]
    """))
    write_config(tmp_path, """
        [plugins]
        queue_backend = ["watched:Watched"]
        [plugin.watched]
        settings = { path = "data.db", password = "hunter2", url = "redis://app:s3cret@db:6379/0" }
        start_timeout = 3
    """)
    listed = nuvom("plugin", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith("queue_backend"))
    assert row.split()[:4] == ["queue_backend", "watched", "watched:Watched", "process"]
    assert "configuration only" in listed.stdout
    shown = nuvom("plugin", "inspect", "watched", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "hunter2" not in shown.stdout and "s3cret" not in shown.stdout
    assert "password='********'" in shown.stdout and "redis://app:********@db:6379/0" in shown.stdout
    assert "path='data.db'" in shown.stdout and "start_timeout=3" in shown.stdout
    assert "not running" in shown.stdout
    assert "(probed now: what a host started on this machine gets)" in shown.stdout
    layers = [line.split()[:3] for line in shown.stdout.splitlines() if line.strip().startswith(("enforced", "NOT"))]
    names = {fields[1] if fields[0] == "enforced" else fields[2] for fields in layers}
    assert {"environment", "rlimit_data", "landlock_fs", "seccomp", "privileges"} <= names, shown.stdout
    assert not marker.exists(), "list/inspect imported the plugin's code"
    unknown = nuvom("plugin", "inspect", "nope", cwd=tmp_path)
    assert unknown.returncode == 1 and "configured: watched" in unknown.stderr


def test_list_and_inspect_show_a_running_workers_live_state_and_last_failure(tmp_path, processes):
    write_config(tmp_path, f"""
        [plugins]
        queue_backend = ["examples.plugins.sqlite_queue:MyPlugin", "{MISBEHAVING}:BadRaise"]
        [plugin.my_queue]
        settings = {{ path = "{tmp_path}/q.db" }}
        write_paths = ["{tmp_path}"]
    """)
    worker = processes.python("-m", "nuvom.cli.main", "runworker", cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state_file = tmp_path / ".nuvom" / "plugins.json"

    def published():
        try:
            plugins = json.loads(state_file.read_text())["plugins"]
        except (OSError, ValueError, KeyError):
            return None
        return plugins.get("my_queue", {}).get("state") == "running" and "bad_raise" in plugins and plugins

    plugins = wait_until(published, 20, "the worker did not publish its plugins' states")
    host_pid = plugins["my_queue"]["pid"]
    listed = nuvom("plugin", "list", cwd=tmp_path).stdout
    row = next(line.split() for line in listed.splitlines() if " my_queue " in line)
    assert row[4:7] == ["running", str(host_pid), "0"], listed
    assert f"live state from worker pid {worker.pid}" in listed
    failed = next(line.split() for line in listed.splitlines() if " bad_raise " in line)
    assert failed[4] == "failed"
    shown = nuvom("plugin", "inspect", "bad_raise", cwd=tmp_path).stdout
    assert "last failure" in shown and "start() raised RuntimeError: this plugin raises on purpose" in shown
    running = nuvom("plugin", "inspect", "my_queue", cwd=tmp_path).stdout
    assert f"running (pid {host_pid}" in running and "queue_backend 'my_custom_queue'" in running
    worker.send_signal(signal.SIGINT)
    assert worker.wait(timeout=20) == 0
    after = nuvom("plugin", "list", cwd=tmp_path).stdout
    assert "no worker running" in after
    assert not any(" running " in line for line in after.splitlines() if " my_queue " in line)
