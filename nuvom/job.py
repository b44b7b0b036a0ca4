"""The `Job`: one call of a task, as it travels through queues and result stores.

A job is plain data. `Job.to_dict()` gives a dict of msgpack-safe values only
(str, int, float, bool, None, bytes, lists and dicts of those), and
`Job.from_dict()` rebuilds it, so a job crosses a SQLite row or a plugin host's
pipe without pickle. `ensure_msgpack_safe` is the one check of that rule; it is
called when a job is created, so a bad argument fails at `delay()` time, in the
caller's process, with the task's name and the offending type.
"""

from __future__ import annotations

import enum
import operator
import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any


class JobStatus(str, enum.Enum):
    """Where a job is in its life. A `str` enum so it compares equal to its name."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


class TimeoutPolicy(str, enum.Enum):
    """What the worker does when a job runs past its timeout."""

    FAIL = "fail"  # record the job as FAILED with a TimeoutError
    RETRY = "retry"  # treat the timeout like an exception: retry while retries are left
    IGNORE = "ignore"  # let the job run on; record whatever it returns


class UnsafeValueError(TypeError):
    """A value that cannot travel in a job (not msgpack-safe)."""


_SCALARS = (str, int, float, bool, bytes, type(None))
MAX_NESTING = 64


def ensure_msgpack_safe(value: Any, *, what: str, _depth: int = 0) -> None:
    """Raise `UnsafeValueError` naming `what` and the type if `value` cannot be carried.

    Only str/int/float/bool/None/bytes and lists, tuples and str-keyed dicts of them
    travel; anything else (objects, sets, datetimes, ...) is refused here rather than
    half-serialized later.
    """
    if _depth > MAX_NESTING:
        raise UnsafeValueError(f"{what}: nested deeper than {MAX_NESTING} levels")
    if isinstance(value, _SCALARS):
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
            raise UnsafeValueError(f"{what}: integer {value} does not fit in 64 bits")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            ensure_msgpack_safe(item, what=f"{what}[{index}]", _depth=_depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnsafeValueError(
                    f"{what}: dict key {key!r} is a {type(key).__name__}; only str keys can be carried"
                )
            ensure_msgpack_safe(item, what=f"{what}[{key!r}]", _depth=_depth + 1)
        return
    raise UnsafeValueError(
        f"{what}: a value of type {type(value).__module__}.{type(value).__qualname__} cannot be "
        "carried in a job (use str, int, float, bool, None, bytes, list or dict of those)"
    )


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Job:
    """A task call with everything the worker needs to run, retry and record it."""

    func_name: str
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    id: str = field(default_factory=_new_id)
    status: JobStatus = JobStatus.PENDING
    created_at: float = field(default_factory=time.time)
    result: Any = None
    error: str | None = None
    max_retries: int = 0
    retries_left: int = 0
    timeout_secs: float | None = None
    retry_delay_secs: float = 0.0
    next_retry_at: float | None = None
    timeout_policy: TimeoutPolicy = TimeoutPolicy.FAIL
    store_result: bool = True
    priority: int = 0
    attempts: int = 0

    def __post_init__(self) -> None:
        if type(self.args) is not list:
            self.args = list(self.args)
        if type(self.kwargs) is not dict:
            self.kwargs = dict(self.kwargs)
        if type(self.status) is not JobStatus:  # a dict lookup first: Enum(value) is slow on the wire's hot path
            self.status = _STATUSES.get(self.status) or JobStatus(self.status)
        if type(self.timeout_policy) is not TimeoutPolicy:
            self.timeout_policy = _POLICIES.get(self.timeout_policy) or TimeoutPolicy(self.timeout_policy)

    def check_carriable(self) -> None:
        """Raise `UnsafeValueError` naming this job's task if an argument cannot travel."""
        ensure_msgpack_safe(self.args, what=f"task {self.func_name!r}: args")
        ensure_msgpack_safe(self.kwargs, what=f"task {self.func_name!r}: kwargs")

    def is_due(self, now: float | None = None) -> bool:
        """True when the job may run now (it is not waiting for a retry delay)."""
        return self.next_retry_at is None or self.next_retry_at <= (now if now is not None else time.time())

    def to_dict(self) -> dict[str, Any]:
        """A dict of msgpack-safe values; `Job.from_dict` is its inverse."""
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        data["status"] = self.status.value
        data["timeout_policy"] = self.timeout_policy.value
        return data

    def to_values(self) -> tuple[Any, ...]:
        """The fields in declaration order (`JOB_FIELDS`), msgpack-safe: the wire's compact form.

        (The two enums are str subclasses: msgpack writes them as their values.)
        """
        return _get_fields(self)

    @classmethod
    def from_values(cls, values: list[Any]) -> "Job":
        """Rebuild a job from `to_values()` output; extra trailing values (newer fields) are ignored."""
        if not isinstance(values, list) or not values or not isinstance(values[0], str):
            raise ValueError("not a job: expected an array starting with func_name")
        return cls(*values) if len(values) == _FIELD_COUNT else cls(*values[:_FIELD_COUNT])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Job":
        """Rebuild a job from `to_dict()` output; unknown keys are ignored, missing ones defaulted."""
        if not isinstance(data, dict) or "func_name" not in data:
            raise ValueError(f"not a job: expected a dict with 'func_name', got {type(data).__name__}")
        if data.keys() <= _FIELD_SET:
            return cls(**data)
        return cls(**{key: value for key, value in data.items() if key in _FIELD_SET})

    def get(self, timeout: float | None = None, interval: float = 0.05) -> Any:
        """Wait for this job's stored outcome and return its result.

        Reads the result backend (never this local copy, which is stale once the job
        was sent). Raises `nuvom.sdk.JobFailedError` if the job failed for good and
        `TimeoutError` if no outcome arrives within `timeout` seconds.
        """
        from nuvom.sdk import wait_for_result

        return wait_for_result(self.id, timeout=timeout, interval=interval)


_FIELD_NAMES = tuple(f.name for f in fields(Job))
_FIELD_SET = frozenset(_FIELD_NAMES)
_FIELD_COUNT = len(_FIELD_NAMES)
_get_fields = operator.attrgetter(*_FIELD_NAMES)
_STATUSES = {status.value: status for status in JobStatus}
_POLICIES = {policy.value: policy for policy in TimeoutPolicy}
JOB_FIELDS = _FIELD_NAMES  # the order of Job.to_values(), part of the wire protocol
