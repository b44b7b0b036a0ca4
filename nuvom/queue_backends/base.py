"""`BaseJobQueue`: the queue contract every queue backend implements.

The five methods Nuvom documents (`enqueue`, `dequeue`, `pop_batch`, `qsize`,
`clear`) plus an optional acknowledgement step:

- `ack(jobs)`: the worker calls it once the jobs' outcomes are stored. A durable
  queue deletes a job only then; until then the job is *leased* to the worker
  that took it and comes back to the queue if that worker dies.
- `nack(jobs)`: hand jobs back unrun (worker shutdown), so they are available at once.
- `renew(jobs)`: extend the lease of jobs still running, so a long job is not
  handed to a second worker while the first is working on it.

All three take a list, so a worker acknowledges a batch in one call (one SQLite
transaction, one round trip to a plugin host). The defaults keep old-style
backends (dequeue = delete) working: `ack` and `renew` do nothing and `nack`
enqueues the jobs again. `enqueue_many` defaults to one `enqueue` per job.

Backends written from the docs' example may declare `dequeue(self, timeout=None)`
or `pop_batch(self, n)`; callers use `call_dequeue` / `call_pop_batch`, which
adapt to either signature.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Any, Sequence

from nuvom.job import Job


class BaseJobQueue(ABC):
    """A FIFO-ish store of pending jobs shared by producers and workers."""

    @abstractmethod
    def enqueue(self, job: Job) -> None:
        """Store `job` until a worker takes it."""

    @abstractmethod
    def dequeue(self, timeout: float | None = 1) -> Job | None:
        """Take one due job, waiting up to `timeout` seconds; None if there is none."""

    @abstractmethod
    def pop_batch(self, batch_size: int = 1, timeout: float | None = 1) -> list[Job]:
        """Take up to `batch_size` due jobs, waiting up to `timeout` seconds for the first."""

    @abstractmethod
    def qsize(self) -> int:
        """Number of jobs waiting (not counting jobs leased to a worker)."""

    @abstractmethod
    def clear(self) -> int:
        """Remove every waiting job; return how many were removed."""

    def enqueue_many(self, jobs: Sequence[Job]) -> None:
        """Store several jobs; a backend may do it in one transaction or round trip."""
        for job in jobs:
            self.enqueue(job)

    def ack(self, jobs: Sequence[Job]) -> None:
        """The jobs' outcomes are stored: forget them for good. Default: nothing to do."""

    def nack(self, jobs: Sequence[Job]) -> None:
        """Hand unrun jobs back so another worker can take them. Default: enqueue them again."""
        for job in jobs:
            self.enqueue(job)

    def renew(self, jobs: Sequence[Job]) -> None:
        """Extend the lease of jobs still being worked on. Default: nothing to do."""


@functools.lru_cache(maxsize=1024)
def _accepts(function: Any, name: str) -> bool:
    """Whether `function` takes a `name` argument (or **kwargs); cached: it is on the hot path."""
    import inspect

    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return True
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


@functools.lru_cache(maxsize=1024)
def _positional_count(function: Any) -> int:
    """How many positional arguments `function` takes (2 for *args); cached like `_accepts`."""
    import inspect

    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 2
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return 2
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _takes(method: Any, name: str, positional: int) -> bool:
    """Whether a (bound) method takes argument `name` or at least `positional` positional ones.

    Looked up on the underlying function, so the cache holds classes' functions, not queues.
    """
    function = getattr(method, "__func__", None)
    target, bound = (function, 1) if function is not None else (method, 0)
    return _accepts(target, name) or _positional_count(target) - bound >= positional


def call_pop_batch(queue: BaseJobQueue, batch_size: int, timeout: float | None) -> list[Job]:
    """Call `queue.pop_batch` whether it is declared `(batch_size, timeout)` or `(n)`."""
    method = queue.pop_batch
    if _takes(method, "timeout", 2):
        return list(method(batch_size, timeout) or [])
    return list(method(batch_size) or [])


def call_dequeue(queue: BaseJobQueue, timeout: float | None) -> Job | None:
    """Call `queue.dequeue` whether or not it takes a timeout."""
    method = queue.dequeue
    if _takes(method, "timeout", 1):
        return method(timeout)
    return method()
