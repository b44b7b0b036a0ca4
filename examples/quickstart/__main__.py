"""`python -m examples.quickstart`: the whole round trip in one command, on the built-in SQLite backends.

Enqueues jobs on a SQLite queue in a fresh directory, starts `nuvom runworker` as
a real subprocess, waits (with a deadline) for every outcome, prints them, then
stops the worker with SIGINT. Exit code 0 when every job ended as expected.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DEADLINE_SECS = 30


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="nuvom-quickstart-"))
    os.environ["NUVOM_SQLITE_QUEUE_PATH"] = str(workdir / "queue.db")
    os.environ["NUVOM_SQLITE_DB_PATH"] = str(workdir / "result.db")
    os.environ.setdefault("NUVOM_LOG_LEVEL", "WARNING")

    from examples.quickstart.enqueue import enqueue_jobs
    from examples.quickstart.running import PROJECT_ROOT, print_outcomes, start_worker, stop_worker

    jobs = enqueue_jobs(workdir)
    print(f"enqueued {len(jobs)} jobs in {workdir}")
    log_path = workdir / "worker.log"
    worker = start_worker(PROJECT_ROOT, log_path)
    print(f"worker running (pid {worker.pid}, log in {log_path})\n")
    try:
        ok = print_outcomes(jobs, DEADLINE_SECS, expected_failures={"divide"})
    finally:
        code = stop_worker(worker)
    print(f"\nworker stopped with exit code {code}")
    print(f"inspect a job:  NUVOM_SQLITE_DB_PATH={workdir / 'result.db'} nuvom inspect job {jobs[-1].id}")
    return 0 if ok and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
