"""`MemoryResultBackend`: outcomes kept in a dict, for tests and single-process use."""

from __future__ import annotations

import threading
import time
from typing import Any

from nuvom.result_backends.base import BaseResultBackend, error_info, full_record


class MemoryResultBackend(BaseResultBackend):
    """Thread-safe map of job id -> stored record (`full_record` shape)."""

    def __init__(self) -> None:
        self._records: dict[str, dict] = {}
        self._lock = threading.Lock()

    def set_result(self, job_id: str, func_name: str, result: Any, **details: Any) -> None:
        self._store(full_record(job_id, func_name, "SUCCESS", result=result, **_completed(details)))

    def set_error(self, job_id: str, func_name: str, error: Any, **details: Any) -> None:
        self._store(full_record(job_id, func_name, "FAILED", error=error_info(error), **_completed(details)))

    def store_many(self, records: list[dict]) -> None:
        with self._lock:
            for record in records:
                self._records.pop(record["job_id"], None)
                self._records[record["job_id"]] = dict(record)

    def _store(self, record: dict) -> None:
        self.store_many([record])

    def get_full(self, job_id: str) -> dict | None:
        with self._lock:
            record = self._records.get(job_id)
            return dict(record) if record else None

    def list_jobs(self, limit: int | None = None) -> list[dict]:
        with self._lock:
            newest_first = [dict(record) for record in reversed(self._records.values())]
        return newest_first if limit is None else newest_first[:limit]


def _completed(details: dict) -> dict:
    if details.get("completed_at") is None:
        details = {**details, "completed_at": time.time()}
    return details
