"""`python -m examples.quickstart`: the whole round trip in one command.

Enqueues jobs on a SQLite queue in a fresh directory, starts `nuvom runworker` as
a real subprocess, waits (with a deadline) for every outcome, prints them, then
stops the worker with SIGINT. Exit code 0 when every job ended as expected.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEADLINE_SECS = 30


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="nuvom-quickstart-"))
    os.environ["NUVOM_SQLITE_QUEUE_PATH"] = str(workdir / "queue.db")
    os.environ["NUVOM_SQLITE_DB_PATH"] = str(workdir / "result.db")
    os.environ.setdefault("NUVOM_LOG_LEVEL", "WARNING")

    from nuvom.sdk import JobFailedError, wait_for_result

    from examples.quickstart.enqueue import enqueue_jobs

    jobs = enqueue_jobs(workdir)
    print(f"enqueued {len(jobs)} jobs in {workdir}")
    project_root = Path(__file__).resolve().parents[2]
    log_path = workdir / "worker.log"
    with open(log_path, "wb") as log_file:
        worker = subprocess.Popen(
            [sys.executable, "-m", "nuvom.cli.main", "runworker", "--tasks", "examples.quickstart.tasks"],
            cwd=project_root,
            start_new_session=True,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    print(f"worker running (pid {worker.pid}, log in {log_path})\n")
    ok = True
    deadline = time.monotonic() + DEADLINE_SECS
    try:
        for job in jobs:
            label = f"{job.func_name}({', '.join(map(repr, job.args))})"[:44]
            try:
                result = wait_for_result(job.id, timeout=max(0.1, deadline - time.monotonic()))
                print(f"  {label:44} -> {result!r}")
            except JobFailedError as failed:
                print(f"  {label:44} -> FAILED: {failed.error['type']}: {failed.error['message']}")
                ok = ok and job.func_name == "divide"
            except TimeoutError:
                print(f"  {label:44} -> no result within {DEADLINE_SECS} s")
                ok = False
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            code = worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            code = worker.wait()
    print(f"\nworker stopped with exit code {code}")
    print(f"inspect a job:  NUVOM_SQLITE_DB_PATH={workdir / 'result.db'} nuvom inspect job {jobs[-1].id}")
    return 0 if ok and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
