"""Shared fixtures: an isolated working directory and settings per test, and process cleanup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from nuvom.config import reload_settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_nuvom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Every test runs in its own directory with its own SQLite files and fresh settings."""
    for name in list(os.environ):
        if name.startswith("NUVOM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NUVOM_SQLITE_QUEUE_PATH", str(tmp_path / "queue.db"))
    monkeypatch.setenv("NUVOM_SQLITE_DB_PATH", str(tmp_path / "result.db"))
    reload_settings()
    from nuvom.queue import reset_backends

    reset_backends()
    yield
    from nuvom.plugins.manager import stop_managers

    stop_managers()  # hosts a test started lazily through the registry belong to its project only
    reset_backends()
    monkeypatch.undo()  # back to the original directory and variables before re-reading them
    reload_settings()


def wait_until(condition: Callable[[], object], timeout: float, message: str, interval: float = 0.02):
    """Poll `condition` until it is truthy; fail the test with `message` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"{message} (waited {timeout} s)")
        time.sleep(interval)


class Processes:
    """Starts subprocesses in their own process groups and kills every group at teardown."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, args: list[str], **kwargs) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), os.getcwd()])}
        env.update(kwargs.pop("env", {}))
        process = subprocess.Popen(args, start_new_session=True, env=env, **kwargs)
        self.started.append(process)
        return process

    def python(self, *args: str, **kwargs) -> subprocess.Popen:
        return self.start([sys.executable, *args], **kwargs)

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


@pytest.fixture
def processes():
    registry = Processes()
    yield registry
    registry.kill_all()
