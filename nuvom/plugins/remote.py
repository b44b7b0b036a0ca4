"""Stubs that make a backend living in a plugin host look like a local one.

`RemoteJobQueue` and `RemoteResultBackend` implement the contracts by calling
`invoke` on the host; the worker cannot tell them from built-ins. The backend
object is created in the host on first use (its class instantiated with no
arguments, as upstream Nuvom does) and again after the host was restarted. While
the plugin is down every call raises `PluginUnavailableError` at once: the worker
treats it like any failing backend, backs off, and resumes when the plugin is back.
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

from nuvom.ipc.codec import JobBatch
from nuvom.job import Job
from nuvom.plugins.supervisor import PluginCallTimeout, PluginSupervisor
from nuvom.queue_backends.base import BaseJobQueue
from nuvom.result_backends.base import BaseResultBackend


class _RemoteObject:
    capability = ""

    def __init__(self, supervisor: PluginSupervisor, name: str) -> None:
        self._supervisor = supervisor
        self._name = name
        self._handle: int | None = None
        self._generation = -1
        self._lock = threading.Lock()

    def _invoke(self, method: str, *args: Any, blocking: float = 0.0, **kwargs: Any) -> Any:
        supervisor = self._supervisor
        with self._lock:
            if self._handle is None or self._generation != supervisor.generation:
                generation = supervisor.generation
                self._handle = supervisor.call("instantiate", self.capability, self._name)
                self._generation = generation
            handle = self._handle
        timeout = supervisor.policy.call_timeout + blocking
        try:
            return supervisor.call("invoke", handle, method, list(args), kwargs, timeout=timeout)
        except PluginCallTimeout:
            raise PluginCallTimeout(
                f"plugin {supervisor.name!r}: {self._name}.{method}() got no answer within {timeout:g} s"
            ) from None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name!r} in plugin {self._supervisor.name!r}>"


class RemoteJobQueue(_RemoteObject, BaseJobQueue):
    capability = "queue_backend"

    def enqueue(self, job: Job) -> None:
        self._invoke("enqueue", job)

    def enqueue_many(self, jobs: Sequence[Job]) -> None:
        self._invoke("enqueue_many", JobBatch(jobs))

    def dequeue(self, timeout: float | None = 1) -> Job | None:
        return self._invoke("dequeue", timeout, blocking=timeout or 0)

    def pop_batch(self, batch_size: int = 1, timeout: float | None = 1) -> list[Job]:
        return self._invoke("pop_batch", batch_size, timeout, blocking=timeout or 0)

    def qsize(self) -> int:
        return self._invoke("qsize")

    def clear(self) -> int:
        return self._invoke("clear")

    def ack(self, jobs: Sequence[Job]) -> None:
        self._by_ids("ack", jobs)

    def nack(self, jobs: Sequence[Job]) -> None:
        self._invoke("nack", JobBatch(jobs))

    def renew(self, jobs: Sequence[Job]) -> None:
        self._by_ids("renew", jobs)

    def _by_ids(self, method: str, jobs: Sequence[Job]) -> None:
        """Name the jobs by id (the host remembers what it handed out); send in full only those it forgot."""
        if not jobs:
            return
        unknown = set(self._invoke(f"{method}_ids", [job.id for job in jobs]))
        if unknown:
            self._invoke(method, JobBatch(job for job in jobs if job.id in unknown))


class RemoteResultBackend(_RemoteObject, BaseResultBackend):
    capability = "result_backend"

    def set_result(self, job_id: str, func_name: str, result: Any, **details: Any) -> None:
        self._invoke("set_result", job_id, func_name, result, **details)

    def get_result(self, job_id: str) -> Any:
        return self._invoke("get_result", job_id)

    def set_error(self, job_id: str, func_name: str, error: Any, **details: Any) -> None:
        from nuvom.result_backends.base import error_info

        self._invoke("set_error", job_id, func_name, dict(error_info(error)), **details)

    def get_error(self, job_id: str) -> str | None:
        return self._invoke("get_error", job_id)

    def get_full(self, job_id: str) -> dict | None:
        return self._invoke("get_full", job_id)

    def list_jobs(self, limit: int | None = None) -> list[dict]:
        return self._invoke("list_jobs", limit)

    def store_many(self, records: list[dict]) -> None:
        self._invoke("store_many", records)


STUBS = {"queue_backend": RemoteJobQueue, "result_backend": RemoteResultBackend}
