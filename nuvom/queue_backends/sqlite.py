"""`SQLiteJobQueue`: a durable queue that several worker processes can share.

Each job is a row holding the msgpack of `Job.to_dict()`. Taking jobs *leases*
them: one `BEGIN IMMEDIATE` transaction picks the oldest visible rows and pushes
their `visible_at` to now + lease, so no two workers get the same job. `ack`
deletes the rows once the worker stored the outcomes; `nack` makes them visible
again at once; `renew` extends the lease of long-running jobs. If the worker dies,
the lease runs out and the job is handed out again: nothing is lost. A job that
was handed out `max_deliveries` times without being acked (it keeps killing its
workers) is set aside as dead instead of being redelivered forever.

Blocking waits poll the file with a backoff capped at 50 ms (another process's
enqueue cannot wake us otherwise); an enqueue in the same process wakes the
waiter at once.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Sequence

import msgpack

from nuvom.job import Job
from nuvom.queue_backends.base import BaseJobQueue
from nuvom.sqlite_connections import ThreadConnections, write_transaction

log = logging.getLogger(__name__)

READY, DEAD = 0, 1
MAX_POLL_INTERVAL = 0.05

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id     TEXT NOT NULL UNIQUE,
    state      INTEGER NOT NULL DEFAULT 0,
    visible_at REAL NOT NULL,
    claimed_by TEXT,
    deliveries INTEGER NOT NULL DEFAULT 0,
    payload    BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (state, seq);
"""
# A job is *waiting* when nobody holds a live lease on it.
_WAITING = "state = 0 AND (claimed_by IS NULL OR visible_at <= ?)"


def encode_job(job: Job) -> bytes:
    return msgpack.packb(job.to_dict(), use_bin_type=True)


def decode_job(payload: bytes) -> Job:
    return Job.from_dict(msgpack.unpackb(payload, raw=False))


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


class SQLiteJobQueue(BaseJobQueue):
    """A leased, multi-process-safe job queue in one SQLite file."""

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        lease_secs: float | None = None,
        max_deliveries: int | None = None,
    ) -> None:
        from nuvom.config import get_settings

        settings = get_settings()
        self.path = Path(path if path is not None else settings.sqlite_queue_path)
        self.lease_secs = lease_secs if lease_secs is not None else settings.lease_secs
        self.max_deliveries = max_deliveries if max_deliveries is not None else settings.max_deliveries
        self.owner = uuid.uuid4().hex  # who holds a lease: this queue object
        self._connections = ThreadConnections(self.path, _SCHEMA)
        self._enqueued = threading.Condition()

    def _db(self) -> sqlite3.Connection:
        return self._connections.get()

    def enqueue(self, job: Job) -> None:
        self.enqueue_many([job])

    def enqueue_many(self, jobs: Sequence[Job]) -> None:
        """Insert jobs; a job whose id is already here (a retry of a leased job) replaces its row."""
        rows = [(job.id, job.next_retry_at or 0.0, encode_job(job)) for job in jobs]
        db = self._db()
        with write_transaction(db):
            db.executemany(
                "INSERT INTO jobs (job_id, visible_at, payload) VALUES (?, ?, ?) "
                "ON CONFLICT (job_id) DO UPDATE SET state = 0, visible_at = excluded.visible_at, "
                "claimed_by = NULL, deliveries = 0, payload = excluded.payload",
                rows,
            )
        with self._enqueued:
            self._enqueued.notify_all()

    def dequeue(self, timeout: float | None = 1) -> Job | None:
        batch = self.pop_batch(1, timeout)
        return batch[0] if batch else None

    def pop_batch(self, batch_size: int = 1, timeout: float | None = 1) -> list[Job]:
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0)
        interval = 0.001
        while True:
            jobs = self._claim(batch_size)
            if jobs:
                return jobs
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                interval = min(interval, remaining)
            with self._enqueued:
                self._enqueued.wait(interval)
            interval = min(interval * 2, MAX_POLL_INTERVAL)

    def _claim(self, batch_size: int) -> list[Job]:
        db = self._db()
        now = time.time()
        with write_transaction(db):
            rows = db.execute(
                "SELECT seq, deliveries, payload FROM jobs WHERE state = 0 AND visible_at <= ? "
                "ORDER BY seq LIMIT ?",
                (now, batch_size),
            ).fetchall()
            if not rows:
                return []
            poisoned = [seq for seq, deliveries, _ in rows if deliveries >= self.max_deliveries]
            if poisoned:
                db.execute(f"UPDATE jobs SET state = 1 WHERE seq IN ({_placeholders(len(poisoned))})", poisoned)
            claimed = [(seq, payload) for seq, deliveries, payload in rows if deliveries < self.max_deliveries]
            if claimed:
                seqs = [seq for seq, _ in claimed]
                db.execute(
                    f"UPDATE jobs SET visible_at = ?, claimed_by = ?, deliveries = deliveries + 1 "
                    f"WHERE seq IN ({_placeholders(len(seqs))})",
                    [now + self.lease_secs, self.owner, *seqs],
                )
        for seq, _, payload in rows:
            if seq in poisoned:
                job = decode_job(payload)
                log.error(
                    "job %s (%s) was handed out %d times without finishing; set aside as dead "
                    "(see SQLiteJobQueue.dead_jobs())",
                    job.id, job.func_name, self.max_deliveries,
                )
        return [decode_job(payload) for _, payload in claimed]

    def ack(self, jobs: Sequence[Job]) -> None:
        self._update_claimed("DELETE FROM jobs", jobs)

    def nack(self, jobs: Sequence[Job]) -> None:
        self._update_claimed(
            "UPDATE jobs SET visible_at = 0, claimed_by = NULL, deliveries = MAX(deliveries - 1, 0)", jobs
        )

    def renew(self, jobs: Sequence[Job]) -> None:
        self._update_claimed(f"UPDATE jobs SET visible_at = {time.time() + self.lease_secs!r}", jobs)

    def _update_claimed(self, statement: str, jobs: Sequence[Job]) -> None:
        """Run `statement` on the rows of `jobs` that this queue still holds the lease of."""
        ids = [job.id for job in jobs]
        db = self._db()
        with write_transaction(db):
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                db.execute(
                    f"{statement} WHERE claimed_by = ? AND job_id IN ({_placeholders(len(chunk))})",
                    [self.owner, *chunk],
                )

    def qsize(self) -> int:
        (count,) = self._db().execute(
            f"SELECT COUNT(*) FROM jobs WHERE {_WAITING}",
            (time.time(),),
        ).fetchone()
        return count

    def clear(self) -> int:
        db = self._db()
        with write_transaction(db):
            cursor = db.execute(
                f"DELETE FROM jobs WHERE {_WAITING}", (time.time(),)
            )
        return cursor.rowcount

    def dead_jobs(self) -> list[Job]:
        """Jobs set aside after `max_deliveries` unfinished deliveries."""
        rows = self._db().execute("SELECT payload FROM jobs WHERE state = 1 ORDER BY seq").fetchall()
        return [decode_job(payload) for (payload,) in rows]

    def close(self) -> None:
        self._connections.close()

