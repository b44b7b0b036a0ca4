"""The process's result backend, chosen by `NUVOM_RESULT_BACKEND`, and upstream's helpers on it."""

from __future__ import annotations

import threading
from typing import Any

from nuvom.result_backends.base import BaseResultBackend

_backend: BaseResultBackend | None = None
_lock = threading.Lock()


def get_backend() -> BaseResultBackend:
    """One instance per process of the configured backend class (instantiated with no arguments)."""
    global _backend
    with _lock:
        if _backend is None:
            from nuvom.config import get_settings
            from nuvom.plugins.registry import get_result_backend_cls

            _backend = get_result_backend_cls(get_settings().result_backend)()
        return _backend


def reset_backend() -> None:
    global _backend
    with _lock:
        _backend = None


def get_result(job_id: str) -> Any:
    return get_backend().get_result(job_id)


def get_error(job_id: str) -> str | None:
    return get_backend().get_error(job_id)


def get_full(job_id: str) -> dict | None:
    return get_backend().get_full(job_id)


def set_result(job_id: str, func_name: str, result: Any, **details: Any) -> None:
    get_backend().set_result(job_id, func_name, result, **details)


def set_error(job_id: str, func_name: str, error: Any, **details: Any) -> None:
    get_backend().set_error(job_id, func_name, error, **details)
