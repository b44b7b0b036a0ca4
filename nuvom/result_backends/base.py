"""`BaseResultBackend`: where a job's outcome (result or error) is stored and read.

Keyword arguments are Nuvom's documented ones. `error` may be an exception or a
string; backends store it as `ErrorInfo` (type, message, traceback text) so a
failure is readable from any process without unpickling anything.
"""

from __future__ import annotations

import traceback as traceback_module
from abc import ABC, abstractmethod
from typing import Any, TypedDict


class ErrorInfo(TypedDict):
    """A stored failure: exception type name, message and formatted traceback."""

    type: str
    message: str
    traceback: str


def error_info(error: BaseException | str | dict) -> ErrorInfo:
    """Turn an exception (or an already-made message / ErrorInfo dict) into `ErrorInfo`."""
    if isinstance(error, BaseException):
        return ErrorInfo(
            type=type(error).__name__,
            message=str(error),
            traceback="".join(traceback_module.format_exception(type(error), error, error.__traceback__)),
        )
    if isinstance(error, dict):
        return ErrorInfo(
            type=str(error.get("type", "Error")),
            message=str(error.get("message", "")),
            traceback=str(error.get("traceback", "")),
        )
    return ErrorInfo(type="Error", message=str(error), traceback="")


class BaseResultBackend(ABC):
    """Stores and returns the outcome of jobs by id."""

    @abstractmethod
    def set_result(
        self,
        job_id: str,
        func_name: str,
        result: Any,
        *,
        args: list | None = None,
        kwargs: dict | None = None,
        retries_left: int | None = None,
        attempts: int | None = None,
        created_at: float | None = None,
        completed_at: float | None = None,
    ) -> None:
        """Record a successful outcome."""

    def get_result(self, job_id: str) -> Any:
        """The stored result, or None if the job has none (yet)."""
        record = self.get_full(job_id)
        return record["result"] if record else None

    @abstractmethod
    def set_error(
        self,
        job_id: str,
        func_name: str,
        error: BaseException | str | dict,
        *,
        args: list | None = None,
        kwargs: dict | None = None,
        retries_left: int | None = None,
        attempts: int | None = None,
        created_at: float | None = None,
        completed_at: float | None = None,
    ) -> None:
        """Record a failure (stored as `ErrorInfo`)."""

    def get_error(self, job_id: str) -> str | None:
        """The stored failure as "Type: message", or None."""
        record = self.get_full(job_id)
        return format_error(record["error"]) if record else None

    @abstractmethod
    def get_full(self, job_id: str) -> dict | None:
        """Everything stored about the job (see `full_record`), or None if unknown."""

    @abstractmethod
    def list_jobs(self, limit: int | None = None) -> list[dict]:
        """Stored records, most recently completed first."""

    def store_many(self, records: list[dict]) -> None:
        """Store several outcomes shaped like `full_record` (status SUCCESS or FAILED).

        The worker writes finished jobs in batches through this; a backend may use one
        transaction. The default calls `set_result` / `set_error` once per record.
        """
        for record in records:
            extra = {key: record.get(key) for key in _RECORD_KEYWORDS}
            if record["status"] == "SUCCESS":
                self.set_result(record["job_id"], record["func_name"], record.get("result"), **extra)
            else:
                self.set_error(record["job_id"], record["func_name"], record["error"], **extra)


_RECORD_KEYWORDS = ("args", "kwargs", "retries_left", "attempts", "created_at", "completed_at")


def full_record(
    job_id: str,
    func_name: str,
    status: str,
    *,
    result: Any = None,
    error: ErrorInfo | None = None,
    args: list | None = None,
    kwargs: dict | None = None,
    retries_left: int | None = None,
    attempts: int | None = None,
    created_at: float | None = None,
    completed_at: float | None = None,
) -> dict:
    """The one shape of a stored record, shared by every built-in backend."""
    return {
        "job_id": job_id,
        "func_name": func_name,
        "status": status,
        "result": result,
        "error": error,
        "args": list(args or []),
        "kwargs": dict(kwargs or {}),
        "retries_left": retries_left,
        "attempts": attempts,
        "created_at": created_at,
        "completed_at": completed_at,
    }


def format_error(info: ErrorInfo | None) -> str | None:
    """ "Type: message" for a stored error, as `get_error` returns it."""
    if info is None:
        return None
    return f"{info['type']}: {info['message']}" if info["message"] else info["type"]
