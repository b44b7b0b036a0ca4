"""What happens to a job once it ran: stored outcome, retry, and the batched writer.

The writer is the only place that acknowledges jobs, and it does so only after
their outcomes (and retries) are stored: a crash before the ack means the job is
handed out again, never that it is lost. Outcomes are written in batches, one
`store_many` + one `enqueue_many` + one `ack` per batch, which is what keeps
SQLite and plugin-hosted backends fast.
"""

from __future__ import annotations

import dataclasses
import logging
import queue as queue_module
import threading
import time
from dataclasses import dataclass
from typing import Callable

from nuvom.job import Job, JobStatus
from nuvom.queue_backends.base import BaseJobQueue
from nuvom.result_backends.base import BaseResultBackend, error_info, full_record

log = logging.getLogger("nuvom.worker")

MAX_BATCH = 1000
MAX_BACKOFF_SECS = 5.0


@dataclass
class Outcome:
    """A finished attempt: the job it came from, what to store, and what to enqueue next."""

    job: Job
    record: dict | None = None  # stored result/error, None when nothing is stored
    retry: Job | None = None  # the next attempt, enqueued before the ack

    @property
    def kind(self) -> str:
        if self.retry is not None:
            return "retried"
        if self.record is not None and self.record["status"] == JobStatus.FAILED.value:
            return "failed"
        return "succeeded"


def success(job: Job, result: object) -> Outcome:
    record = full_record(
        job.id, job.func_name, JobStatus.SUCCESS.value, result=result, **_details(job)
    )
    return Outcome(job, record if job.store_result else None)


def failure(job: Job, error: BaseException | str, *, retryable: bool = True) -> Outcome:
    """A failed attempt: the next attempt if retries are left, else a stored FAILED record."""
    if retryable and job.retries_left > 0:
        delay = job.retry_delay_secs or 0.0
        retry = dataclasses.replace(
            job,
            status=JobStatus.PENDING,
            retries_left=job.retries_left - 1,
            next_retry_at=time.time() + delay if delay > 0 else None,
        )
        return Outcome(job, retry=retry)
    record = full_record(
        job.id, job.func_name, JobStatus.FAILED.value, error=error_info(error), **_details(job)
    )
    return Outcome(job, record)


def _details(job: Job) -> dict:
    return {
        "args": job.args,
        "kwargs": job.kwargs,
        "retries_left": job.retries_left,
        "attempts": job.attempts,
        "created_at": job.created_at,
        "completed_at": time.time(),
    }


class OutcomeWriter:
    """A thread that stores outcomes in batches, enqueues retries, then acks the jobs."""

    def __init__(
        self,
        queue: BaseJobQueue,
        results: BaseResultBackend,
        on_acked: Callable[[list[Outcome]], None],
    ) -> None:
        self._queue = queue
        self._results = results
        self._on_acked = on_acked
        self._inbox: queue_module.SimpleQueue[Outcome | None] = queue_module.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="nuvom-writer", daemon=True)
        self._give_up = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def put(self, outcome: Outcome) -> None:
        self._inbox.put(outcome)

    def close(self, timeout: float) -> bool:
        """Write everything handed in so far, then stop; False if it could not within `timeout`."""
        self._inbox.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._give_up.set()
            self._thread.join(1.0)
            return False
        return True

    def _run(self) -> None:
        closing = False
        while not closing:
            batch: list[Outcome] = []
            item = self._inbox.get()
            while True:
                if item is None:
                    closing = True
                    break
                batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._inbox.get_nowait()
                except queue_module.Empty:
                    break
            if batch:
                self._write(batch)

    def _write(self, batch: list[Outcome]) -> None:
        """Store, enqueue retries, ack; on a backend error back off and try again, never drop."""
        backoff = 0.05
        while True:
            try:
                records = [outcome.record for outcome in batch if outcome.record is not None]
                retries = [outcome.retry for outcome in batch if outcome.retry is not None]
                if records:
                    self._results.store_many(records)
                if retries:
                    self._queue.enqueue_many(retries)
                self._queue.ack([outcome.job for outcome in batch])
            except Exception as error:  # a backend failing is normal input: report and retry
                if self._give_up.is_set():
                    log.error(
                        "gave up writing %d outcomes at shutdown (%s: %s); the jobs stay unacknowledged "
                        "and will be handed out again",
                        len(batch), type(error).__name__, error,
                    )
                    return
                log.error(
                    "could not store %d job outcomes (%s: %s); retrying in %.2f s",
                    len(batch), type(error).__name__, error, backoff,
                )
                self._give_up.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECS)
                continue
            self._on_acked(batch)
            return
