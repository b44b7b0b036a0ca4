"""The process's queue backend, chosen by `NUVOM_QUEUE_BACKEND`, and upstream's helpers on it."""

from __future__ import annotations

import threading
from typing import Sequence

from nuvom.job import Job
from nuvom.queue_backends.base import BaseJobQueue, call_dequeue, call_pop_batch

_backend: BaseJobQueue | None = None
_lock = threading.Lock()


def get_queue_backend() -> BaseJobQueue:
    """One instance per process of the configured backend class (instantiated with no arguments)."""
    global _backend
    with _lock:
        if _backend is None:
            from nuvom.config import get_settings
            from nuvom.plugins.registry import get_queue_backend_cls

            _backend = get_queue_backend_cls(get_settings().queue_backend)()
        return _backend


def reset_backends() -> None:
    """Forget the cached queue and result backends (tests; after changing settings)."""
    global _backend
    from nuvom import result_store

    with _lock:
        _backend = None
    result_store.reset_backend()


def enqueue(job: Job) -> None:
    get_queue_backend().enqueue(job)


def enqueue_many(jobs: Sequence[Job]) -> None:
    get_queue_backend().enqueue_many(jobs)


def dequeue(timeout: float | None = 1) -> Job | None:
    return call_dequeue(get_queue_backend(), timeout)


def pop_batch(batch_size: int = 1, timeout: float | None = 1) -> list[Job]:
    return call_pop_batch(get_queue_backend(), batch_size, timeout)


def qsize() -> int:
    return get_queue_backend().qsize()


def clear() -> int:
    return get_queue_backend().clear()
