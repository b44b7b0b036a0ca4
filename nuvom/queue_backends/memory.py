"""`MemoryJobQueue`: an in-process queue for tests, benchmarks and single-process use.

Thread-safe; a blocking `pop_batch` sleeps on a condition variable (no polling)
until a job arrives, a delayed job becomes due, or the timeout passes. Jobs whose
`next_retry_at` lies in the future wait in a heap and are not handed out early.
Taking a job removes it (nothing survives the process), so `ack` has nothing to do.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from typing import Sequence

from nuvom.job import Job
from nuvom.queue_backends.base import BaseJobQueue


class MemoryJobQueue(BaseJobQueue):
    """FIFO of due jobs plus a heap of delayed ones, guarded by one condition."""

    def __init__(self) -> None:
        self._ready: deque[Job] = deque()
        self._delayed: list[tuple[float, int, Job]] = []
        self._sequence = itertools.count()
        self._changed = threading.Condition()

    def enqueue(self, job: Job) -> None:
        self.enqueue_many([job])

    def enqueue_many(self, jobs: Sequence[Job]) -> None:
        now = time.time()
        with self._changed:
            for job in jobs:
                if job.is_due(now):
                    self._ready.append(job)
                else:
                    heapq.heappush(self._delayed, (job.next_retry_at, next(self._sequence), job))
            self._changed.notify_all()

    def nack(self, jobs: Sequence[Job]) -> None:
        with self._changed:
            self._ready.extendleft(reversed(list(jobs)))
            self._changed.notify_all()

    def dequeue(self, timeout: float | None = 1) -> Job | None:
        batch = self.pop_batch(1, timeout)
        return batch[0] if batch else None

    def pop_batch(self, batch_size: int = 1, timeout: float | None = 1) -> list[Job]:
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0)
        with self._changed:
            while True:
                wait = self._promote_due()
                if self._ready:
                    count = min(batch_size, len(self._ready))
                    return [self._ready.popleft() for _ in range(count)]
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return []
                    wait = remaining if wait is None else min(wait, remaining)
                self._changed.wait(wait)

    def _promote_due(self) -> float | None:
        """Move due delayed jobs to the ready FIFO; return seconds until the next is due."""
        now = time.time()
        while self._delayed and self._delayed[0][0] <= now:
            self._ready.append(heapq.heappop(self._delayed)[2])
        return self._delayed[0][0] - now if self._delayed else None

    def qsize(self) -> int:
        with self._changed:
            return len(self._ready) + len(self._delayed)

    def clear(self) -> int:
        with self._changed:
            count = len(self._ready) + len(self._delayed)
            self._ready.clear()
            self._delayed.clear()
            return count
