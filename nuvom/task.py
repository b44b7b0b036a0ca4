"""`@task`: turn a function into something the worker can run from a queue.

    @task(retries=2, retry_delay_secs=5, timeout_secs=3)
    def add(a, b):
        return a + b

    job = add.delay(5, 7)       # enqueue; returns the Job (job.get() waits for the result)
    add(5, 7)                   # still a plain synchronous call

Jobs name their task by the function's `__name__` (as upstream Nuvom does); the
worker finds it in `TASKS` after importing the task modules.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Iterable, Sequence

from nuvom.job import Job, TimeoutPolicy


class TaskRegistrationError(ValueError):
    """Two different functions want the same task name."""


class TaskRegistry:
    """name -> Task, for the worker to look jobs up in."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._lock = threading.Lock()

    def add(self, task: "Task") -> None:
        with self._lock:
            existing = self._tasks.get(task.name)
            if existing is not None and existing.origin != task.origin:
                raise TaskRegistrationError(
                    f"task name {task.name!r} is used by both {existing.origin} and {task.origin}; "
                    "rename one of the functions"
                )
            self._tasks[task.name] = task

    def get(self, name: str) -> "Task | None":
        with self._lock:
            return self._tasks.get(name)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._tasks)


TASKS = TaskRegistry()


class Task:
    """A function plus the options its jobs carry (retries, timeout, ...)."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        retries: int = 0,
        retry_delay_secs: float | None = None,
        timeout_secs: float | None = None,
        timeout_policy: str | None = None,
        store_result: bool = True,
        tags: Sequence[str] = (),
        description: str | None = None,
        category: str | None = None,
        priority: int = 0,
    ) -> None:
        if retries < 0:
            raise ValueError(f"task {func.__name__!r}: retries must be >= 0, got {retries}")
        if timeout_policy is not None:
            TimeoutPolicy(timeout_policy)
        self.func = func
        self.name = func.__name__
        self.origin = f"{func.__module__}:{func.__qualname__}"
        self.retries = retries
        self.retry_delay_secs = retry_delay_secs
        self.timeout_secs = timeout_secs
        self.timeout_policy = timeout_policy
        self.store_result = store_result
        self.tags = list(tags)
        self.description = description or (func.__doc__ or "").strip() or None
        self.category = category
        self.priority = priority
        functools.update_wrapper(self, func)
        TASKS.add(self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def make_job(self, args: Sequence[Any] = (), kwargs: dict | None = None) -> Job:
        """A job for this task, with defaults from settings; refuses values that cannot travel."""
        from nuvom.config import get_settings

        settings = get_settings()
        job = Job(
            func_name=self.name,
            args=list(args),
            kwargs=dict(kwargs or {}),
            max_retries=self.retries,
            retries_left=self.retries,
            timeout_secs=self.timeout_secs if self.timeout_secs is not None else settings.job_timeout_secs,
            retry_delay_secs=(
                self.retry_delay_secs if self.retry_delay_secs is not None else settings.retry_delay_secs
            ),
            timeout_policy=self.timeout_policy or settings.timeout_policy,
            store_result=self.store_result,
            priority=self.priority,
        )
        job.check_carriable()
        return job

    def delay(self, *args: Any, **kwargs: Any) -> Job:
        """Enqueue a call of this task; returns its Job."""
        from nuvom.queue import enqueue

        job = self.make_job(args, kwargs)
        enqueue(job)
        return job

    submit = delay

    def map(self, arg_tuples: Iterable[Sequence[Any]]) -> list[Job]:
        """Enqueue one job per argument tuple, in one batch."""
        from nuvom.queue import enqueue_many

        jobs = [self.make_job(args if isinstance(args, (list, tuple)) else (args,)) for args in arg_tuples]
        enqueue_many(jobs)
        return jobs

    def __repr__(self) -> str:
        return f"<Task {self.name} ({self.origin})>"


def task(func: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Decorator, bare (`@task`) or with options (`@task(retries=2, timeout_secs=3)`)."""
    if func is not None:
        return Task(func, **options)
    return lambda f: Task(f, **options)


def get_task(name: str) -> Task | None:
    return TASKS.get(name)
