"""Helpers the runnable examples share: start a real worker, print outcomes, stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from nuvom.job import Job
from nuvom.sdk import JobFailedError, wait_for_result

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def worker_environment() -> dict[str, str]:
    """This environment, with the repository on PYTHONPATH so `examples.*` imports from any directory."""
    path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def start_worker(cwd: Path, log_path: Path, tasks: str = "examples.quickstart.tasks") -> subprocess.Popen:
    """`nuvom runworker` as a subprocess in its own session, its output in `log_path`."""
    env = worker_environment()
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "nuvom.cli.main", "runworker", "--tasks", tasks],
            cwd=cwd, env=env, start_new_session=True, stdout=log_file, stderr=subprocess.STDOUT,
        )


def print_outcomes(jobs: list[Job], deadline_secs: float, expected_failures: set[str]) -> bool:
    """Wait (with a deadline) for each job and print its outcome; True when all are as expected."""
    ok = True
    deadline = time.monotonic() + deadline_secs
    for job in jobs:
        label = f"{job.func_name}({', '.join(map(repr, job.args))})"[:44]
        try:
            result = wait_for_result(job.id, timeout=max(0.1, deadline - time.monotonic()))
            print(f"  {label:44} -> {result!r}")
        except JobFailedError as failed:
            print(f"  {label:44} -> FAILED: {failed.error['type']}: {failed.error['message']}")
            ok = ok and job.func_name in expected_failures
        except TimeoutError:
            print(f"  {label:44} -> no result within {deadline_secs} s")
            ok = False
    return ok


def stop_worker(worker: subprocess.Popen) -> int:
    """SIGINT (a graceful stop), then SIGKILL of its group if it is still running after 15 s."""
    worker.send_signal(signal.SIGINT)
    try:
        return worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        return worker.wait()
