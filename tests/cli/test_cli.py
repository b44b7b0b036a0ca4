"""The `nuvom` command as a user runs it: real subprocesses, output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nuvom.result_backends.sqlite import SQLiteResultBackend

from tests.conftest import PROJECT_ROOT


def nuvom(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    full_env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "nuvom.cli.main", *args], capture_output=True, text=True, env=full_env, timeout=30
    )


@pytest.fixture
def stored_jobs():
    results = SQLiteResultBackend()
    results.set_result("job-ok", "add", 12, args=[5, 7], attempts=1, completed_at=100.0)
    try:
        raise KeyError("missing")
    except KeyError as error:
        results.set_error("job-bad", "lookup", error, attempts=2, completed_at=200.0)


def test_help_lists_the_commands():
    result = nuvom("--help")
    assert result.returncode == 0
    for command in ("runworker", "inspect", "list", "config", "version"):
        assert command in result.stdout


def test_list_jobs_shows_newest_first_with_status(stored_jobs):
    result = nuvom("list", "jobs")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("job-")]
    assert rows[0].split()[:3] == ["job-bad", "lookup", "FAILED"] and "KeyError" in rows[0]
    assert rows[1].split()[:3] == ["job-ok", "add", "SUCCESS"]
    only_failed = nuvom("list", "jobs", "--status", "failed").stdout
    assert "job-bad" in only_failed and "job-ok" not in only_failed


def test_inspect_job_shows_the_error_and_traceback(stored_jobs):
    result = nuvom("inspect", "job", "job-bad")
    assert result.returncode == 0
    assert "FAILED" in result.stdout and "KeyError: 'missing'" in result.stdout
    assert "Traceback (most recent call last)" in result.stdout
    as_json = json.loads(nuvom("inspect", "job", "job-ok", "-f", "json").stdout)
    assert as_json["result"] == 12 and as_json["args"] == [5, 7]


@pytest.mark.parametrize(
    "args, env, code, message",
    [
        (["inspect", "job", "nope"], {}, 1, "error: no stored outcome for job 'nope'"),
        (["config"], {"NUVOM_BATCH_SIZE": "lots"}, 2, "error: NUVOM_BATCH_SIZE='lots' is not an integer"),
        (["runworker"], {"NUVOM_QUEUE_BACKEND": "kafka"}, 1, "error: unknown queue backend 'kafka'; known: memory, sqlite"),
        (["runworker", "--tasks", "no.such.module"], {}, 1, "error: cannot import task module 'no.such.module'"),
        (["inspect", "job", "x", "-f", "yaml"], {}, 1, "error: unknown format 'yaml'"),
    ],
)
def test_errors_are_one_line_without_a_traceback(args, env, code, message):
    result = nuvom(*args, env=env)
    assert result.returncode == code
    assert result.stderr.strip().startswith(message), result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
