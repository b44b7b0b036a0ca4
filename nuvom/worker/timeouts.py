"""Per-job timeouts for jobs running in executor threads.

A Python thread cannot be killed. When a job overruns, the monitor settles it at
once (its outcome is written: failed, or retried, by policy) and raises
`JobInterrupted` inside the thread with `PyThreadState_SetAsyncExc`, which stops
pure-Python code at its next bytecode. A task stuck inside a C call does not see
it: after a grace period the monitor reports the thread as abandoned so the pool
can start a replacement and keep its capacity. Whatever the late job returns is
discarded: the settled outcome stands.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import threading
import time
from typing import Callable


class JobInterrupted(BaseException):
    """Raised inside an executor thread whose job ran past its timeout."""


class RunningJob:
    """One attempt in progress; `settle()` decides once who records the outcome."""

    def __init__(self, thread_id: int, deadline: float | None) -> None:
        self.thread_id = thread_id
        self.deadline = deadline
        self._settled = False
        self._lock = threading.Lock()

    def settle(self) -> bool:
        """True for the first caller (executor finishing or monitor timing out), False after."""
        with self._lock:
            if self._settled:
                return False
            self._settled = True
            return True


def interrupt_thread(thread_id: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(JobInterrupted))


class TimeoutMonitor:
    """A thread that fires `on_timeout(entry)` for entries past their deadline.

    `on_timeout` returns True when the thread should be interrupted; after
    `grace_secs`, `on_stuck(entry)` is called if the entry is still registered.
    """

    def __init__(
        self,
        on_timeout: Callable[[RunningJob], bool],
        on_stuck: Callable[[RunningJob], None],
        grace_secs: float = 1.0,
    ) -> None:
        self._on_timeout = on_timeout
        self._on_stuck = on_stuck
        self._grace = grace_secs
        self._heap: list[tuple[float, int, str, RunningJob]] = []
        self._live: set[int] = set()
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="nuvom-timeouts", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def watch(self, entry: RunningJob) -> None:
        if entry.deadline is None:
            return
        with self._changed:
            self._live.add(id(entry))
            heapq.heappush(self._heap, (entry.deadline, next(self._order), "deadline", entry))
            self._changed.notify()

    def unwatch(self, entry: RunningJob) -> None:
        with self._changed:
            self._live.discard(id(entry))

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify()

    def _run(self) -> None:
        with self._changed:
            while not self._stopped:
                if not self._heap:
                    self._changed.wait()
                    continue
                due, _, kind, entry = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                heapq.heappop(self._heap)
                if id(entry) not in self._live:
                    continue
                if kind == "deadline":
                    if self._on_timeout(entry):
                        interrupt_thread(entry.thread_id)
                        heapq.heappush(self._heap, (due + self._grace, next(self._order), "grace", entry))
                    else:
                        self._live.discard(id(entry))
                else:
                    self._live.discard(id(entry))
                    self._on_stuck(entry)
