"""Reading and steering jobs from any process: status, waiting for results, retrying."""

from __future__ import annotations

import time
from typing import Any

from nuvom.job import Job, JobStatus
from nuvom.result_backends.base import ErrorInfo


class JobFailedError(Exception):
    """The job failed for good; carries the stored error and its traceback text."""

    def __init__(self, job_id: str, func_name: str, error: ErrorInfo) -> None:
        self.job_id = job_id
        self.func_name = func_name
        self.error = error
        super().__init__(f"job {job_id} ({func_name}) failed: {error['type']}: {error['message']}")

    @property
    def remote_traceback(self) -> str:
        return self.error.get("traceback", "")


def get_job_status(job_id: str) -> JobStatus | None:
    """SUCCESS or FAILED once an outcome is stored; None while unknown (pending or running)."""
    from nuvom.result_store import get_full

    record = get_full(job_id)
    return JobStatus(record["status"]) if record else None


def wait_for_result(job_id: str, timeout: float | None = None, interval: float = 0.05) -> Any:
    """Poll the result backend until the job has an outcome; return its result.

    Raises `JobFailedError` for a failed job and `TimeoutError` after `timeout` seconds.
    A task that returned None resolves to None (its status is SUCCESS).
    """
    from nuvom.result_store import get_full

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        record = get_full(job_id)
        if record is not None:
            if record["status"] == JobStatus.SUCCESS:
                return record["result"]
            raise JobFailedError(job_id, record["func_name"], record["error"])
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"job {job_id} has no stored outcome after {timeout} s")
        time.sleep(interval)


def retry_job(job_id: str) -> Job | None:
    """Enqueue a failed job again from its stored record (fresh id); None if it did not fail."""
    from nuvom.queue import enqueue
    from nuvom.result_store import get_full

    record = get_full(job_id)
    if record is None or record["status"] != JobStatus.FAILED:
        return None
    job = Job(func_name=record["func_name"], args=record["args"], kwargs=record["kwargs"])
    enqueue(job)
    return job
